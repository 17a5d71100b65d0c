//! Exactly once and no loss, against the real local DynamoDB/SQS server through the real
//! handlers: concurrency, redelivery, crashes, expired records, and a hostile-input matrix in
//! which every refused request leaves nothing behind and every authenticated one is forwarded once.

use aws_sdk_dynamodb::types::AttributeValue;
use kyc_intake::KycEvent;
use kyc_intake_tests::{
    call, n, s, ApiRequest, Reply, Stack, CASHFREE_SECRET, DIGILOCKER_TOKEN, RESULTS_TOKEN,
};
use std::collections::HashMap;
use std::sync::Arc;

const VKYC: &str = "/webhooks/cashfree/vkyc";
const HV_DIGILOCKER: &str = "/webhooks/hyperverge/digilocker";
const HV_RESULTS: &str = "/webhooks/hyperverge/results";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"vk-race","status":"PRE_VIDEO_CALL","sub_status":"USER_QUEUED"}}"#;
const HV_BODY: &str = r#"{"refId":"ref-1","event":{"name":"digilocker.user.consent.granted","code":"user_granted_consent"},"timeStamp":"2024-01-15T10:30:45.123Z"}"#;
const HV_IP: &str = "65.0.82.147";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The id the pipeline gives `body` on the VKYC route.
fn vkyc_id(body: &str) -> String {
    kyc_intake::intake::normalize::normalize(
        &kyc_intake::sources::cashfree::vkyc::SOURCE,
        body.as_bytes(),
        chrono::Utc::now(),
        kyc_intake::sources::cashfree::HEADER_HMAC,
    )
    .expect("normalized")
    .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_deliveries_make_exactly_one_message() {
    const DELIVERIES: usize = 50;
    let stack = Stack::new(true).await;
    // Separate handler instances with their own AWS clients, as separate Lambda invocations.
    let mut handlers = Vec::new();
    for _ in 0..DELIVERIES {
        handlers.push(Arc::new(stack.cashfree(&[]).await));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(DELIVERIES));
    let mut tasks = tokio::task::JoinSet::new();
    for (attempt, handler) in handlers.into_iter().enumerate() {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let request = ApiRequest::post(VKYC, BODY)
                .signed(CASHFREE_SECRET, now_ms() - attempt as i64)
                .header("x-webhook-attempt", &(attempt + 1).to_string())
                .request();
            barrier.wait().await;
            call(&handler, request).await
        });
    }
    let mut replies: Vec<Reply> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        replies.push(r.expect("task"));
    }
    let count = |f: &dyn Fn(&Reply) -> bool| replies.iter().filter(|r| f(r)).count();
    let accepted = count(&|r| r.status == 200 && r.body["status"] == "accepted");
    let duplicate = count(&|r| r.status == 200 && r.body["status"] == "duplicate");
    let in_progress = count(&|r| r.status == 409 && r.error() == "in_progress");
    eprintln!("{DELIVERIES} concurrent deliveries: {accepted} accepted, {duplicate} duplicate, {in_progress} in_progress");
    assert_eq!(
        accepted + duplicate + in_progress,
        DELIVERIES,
        "only 200 or 409: {replies:?}"
    );
    assert_eq!(accepted, 1, "exactly one delivery wins the claim");
    assert_eq!(stack.messages().await.len(), 1, "exactly one message");
    let items = stack.items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "status"), "COMPLETED");
    // Those that got 409 retry later and get a duplicate.
    let late = stack.cashfree(&[]).await;
    let retry = call(&late, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(retry.body["status"], "duplicate");
    assert!(stack.messages().await.is_empty());
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_invocation_holds_until_its_lease_ends() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let id = vkyc_id(BODY);
    let key = format!("cashfree/vkyc#{id}");
    let claim = |lease_ms: i64| -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(key.clone())),
            ("status".to_owned(), AttributeValue::S("IN_PROGRESS".into())),
            (
                "lease_expires_at".to_owned(),
                AttributeValue::N(lease_ms.to_string()),
            ),
            (
                "expires_at".to_owned(),
                AttributeValue::N((now_ms() / 1000 + 3600).to_string()),
            ),
            (
                "payload_hash".to_owned(),
                AttributeValue::S("crashed".into()),
            ),
        ])
    };
    // The crashed invocation claimed and died before sending: its lease is still running.
    stack.put_item(claim(now_ms() + 60_000)).await;
    let reply = call(&f, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error(), "in_progress");
    assert!(stack.messages().await.is_empty());
    assert_eq!(
        s(&stack.items().await[0], "payload_hash"),
        "crashed",
        "claim untouched"
    );

    // After the lease, the provider's retry takes over: exactly one message.
    stack.put_item(claim(now_ms() - 1)).await;
    let reply = call(&f, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(reply.body["status"], "accepted");
    assert_eq!(reply.id(), id);
    assert_eq!(stack.messages().await.len(), 1);
    let items = stack.items().await;
    assert_eq!(s(&items[0], "status"), "COMPLETED");
    assert!(!s(&items[0], "kept").is_empty());
    let reply = call(&f, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(reply.body["status"], "duplicate");
}

#[tokio::test]
async fn an_expired_record_not_yet_deleted_is_treated_as_absent() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let id = vkyc_id(BODY);
    stack
        .put_item(HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("cashfree/vkyc#{id}")),
            ),
            ("status".to_owned(), AttributeValue::S("COMPLETED".into())),
            ("lease_expires_at".to_owned(), AttributeValue::N("0".into())),
            (
                "expires_at".to_owned(),
                AttributeValue::N((now_ms() / 1000 - 10).to_string()),
            ),
            ("payload_hash".to_owned(), AttributeValue::S("old".into())),
            ("kept".to_owned(), AttributeValue::S("old-message".into())),
        ]))
        .await;
    let reply = call(&f, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(reply.body["status"], "accepted");
    assert_eq!(stack.messages().await.len(), 1);
    let item = &stack.items().await[0];
    assert_ne!(s(item, "kept"), "old-message");
    assert!(n(item, "expires_at") > now_ms() / 1000);
}

/// One hostile request and what it must leave behind.
struct Case {
    name: &'static str,
    request: ApiRequest,
    status: u16,
    error: &'static str,
}

fn signed_with(body: &str, ts: &str, sig: &str) -> ApiRequest {
    ApiRequest::post(VKYC, body)
        .header("x-webhook-timestamp", ts)
        .header("x-webhook-signature", sig)
}

fn refused_cases() -> Vec<Case> {
    let now = now_ms();
    let ts = now.to_string();
    let good = kyc_intake::sources::cashfree::signature::sign(
        CASHFREE_SECRET.as_bytes(),
        &ts,
        BODY.as_bytes(),
    );
    let other_body =
        kyc_intake::sources::cashfree::signature::sign(CASHFREE_SECRET.as_bytes(), &ts, b"{}");
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(2048));
    let sign_at = |t: i64| {
        kyc_intake::sources::cashfree::signature::sign(
            CASHFREE_SECRET.as_bytes(),
            &t.to_string(),
            BODY.as_bytes(),
        )
    };
    let mut hv_spoofed = ApiRequest::post(HV_DIGILOCKER, HV_BODY)
        .query(&format!("token={DIGILOCKER_TOKEN}"))
        .header("x-forwarded-for", HV_IP)
        .header("x-real-ip", HV_IP)
        .header("forwarded", &format!("for={HV_IP}"));
    hv_spoofed.source_ip = "203.0.113.9".into();
    let mut get = ApiRequest::post(VKYC, BODY).signed_now();
    get.method = "GET".into();
    let mut hv_put = ApiRequest::post(HV_DIGILOCKER, HV_BODY);
    hv_put.method = "PUT".into();
    hv_put.source_ip = HV_IP.into();
    let mut results_no_token = ApiRequest::post(HV_RESULTS, "{}");
    results_no_token.source_ip = HV_IP.into();
    let results_wrong_token = results_no_token.clone().header("x-webhook-token", "guess");
    let results_two_tokens = results_no_token
        .clone()
        .header("x-webhook-token", RESULTS_TOKEN)
        .header("x-webhook-token", RESULTS_TOKEN);
    let mut digilocker_no_token = ApiRequest::post(HV_DIGILOCKER, HV_BODY);
    digilocker_no_token.source_ip = HV_IP.into();
    let digilocker = |query: &str| digilocker_no_token.clone().query(query);
    // What anyone holding one legacy-signed body could send: the signed `data` as another event.
    let mut forged: serde_json::Value = serde_json::from_str(BODY).expect("json");
    forged["event_type"] = "VKYC_AUDITOR_REVIEW_COMPLETED".into();
    forged["signature"] = kyc_intake::sources::cashfree::signature::sign_legacy(
        CASHFREE_SECRET.as_bytes(),
        &forged["data"],
    )
    .expect("object")
    .into();
    vec![
        Case {
            name: "legacy in-body signature while CASHFREE_LEGACY_SIGNATURE is off",
            request: ApiRequest::post(VKYC, forged.to_string()),
            status: 401,
            error: "missing_signature",
        },
        Case {
            name: "DigiLocker from an allowed IP without the URL token",
            request: digilocker_no_token.clone(),
            status: 401,
            error: "missing_token",
        },
        Case {
            name: "DigiLocker from an allowed IP with another URL's token",
            request: digilocker("token=another-customers-token-123"),
            status: 401,
            error: "invalid_token",
        },
        Case {
            name: "DigiLocker with the token twice",
            request: digilocker(&format!(
                "token={DIGILOCKER_TOKEN}&token={DIGILOCKER_TOKEN}"
            )),
            status: 401,
            error: "invalid_token",
        },
        Case {
            name: "DigiLocker with the token in a header instead of the URL",
            request: digilocker("").header("token", DIGILOCKER_TOKEN),
            status: 401,
            error: "missing_token",
        },
        Case {
            name: "body over MAX_BODY_BYTES",
            request: ApiRequest::post(VKYC, big.as_str()).signed_now(),
            status: 413,
            error: "payload_too_large",
        },
        Case {
            name: "no signature headers",
            request: ApiRequest::post(VKYC, BODY),
            status: 401,
            error: "missing_signature",
        },
        Case {
            name: "timestamp without signature",
            request: ApiRequest::post(VKYC, BODY).header("x-webhook-timestamp", &ts),
            status: 401,
            error: "missing_signature",
        },
        Case {
            name: "signature without timestamp",
            request: ApiRequest::post(VKYC, BODY).header("x-webhook-signature", &good),
            status: 401,
            error: "missing_timestamp",
        },
        Case {
            name: "repeated signature header",
            request: signed_with(BODY, &ts, &good).header("x-webhook-signature", &good),
            status: 401,
            error: "invalid_signature",
        },
        Case {
            name: "repeated timestamp header",
            request: signed_with(BODY, &ts, &good).header("x-webhook-timestamp", &ts),
            status: 401,
            error: "invalid_timestamp",
        },
        Case {
            name: "garbage signature",
            request: signed_with(BODY, &ts, "%%%not base64%%%"),
            status: 401,
            error: "invalid_signature",
        },
        Case {
            name: "empty signature",
            request: signed_with(BODY, &ts, ""),
            status: 401,
            error: "invalid_signature",
        },
        Case {
            name: "signature of another body",
            request: signed_with(BODY, &ts, &other_body),
            status: 401,
            error: "invalid_signature",
        },
        Case {
            name: "non-numeric timestamp",
            request: signed_with(BODY, "yesterday", &good),
            status: 401,
            error: "invalid_timestamp",
        },
        Case {
            name: "negative timestamp",
            request: signed_with(BODY, "-1746427759733", &good),
            status: 401,
            error: "invalid_timestamp",
        },
        Case {
            name: "overflowing timestamp",
            request: signed_with(BODY, "99999999999999999999999", &good),
            status: 401,
            error: "invalid_timestamp",
        },
        Case {
            name: "timestamp far in the future",
            request: signed_with(
                BODY,
                &(now + 3_600_000).to_string(),
                &sign_at(now + 3_600_000),
            ),
            status: 401,
            error: "stale_timestamp",
        },
        Case {
            name: "stale timestamp",
            request: signed_with(
                BODY,
                &(now - 172_800_000).to_string(),
                &sign_at(now - 172_800_000),
            ),
            status: 401,
            error: "stale_timestamp",
        },
        Case {
            name: "wrong secret",
            request: ApiRequest::post(VKYC, BODY).signed("wrong-secret", now),
            status: 401,
            error: "invalid_signature",
        },
        Case {
            name: "disallowed IP with spoofed X-Forwarded-For",
            request: hv_spoofed,
            status: 403,
            error: "source_ip_not_allowed",
        },
        Case {
            name: "Results without token",
            request: results_no_token,
            status: 401,
            error: "missing_token",
        },
        Case {
            name: "Results with a wrong token",
            request: results_wrong_token,
            status: 401,
            error: "invalid_token",
        },
        Case {
            name: "Results with the token twice",
            request: results_two_tokens,
            status: 401,
            error: "invalid_token",
        },
        Case {
            name: "wrong method (GET)",
            request: get,
            status: 405,
            error: "method_not_allowed",
        },
        Case {
            name: "wrong method (PUT) on HyperVerge",
            request: hv_put,
            status: 405,
            error: "method_not_allowed",
        },
        Case {
            name: "unknown route",
            request: ApiRequest::post("/webhooks/cashfree/payments", BODY).signed_now(),
            status: 404,
            error: "not_found",
        },
        Case {
            name: "route prefix only",
            request: ApiRequest::post("/webhooks/cashfree", BODY).signed_now(),
            status: 404,
            error: "not_found",
        },
    ]
}

#[tokio::test]
async fn hostile_requests_are_refused_and_leave_nothing_behind() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[("MAX_BODY_BYTES", "1024")]).await;
    // A path no function serves reaches one only through a catch-all route: the Cashfree one here.
    let catch_all = stack.cashfree(&[("MAX_BODY_BYTES", "1024")]).await;
    let cases = refused_cases();
    for case in &cases {
        let f = deployed.serving(&case.request.path).unwrap_or(&catch_all);
        let reply = call(f, case.request.request()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (case.status, case.error),
            "{}",
            case.name
        );
        assert!(stack.items().await.is_empty(), "{}: no item", case.name);
        assert!(
            stack.messages().await.is_empty(),
            "{}: no message",
            case.name
        );
    }
    eprintln!(
        "{} refused cases: each refused with its code, nothing written, nothing sent",
        cases.len()
    );
}

#[tokio::test]
async fn authenticated_malformed_bodies_are_forwarded_once_as_unrecognized() {
    let stack = Stack::new(true).await;
    let cashfree = stack.cashfree(&[]).await;
    let hyperverge = stack.hyperverge(&[]).await;
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"event_type=VKYC_USER_CALL_QUEUED&verification_id=vk-1".to_vec()),
        ("truncated JSON", br#"{"event_type":"VKYC_USER_CALL_QUEUED","data":{"verific"#.to_vec()),
        ("JSON array", br#"[{"event_type":"VKYC_USER_CALL_QUEUED"}]"#.to_vec()),
        ("JSON string", br#""VKYC_USER_CALL_QUEUED""#.to_vec()),
        ("JSON number", b"42".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("deeply nested arrays", deep.into_bytes()),
        ("deeply nested objects", deep_object.into_bytes()),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x7b, 0x80, 0x22]),
        ("missing sub_status", br#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"t","data":{"verification_id":"v","status":"S"}}"#.to_vec()),
        ("missing verification_id", br#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"t","data":{"status":"S","sub_status":"X"}}"#.to_vec()),
        ("unknown event type", br#"{"event_type":"VKYC_USER_TELEPORTED","event_time":"t","data":{"verification_id":"v","status":"S","sub_status":"X"}}"#.to_vec()),
        ("wrong types", br#"{"event_type":7,"event_time":[],"data":"v"}"#.to_vec()),
    ];
    let mut cases = 0;
    for (name, body) in &bodies {
        for (route, f) in [(VKYC, &cashfree), (HV_DIGILOCKER, &hyperverge)] {
            let request = || {
                let r = ApiRequest::post(route, body.clone());
                if route == VKYC {
                    r.signed_now()
                } else {
                    let mut r = r.query(&format!("token={DIGILOCKER_TOKEN}"));
                    r.source_ip = HV_IP.into();
                    r
                }
            };
            let first = call(f, request().request()).await;
            assert_eq!(
                (first.status, first.body["status"].as_str()),
                (200, Some("accepted")),
                "{name} on {route}: {:?}",
                first.body
            );
            let again = call(f, request().request()).await;
            assert_eq!(again.body["status"], "duplicate", "{name} on {route}");
            assert_eq!(again.id(), first.id(), "{name} on {route}");
            let messages = stack.messages().await;
            assert_eq!(messages.len(), 1, "{name} on {route}: exactly once");
            let event: KycEvent = serde_json::from_str(&messages[0].body).expect("a KycEvent");
            assert!(
                event.event_type.ends_with(".unrecognized"),
                "{name}: {}",
                event.event_type
            );
            assert_eq!(event.id, first.id());
            cases += 1;
        }
    }
    eprintln!("{cases} malformed-body cases: each forwarded exactly once as unrecognized");
}

#[tokio::test]
async fn base64_bodies_and_header_case_variations_are_accepted() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let ts = now_ms().to_string();
    let sig = kyc_intake::sources::cashfree::signature::sign(
        CASHFREE_SECRET.as_bytes(),
        &ts,
        BODY.as_bytes(),
    );
    for (i, (ts_name, sig_name)) in [
        ("X-Webhook-Timestamp", "X-Webhook-Signature"),
        ("X-WEBHOOK-TIMESTAMP", "x-WeBhOoK-sIgNaTuRe"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = ApiRequest::post(VKYC, BODY)
            .header(ts_name, &ts)
            .header(sig_name, &sig);
        req.base64 = i == 0;
        let reply = call(&f, req.request()).await;
        assert_eq!(reply.status, 200, "{ts_name}/{sig_name}: {:?}", reply.body);
    }
    assert_eq!(stack.messages().await.len(), 1);
}

#[tokio::test]
async fn results_ip_allowlist_applies_only_when_configured() {
    let stack = Stack::new(true).await;
    let body = r#"{"transactionId":"t-ip","applicationStatus":"auto_approved","eventId":"e-ip","eventTime":"2022-08-22T12:48:32.346Z","eventType":"FINISH_TRANSACTION_WEBHOOK"}"#;
    let from = |ip: &str| {
        let mut r = ApiRequest::post(HV_RESULTS, body).header("x-webhook-token", RESULTS_TOKEN);
        r.source_ip = ip.into();
        r.request()
    };
    let open = stack.hyperverge(&[]).await;
    let restricted = stack
        .hyperverge(&[("HYPERVERGE_RESULTS_ALLOWED_IPS", "13.235.0.0/16")])
        .await;
    let reply = call(&restricted, from("52.66.25.127")).await;
    assert_eq!(
        (reply.status, reply.error()),
        (403, "source_ip_not_allowed")
    );
    assert!(stack.items().await.is_empty() && stack.messages().await.is_empty());
    let reply = call(&restricted, from("13.235.1.20")).await;
    assert_eq!(reply.body["status"], "accepted");
    let reply = call(&open, from("52.66.25.127")).await;
    assert_eq!(
        reply.body["status"], "duplicate",
        "no allowlist: the token decides"
    );
    let custom = stack
        .hyperverge(&[
            ("HYPERVERGE_RESULTS_AUTH_HEADER", "X-HV-Auth"),
            (
                "HYPERVERGE_RESULTS_AUTH_TOKENS",
                "token-a-0123456789,token-b-0123456789",
            ),
        ])
        .await;
    let mut r = ApiRequest::post(HV_RESULTS, body).header("x-hv-auth", "token-b-0123456789");
    r.source_ip = "52.66.25.127".into();
    assert_eq!(call(&custom, r.request()).await.body["status"], "duplicate");
    assert_eq!(stack.messages().await.len(), 1);
}
