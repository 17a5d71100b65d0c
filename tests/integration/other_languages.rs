//! The JSON Schema proven against real output, not only against the Rust struct: every event the
//! intake makes of the samples in `events/` (plus a Base64 payload and an unrecognized body) is
//! validated with Python's standard `jsonschema` validator and parsed with the official CloudEvents
//! Python SDK (`tests/python/validate_events.py`), as a worker in another language would.

use kyc_intake_tests::{expectations, sample, workspace, ApiRequest, Stack, CASHFREE_SECRET};
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    std::env::var("KYC_MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv/bin/python"))
}

/// Run the validator over `events` (written as one JSON array); its exit status and output.
pub(crate) fn validate(events: &[String]) -> (bool, String) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let file = std::env::temp_dir().join(format!("kyc-events-{}-{run}.json", std::process::id()));
    std::fs::write(&file, format!("[{}]", events.join(","))).expect("write events");
    let out = Command::new(python())
        .arg(workspace().join("tests/python/validate_events.py"))
        .arg(&file)
        .output()
        .expect("run the Python validator (make test installs jsonschema and cloudevents)");
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn every_event_the_intake_makes_validates_in_python_and_parses_with_the_cloudevents_sdk() {
    let mut events = Vec::new();
    // Both ways a function can carry personal data: withheld (the default), and as received.
    for personal_data in ["withhold", "include"] {
        let stack = Stack::new(true).await;
        let mode = ("EVENT_PERSONAL_DATA", personal_data);
        let deployed = stack.deploy(&[mode]).await;
        let legacy = stack
            .deploy(&[mode, ("CASHFREE_LEGACY_SIGNATURE", "on")])
            .await;
        for (rel, want) in expectations() {
            if want["status"] != 200 {
                continue;
            }
            let d = if want.get("env").is_some() {
                &legacy
            } else {
                &deployed
            };
            let reply = d.call(sample(&rel)).await;
            assert_eq!(reply.status, 200, "{rel}");
            events.extend(stack.messages().await.into_iter().map(|m| m.body));
        }
        for body in [
            b"\xff\xfe not UTF-8".to_vec(),
            "{\"k\":\"\u{FFFF}\"}".into(),
            b"plain text".to_vec(),
        ] {
            let request = ApiRequest::post("/webhooks/cashfree/vkyc", body)
                .signed(CASHFREE_SECRET, chrono::Utc::now().timestamp_millis());
            assert_eq!(deployed.call(request.request()).await.status, 200);
            events.extend(stack.messages().await.into_iter().map(|m| m.body));
        }
    }
    assert!(events.len() >= 66, "{} events", events.len());
    assert!(events
        .iter()
        .any(|e| e.contains("\"payload_encoding\":\"base64\"")));
    assert!(events.iter().any(|e| e.contains("\"withheld\":[\"\"]")));
    assert!(events
        .iter()
        .any(|e| e.contains("\"withheld\":[\"/data/user_details\"]")));

    let (ok, output) = validate(&events);
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!("{} events valid", events.len())),
        "{output}"
    );

    // The check can fail: an event without `auth_scheme`, or with a time that is not RFC 3339.
    let mut broken: serde_json::Value = serde_json::from_str(&events[0]).expect("json");
    broken["data"]
        .as_object_mut()
        .expect("data")
        .remove("auth_scheme");
    let (ok, output) = validate(&[broken.to_string()]);
    assert!(!ok && output.contains("auth_scheme"), "{output}");
    let mut broken: serde_json::Value = serde_json::from_str(&events[0]).expect("json");
    broken["time"] = "yesterday".into();
    let (ok, output) = validate(&[broken.to_string()]);
    assert!(!ok && output.contains("time"), "{output}");
}
