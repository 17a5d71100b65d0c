//! `kyc-bench` (`make bench`): what a webhook costs where a user pays for it. The release
//! `cashfree-webhook` bootstrap runs as Lambda runs it, under the Runtime API emulator
//! (`kyc_local::runtime_api`), against the local DynamoDB/SQS server served with keep-alive
//! connections (as AWS's are). It prints, for N sequential new events and N duplicates: init
//! (spawn → first `/next`), the first response, warm latency median/p99, CPU per warm event
//! (the process's scheduler run time), peak RSS, the bootstrap's size; the floor (the CPU of
//! the same three SDK calls, through the same adapters with requests of the same size, from a
//! warm client in this bare process); and the throughput of one process at
//! `AWS_LAMBDA_MAX_CONCURRENCY=8` against 1 (Lambda Managed Instances), with the local server
//! given a round-trip latency so the work is I/O-bound, as it is on AWS.
//!
//! `--baseline PATH` runs a second bootstrap (e.g. a build of an earlier commit) through the same
//! events. The figures the machine's load can move (CPU, latency) are measured in interleaved
//! chunks: each chunk of events goes to this bootstrap, then to the baseline, then through the
//! floor, so a busy neighbour weighs on all of them alike and their ratios hold between runs.
//!
//! The concurrency figure needs the round trip to dominate: the local server spends a few ms of
//! Python CPU per call under one interpreter lock, which caps it near 60 new events/s whatever
//! the function does; the default 50 ms round trip keeps the cap out of the way.
#![forbid(unsafe_code)]

mod floor;
mod function;
mod lambda_cpu;
mod measure;
mod process;
mod replay;
mod tls;

use clap::Parser;
use floor::{stack, Floor};
use function::{event, start_function, status_of, Runtime, TIMEOUT};
use kyc_intake::intake::queue::OutgoingMessage;
use kyc_local::resources::BoxError;
use kyc_local::server::{self, LocalServer};
use measure::{measure, CHUNK};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the bench runs and against what.
#[derive(Parser)]
#[command(
    about = "End-to-end figures of the release bootstrap under a Lambda Runtime API emulator"
)]
struct Args {
    /// Sequential new events (and as many duplicates).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// The bootstrap to measure (default: target/release/cashfree-webhook).
    #[arg(long)]
    bootstrap: Option<PathBuf>,
    /// A second bootstrap measured side by side (e.g. a build of an earlier commit).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// The Python with moto and waitress (default: .venv/bin/python).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The round trip the local server adds to each request for the concurrency figure.
    #[arg(long, default_value_t = 50)]
    latency_ms: u32,
    /// Events sent at once for the concurrency figure, at each concurrency.
    #[arg(long, default_value_t = 200)]
    concurrent_events: usize,
    /// Lambda memory sizes (MB) to measure at, comma-separated: the bootstrap is held to each
    /// one's CPU share (memory / 1 769 MB of a vCPU) by a cgroup quota. None: a whole core.
    #[arg(long, value_delimiter = ',')]
    memory: Vec<u32>,
    /// Put a TLS front (a CA of its own, trusted through SSL_CERT_FILE) between the bootstrap and
    /// the local server, as AWS's endpoints are HTTPS.
    #[arg(long)]
    tls: bool,
    /// Also measure the bootstrap writing the audit archive (ARCHIVE_BUCKET), and writing it
    /// sealed under a data key per delivery (ARCHIVE_KEYS_TABLE: an erasable archive), side by
    /// side.
    #[arg(long)]
    archive: bool,
    /// Only the replay rate: this many deliveries archived, then replayed by the release
    /// `archive-replay` bootstrap (next to the measured one).
    #[arg(long)]
    replay: Option<usize>,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_default()
}

/// The local server with keep-alive, as AWS's endpoints keep connections; stopped on drop.
fn start_server(python: &Path, threads: u32, latency_ms: u32) -> Result<LocalServer, BoxError> {
    let mut options = server::Options::new(python, server::free_port()?);
    options.keep_alive = true;
    options.threads = threads;
    options.latency_ms = latency_ms;
    LocalServer::start(&options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let n = args.n.max(1);
    let bootstrap = args
        .bootstrap
        .clone()
        .unwrap_or_else(|| workspace().join("target/release/cashfree-webhook"));
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    let names = subjects(&args, &bootstrap);
    println!("kyc-bench: N = {n}, local server with keep-alive, interleaved in chunks of {CHUNK}");
    for (name, path) in &names {
        println!("  {name:<16} {}", path.display());
    }
    println!();

    let server = start_server(&python, 1, 0)?;
    if let Some(n) = args.replay {
        let replay = bootstrap.with_file_name("archive-replay");
        return replay::rate(&server.endpoint, &bootstrap, &replay, n.max(1)).await;
    }
    let tls_dir = workspace().join("target/bench-tls");
    each_memory_size(&args, &names, &server, &tls_dir, n).await?;
    drop(server);
    managed_instances(&args, &bootstrap, &python, &tls_dir).await
}

/// What is measured side by side: this bootstrap, with the archive in clear and sealed when
/// asked, and the baseline's.
fn subjects(args: &Args, bootstrap: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut names = vec![("now", bootstrap.to_path_buf())];
    if args.archive {
        names.push(("now+archive", bootstrap.to_path_buf()));
        names.push(("now+sealed", bootstrap.to_path_buf()));
    }
    if let Some(b) = &args.baseline {
        if args.archive {
            names.push(("baseline+archive", b.clone()));
        }
        names.push(("baseline", b.clone()));
    }
    names
}

/// Every figure of the table, at each memory size's CPU share (or a whole core), through the
/// TLS front when asked.
async fn each_memory_size(
    args: &Args,
    names: &[(&'static str, PathBuf)],
    server: &LocalServer,
    tls_dir: &Path,
    n: usize,
) -> Result<(), BoxError> {
    let front = if args.tls {
        let front = tls::TlsFront::start(&server.endpoint, tls_dir).await?;
        // This process's own client (the floor) goes through the front too, trusting its CA.
        std::env::set_var("SSL_CERT_FILE", &front.ca_bundle);
        println!(
            "TLS: a front with its own CA (RSA-2048) at {}, trusted through SSL_CERT_FILE",
            front.endpoint
        );
        Some(front)
    } else {
        None
    };
    let endpoint = front
        .as_ref()
        .map_or(server.endpoint.as_str(), |f| f.endpoint.as_str());
    let ca_bundle = front.as_ref().map(|f| f.ca_bundle.as_path());
    // The server's own first calls are slow: a few before any bootstrap starts, so they do not
    // land on the first one's cold figures.
    let placeholder = OutgoingMessage {
        body: "{}".into(),
        group_id: String::new(),
        deduplication_id: String::new(),
        event_type: "warm-up".into(),
        source: "kyc-bench".into(),
        replay: None,
        trace_header: None,
    };
    Floor::new(endpoint, "bench-warm-up", placeholder).await?;
    let sizes: Vec<Option<u32>> = if args.memory.is_empty() {
        vec![None]
    } else {
        args.memory.iter().map(|m| Some(*m)).collect()
    };
    for memory in sizes {
        let share = cpu_share(memory);
        let memory_mb = memory.unwrap_or(256);
        println!();
        let https = if front.is_some() { ", HTTPS" } else { "" };
        match &share {
            Some(share) => println!(
                "== {memory_mb} MB: the bootstrap held to {:.1} % of a CPU (cgroup quota){https}",
                share.share * 100.0,
            ),
            None => println!(
                "== {} (a whole core){https}",
                memory.map_or("no memory size".to_owned(), |m| format!("{m} MB reported")),
            ),
        }
        let runtime = Runtime {
            memory_mb,
            share: share.as_ref(),
            endpoint,
            ca_bundle,
        };
        measure(names, runtime, &server.endpoint, n, memory).await?;
    }
    Ok(())
}

/// `memory`'s CPU share as a cgroup quota; none for a whole core, or where there is no cgroup
/// (said in one line).
fn cpu_share(memory: Option<u32>) -> Option<lambda_cpu::CpuShare> {
    let mb = memory?;
    match lambda_cpu::CpuShare::for_memory(mb, &format!("kyc-bench-{}-{mb}", std::process::id())) {
        Ok(share) => Some(share),
        Err(e) => {
            println!("MEMORY={mb}: no cgroup CPU quota here ({e}); running unthrottled");
            None
        }
    }
}

/// Lambda Managed Instances: one process, several invocations at once, with a round trip to the
/// server (AWS is a network away) and a server that overlaps requests. A standard queue here:
/// the local server's FIFO send costs it more CPU as the queue fills, which would measure the
/// server, not the function.
async fn managed_instances(
    args: &Args,
    bootstrap: &Path,
    python: &Path,
    tls_dir: &Path,
) -> Result<(), BoxError> {
    let latency_ms = args.latency_ms;
    let server = start_server(python, 16, latency_ms)?;
    let (table, queue_url) = stack(&server.endpoint, "bench-concurrent", false).await?;
    // Managed Instances run at a whole vCPU per 1 769 MB: held to it when sizes are measured.
    let front = if args.tls {
        Some(tls::TlsFront::start(&server.endpoint, tls_dir).await?)
    } else {
        None
    };
    let share = if args.memory.is_empty() {
        None
    } else {
        lambda_cpu::CpuShare::for_memory(1769, &format!("kyc-bench-{}-mi", std::process::id())).ok()
    };
    let runtime = Runtime {
        memory_mb: 1769,
        share: share.as_ref(),
        endpoint: front
            .as_ref()
            .map_or(server.endpoint.as_str(), |f| f.endpoint.as_str()),
        ca_bundle: front.as_ref().map(|f| f.ca_bundle.as_path()),
    };
    let mut rates = Vec::new();
    println!();
    for concurrency in [1u32, 8] {
        let f = start_function(
            bootstrap,
            runtime,
            &table,
            &queue_url,
            Some(concurrency),
            None,
        )
        .await?;
        let (rate, missing) =
            concurrent_rate(&f, concurrency, args.concurrent_events.max(1)).await?;
        println!(
            "now, AWS_LAMBDA_MAX_CONCURRENCY={concurrency:<2} ({latency_ms} ms round trip{}{})  {rate:>7.1} new events/s{missing}",
            if share.is_some() { ", 1 769 MB = 1 vCPU" } else { "" },
            if front.is_some() { ", HTTPS" } else { "" },
        );
        rates.push(rate);
    }
    if let [one, eight] = rates[..] {
        println!(
            "throughput at 8 vs 1                {:.1} x (goal ≥ 5 x)",
            eight / one
        );
    }
    Ok(())
}

/// `count` new events sent to `f` at once after one to warm it: accepted events per second, and
/// what was missing when some were not answered 200 in time.
async fn concurrent_rate(
    f: &function::Function,
    concurrency: u32,
    count: usize,
) -> Result<(f64, String), BoxError> {
    let warm = f
        .api
        .invoke(event(usize::MAX - concurrency as usize), TIMEOUT)
        .await;
    if warm.as_ref().and_then(status_of).map(|(s, _)| s) != Some(200) {
        return Err(format!("concurrency {concurrency}: not accepted: {warm:?}").into());
    }
    let offset = 10_000 * concurrency as usize;
    let started = Instant::now();
    let pending: Vec<_> = (0..count)
        // Deadlines far enough out that a queued event is not cut short while it waits.
        .map(|i| f.api.queue(event(offset + i), Duration::from_secs(300)))
        .collect();
    let mut accepted = 0;
    for rx in pending {
        if let Ok(answer) = rx.await {
            if status_of(&answer).map(|(s, _)| s) == Some(200) {
                accepted += 1;
            }
        }
    }
    let rate = accepted as f64 / started.elapsed().as_secs_f64();
    let missing = if accepted == count {
        String::new()
    } else {
        format!("   ({accepted}/{count} answered 200 within the timeout)")
    };
    Ok((rate, missing))
}
