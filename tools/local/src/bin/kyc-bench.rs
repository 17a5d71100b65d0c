//! `kyc-bench` (`make bench`): what a webhook costs where a user pays for it. The release
//! `cashfree-webhook` bootstrap runs as Lambda runs it, under the Runtime API emulator
//! (`kyc_local::runtime_api`), against the local DynamoDB/SQS server served with keep-alive
//! connections (as AWS's are). It prints, for N sequential new events and N duplicates: init
//! (spawn → first `/next`), the first response, warm latency median/p99, CPU per warm event
//! (the process's utime+stime), peak RSS, the bootstrap's size; the floor (the CPU of the same
//! three SDK calls from a warm client in this bare process); and the throughput of one process
//! at `AWS_LAMBDA_MAX_CONCURRENCY=8` against 1 (Lambda Managed Instances), with the local server
//! given a round-trip latency so the work is I/O-bound, as it is on AWS.
//!
//! usage: kyc-bench [--n N] [--bootstrap PATH] [--python PATH] [--latency-ms MS]
//!
//! The concurrency figure needs the round trip to dominate: the local server spends a few ms of
//! Python CPU per call under one interpreter lock, which caps it near 60 new events/s whatever
//! the function does; the default 50 ms round trip keeps the cap out of the way.

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use kyc_intake::sources::cashfree::signature::sign;
use kyc_local::resources::{self, local_sdk_config, BoxError};
use kyc_local::runtime_api::{Answer, RuntimeApi};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";
const TIMEOUT: Duration = Duration::from_secs(20);

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(45_666)
}

/// The local server, with keep-alive; killed on drop.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(python: &Path, threads: u32, latency_ms: u32) -> Result<Server, BoxError> {
    let port = free_port();
    let child = Command::new(python)
        .arg(workspace().join("tools/local/moto_server.py"))
        .args([
            "--port",
            &port.to_string(),
            "--exit-with-parent",
            "--keep-alive",
        ])
        .args([
            "--threads",
            &threads.to_string(),
            "--latency-ms",
            &latency_ms.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("the local server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Server(child, format!("http://127.0.0.1:{port}")))
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), closed by ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn ticks_to_ms(ticks: u64) -> f64 {
    ticks as f64 * 10.0
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
    endpoint: &str,
    table: &str,
    queue_url: &str,
    concurrency: Option<u32>,
) -> Result<Function, BoxError> {
    let api = RuntimeApi::start().await?;
    let mut cmd = Command::new(bootstrap);
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cashfree-webhook")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "ap-south-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("IDEMPOTENCY_TABLE", table)
        .env("EVENTS_QUEUE_URL", queue_url)
        .env("CASHFREE_CLIENT_SECRETS", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = concurrency {
        cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", c.to_string());
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

/// Send `events` one after the other; latencies (ms) and CPU ticks the function used.
async fn sequential(
    f: &Function,
    events: &[Bytes],
    want: &str,
) -> Result<(Vec<f64>, u64), BoxError> {
    let pid = f.child.id().to_string();
    let before = cpu_ticks(&pid);
    let mut latencies = Vec::with_capacity(events.len());
    for e in events {
        let started = Instant::now();
        let answer = f.api.invoke(e.clone(), TIMEOUT).await.ok_or("no answer")?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        let (status, outcome) = status_of(&answer).ok_or("not a proxy response")?;
        if status != 200 || outcome != want {
            return Err(format!("expected 200 {want}, got {status} {outcome}").into());
        }
    }
    let used = cpu_ticks(&pid).saturating_sub(before);
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, used))
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

/// The three SDK calls of a new event from a warm client in this process: CPU ms per event.
async fn floor(endpoint: &str, table: &str, queue_url: &str, n: usize) -> Result<f64, BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let once = |i: usize| {
        let (ddb, sqs) = (ddb.clone(), sqs.clone());
        async move {
            let key = AttributeValue::S(format!("floor#{i}"));
            ddb.put_item()
                .table_name(table)
                .item("pk", key.clone())
                .item("status", AttributeValue::S("IN_PROGRESS".into()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await?;
            sqs.send_message()
                .queue_url(queue_url)
                .message_body(format!("{{\"floor\":{i}}}"))
                .message_group_id(format!("floor#{i}"))
                .message_deduplication_id(format!("floor-{i}"))
                .send()
                .await?;
            ddb.update_item()
                .table_name(table)
                .key("pk", key)
                .update_expression("SET #s = :c")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":c", AttributeValue::S("COMPLETED".into()))
                .send()
                .await?;
            Ok::<_, BoxError>(())
        }
    };
    for i in 0..20 {
        once(1_000_000 + i).await?;
    }
    let before = cpu_ticks("self");
    for i in 0..n {
        once(i).await?;
    }
    Ok(ticks_to_ms(cpu_ticks("self").saturating_sub(before)) / n as f64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let n: usize = arg("--n").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let bootstrap = arg("--bootstrap")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/cashfree-webhook"));
    let python = arg("--python")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    if !bootstrap.exists() {
        return Err(format!("{} not built (make bench builds it)", bootstrap.display()).into());
    }
    let size = std::fs::metadata(&bootstrap)?.len();

    println!(
        "kyc-bench: {} ({size} bytes), N = {n}, local server with keep-alive\n",
        bootstrap.display()
    );
    let server = start_server(&python, 1, 0)?;
    let (table, queue_url) = stack(&server.1, "bench", true).await?;
    let f = start_function(&bootstrap, &server.1, &table, &queue_url, None).await?;
    let first = event(usize::MAX);
    let started = Instant::now();
    let answer = f
        .api
        .invoke(first.clone(), TIMEOUT)
        .await
        .ok_or("no first answer")?;
    let first_response = started.elapsed();
    let init = f
        .api
        .first_next()
        .map(|t| t.duration_since(f.spawned))
        .ok_or("the runtime never asked for an event")?;
    if status_of(&answer).map(|(s, _)| s) != Some(200) {
        return Err(format!("first event not accepted: {answer:?}").into());
    }
    let news: Vec<Bytes> = (0..n).map(event).collect();
    let (new_lat, new_cpu) = sequential(&f, &news, "accepted").await?;
    let dups: Vec<Bytes> = (0..n).map(event).collect();
    let (dup_lat, dup_cpu) = sequential(&f, &dups, "duplicate").await?;
    let rss = peak_rss_kib(f.child.id());
    drop(f);
    let floor_ms = floor(&server.1, &table, &queue_url, n).await?;

    let row = |what: &str, lat: &[f64], cpu: u64| {
        println!(
            "{what:<34} median {:>6.2} ms   p99 {:>6.2} ms   CPU {:>5.3} ms/event",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            ticks_to_ms(cpu) / n as f64
        )
    };
    println!(
        "init (spawn → first /next)         {:>6.1} ms",
        init.as_secs_f64() * 1e3
    );
    println!(
        "first response (cold, 1 new event) {:>6.1} ms",
        first_response.as_secs_f64() * 1e3
    );
    row("warm, new events", &new_lat, new_cpu);
    row("warm, duplicates", &dup_lat, dup_cpu);
    println!(
        "peak RSS                           {:>6.1} MiB",
        rss as f64 / 1024.0
    );
    println!(
        "bootstrap size (stripped)          {size:>9} bytes ({:.2} MiB)",
        size as f64 / 1_048_576.0
    );
    println!("SDK floor (3 calls, warm client)   CPU {floor_ms:>5.3} ms/event");
    println!(
        "new event CPU vs floor             {:.2} x floor (goal ≤ 1.2 x floor + 0.1 ms = {:.3} ms)",
        ticks_to_ms(new_cpu) / n as f64 / floor_ms.max(f64::EPSILON),
        1.2 * floor_ms + 0.1
    );
    drop(server);

    // Lambda Managed Instances: one process, several invocations at once, with a round trip to
    // the server (AWS is a network away) and a server that overlaps requests. A standard
    // queue here: the local server's FIFO send costs it more CPU as the queue fills, which would
    // measure the server, not the function.
    let latency_ms: u32 = arg("--latency-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let server = start_server(&python, 16, latency_ms)?;
    let (table, queue_url) = stack(&server.1, "bench-concurrent", false).await?;
    let mut rates = Vec::new();
    for concurrency in [1u32, 8] {
        let f =
            start_function(&bootstrap, &server.1, &table, &queue_url, Some(concurrency)).await?;
        let warm = f
            .api
            .invoke(event(usize::MAX - concurrency as usize), TIMEOUT)
            .await;
        if warm.as_ref().and_then(status_of).map(|(s, _)| s) != Some(200) {
            return Err(format!("concurrency {concurrency}: not accepted: {warm:?}").into());
        }
        let count = 200usize;
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
            "AWS_LAMBDA_MAX_CONCURRENCY={concurrency:<2} ({latency_ms} ms round trip)  {rate:>7.1} new events/s{missing}"
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
