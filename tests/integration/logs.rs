//! What the logs hold at the most verbose level the template allows (`TRACE`): the real
//! `bootstrap` binaries, run as Lambda runs them under a Runtime API emulator, against the local
//! DynamoDB/SQS server, fed every sample event. At `TRACE`, `lambda_runtime` would print each raw
//! API Gateway event and the AWS SDK each request; neither may reach the log, and no secret,
//! token, signature, body or personal data may either.

use kyc_intake::sources::registry::{self, FUNCTIONS};
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

/// Run `binary` as Lambda would at log `level`, invoke it with each event (rendered API Gateway
/// JSON) expecting its status code, and return everything it printed.
async fn run_function(
    stack: &Stack,
    binary: &str,
    level: &str,
    events: &[(String, u64)],
) -> String {
    run_function_with(stack, binary, level, events, &[]).await
}

/// `run_function`, with `extra` in its environment (which wins).
async fn run_function_with(
    stack: &Stack,
    binary: &str,
    level: &str,
    events: &[(String, u64)],
    extra: &[(&str, &str)],
) -> String {
    let api = RuntimeApi::start().await.expect("runtime API emulator");
    let mut env = stack.env_vars(&[]);
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", binary),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_LEVEL", level),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", "ap-south-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
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

    for (i, (event, status)) in events.iter().enumerate() {
        let answer = api
            .invoke(event.clone(), Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("{binary}: no answer to event {i}: {:?}", api.init_error()));
        let Answer::Response(body) = answer else {
            panic!("{binary}: event {i} failed: {answer:?}")
        };
        let response: Value = serde_json::from_slice(&body).expect("a proxy response");
        assert_eq!(
            response["statusCode"], *status,
            "{binary}: event {i}: {response}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    text
}

/// The samples `binary` serves, rendered, with the status each expects.
fn samples_of(binary: &str) -> Vec<(String, u64)> {
    expectations()
        .iter()
        // Samples that need another configuration (the legacy signature) are left out.
        .filter(|(_, want)| want.get("env").is_none())
        .map(|(rel, want)| (sample_event(rel), want["status"].as_u64().expect("status")))
        .filter(|(event, _)| {
            let event: Value = serde_json::from_str(event).expect("event");
            registry::serving(FUNCTIONS, kyc_samples::path_of(&event))
                .is_some_and(|(f, _)| f.name == binary)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_bootstraps_at_trace_log_no_secret_body_or_personal_data() {
    let stack = Stack::new(true).await;
    for binary in FUNCTIONS.iter().map(|f| f.name) {
        let mine = samples_of(binary);
        assert!(!mine.is_empty(), "{binary}: no samples");
        let logs = run_function(&stack, binary, "TRACE", &mine).await;
        let rendered: Vec<String> = mine.into_iter().map(|(event, _)| event).collect();
        // TRACE reached our own code: its debug line for every forwarded event is there.
        assert!(logs.contains("webhook handled"), "{binary}: {logs}");
        assert!(
            logs.contains("\"forwarded\""),
            "{binary}: debug lines present"
        );
        assert!(
            logs.contains("request refused"),
            "{binary}: no refused sample (one belongs under events/bad/)"
        );
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

/// Lambda's log-level filter for JSON logs: a line is kept when its `level` is at or above the
/// function's level; a line without `level` (or not JSON) counts as INFO.
fn lambda_keeps(line: &str, configured: &str) -> bool {
    const ORDER: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rank = |l: &str| ORDER.iter().position(|o| o.eq_ignore_ascii_case(l));
    let level = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v["level"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "INFO".to_owned());
    rank(&level).unwrap_or(2) >= rank(configured).expect("a Lambda level")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_document_survives_lambdas_log_level_filter_at_every_template_level() {
    let stack = Stack::new(true).await;
    let template = std::fs::read_to_string(kyc_intake_tests::workspace().join("template.yaml"))
        .expect("template");
    let levels: Vec<String> = template
        .lines()
        .skip_while(|l| l.trim() != "LogLevel:")
        .find_map(|l| l.trim().strip_prefix("AllowedValues:").map(str::to_owned))
        .expect("LogLevel's AllowedValues")
        .trim_matches(|c| " []".contains(c))
        .split(',')
        .map(|l| l.trim().to_owned())
        .collect();
    assert_eq!(levels.len(), 6, "{levels:?}");
    let mut events: Vec<(String, u64)> =
        samples_of("cashfree-webhook").into_iter().take(4).collect();
    // A refusal too: its metric feeds the authentication alarm.
    let mut forged: Value = serde_json::from_str(&events[0].0).expect("event");
    forged["headers"]["x-webhook-signature"] = Value::from("AAAA");
    events.push((forged.to_string(), 401));
    for level in &levels {
        let logs = run_function(&stack, "cashfree-webhook", level, &events).await;
        let documents = logs
            .lines()
            .filter(|l| l.contains("\"_aws\""))
            .filter(|l| lambda_keeps(l, level))
            .count();
        assert_eq!(
            documents,
            events.len(),
            "{level}: one metric document per request reaches CloudWatch:\n{logs}"
        );
        let _ = stack.messages().await;
    }
}

/// `sample` with `field` of the object at `parent` (a JSON pointer) in its API Gateway event set.
fn with(sample: &str, parent: &str, field: &str, value: &str) -> String {
    let mut event: Value = serde_json::from_str(sample).expect("event");
    let object = event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{parent}"));
    object.insert(field.to_owned(), Value::from(value));
    event.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_http_types_refuse_is_answered_and_logged_and_the_process_lives_on() {
    let stack = Stack::new(true).await;
    let digilocker = sample_event("hyperverge/digilocker/user_granted_consent.json");
    let results = samples_of("hyperverge-webhook")
        .into_iter()
        .find(|(e, status)| e.contains("/webhooks/hyperverge/results") && *status == 200)
        .expect("a results sample");
    let hostile = [
        with(&digilocker, "", "rawQueryString", "token=a\"b"),
        with(&digilocker, "", "rawQueryString", "token=a<b>"),
        with(&results.0, "/headers", "x-forwarded-proto", "a b"),
    ];
    let mut events: Vec<(String, u64)> = hostile.iter().map(|e| (e.clone(), 400)).collect();
    // The same process still serves a good request afterwards.
    events.push(results);
    let logs = run_function(&stack, "hyperverge-webhook", "INFO", &events).await;
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let refused = lines
        .iter()
        .filter(|l| l["outcome"] == "bad_request" && l["message"] == "request refused")
        .count();
    assert_eq!(refused, hostile.len(), "{logs}");
    let counted = lines
        .iter()
        .filter(|l| l["Outcome"] == "bad_request" && l["_aws"].is_object())
        .count();
    assert_eq!(counted, hostile.len(), "{logs}");
    assert!(
        !logs.contains("a\\\"b") && !logs.contains("a<b>"),
        "the query is never logged"
    );
    assert_eq!(
        stack.messages().await.len(),
        1,
        "only the good request was queued"
    );
}

/// The SDK's standard per-service endpoint variables are honoured: with `AWS_ENDPOINT_URL`
/// pointing where nothing listens, a bootstrap whose DynamoDB, SQS, S3 and KMS each have their own
/// variable naming the local server still accepts, archives and queues a webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_services_own_endpoint_variable_is_honoured() {
    let stack = Stack::new(true).await;
    let dead = format!(
        "http://127.0.0.1:{}",
        kyc_local::server::free_port().expect("a port")
    );
    let local = endpoint();
    let sample = samples_of("cashfree-webhook")
        .into_iter()
        .find(|(_, status)| *status == 200)
        .expect("an accepted sample");
    let logs = run_function_with(
        &stack,
        "cashfree-webhook",
        "INFO",
        &[sample],
        &[
            ("AWS_ENDPOINT_URL", dead.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", local),
            ("AWS_ENDPOINT_URL_SQS", local),
            ("AWS_ENDPOINT_URL_S3", local),
            ("AWS_ENDPOINT_URL_KMS", local),
        ],
    )
    .await;
    assert!(logs.contains("webhook handled"), "{logs}");
    assert_eq!(stack.messages().await.len(), 1, "{logs}");
    assert_eq!(stack.archived().await.len(), 1, "{logs}");
}
