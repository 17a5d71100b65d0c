//! One bootstrap as Lambda runs it: spawned under the Runtime API emulator with a function's
//! environment, held to a memory size's CPU share, and sent signed VKYC deliveries.

use crate::lambda_cpu;
use crate::process::cpu_ns;
use bytes::Bytes;
use kyc_intake::sources::cashfree::signature::sign;
use kyc_local::resources::BoxError;
use kyc_local::runtime_api::{Answer, RuntimeApi};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SECRET: &str = "bench-secret-0123456789";
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// How the bootstraps run: the memory size they report and the CPU share they get, and the
/// endpoint and CA bundle they reach the local server by.
#[derive(Clone, Copy)]
pub(crate) struct Runtime<'a> {
    pub(crate) memory_mb: u32,
    pub(crate) share: Option<&'a lambda_cpu::CpuShare>,
    pub(crate) endpoint: &'a str,
    pub(crate) ca_bundle: Option<&'a Path>,
}

/// An HTTP API event for a signed VKYC delivery of journey `i`.
pub(crate) fn event(i: usize) -> Bytes {
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

pub(crate) fn status_of(answer: &Answer) -> Option<(u64, String)> {
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

pub(crate) struct Function {
    pub(crate) api: RuntimeApi,
    pub(crate) child: Child,
    pub(crate) spawned: Instant,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The audit archive a measured bootstrap writes: its bucket and, when each delivery is sealed
/// under a data key of its own (an erasable archive), the archive keys table.
pub(crate) struct Archive {
    pub(crate) bucket: String,
    pub(crate) keys_table: Option<String>,
}

pub(crate) async fn start_function(
    bootstrap: &Path,
    runtime: Runtime<'_>,
    table: &str,
    queue_url: &str,
    concurrency: Option<u32>,
    archive: Option<&Archive>,
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
        .env(
            kyc_intake::sources::cashfree::settings::var::CLIENT_SECRETS,
            SECRET,
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = concurrency {
        cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", c.to_string());
    }
    if let Some(bundle) = runtime.ca_bundle {
        cmd.env("SSL_CERT_FILE", bundle);
    }
    if let Some(archive) = archive {
        cmd.env("ARCHIVE_BUCKET", &archive.bucket).env(
            "ARCHIVE_SIGNING_KEY_ID",
            kyc_local::resources::LOCAL_SIGNING_KEY,
        );
        if let Some(table) = &archive.keys_table {
            cmd.env("ARCHIVE_KEYS_TABLE", table).env(
                "ARCHIVE_KMS_KEY_ID",
                kyc_local::resources::LOCAL_ARCHIVE_KEY,
            );
        }
    }
    let spawned = Instant::now();
    let child = cmd.spawn()?;
    Ok(Function {
        api,
        child,
        spawned,
    })
}

/// Send `events` to `f` one after the other, each expected to answer 200 `want`; latencies (ms)
/// go to `latencies`; returns the CPU (ns) the function used meanwhile.
pub(crate) async fn sequential(
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
