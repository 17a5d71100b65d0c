//! EMF documents from the real handlers against the local server: one per request, valid against
//! the EMF specification's structure, with the outcome of accepted, duplicate, refused and
//! unavailable requests, and no secret in any dimension.

use kyc_intake::metrics::{check_emf, Captured};
use kyc_intake_tests::{call, ApiRequest, Dead, Stack, CASHFREE_SECRET};
use serde_json::Value;
use std::sync::Arc;

const VKYC: &str = "/webhooks/cashfree/vkyc";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"emf-1","status":"PRE_VIDEO_CALL","sub_status":"USER_QUEUED"}}"#;

fn signed(secret: &str) -> lambda_http::Request {
    ApiRequest::post(VKYC, BODY)
        .signed(secret, chrono::Utc::now().timestamp_millis())
        .request()
}

#[tokio::test]
async fn accepted_duplicate_refused_and_unavailable_requests_each_emit_their_document() {
    let stack = Stack::new(true).await;
    let captured = Arc::new(Captured::default());
    let f = stack.cashfree(&[]).await.with_metrics(captured.clone());
    let down = stack
        .cashfree_with_dead(Dead::Sqs)
        .await
        .with_metrics(captured.clone());
    assert_eq!(call(&f, signed(CASHFREE_SECRET)).await.status, 200);
    assert_eq!(call(&f, signed(CASHFREE_SECRET)).await.status, 200);
    assert_eq!(call(&f, signed("wrong-secret")).await.status, 401);
    let other = ApiRequest::post(VKYC, BODY.replace("emf-1", "emf-2"))
        .signed(CASHFREE_SECRET, chrono::Utc::now().timestamp_millis());
    assert_eq!(call(&down, other.request()).await.status, 503);

    let docs: Vec<(Value, serde_json::Map<String, Value>)> = captured
        .documents()
        .iter()
        .map(|d| {
            let values = check_emf(d).unwrap_or_else(|e| panic!("{e}: {d}"));
            (serde_json::from_str(d).expect("json"), values)
        })
        .collect();
    let outcomes: Vec<&str> = docs
        .iter()
        .filter_map(|(v, _)| v["Outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["accepted", "duplicate", "invalid_signature", "unavailable"]
    );
    for (v, values) in &docs {
        assert_eq!(v["Source"], "cashfree/vkyc");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "KycWebhookIntake"
        );
        assert_eq!(values["Webhooks"], 1);
        assert!(values["HandlerLatency"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0));
        assert!(!v.to_string().contains(CASHFREE_SECRET));
    }
    assert_eq!(docs[0].1["Forwarded"], 1);
    assert_eq!(docs[0].0["Type"], "kyc.vkyc.call_queued");
    assert!(docs[0].1["ProviderDelay"]
        .as_f64()
        .is_some_and(|ms| ms > 0.0));
    assert!(docs[1..].iter().all(|(_, m)| !m.contains_key("Forwarded")));
    assert!(
        !docs[3].1.contains_key("ForwardRejected"),
        "an outage is not a rejection"
    );
    let auth_refused: Vec<bool> = docs
        .iter()
        .map(|(_, m)| m.get("AuthRefused") == Some(&Value::from(1)))
        .collect();
    assert_eq!(auth_refused, [false, false, true, false]);
}

#[tokio::test]
async fn every_kind_of_authentication_refusal_counts_towards_the_sources_alarm() {
    let stack = Stack::new(true).await;
    let captured = Arc::new(Captured::default());
    let f = stack.cashfree(&[]).await.with_metrics(captured.clone());
    let now = chrono::Utc::now().timestamp_millis();
    let requests = [
        ApiRequest::post(VKYC, BODY),
        ApiRequest::post(VKYC, BODY).signed(CASHFREE_SECRET, now - 10 * 86_400_000),
        ApiRequest::post(VKYC, BODY)
            .signed(CASHFREE_SECRET, now)
            .header("x-webhook-timestamp", "yesterday"),
    ];
    for r in requests {
        assert_eq!(call(&f, r.request()).await.status, 401);
    }
    let docs = captured.documents();
    let refusals: Vec<(String, Value)> = docs
        .iter()
        .map(|d| {
            let v: Value = serde_json::from_str(d).expect("json");
            let values = check_emf(d).expect("EMF");
            (
                v["Outcome"].as_str().unwrap_or_default().to_owned(),
                values["AuthRefused"].clone(),
            )
        })
        .collect();
    assert_eq!(refusals.len(), 3);
    for (outcome, counted) in &refusals {
        assert_ne!(
            outcome, "invalid_signature",
            "other kinds than the signature's"
        );
        assert_eq!(counted, &Value::from(1), "{outcome}");
    }
    assert!(stack.messages().await.is_empty());
}
