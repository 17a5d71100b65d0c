//! The replay rate: the release `archive-replay` bootstrap, under the Runtime API emulator,
//! replaying deliveries the release `cashfree-webhook` bootstrap archived (sealed, as an erasable
//! archive keeps them): each read, opened, verified, normalized again and sent. Deliveries per
//! second of wall time and the function's CPU per delivery, against the local server on a whole
//! core over plain HTTP.

use crate::function::{event, start_function, status_of, Archive, Runtime};
use crate::process::cpu_ns;
use kyc_intake::replay::{ReplayRun, Request};
use kyc_local::resources::{self, local_sdk_config, BoxError};
use kyc_local::runtime_api::{Answer, RuntimeApi};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A replay call works about 90 s at most; the emulator waits a little longer.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Archive `n` deliveries through `webhook`, then replay them all with `replay`; print the rate.
pub(crate) async fn rate(
    endpoint: &str,
    webhook: &Path,
    replay: &Path,
    n: usize,
) -> Result<(), BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    let name = format!("bench-replay-{}", std::process::id());
    let (table, queue_url) = crate::floor::stack(endpoint, &name, true).await?;
    resources::ensure_bucket(&sdk, &name).await?;
    resources::ensure_signing_key(&sdk, resources::LOCAL_SIGNING_KEY).await?;
    let keys_table = format!("{name}-keys");
    resources::ensure_keys_table(&sdk, &keys_table).await?;
    resources::ensure_archive_key(&sdk, resources::LOCAL_ARCHIVE_KEY).await?;
    let archive = Archive {
        bucket: name.clone(),
        keys_table: Some(keys_table.clone()),
    };
    let runtime = Runtime {
        memory_mb: 256,
        share: None,
        endpoint,
        ca_bundle: None,
    };
    let f = start_function(webhook, runtime, &table, &queue_url, None, Some(&archive)).await?;
    for i in 0..n {
        let answer = f
            .api
            .invoke(event(i), crate::function::TIMEOUT)
            .await
            .ok_or("no answer")?;
        if status_of(&answer).map(|(s, _)| s) != Some(200) {
            return Err("a delivery to archive was not accepted".into());
        }
    }
    drop(f);

    let api = RuntimeApi::start().await?;
    let mut child = Command::new(replay)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "archive-replay")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "ap-south-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("EVENTS_QUEUE_URL", &queue_url)
        .env("ARCHIVE_BUCKET", &name)
        .env("ARCHIVE_SIGNING_KEY_ID", resources::LOCAL_SIGNING_KEY)
        .env("ARCHIVE_KEYS_TABLE", &keys_table)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id().to_string();
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut request = Request {
        source: Some("cashfree/vkyc".into()),
        from: Some(day.clone()),
        to: Some(day),
        ..Request::default()
    };
    let mut all = ReplayRun::default();
    let (mut calls, started, before) = (0, Instant::now(), cpu_ns(&pid));
    loop {
        calls += 1;
        let answer = api
            .invoke(serde_json::to_vec(&request)?, CALL_TIMEOUT)
            .await;
        let run: ReplayRun = match answer {
            Some(Answer::Response(body)) => serde_json::from_slice(&body)?,
            Some(Answer::Error(body)) => {
                return Err(format!("the replay failed: {}", String::from_utf8_lossy(&body)).into())
            }
            None => return Err("the replay function did not answer".into()),
        };
        let next = run.continue_after.clone();
        all.absorb(run);
        match next {
            Some(token) => request.continue_after = Some(token),
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_ms = cpu_ns(&pid).saturating_sub(before) as f64 / 1e6;
    let _ = child.kill();
    let _ = child.wait();
    if all.sent != n {
        return Err(format!("replayed {} of {n} deliveries: {all:?}", all.sent).into());
    }
    println!(
        "replay: {n} sealed deliveries in {calls} call(s), {seconds:.2} s: {:.1} deliveries/s, {:.3} ms CPU each (archive-replay, whole core, plain HTTP)",
        n as f64 / seconds,
        cpu_ms / n as f64
    );
    Ok(())
}
