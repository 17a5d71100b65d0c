//! `kyc-local load`: a load on a running `make run`, measured where a consumer sees it. Distinct
//! Cashfree Video KYC events (four per journey), each delivered several times as a provider's
//! retries would be, are sent to the local gateway while a consumer long-polls the application
//! queue (the journey stream's subscriber). The report: how many deliveries were answered
//! `accepted` and `duplicate`, whether the queue received each accepted event exactly once, and
//! the latency from an event's first 200 to its receipt on the application queue.

use crate::resources::{ctx, BoxError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The sample every load event is made from (its body replaced, then signed as `make invoke`
/// signs it).
pub const TEMPLATE: &str = "events/cashfree/vkyc/call_completed.json";
/// A journey's four events, in order.
const STEPS: [(&str, &str); 4] = [
    ("VKYC_USER_LINK_GENERATED", "LINK_GENERATED"),
    ("VKYC_USER_CALL_QUEUED", "USER_QUEUED"),
    ("VKYC_USER_CALL_STARTED", "CALL_STARTED"),
    ("VKYC_USER_CALL_COMPLETED", "CALL_COMPLETED"),
];
/// How long the consumer waits for the rest once nothing new has arrived.
const QUIET: Duration = Duration::from_secs(30);
/// How long the consumer goes on once every event arrived, for a second copy to show.
const SETTLE: Duration = Duration::from_secs(3);

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub events: usize,
    pub deliveries: usize,
    pub accepted: usize,
    pub duplicate: usize,
    /// Answers other than 200.
    pub refused: usize,
    /// Accepted events the application queue gave, once each.
    pub received: usize,
    /// Messages for an event the queue had already given.
    pub received_again: usize,
    /// Accepted events the queue never gave.
    pub missing: usize,
    /// From an event's first 200 to its receipt on the application queue, ms.
    pub p50_ms: u128,
    pub p99_ms: u128,
    pub max_ms: u128,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} events x {} deliveries: {} accepted, {} duplicate, {} refused",
            self.events, self.deliveries, self.accepted, self.duplicate, self.refused
        )?;
        writeln!(
            f,
            "application queue: {} received once, {} received again, {} missing",
            self.received, self.received_again, self.missing
        )?;
        write!(
            f,
            "webhook 200 -> application queue receive: p50 {} ms, p99 {} ms, max {} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

/// The `i`th load event's sample (a signed API Gateway event): journey `load-<run>-<i / 4>`,
/// its `i % 4`th step, a minute after the one before.
fn sample(template: &Value, run: &str, i: usize, now_ms: i64) -> Result<String, BoxError> {
    let (event, sub_status) = STEPS[i % STEPS.len()];
    let minute = i % STEPS.len();
    let body = serde_json::json!({
        "event_type": event,
        "event_time": format!("2025-05-22T04:{minute:02}:00Z"),
        "version": "v1",
        "data": {
            "verification_id": format!("load-{run}-{}", i / STEPS.len()),
            "status": "VIDEO_CALL",
            "sub_status": sub_status,
        },
    });
    let mut template = template.clone();
    template["body"] = Value::from(body.to_string());
    kyc_samples::render(
        &template.to_string(),
        &kyc_samples::Credentials::from_env(),
        now_ms,
    )
}

/// Send `events` events, each `deliveries` times (`concurrency` events at once, at most `rate`
/// new events a second when given), to the gateway at `gateway`, and read the application queue `queue_url` until every accepted event
/// arrived or nothing new came for a while.
pub async fn run(
    gateway: &str,
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    events: usize,
    deliveries: usize,
    concurrency: usize,
    rate: Option<f64>,
) -> Result<Report, BoxError> {
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(TEMPLATE).map_err(|e| format!("{TEMPLATE}: {e}"))?,
    )?;
    let run = chrono::Utc::now().timestamp_millis().to_string();
    let uri = format!("{gateway}/2015-03-31/functions/cashfree-webhook/invocations");
    let accepted_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let received_at: Arc<Mutex<HashMap<String, (Instant, usize)>>> = Arc::default();
    let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
    // A consumer's own client: the SDK's defaults, not the functions' tight timeouts.
    let patient = sdk
        .to_builder()
        .timeout_config(aws_config::timeout::TimeoutConfig::builder().build())
        .build();
    let consumer = tokio::spawn(consume(
        aws_sdk_sqs::Client::new(&patient),
        queue_url.to_owned(),
        Arc::clone(&received_at),
        Arc::clone(&accepted_at),
        Arc::clone(&sending),
    ));

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut report = Report {
        events,
        deliveries,
        ..Report::default()
    };
    // Each event's deliveries go out one after another (a provider's retries); `concurrency`
    // events at once.
    let mut next = 0;
    let mut in_flight = tokio::task::JoinSet::new();
    let mut pace = rate
        .filter(|r| *r > 0.0)
        .map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r)));
    while next < events || !in_flight.is_empty() {
        while next < events && in_flight.len() < concurrency.max(1) {
            if let Some(pace) = pace.as_mut() {
                pace.tick().await;
            }
            let i = next;
            next += 1;
            let (client, uri, template, run) =
                (client.clone(), uri.clone(), template.clone(), run.clone());
            let accepted_at = Arc::clone(&accepted_at);
            in_flight.spawn(async move {
                let event = Event {
                    client: &client,
                    uri: &uri,
                    template: &template,
                    run: &run,
                    i,
                };
                event.deliver(deliveries, &accepted_at).await
            });
        }
        if let Some(done) = in_flight.join_next().await {
            for status in done?? {
                match status.as_str() {
                    "accepted" => report.accepted += 1,
                    "duplicate" => report.duplicate += 1,
                    _ => report.refused += 1,
                }
            }
        }
    }
    sending.store(false, std::sync::atomic::Ordering::SeqCst);
    consumer.await??;

    tally(&mut report, &accepted_at, &received_at);
    Ok(report)
}

/// One event of the load: sent `deliveries` times through the gateway, as a provider retries.
struct Event<'a> {
    client: &'a Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: &'a str,
    template: &'a Value,
    run: &'a str,
    i: usize,
}

impl Event<'_> {
    /// Each delivery's answer (`accepted`, `duplicate`, or a refusal); when the first was
    /// accepted, noted in `accepted_at`.
    async fn deliver(
        &self,
        deliveries: usize,
        accepted_at: &Mutex<HashMap<String, Instant>>,
    ) -> Result<Vec<String>, BoxError> {
        let mut answers = Vec::new();
        for _ in 0..deliveries {
            let now = chrono::Utc::now().timestamp_millis();
            let event = sample(self.template, self.run, self.i, now)?;
            let request = hyper::Request::post(self.uri).body(Full::new(Bytes::from(event)))?;
            let response =
                self.client.request(request).await.map_err(|e| {
                    format!("cannot reach the gateway ({e}); is `make run` running?")
                })?;
            let body = response.into_body().collect().await?.to_bytes();
            let reply: Value = serde_json::from_slice(&body)?;
            let inner: Value = reply["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            let status = inner["status"].as_str().unwrap_or("refused").to_owned();
            if status == "accepted" {
                if let Some(id) = inner["id"].as_str() {
                    accepted_at
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(id.to_owned())
                        .or_insert_with(Instant::now);
                }
            }
            answers.push(status);
        }
        Ok(answers)
    }
}

/// Each accepted event received or missing, how often again, and the latencies' quantiles.
fn tally(
    report: &mut Report,
    accepted_at: &Mutex<HashMap<String, Instant>>,
    received_at: &Mutex<HashMap<String, (Instant, usize)>>,
) {
    let accepted = accepted_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let received = received_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut latencies: Vec<u128> = Vec::new();
    for (id, sent) in &accepted {
        match received.get(id) {
            Some((at, times)) => {
                report.received += 1;
                report.received_again += times - 1;
                latencies.push(at.saturating_duration_since(*sent).as_millis());
            }
            None => report.missing += 1,
        }
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round();
        latencies
            .get(i.max(0.0) as usize)
            .copied()
            .unwrap_or_default()
    };
    report.p50_ms = at(0.50);
    report.p99_ms = at(0.99);
    report.max_ms = latencies.last().copied().unwrap_or_default();
}

/// Long-poll the application queue as the README's consumer does, noting when each event
/// arrived and how often, until the sender is done and every accepted event arrived, or nothing
/// new came for `QUIET`.
async fn consume(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    received_at: Arc<Mutex<HashMap<String, (Instant, usize)>>>,
    accepted_at: Arc<Mutex<HashMap<String, Instant>>>,
    sending: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), BoxError> {
    let mut last_new = Instant::now();
    let mut all_since: Option<Instant> = None;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| ctx("ReceiveMessage", e))?;
        let now = Instant::now();
        for m in out.messages() {
            let id = serde_json::from_str::<Value>(m.body().unwrap_or_default())
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned));
            if let Some(id) = id {
                let mut received = received_at.lock().unwrap_or_else(|e| e.into_inner());
                received.entry(id).or_insert((now, 0)).1 += 1;
                last_new = now;
            }
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| ctx("DeleteMessage", e))?;
            }
        }
        if sending.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        let all = {
            let accepted = accepted_at.lock().unwrap_or_else(|e| e.into_inner());
            let received = received_at.lock().unwrap_or_else(|e| e.into_inner());
            accepted.keys().all(|id| received.contains_key(id))
        };
        // Once every event arrived, a few more polls: a second copy would show up in them.
        let settled = all && all_since.get_or_insert_with(Instant::now).elapsed() > SETTLE;
        if settled || last_new.elapsed() > QUIET {
            return Ok(());
        }
    }
}
