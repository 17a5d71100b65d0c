//! What the logs hold at the most verbose level the template allows (`TRACE`): the real
//! `bootstrap` binaries, run as Lambda runs them under a Runtime API emulator, against the local
//! DynamoDB/SQS server, fed every sample event. At `TRACE`, `lambda_runtime` would print each raw
//! API Gateway event and the AWS SDK each request; neither may reach the log, and no secret,
//! token, signature, body or personal data may either.

use kyc_intake::registry::{self, FUNCTIONS};
use kyc_intake_tests::{
    endpoint, expectations, sample_event, workspace_binary, Stack, NEVER_LOGGED,
};
use kyc_local::runtime_api::{Answer, RuntimeApi};
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Strings that must not appear in any log line.
fn forbidden(rendered: &[String]) -> Vec<String> {
    let mut out: Vec<String> = NEVER_LOGGED
        .iter()
        .chain(&[
            // Body content: field names no log line of ours carries.
            "verification_id",
            "refId",
            "transactionId",
            // What lambda_runtime logs at TRACE.
            "raw JSON event",
        ])
        .map(|s| (*s).to_owned())
        .collect();
    // Every signature that was sent, in a header or in a body.
    for event in rendered {
        let v: Value = serde_json::from_str(event).expect("event");
        if let Some(sig) = v["headers"]["x-webhook-signature"].as_str() {
            out.push(sig.to_owned());
        }
        let body: Value = v["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        if let Some(sig) = body["signature"].as_str() {
            out.push(sig.to_owned());
        }
    }
    out
}

async fn run_function(
    stack: &Stack,
    binary: &str,
    samples: &[(String, Value)],
) -> (String, Vec<String>) {
    let api = RuntimeApi::start().await.expect("runtime API emulator");
    let mut env = stack.env_vars(&[]);
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", binary),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "ap-south-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    let mut child = Command::new(workspace_binary(binary))
        .env_clear()
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bootstrap");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ]
    .into_iter()
    .map(|mut pipe| {
        let logs = logs.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            logs.lock().expect("logs").extend_from_slice(&buf);
        })
    })
    .collect();

    let mut rendered = Vec::new();
    for (rel, want) in samples {
        let event = sample_event(rel);
        let answer = api
            .invoke(event.clone(), Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{binary}: no answer to {rel}: {:?}", api.init_error()));
        let Answer::Response(body) = answer else {
            panic!("{binary}: {rel} failed: {answer:?}")
        };
        let response: Value = serde_json::from_slice(&body).expect("a proxy response");
        assert_eq!(
            response["statusCode"], want["status"],
            "{binary}: {rel}: {response}"
        );
        rendered.push(event);
    }
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    (text, rendered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_bootstraps_at_trace_log_no_secret_body_or_personal_data() {
    let stack = Stack::new(true).await;
    let samples = expectations();
    for binary in FUNCTIONS.iter().map(|f| f.name) {
        let mine: Vec<(String, Value)> = samples
            .iter()
            // Samples that need another configuration (the legacy signature) are left out.
            .filter(|(_, want)| want.get("env").is_none())
            .filter(|(rel, _)| {
                let event: Value = serde_json::from_str(&sample_event(rel)).expect("event");
                registry::serving(FUNCTIONS, kyc_local::events::path_of(&event))
                    .is_some_and(|(f, _)| f.name == binary)
            })
            .cloned()
            .collect();
        assert!(mine.len() >= 10, "{binary}: {} samples", mine.len());
        let (logs, rendered) = run_function(&stack, binary, &mine).await;
        // TRACE reached our own code: its debug line for every forwarded event is there.
        assert!(logs.contains("webhook handled"), "{binary}: {logs}");
        assert!(
            logs.contains("\"forwarded\""),
            "{binary}: debug lines present"
        );
        assert!(logs.contains("request refused"), "{binary}");
        for bad in forbidden(&rendered) {
            let line = logs.lines().find(|l| l.contains(&bad)).unwrap_or_default();
            assert!(
                !logs.contains(&bad),
                "{binary}: logs contain `{bad}`: {line}"
            );
        }
        // Every line is JSON (CloudWatch parses them), apart from none.
        for line in logs.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<Value>(line).is_ok(),
                "{binary}: not JSON: {line}"
            );
        }
        let _ = stack.messages().await;
    }
}
