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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_invocations_at_once_keep_exactly_once() {
    let stack = Stack::new(true).await;
    let api = RuntimeApi::start().await.expect("runtime API emulator");
    let mut env = stack.env_vars(&[]);
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "cashfree-webhook"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "ap-south-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    let mut child = Command::new(workspace_binary("cashfree-webhook"))
        .env_clear()
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the bootstrap");

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
