//! `kycctl`: the operator's command line. Registers and checks the HyperVerge subscriptions,
//! smoke-tests a deployed endpoint with a signed sample, prints the Cashfree dashboard steps,
//! reads the audit archive and replays it.
//! Exit codes: 0 ok, 1 drift or a refusal (provider or endpoint), 2 usage. Credentials and tokens
//! never appear in its output.
#![forbid(unsafe_code)]

mod archive;
mod console;
mod dlq;
mod erase;
mod hyperverge;
mod journey;
mod record;
mod send;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hyperverge::{check_url, redact, Api, Credentials, Failure, ALL_EVENTS};
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kycctl",
    version,
    about = "Register and check the KYC providers' webhook subscriptions; smoke-test a deployment.",
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

#[derive(Args)]
struct HypervergeArgs {
    /// Replaces the scheme and host of the documented endpoints (tests, proxies); paths stay.
    #[arg(long, global = true)]
    config_url: Option<String>,
    #[command(subcommand)]
    command: HypervergeCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Region {
    /// Every region but the USA (review-api.idv.hyperverge.co).
    Ind,
    /// review-api-usa.idv.hyperverge.co.
    Usa,
}

#[derive(Subcommand)]
enum HypervergeCommand {
    /// The DigiLocker webhook registration.
    Digilocker {
        #[command(subcommand)]
        command: DigilockerCommand,
    },
    /// The Results webhook subscription.
    Results {
        #[arg(long, value_enum, default_value = "ind", global = true)]
        region: Region,
        #[command(subcommand)]
        command: ResultsCommand,
    },
    /// Exit 0 when both registrations match, else print every difference and exit 1.
    Check {
        /// The DigiLocker URL as it should be registered, `?token=` included (`-`: read it from
        /// standard input).
        #[arg(long, env = "KYCCTL_DIGILOCKER_URL", hide_env_values = true)]
        digilocker_url: String,
        #[arg(long)]
        results_url: String,
        #[arg(long, default_value = "x-webhook-token")]
        token_header: String,
        /// Also check the header holds this token (compared, never printed; `-`: standard input).
        #[arg(long, env = "KYCCTL_RESULTS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long, value_enum, default_value = "ind")]
        region: Region,
        /// Events the subscription should have (default: all three).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DigilockerCommand {
    /// GET the registered URL.
    Show,
    /// POST the URL (HTTPS; it carries `?token=` from HYPERVERGE_DIGILOCKER_URL_TOKENS), then read it back.
    Register {
        /// The URL with its token: better from KYCCTL_DIGILOCKER_URL or standard input (`-`)
        /// than on the command line, where shell history and the process list would keep it.
        #[arg(long, env = "KYCCTL_DIGILOCKER_URL", hide_env_values = true)]
        url: String,
    },
}

#[derive(Subcommand)]
enum ResultsCommand {
    /// GET the subscription.
    Show,
    /// Read, create if absent, PUT URL, events and token header, read back and compare.
    Subscribe {
        #[arg(long)]
        url: String,
        /// Default: all three events.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, default_value = "x-webhook-token")]
        token_header: String,
        /// One of HYPERVERGE_RESULTS_AUTH_TOKENS (never printed; `-`: standard input).
        #[arg(long, env = "KYCCTL_RESULTS_TOKEN", hide_env_values = true)]
        token: String,
    },
}

#[derive(Args)]
pub struct SendArgs {
    /// An API Gateway event: a sample from `events/` or a file of your own.
    event: String,
    /// Where to POST: the API's base URL (the event's path is appended) or the full endpoint URL.
    #[arg(long)]
    url: String,
    /// The secret to sign with: Cashfree's client secret or Digio's webhook secret, whichever the
    /// event is for (`-`: standard input). Required for a remote URL; to `make run`'s loopback
    /// gateway the local secrets are the default.
    #[arg(long, env = "KYCCTL_SIGNING_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The HyperVerge token the event needs: the DigiLocker URL token or the Results header token
    /// (`-`: standard input). Required for a remote URL, as `--secret` is.
    #[arg(long, env = "KYCCTL_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// What a command prints: text lines, or one JSON object; and whether it found a difference.
struct Report {
    text: Vec<String>,
    json: serde_json::Value,
    drift: bool,
}

impl Report {
    fn ok(text: Vec<String>, json: serde_json::Value) -> Self {
        Self {
            text,
            json,
            drift: false,
        }
    }
}

fn events_or_all(events: Vec<String>) -> Vec<String> {
    if events.is_empty() {
        ALL_EVENTS.iter().map(|e| (*e).to_owned()).collect()
    } else {
        events
    }
}

async fn hyperverge(args: HypervergeArgs, timeout: Duration) -> Result<Report, Failure> {
    let creds = Credentials::from_env()?;
    let api = |usa: bool| Api::new(creds.clone(), args.config_url.as_deref(), usa, timeout);
    match args.command {
        HypervergeCommand::Digilocker { command } => {
            let api = api(false)?;
            match command {
                DigilockerCommand::Show => {
                    let url = api.digilocker_show().await?;
                    let shown = url.as_deref().map(redact);
                    Ok(Report::ok(
                        vec![format!(
                            "DigiLocker webhook: {}",
                            shown.as_deref().unwrap_or("(none registered)")
                        )],
                        json!({ "digilocker": { "url": shown } }),
                    ))
                }
                DigilockerCommand::Register { url } => {
                    let url = secret_arg("--url", url)?;
                    check_url("--url", &url)?;
                    if !url.contains("token=") {
                        return Err(Failure::usage(
                            "--url has no `?token=`: the DigiLocker route refuses requests without one of HYPERVERGE_DIGILOCKER_URL_TOKENS",
                        ));
                    }
                    api.digilocker_register(&url).await?;
                    let back = api.digilocker_show().await?;
                    let matches = back.as_deref() == Some(url.as_str());
                    let mut report = Report::ok(
                        vec![format!("registered {}", redact(&url))],
                        json!({ "registered": redact(&url), "read_back_matches": matches }),
                    );
                    if !matches {
                        report.drift = true;
                        report.text.push(format!(
                            "but HyperVerge reports {}",
                            back.as_deref().map_or("(none)".to_owned(), redact)
                        ));
                    }
                    Ok(report)
                }
            }
        }
        HypervergeCommand::Results { region, command } => {
            let api = api(matches!(region, Region::Usa))?;
            match command {
                ResultsCommand::Show => {
                    let sub = api.results_show().await?;
                    let (text, value) = match &sub {
                        None => ("Results subscription: (none)".to_owned(), json!(null)),
                        Some(s) => (
                            format!(
                                "Results subscription: {} events [{}] headers [{}]",
                                s.webhook_url.as_deref().unwrap_or("(no URL)"),
                                s.events.join(", "),
                                s.headers
                                    .iter()
                                    .map(|(k, _)| k.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            json!({
                                "webhookUrl": s.webhook_url,
                                "events": s.events,
                                "headers": s.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                            }),
                        ),
                    };
                    Ok(Report::ok(vec![text], json!({ "results": value })))
                }
                ResultsCommand::Subscribe {
                    url,
                    events,
                    token_header,
                    token,
                } => {
                    check_url("--url", &url)?;
                    let token = secret_arg("--token", token)?;
                    let events = events_or_all(events);
                    let mut text = Vec::new();
                    if api.results_show().await?.is_none() {
                        api.results_create(&url, &events).await?;
                        text.push("created the subscription".to_owned());
                    }
                    api.results_update(&url, &events, &token_header, &token)
                        .await?;
                    text.push(format!(
                        "set URL {url}, events [{}], header `{token_header}` (token not shown)",
                        events.join(", ")
                    ));
                    let back = api.results_show().await?.ok_or_else(|| {
                        Failure::failed("HyperVerge reports no subscription after the update")
                    })?;
                    let diffs = back.differences(&url, &events, &token_header, Some(&token));
                    text.extend(diffs.iter().map(|d| format!("after the update: {d}")));
                    Ok(Report {
                        drift: !diffs.is_empty(),
                        json: json!({ "subscribed": diffs.is_empty(), "differences": diffs }),
                        text,
                    })
                }
            }
        }
        HypervergeCommand::Check {
            digilocker_url,
            results_url,
            token_header,
            token,
            region,
            events,
        } => {
            let digilocker_url = secret_arg("--digilocker-url", digilocker_url)?;
            let token = token.map(|t| secret_arg("--token", t)).transpose()?;
            let events = events_or_all(events);
            let digilocker = api(false)?.digilocker_show().await?;
            let results = api(matches!(region, Region::Usa))?.results_show().await?;
            let mut diffs = Vec::new();
            if digilocker.as_deref() != Some(digilocker_url.as_str()) {
                diffs.push(format!(
                    "DigiLocker: registered {}, expected {}",
                    digilocker.as_deref().map_or("(none)".to_owned(), redact),
                    redact(&digilocker_url)
                ));
            }
            match results {
                None => diffs.push("Results: no subscription".to_owned()),
                Some(s) => diffs.extend(
                    s.differences(&results_url, &events, &token_header, token.as_deref())
                        .into_iter()
                        .map(|d| format!("Results: {d}")),
                ),
            }
            let mut text = diffs.clone();
            if diffs.is_empty() {
                text.push("both registrations match".to_owned());
            }
            Ok(Report {
                drift: !diffs.is_empty(),
                json: json!({ "match": diffs.is_empty(), "differences": diffs }),
                text,
            })
        }
    }
}

/// A secret argument as given, or, when it is `-`, the first line of standard input: a token or a
/// URL carrying one need not be on the command line. Empty is a usage error.
pub fn secret_arg(flag: &str, value: String) -> Result<String, Failure> {
    let value = if value == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("{flag} -: cannot read standard input: {e}")))?;
        line
    } else {
        value
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(Failure::usage(format!("{flag} is empty")));
    }
    Ok(value)
}

fn cashfree(api_url: &str) -> Result<Report, Failure> {
    check_url("--api-url", api_url)?;
    let base = api_url.trim_end_matches('/');
    let urls: Vec<String> = kyc_intake::sources::cashfree::FUNCTION
        .sources
        .iter()
        .map(|s| format!("{base}{}", s.route))
        .collect();
    let mut text = vec![
        "Cashfree has no configuration API. In the Merchant Dashboard:".to_owned(),
        "  1. Developers → Webhooks → Secure ID → Add Webhook URL, once per product:".to_owned(),
    ];
    text.extend(urls.iter().map(|u| format!("       {u}")));
    text.push(
        "  2. Keep the client secret in CashfreeClientSecrets (Secrets Manager by default)."
            .to_owned(),
    );
    text.push(
        "  3. Smoke-test: kycctl send events/cashfree/vkyc/link_generated.json --url ".to_owned()
            + base,
    );
    Ok(Report::ok(text, json!({ "cashfree_webhook_urls": urls })))
}

fn digio(api_url: &str) -> Result<Report, Failure> {
    use kyc_intake::sources::digio;
    check_url("--api-url", api_url)?;
    let base = api_url.trim_end_matches('/');
    let url = format!("{base}{}", digio::kyc::SOURCE.route);
    let events = [
        "kyc.request.created",
        "kyc.request.completed",
        "kyc.request.review.ready",
        "kyc.request.approved",
        "kyc.request.rejected",
        "kyc.request.expired",
        "kyc.request.terminated",
        "documents.pulled.successfully",
    ];
    let mut text = vec![
        "Digio's webhooks are set in its Enterprise dashboard (sandbox and production are separate accounts, each with its own secret):".to_owned(),
        "  1. Profile → Webhooks: enable webhooks for the KYC service with this URL:".to_owned(),
        format!("       {url}"),
        "  2. Set a webhook secret of 16+ characters there, and the same in DigioWebhookSecrets (Secrets Manager by default;".to_owned(),
        "     during a rotation both values, comma-separated). Digio signs each body with it (x-digio-checksum).".to_owned(),
        "  3. Enable these events:".to_owned(),
    ];
    text.extend(events.iter().map(|e| format!("       {e}")));
    text.push(
        "  4. Answer 200 or Digio disables the whole account's webhooks after a day: watch AuthFailureBurstAlarm."
            .to_owned(),
    );
    text.push(format!(
        "  5. Smoke-test: kycctl send events/digio/kyc/created.json --url {base} --secret -"
    ));
    Ok(Report::ok(
        text,
        json!({ "digio_webhook_url": url, "events": events }),
    ))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let result = match cli.command {
        Command::Hyperverge(args) => hyperverge(args, timeout).await,
        Command::Send(args) => send::send(args, timeout).await,
        Command::Cashfree { api_url } => cashfree(&api_url),
        Command::Digio { api_url } => digio(&api_url),
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
                println!("{}", report.json);
            } else {
                for line in &report.text {
                    println!("{line}");
                }
            }
            if report.drift {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(f) => {
            if cli.json {
                println!("{}", json!({ "error": f.message }));
            } else {
                eprintln!("kycctl: {}", f.message);
            }
            ExitCode::from(if f.usage { 2 } else { 1 })
        }
    }
}

/// `n` and the noun, singular for one: "1 message", "2 messages".
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
