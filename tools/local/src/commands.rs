//! The commands of `kyc-local` beside `serve`: send a sample (`invoke`, `render`), read the queue
//! (`receive`), the incident drill's controls (`worker`, `purge`), a local rotation (`secret`),
//! and the load (`load`).

use crate::{endpoint, queue_url, sdk, APPLICATION_QUEUE_VARIABLE};
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_local::resources::{self, BoxError};
use kyc_samples::{self as events, Credentials};
use serde_json::Value;

/// Where a running `serve` looks for the worker's pause mark: `KYC_LOCAL_CONTROL_DIR`, else
/// `target/kyc-local` under the current directory (where `make` runs).
pub(crate) fn pause_mark() -> std::path::PathBuf {
    std::env::var_os("KYC_LOCAL_CONTROL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target/kyc-local"))
        .join("worker.paused")
}

pub(crate) fn worker_control(action: &str) -> Result<(), BoxError> {
    let mark = pause_mark();
    if action == "pause" {
        if let Some(dir) = mark.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&mark, b"paused\n")?;
        eprintln!(
            "kyc-local: journey worker paused (events wait on the queue); `make resume` resumes it"
        );
    } else {
        match std::fs::remove_file(&mark) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        eprintln!("kyc-local: journey worker resumed");
    }
    Ok(())
}

pub(crate) async fn purge() -> Result<(), BoxError> {
    kyc_local::server::ensure_reachable(&endpoint())?;
    let queue = queue_url()?;
    aws_sdk_sqs::Client::new(&sdk().await)
        .purge_queue()
        .queue_url(&queue)
        .send()
        .await
        .map_err(|e| format!("PurgeQueue: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    eprintln!("kyc-local: purged {queue}");
    Ok(())
}

/// Put a poison record into the local dead-letter queue (`EVENTS_DLQ_URL`), as five failed
/// receives by the worker would, for the dead-letter walkthrough: `kycctl dlq list`, `redrive`
/// (which leaves it: it is no event) and `delete`. On AWS nobody may send to that queue (its
/// policy); the local server evaluates no queue policy.
pub(crate) async fn dead_letter() -> Result<(), BoxError> {
    kyc_local::server::ensure_reachable(&endpoint())?;
    let dlq = std::env::var("EVENTS_DLQ_URL")
        .map_err(|_| "EVENTS_DLQ_URL is not set (make dead-letter sets it)")?;
    let now = chrono::Utc::now().timestamp_millis();
    let out = aws_sdk_sqs::Client::new(&sdk().await)
        .send_message()
        .queue_url(&dlq)
        .message_body(r#"{"poison": "a record no worker can read"}"#)
        .message_group_id("cashfree/vkyc#poison-local")
        .message_deduplication_id(format!("poison-{now}"))
        .message_attributes(
            "type",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("kyc.vkyc.call_queued")
                .build()
                .map_err(|e| format!("a message attribute: {e}"))?,
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "SendMessage: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    eprintln!(
        "kyc-local: a poison record is in {dlq} (message id {}); make kycctl ARGS='dlq list'",
        out.message_id().unwrap_or("-")
    );
    Ok(())
}

/// The local Secrets Manager secret `serve --secrets-manager` keeps a secret setting in.
pub(crate) fn local_secret_id(variable: &str) -> String {
    format!("kyc-local/{variable}")
}

/// Put standard input's value into a secret setting's local secret (a local rotation). The value
/// is never printed; the functions validate it as they do any value they read.
pub(crate) async fn put_secret(variable: &str) -> Result<(), BoxError> {
    if !FUNCTIONS
        .iter()
        .any(|f| f.secret_variables().contains(&variable))
    {
        let known: Vec<&str> = FUNCTIONS
            .iter()
            .flat_map(|f| f.secret_variables().into_iter())
            .collect();
        return Err(format!(
            "{variable} is not a secret setting (one of {})",
            known.join(", ")
        )
        .into());
    }
    let mut value = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)?;
    let value = value.trim();
    if value.is_empty() {
        return Err("no value on standard input (e.g. `NEW,OLD`)".into());
    }
    kyc_local::server::ensure_reachable(&endpoint())?;
    let id = local_secret_id(variable);
    aws_sdk_secretsmanager::Client::new(&sdk().await)
        .put_secret_value()
        .secret_id(&id)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            format!(
                "{id}: {} (does `make run SECRETS=secretsmanager` run?)",
                DisplayErrorContext(e)
            )
        })?;
    eprintln!(
        "kyc-local: {id} holds {} value(s); the functions use it within SECRETS_MAX_AGE_SECONDS",
        value.split(',').count()
    );
    Ok(())
}

pub(crate) async fn invoke(file: &str, gateway: Option<String>) -> Result<(), BoxError> {
    let gateway = gateway.unwrap_or_else(|| format!("http://{}", kyc_local::defaults::GATEWAY));
    let rendered = render_file(file)?;
    let event: Value = serde_json::from_str(&rendered)?;
    let path = events::path_of(&event);
    let (spec, _) = registry::serving(FUNCTIONS, path)
        .ok_or_else(|| format!("{file}: no function serves {path}"))?;
    let function = spec.name;
    let uri = format!("{gateway}/2015-03-31/functions/{function}/invocations");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = hyper::Request::post(&uri).body(Full::new(Bytes::from(rendered)))?;
    let res = client
        .request(req)
        .await
        .map_err(|e| format!("cannot reach {gateway} ({e}); is `make run` running?"))?;
    let body = res.into_body().collect().await?.to_bytes();
    let reply: Value = serde_json::from_slice(&body)?;
    let status = reply["statusCode"].as_u64().unwrap_or_default();
    println!(
        "{file}: HTTP {status} {}",
        reply["body"].as_str().unwrap_or_default()
    );
    if status == 401 {
        return Err(kyc_local::rotation_hint(spec, file).into());
    }
    if status != 200 {
        return Err(format!("{file} was refused (HTTP {status})").into());
    }
    if let Some(journey) = journey_of(&event, path) {
        println!("  journey: make journey ID='{journey}'");
    }
    Ok(())
}

/// The journey key (`<source>#<subject>`) the journey worker files this event under, when the
/// event is recognized: what `make journey` takes.
pub(crate) fn journey_of(event: &Value, path: &str) -> Option<String> {
    let (_, source) = registry::serving(FUNCTIONS, path)?;
    let body = events::body_of(event);
    let normalized = kyc_intake::intake::normalize::normalize(
        source,
        &body,
        chrono::Utc::now(),
        kyc_intake::sources::cashfree::HEADER_HMAC,
    )
    .ok()?;
    Some(format!("{}#{}", source.name, normalized.subject?))
}

pub(crate) fn render_file(file: &str) -> Result<String, BoxError> {
    let template = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    events::render(
        &template,
        &Credentials::from_env(),
        chrono::Utc::now().timestamp_millis(),
    )
}

pub(crate) async fn receive() -> Result<(), BoxError> {
    kyc_local::server::ensure_reachable(&endpoint())?;
    let messages = resources::drain(&sdk().await, &queue_url()?).await?;
    for m in &messages {
        let attrs: Vec<String> = m
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "--- message {} (group {}, attributes {})",
            m.message_id,
            m.group_id.as_deref().unwrap_or("-"),
            attrs.join(" ")
        );
        let pretty = serde_json::from_str::<Value>(&m.body)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| m.body.clone());
        println!("{pretty}");
    }
    eprintln!("{} message(s) received and deleted", messages.len());
    Ok(())
}

pub(crate) async fn load(
    events: usize,
    deliveries: usize,
    concurrency: usize,
    rate: Option<f64>,
    gateway: Option<String>,
) -> Result<(), BoxError> {
    kyc_local::server::ensure_reachable(&endpoint())?;
    let gateway = gateway.unwrap_or_else(|| format!("http://{}", kyc_local::defaults::GATEWAY));
    let queue = std::env::var(APPLICATION_QUEUE_VARIABLE)
        .map_err(|_| format!("{APPLICATION_QUEUE_VARIABLE} is not set"))?;
    let report = kyc_local::load::run(
        &gateway,
        &sdk().await,
        &queue,
        events,
        deliveries,
        concurrency,
        rate,
    )
    .await?;
    println!("{report}");
    if report.missing > 0 || report.received_again > 0 || report.refused > 0 {
        return Err(
            "the application queue did not receive each accepted event exactly once".into(),
        );
    }
    Ok(())
}

/// `make generate` (`--check`: write nothing, show what would change, fail if anything would).
pub fn generate(root: &std::path::Path, check: bool) -> Result<(), BoxError> {
    use kyc_intake::sources::registry::{auth_schemes, FUNCTIONS, STATUS_APIS};
    use kyc_local::generate;
    let registry = generate::registry(FUNCTIONS, STATUS_APIS, auth_schemes())?;
    let outputs = generate::outputs(root, &registry)?;
    let changed: Vec<&generate::Output> = outputs.iter().filter(|o| o.changes()).collect();
    if check {
        for o in &changed {
            print!("{}", generate::diff(o));
        }
        if !changed.is_empty() {
            let paths: Vec<String> = changed
                .iter()
                .map(|o| o.path.display().to_string())
                .collect();
            return Err(format!(
                "generated parts are stale in {}: run `make generate` (never edit between the markers)",
                paths.join(", ")
            )
            .into());
        }
        println!("generated parts are current ({} files)", outputs.len());
        return Ok(());
    }
    generate::write(root, &outputs)?;
    for o in &changed {
        println!("wrote {}", o.path.display());
    }
    if changed.is_empty() {
        println!("nothing to change ({} files)", outputs.len());
    }
    Ok(())
}
