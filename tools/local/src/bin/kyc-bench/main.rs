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

use aws_sdk_sqs::types::MessageSystemAttributeName;
use bytes::Bytes;
use clap::Parser;
use kyc_intake::aws::SqsSink;
use kyc_intake::ports::{Claim, ClaimOutcome, EventSink, IdempotencyStore, OutgoingMessage};
use kyc_intake::sources::cashfree::signature::sign;
use kyc_local::resources::{self, local_sdk_config, BoxError};
use kyc_local::runtime_api::{Answer, RuntimeApi};
use kyc_local::server::{self, LocalServer};

mod lambda_cpu;
mod tls;
use lambda_idempotency::DynamoDbStore;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret-0123456789";
const TIMEOUT: Duration = Duration::from_secs(20);

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
    /// Also measure the bootstrap writing the audit archive (ARCHIVE_BUCKET), side by side.
    #[arg(long)]
    archive: bool,
}

/// Lambda's x86 price per GB-second and per request (first tier, as of 2025: check the current
/// pricing page for your region).
const PRICE_GB_SECOND: f64 = 0.000_016_666_7;
const PRICE_REQUEST: f64 = 0.000_000_2;

/// The cost of a million invocations at `memory_mb` lasting `billed_ms` each.
fn cost_per_million(memory_mb: u32, billed_ms: f64) -> f64 {
    1e6 * (PRICE_REQUEST + f64::from(memory_mb) / 1024.0 * billed_ms / 1e3 * PRICE_GB_SECOND)
}

/// How the bootstraps run: the memory size they report and the CPU share they get, and the
/// endpoint and CA bundle they reach the local server by.
#[derive(Clone, Copy)]
struct Runtime<'a> {
    memory_mb: u32,
    share: Option<&'a lambda_cpu::CpuShare>,
    endpoint: &'a str,
    ca_bundle: Option<&'a Path>,
}

/// Events per chunk of the interleaved measurement.
const CHUNK: usize = 50;

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

/// CPU time in ns of every live thread of process `pid` (`/proc/<pid>/task/*/schedstat`: exact,
/// where `/proc/<pid>/stat` counts 10 ms ticks). The bootstrap runs on one thread; the floor's
/// client and its connections run on this process's one runtime thread.
fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Peak resident set, from `/proc/<pid>/status`.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// An HTTP API event for a signed VKYC delivery of journey `i`.
fn event(i: usize) -> Bytes {
    let body = format!(
        r#"{{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{{"verification_id":"bench-{i}","reference_id":10449,"user_reference_id":5521,"status":"VIDEO_CALL","sub_status":"CALL_COMPLETED","recording_link":"https://recordings.example/presigned/abc","agent_remarks":"Documents verified on call"}}}}"#
    );
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let sig = sign(SECRET.as_bytes(), &ts, body.as_bytes());
    Bytes::from(
        json!({
            "version": "2.0", "routeKey": "POST /webhooks/cashfree/vkyc", "rawPath": "/webhooks/cashfree/vkyc",
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "x-webhook-timestamp": ts, "x-webhook-signature": sig},
            "requestContext": {"accountId": "000000000000", "apiId": "bench", "domainName": "bench", "domainPrefix": "bench",
                "http": {"method": "POST", "path": "/webhooks/cashfree/vkyc", "protocol": "HTTP/1.1", "sourceIp": "52.66.25.127", "userAgent": "bench"},
                "requestId": format!("bench-{i}"), "routeKey": "POST /webhooks/cashfree/vkyc", "stage": "$default",
                "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false
        })
        .to_string(),
    )
}

fn status_of(answer: &Answer) -> Option<(u64, String)> {
    let Answer::Response(body) = answer else {
        return None;
    };
    let v: Value = serde_json::from_slice(body).ok()?;
    let status = v["statusCode"].as_u64()?;
    let body: Value = serde_json::from_str(v["body"].as_str()?).ok()?;
    Some((
        status,
        body["status"].as_str().unwrap_or_default().to_owned(),
    ))
}

struct Function {
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_function(
    bootstrap: &Path,
    runtime: Runtime<'_>,
    table: &str,
    queue_url: &str,
    concurrency: Option<u32>,
    archive_bucket: Option<&str>,
) -> Result<Function, BoxError> {
    let api = RuntimeApi::start().await?;
    let endpoint = runtime.endpoint;
    let mut cmd = match runtime.share {
        Some(share) => share.command(bootstrap),
        None => Command::new(bootstrap),
    };
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cashfree-webhook")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            runtime.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "ap-south-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("IDEMPOTENCY_TABLE", table)
        .env("EVENTS_QUEUE_URL", queue_url)
        .env(kyc_intake::sources::cashfree::var::CLIENT_SECRETS, SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = concurrency {
        cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", c.to_string());
    }
    if let Some(bundle) = runtime.ca_bundle {
        cmd.env("SSL_CERT_FILE", bundle);
    }
    if let Some(bucket) = archive_bucket {
        cmd.env("ARCHIVE_BUCKET", bucket);
    }
    let spawned = Instant::now();
    let child = cmd.spawn()?;
    Ok(Function {
        api,
        child,
        spawned,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Send `events` to `f` one after the other, each expected to answer 200 `want`; latencies (ms)
/// go to `latencies`; returns the CPU (ns) the function used meanwhile.
async fn sequential(
    f: &Function,
    events: &[Bytes],
    want: &str,
    latencies: &mut Vec<f64>,
) -> Result<u64, BoxError> {
    let pid = f.child.id().to_string();
    let before = cpu_ns(&pid);
    for e in events {
        let started = Instant::now();
        let answer = f.api.invoke(e.clone(), TIMEOUT).await.ok_or("no answer")?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        let (status, outcome) = status_of(&answer).ok_or("not a proxy response")?;
        if status != 200 || outcome != want {
            return Err(format!("expected 200 {want}, got {status} {outcome}").into());
        }
    }
    Ok(cpu_ns(&pid).saturating_sub(before))
}

/// A table and a queue (FIFO, as deployed, unless `fifo` is false).
async fn stack(endpoint: &str, name: &str, fifo: bool) -> Result<(String, String), BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    resources::ensure_table(&sdk, name).await?;
    let queue = if fifo {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    };
    let queue_url = resources::ensure_queue(&sdk, &queue).await?;
    Ok((name.to_owned(), queue_url))
}

/// The floor: the three SDK calls of a new event, exactly as the function makes them (the same
/// adapters, `DynamoDbStore::claim`, `SqsSink::send`, `DynamoDbStore::complete`, with a claim of the
/// same shape and a copy of a message the function sent), from a warm client in this bare
/// process, on its own table and queue. What is left above it is everything else a bootstrap
/// does: the Runtime API round trip, the event parsing, the pipeline, the logs.
struct Floor {
    store: DynamoDbStore,
    sink: SqsSink,
    message: OutgoingMessage,
    cpu_ns: u64,
    events: usize,
}

impl Floor {
    /// A floor on table and queue `name`, warmed with a few events.
    async fn new(endpoint: &str, name: &str, message: OutgoingMessage) -> Result<Self, BoxError> {
        let (table, queue_url) = stack(endpoint, name, true).await?;
        let sdk = local_sdk_config(endpoint).await;
        let floor = Self {
            store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table),
            sink: SqsSink::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
            message,
            cpu_ns: 0,
            events: 0,
        };
        for i in 0..20 {
            floor.once(1_000_000 + i).await?;
        }
        Ok(floor)
    }

    async fn once(&self, i: usize) -> Result<(), BoxError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        // The function's key, owner and hash have these lengths (hex digests, 128-bit owner).
        let key = format!("cashfree/vkyc#{:064x}", i);
        let claim = Claim {
            key: key.clone(),
            owner: Claim::new_owner(),
            lease_expires_at_ms: now_ms + 30_000,
            expires_at_s: now_ms / 1000 + 86_400,
            payload_hash: format!("{:064x}", i),
            now_ms,
        };
        if self.store.claim(&claim).await? != ClaimOutcome::Claimed {
            return Err(format!("floor: {key} not claimed").into());
        }
        let message = OutgoingMessage {
            group_id: key.clone(),
            deduplication_id: key,
            ..self.message.clone()
        };
        let id = self.sink.send(&message).await?;
        self.store.complete(&claim, &id).await?;
        Ok(())
    }

    async fn chunk(&mut self, ids: std::ops::Range<usize>) -> Result<(), BoxError> {
        let before = cpu_ns("self");
        for i in ids {
            self.once(i).await?;
            self.events += 1;
        }
        self.cpu_ns += cpu_ns("self").saturating_sub(before);
        Ok(())
    }

    fn ms_per_event(&self) -> f64 {
        self.cpu_ns as f64 / 1e6 / self.events.max(1) as f64
    }
}

/// The first message the function sent to `queue_url` (its cold event), as it sent it.
async fn sent_message(endpoint: &str, queue_url: &str) -> Result<OutgoingMessage, BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    let out = aws_sdk_sqs::Client::new(&sdk)
        .receive_message()
        .queue_url(queue_url)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let m = out
        .messages()
        .first()
        .ok_or("the function's first message is not on its queue")?;
    let attribute = |name: &str| {
        m.message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or_default()
            .to_owned()
    };
    let system = |name: MessageSystemAttributeName| {
        m.attributes()
            .and_then(|a| a.get(&name))
            .cloned()
            .unwrap_or_default()
    };
    Ok(OutgoingMessage {
        body: m.body().unwrap_or_default().to_owned(),
        group_id: system(MessageSystemAttributeName::MessageGroupId),
        deduplication_id: system(MessageSystemAttributeName::MessageDeduplicationId),
        event_type: attribute("type"),
        source: attribute("source"),
        replay: None,
    })
}

/// One bootstrap under test, on its own table and queue, and what it did.
struct Subject {
    size: u64,
    queue_url: String,
    f: Function,
    init: Duration,
    first_response: Duration,
    new_latencies: Vec<f64>,
    new_cpu_ns: u64,
    dup_latencies: Vec<f64>,
    dup_cpu_ns: u64,
    peak_rss_kib: u64,
}

impl Subject {
    /// Start `bootstrap` and send it its first (cold) event. `server` is the local server's own
    /// (plain) endpoint, for setting up the table and queue.
    async fn start(
        bootstrap: &Path,
        runtime: Runtime<'_>,
        server: &str,
        name: &str,
    ) -> Result<Self, BoxError> {
        // Read whole, so both bootstraps start from the page cache, not from whichever disk
        // state the build left.
        let size = std::fs::read(bootstrap)
            .map_err(|e| format!("{}: {e} (make bench builds it)", bootstrap.display()))?
            .len() as u64;
        let (table, queue_url) = stack(server, name, true).await?;
        // A subject named `...archive...` also writes the audit archive: what it adds.
        let bucket = name.contains("archive").then(|| format!("{name}-bucket"));
        if let Some(bucket) = &bucket {
            resources::ensure_bucket(&local_sdk_config(server).await, bucket).await?;
        }
        let f = start_function(
            bootstrap,
            runtime,
            &table,
            &queue_url,
            None,
            bucket.as_deref(),
        )
        .await?;
        let started = Instant::now();
        let answer = f
            .api
            .invoke(event(usize::MAX), TIMEOUT)
            .await
            .ok_or("no first answer")?;
        let first_response = started.elapsed();
        if status_of(&answer).map(|(s, _)| s) != Some(200) {
            return Err(format!("first event not accepted: {answer:?}").into());
        }
        let init = f
            .api
            .first_next()
            .map(|t| t.duration_since(f.spawned))
            .ok_or("the runtime never asked for an event")?;
        Ok(Self {
            size,
            queue_url,
            f,
            init,
            first_response,
            new_latencies: Vec::new(),
            new_cpu_ns: 0,
            dup_latencies: Vec::new(),
            dup_cpu_ns: 0,
            peak_rss_kib: 0,
        })
    }

    /// CPU ms per event of `ns` spent over the run.
    fn cpu_ms(&self, ns: u64) -> f64 {
        ns as f64 / 1e6 / self.new_latencies.len().max(1) as f64
    }
}

fn row(label: &str, values: impl IntoIterator<Item = String>) {
    let values: Vec<String> = values.into_iter().map(|v| format!("{v:>24}")).collect();
    println!("{label:<40}{}", values.join(""));
}

fn latency(lat: &mut [f64]) -> String {
    lat.sort_by(f64::total_cmp);
    format!(
        "{:.2} / {:.2} ms",
        percentile(lat, 0.5),
        percentile(lat, 0.99)
    )
}

/// One measurement at one memory size: every bootstrap in `names`, N new events and N duplicates
/// in interleaved chunks with the floor; one block of figures.
async fn measure(
    names: &[(&str, PathBuf)],
    runtime: Runtime<'_>,
    server: &str,
    n: usize,
    memory: Option<u32>,
) -> Result<(), BoxError> {
    let mut subjects = Vec::new();
    for (name, path) in names {
        let name = format!("bench-{}-{}", name.replace('+', "-"), runtime.memory_mb);
        subjects.push(Subject::start(path, runtime, server, &name).await?);
    }
    let sent = sent_message(server, &subjects[0].queue_url).await?;
    let floor_name = format!("bench-floor-{}", runtime.memory_mb);
    let mut floor = Floor::new(runtime.endpoint, &floor_name, sent).await?;
    for start in (0..n).step_by(CHUNK) {
        let ids = start..(start + CHUNK).min(n);
        let events: Vec<Bytes> = ids.clone().map(event).collect();
        for s in subjects.iter_mut() {
            s.new_cpu_ns += sequential(&s.f, &events, "accepted", &mut s.new_latencies).await?;
        }
        floor.chunk(ids).await?;
    }
    for start in (0..n).step_by(CHUNK) {
        // Signed afresh, so a long run stays inside the timestamp tolerance.
        let events: Vec<Bytes> = (start..(start + CHUNK).min(n)).map(event).collect();
        for s in subjects.iter_mut() {
            s.dup_cpu_ns += sequential(&s.f, &events, "duplicate", &mut s.dup_latencies).await?;
        }
    }
    for s in subjects.iter_mut() {
        s.peak_rss_kib = peak_rss_kib(s.f.child.id());
    }
    let floor_ms = floor.ms_per_event();

    row("", names.iter().map(|(name, _)| name.to_string()));
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    row(
        "init (spawn → first /next)",
        subjects.iter().map(|s| ms(s.init)),
    );
    row(
        "first response (cold, 1 new event)",
        subjects.iter().map(|s| ms(s.first_response)),
    );
    row(
        "warm new event, median / p99",
        subjects.iter_mut().map(|s| latency(&mut s.new_latencies)),
    );
    row(
        "warm duplicate, median / p99",
        subjects.iter_mut().map(|s| latency(&mut s.dup_latencies)),
    );
    row(
        "CPU per warm new event",
        subjects
            .iter()
            .map(|s| format!("{:.3} ms", s.cpu_ms(s.new_cpu_ns))),
    );
    row(
        "CPU per warm duplicate",
        subjects
            .iter()
            .map(|s| format!("{:.3} ms", s.cpu_ms(s.dup_cpu_ns))),
    );
    row(
        "new event CPU / SDK floor",
        subjects.iter().map(|s| {
            format!(
                "{:.2} x",
                s.cpu_ms(s.new_cpu_ns) / floor_ms.max(f64::EPSILON)
            )
        }),
    );
    row(
        "peak RSS",
        subjects
            .iter()
            .map(|s| format!("{:.1} MiB", s.peak_rss_kib as f64 / 1024.0)),
    );
    row(
        "bootstrap size (stripped)",
        subjects.iter().map(|s| format!("{} bytes", s.size)),
    );
    println!();
    println!(
        "SDK floor (3 calls, warm client, this process): CPU {floor_ms:.3} ms/event; goal for a new event ≤ 1.2 x floor + 0.1 ms = {:.3} ms",
        1.2 * floor_ms + 0.1
    );
    if let Some(mb) = memory {
        // Billed duration: each invocation's duration rounded up to the millisecond.
        let billed = |lat: &[f64]| percentile(lat, 0.5).ceil();
        row(
            "billed, new event (median, rounded up)",
            subjects
                .iter()
                .map(|s| format!("{:.0} ms", billed(&s.new_latencies))),
        );
        row(
            "cost per million new events",
            subjects
                .iter()
                .map(|s| format!("{:.3} USD", cost_per_million(mb, billed(&s.new_latencies)))),
        );
        row(
            "cost per million duplicates",
            subjects
                .iter()
                .map(|s| format!("{:.3} USD", cost_per_million(mb, billed(&s.dup_latencies)))),
        );
    }
    if let ([now, baseline], [(now_name, _), (base_name, _)]) = (&subjects[..], names) {
        println!(
            "{now_name} / {base_name}: CPU per new event {:.2} x, per duplicate {:.2} x",
            now.cpu_ms(now.new_cpu_ns) / baseline.cpu_ms(baseline.new_cpu_ns).max(f64::EPSILON),
            now.cpu_ms(now.dup_cpu_ns) / baseline.cpu_ms(baseline.dup_cpu_ns).max(f64::EPSILON),
        );
    }

    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let n = args.n.max(1);
    let bootstrap = args
        .bootstrap
        .unwrap_or_else(|| workspace().join("target/release/cashfree-webhook"));
    let python = args
        .python
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    let mut names = vec![("now", bootstrap.clone())];
    if args.archive {
        names.push(("now+archive", bootstrap.clone()));
    }
    if let Some(b) = args.baseline {
        names.push(("baseline", b));
    }
    println!("kyc-bench: N = {n}, local server with keep-alive, interleaved in chunks of {CHUNK}");
    for (name, path) in &names {
        println!("  {name:<9} {}", path.display());
    }
    println!();

    let server = start_server(&python, 1, 0)?;
    let tls_dir = workspace().join("target/bench-tls");
    let front = if args.tls {
        let front = tls::TlsFront::start(&server.endpoint, &tls_dir).await?;
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
    };
    Floor::new(endpoint, "bench-warm-up", placeholder).await?;
    let sizes: Vec<Option<u32>> = if args.memory.is_empty() {
        vec![None]
    } else {
        args.memory.iter().map(|m| Some(*m)).collect()
    };
    for memory in sizes {
        let share = match memory {
            Some(mb) => match lambda_cpu::CpuShare::for_memory(
                mb,
                &format!("kyc-bench-{}-{mb}", std::process::id()),
            ) {
                Ok(share) => Some(share),
                Err(e) => {
                    println!("MEMORY={mb}: no cgroup CPU quota here ({e}); running unthrottled");
                    None
                }
            },
            None => None,
        };
        let memory_mb = memory.unwrap_or(256);
        println!();
        match &share {
            Some(share) => println!(
                "== {memory_mb} MB: the bootstrap held to {:.1} % of a CPU (cgroup quota){}",
                share.share * 100.0,
                if front.is_some() { ", HTTPS" } else { "" }
            ),
            None => println!(
                "== {} (a whole core){}",
                memory.map_or("no memory size".to_owned(), |m| format!("{m} MB reported")),
                if front.is_some() { ", HTTPS" } else { "" }
            ),
        }
        let runtime = Runtime {
            memory_mb,
            share: share.as_ref(),
            endpoint,
            ca_bundle,
        };
        measure(&names, runtime, &server.endpoint, n, memory).await?;
    }
    drop(front);
    drop(server);

    // Lambda Managed Instances: one process, several invocations at once, with a round trip to
    // the server (AWS is a network away) and a server that overlaps requests. A standard
    // queue here: the local server's FIFO send costs it more CPU as the queue fills, which would
    // measure the server, not the function.
    let latency_ms = args.latency_ms;
    let server = start_server(&python, 16, latency_ms)?;
    let (table, queue_url) = stack(&server.endpoint, "bench-concurrent", false).await?;
    // Managed Instances run at a whole vCPU per 1 769 MB: held to it when sizes are measured.
    let front = if args.tls {
        Some(tls::TlsFront::start(&server.endpoint, &tls_dir).await?)
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
            &bootstrap,
            runtime,
            &table,
            &queue_url,
            Some(concurrency),
            None,
        )
        .await?;
        let warm = f
            .api
            .invoke(event(usize::MAX - concurrency as usize), TIMEOUT)
            .await;
        if warm.as_ref().and_then(status_of).map(|(s, _)| s) != Some(200) {
            return Err(format!("concurrency {concurrency}: not accepted: {warm:?}").into());
        }
        let count = args.concurrent_events.max(1);
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
        let elapsed = started.elapsed().as_secs_f64();
        let rate = accepted as f64 / elapsed;
        let missing = if accepted == count {
            String::new()
        } else {
            format!("   ({accepted}/{count} answered 200 within the timeout)")
        };
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
