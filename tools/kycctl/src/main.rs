//! `kycctl`: the operator's command line. Registers and checks the HyperVerge subscriptions,
//! prints the Cashfree and Digio dashboard steps, smoke-tests a deployed endpoint with a signed
//! sample, reads, verifies and replays the audit archive, shows and starts journeys, recovers the
//! dead-letter queue, erases a journey's archived deliveries, and serves the operator console.
//! Exit codes: 0 ok, 1 drift or a refusal (provider or endpoint), 2 usage. Credentials and tokens
//! never appear in its output.
#![forbid(unsafe_code)]

mod archive;
mod console;
mod dlq;
mod erase;
mod http;
mod journey;
mod providers;
mod record;
mod replay;
mod report;
mod send;

use clap::{Parser, Subcommand};
use providers::hyperverge::HypervergeArgs;
use report::Report;
use send::SendArgs;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kycctl",
    version,
    about = "Operate the KYC webhook intake: register and check providers, smoke-test, journeys, the archive (verify, replay, erase), the dead-letter queue, the console.",
    after_help = "Exit codes: 0 ok, 1 drift or refusal, 2 usage. HyperVerge commands read HYPERVERGE_APP_ID and HYPERVERGE_APP_KEY."
)]
struct Cli {
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for any one HTTP request.
    #[arg(long, global = true, default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HyperVerge's DigiLocker and Results webhook configuration APIs.
    Hyperverge(HypervergeArgs),
    /// Sign a sample event (fresh timestamp) and POST it to an endpoint: the smoke test after deploy.
    Send(SendArgs),
    /// The audit archive: `list` the deliveries of a source, `show` one.
    Archive(archive::ArchiveArgs),
    /// Send archived deliveries again, normalized with this build's code (`--dry-run` first).
    Replay(archive::ReplayArgs),
    /// Journeys: `start` announces one the sweeper should watch.
    Journey(journey::JourneyArgs),
    /// Erase one journey's archived deliveries (crypto-shredding: their keys deleted, the objects
    /// stay locked and attested); `--reapply` after a restore of the keys table.
    Erase(erase::EraseArgs),
    /// The dead-letter queue: `list` what is there (left in place), `redrive` it to the events queue.
    Dlq(dlq::DlqArgs),
    /// The operator console: journeys, timelines, deliveries and replay in a browser, served on
    /// 127.0.0.1 with your AWS credentials (prints the URL to open, with its token).
    Console(console::ConsoleArgs),
    /// Cashfree has no configuration API: the dashboard steps and the URLs to paste.
    Cashfree {
        /// The deployed API's base URL (`https://<api>.execute-api.<region>.amazonaws.com`).
        #[arg(long)]
        api_url: String,
    },
    /// Digio's webhooks are set in its Enterprise dashboard: the steps and the URL to paste.
    Digio {
        /// The deployed API's base URL (`https://<api>.execute-api.<region>.amazonaws.com`).
        #[arg(long)]
        api_url: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let result: Result<Report, report::Failure> = match cli.command {
        Command::Hyperverge(args) => providers::hyperverge::hyperverge(args, timeout).await,
        Command::Send(args) => send::send(args, timeout).await,
        Command::Cashfree { api_url } => providers::cashfree::cashfree(&api_url),
        Command::Digio { api_url } => providers::digio::digio(&api_url),
        Command::Archive(args) => archive::archive(args).await,
        Command::Replay(args) => archive::replay(args).await,
        Command::Journey(args) => journey::journey(args).await,
        Command::Dlq(args) => dlq::dlq(args).await,
        Command::Erase(args) => erase::erase(args).await,
        Command::Console(args) => console::console(args).await,
    };
    match result {
        Ok(report) => {
            if cli.json {
                println!("{}", report.json());
            } else {
                for line in report.text() {
                    println!("{line}");
                }
            }
            if report.drift() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(f) => {
            if cli.json {
                println!("{}", serde_json::to_string(&f).unwrap_or_default());
            } else {
                eprintln!("kycctl: {}", f.message);
            }
            ExitCode::from(if f.usage { 2 } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command that reads archived deliveries takes the same three flags (and their
    /// variables), so a sealed delivery opens in each of them alike; every command that replays
    /// takes the replay function, and none of them reads the archive itself to send a replay.
    #[test]
    fn every_archive_reader_takes_the_bucket_the_signing_key_and_the_keys_table() {
        let flags = ["--bucket", "b", "--key", "k", "--keys-table", "t"];
        for command in [
            &["archive", "list", "--source", "cashfree/vkyc"][..],
            &["console"],
        ] {
            let line: Vec<&str> = std::iter::once("kycctl")
                .chain(command.iter().copied())
                .chain(flags)
                .collect();
            assert!(Cli::try_parse_from(&line).is_ok(), "{line:?}");
        }
        for command in [
            &["replay", "--from", "2026-01-01", "--to", "2026-01-02"][..],
            &["dlq", "redrive"],
            &["console"],
        ] {
            let with = |extra: &[&'static str]| -> Vec<&str> {
                std::iter::once("kycctl")
                    .chain(command.iter().copied())
                    .chain(extra.iter().copied())
                    .collect()
            };
            assert!(
                Cli::try_parse_from(with(&["--function", "f"])).is_ok(),
                "{command:?}"
            );
        }
        for replaying in [
            &["replay", "--from", "2026-01-01", "--to", "2026-01-02"][..],
            &["dlq", "redrive"],
        ] {
            let line: Vec<&str> = std::iter::once("kycctl")
                .chain(replaying.iter().copied())
                .chain(["--bucket", "b"])
                .collect();
            assert!(
                Cli::try_parse_from(&line).is_err(),
                "{line:?} reads no archive"
            );
        }
        assert!(Cli::try_parse_from(["kycctl", "dlq", "list", "--keys-table", "t"]).is_err());
    }
}
