//! Lambda Managed Instances: the real `cashfree-webhook` bootstrap with
//! `AWS_LAMBDA_MAX_CONCURRENCY=8` serves several invocations at once (`run_concurrent`), and the
//! exactly-once guarantee still holds: 24 deliveries of one event and 24 distinct events, all in
//! flight together, make exactly 25 messages and one accepted answer per event.

use bytes::Bytes;
use kyc_intake_tests::{endpoint, workspace_binary, ApiRequest, Stack};
use kyc_local::runtime_api::{Answer, RuntimeApi};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"mi-0","status":"PRE_VIDEO_CALL","sub_status":"USER_QUEUED"}}"#;

/// The environment Lambda gives the `cashfree-webhook` bootstrap, on the stack and the emulator,
/// with `extra` on top.
fn bootstrap_env(
    stack: &Stack,
    api: &RuntimeApi,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env = stack.env_vars(&[]);
    let base = [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "cashfree-webhook"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "ap-south-1"),
    ];
    for (k, v) in base.iter().chain(extra) {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

/// The real `cashfree-webhook` bootstrap with exactly `env`.
fn spawn(env: &HashMap<String, String>) -> std::process::Child {
    Command::new(workspace_binary("cashfree-webhook"))
        .env_clear()
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the bootstrap")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_invocations_at_once_keep_exactly_once() {
    let stack = Stack::new(true).await;
    let api = RuntimeApi::start().await.expect("runtime API emulator");
    let env = bootstrap_env(
        &stack,
        &api,
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
        ],
    );
    let mut child = spawn(&env);

    let delivery = |body: String| {
        let request = ApiRequest::post("/webhooks/cashfree/vkyc", body).signed_now();
        Bytes::from(request.event().to_string())
    };
    let mut pending = Vec::new();
    for i in 0..24 {
        pending.push((
            "same",
            api.queue(delivery(BODY.to_owned()), Duration::from_secs(60)),
        ));
        let other = BODY.replace("mi-0", &format!("mi-{}", i + 1));
        pending.push(("other", api.queue(delivery(other), Duration::from_secs(60))));
    }
    let mut outcomes: HashMap<(&str, String), usize> = HashMap::new();
    for (kind, rx) in pending {
        let answer = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("answered in time")
            .expect("answered");
        let Answer::Response(body) = answer else {
            panic!("the invocation failed: {answer:?}")
        };
        let response: Value = serde_json::from_slice(&body).expect("a proxy response");
        let inner: Value =
            serde_json::from_str(response["body"].as_str().expect("body")).expect("json");
        let label = inner["status"]
            .as_str()
            .or_else(|| inner["error"].as_str())
            .unwrap_or_default()
            .to_owned();
        *outcomes.entry((kind, label)).or_default() += 1;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        api.max_in_flight() > 1,
        "the invocations overlapped (at most {} at once)",
        api.max_in_flight()
    );

    assert_eq!(
        outcomes.get(&("other", "accepted".into())),
        Some(&24),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&("same", "accepted".into())),
        Some(&1),
        "{outcomes:?}"
    );
    let others: usize = outcomes
        .iter()
        .filter(|((kind, label), _)| *kind == "same" && label != "accepted")
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(
        others, 23,
        "the rest duplicate or in_progress: {outcomes:?}"
    );
    assert!(outcomes
        .keys()
        .filter(|(kind, _)| *kind == "same")
        .all(|(_, label)| ["accepted", "duplicate", "in_progress"].contains(&label.as_str())));
    assert_eq!(
        stack.messages().await.len(),
        25,
        "exactly one message per event"
    );
}

/// Where Lambda serves the role's credentials from a local endpoint instead of the key variables
/// (SnapStart does; Managed Instances' long-lived environments need credentials that renew), the
/// bootstrap asks it, with its authorization token, and the event is accepted. The endpoint is a
/// loopback server answering as Lambda's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_lambdas_local_endpoint_when_no_key_is_in_the_environment() {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const TOKEN: &str = "container-token-1";
    let asked = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let credentials_url = format!(
        "http://{}/2018-06-01/credentials",
        listener.local_addr().expect("address")
    );
    let (served_asked, served_refused) = (asked.clone(), refused.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (asked, refused) = (served_asked.clone(), served_refused.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let authorized = req
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .is_some_and(|v| v == TOKEN);
                    let expiration = (chrono::Utc::now() + chrono::Duration::hours(6))
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    let (status, body) = if authorized {
                        asked.fetch_add(1, Ordering::SeqCst);
                        (
                            200,
                            format!(
                                r#"{{"AccessKeyId":"local","SecretAccessKey":"local","Token":"session","Expiration":"{expiration}"}}"#
                            ),
                        )
                    } else {
                        refused.fetch_add(1, Ordering::SeqCst);
                        (401, String::new())
                    };
                    async move {
                        hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let stack = Stack::new(true).await;
    let api = RuntimeApi::start().await.expect("runtime API emulator");
    let mut env = bootstrap_env(
        &stack,
        &api,
        &[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                credentials_url.as_str(),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN),
        ],
    );
    env.remove("AWS_ACCESS_KEY_ID");
    env.remove("AWS_SECRET_ACCESS_KEY");
    env.remove("AWS_SESSION_TOKEN");
    let mut child = spawn(&env);
    let body = BODY.replace("mi-0", "container-credentials");
    let request = ApiRequest::post("/webhooks/cashfree/vkyc", body).signed_now();
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        api.queue(
            Bytes::from(request.event().to_string()),
            Duration::from_secs(60),
        ),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    let _ = child.kill();
    let _ = child.wait();
    let Answer::Response(body) = answer else {
        panic!("the invocation failed: {answer:?}")
    };
    let response: Value = serde_json::from_slice(&body).expect("a proxy response");
    let inner: Value =
        serde_json::from_str(response["body"].as_str().expect("body")).expect("json");
    assert_eq!(inner["status"], "accepted", "{inner}");
    assert!(asked.load(Ordering::SeqCst) >= 1, "the endpoint was asked");
    assert_eq!(refused.load(Ordering::SeqCst), 0, "always with the token");
    assert_eq!(stack.messages().await.len(), 1);
}
