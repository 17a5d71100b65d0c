//! The Cashfree function end to end: its real handler, real AWS SDK clients, a real
//! DynamoDB/SQS-compatible server on loopback. Each test asserts what is left in the table and
//! on the queue.

use kyc_intake::runtime::startup::AwsPipeline;
use kyc_intake::KycEvent;
use kyc_intake_tests::{call, n, s, ApiRequest, Dead, Reply, Stack, CASHFREE_SECRET};

const VKYC: &str = "/webhooks/cashfree/vkyc";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"vk-100","reference_id":10449,"status":"VIDEO_CALL","sub_status":"CALL_COMPLETED","recording_link":null}}"#;

/// Delivery number `attempt` of `BODY`, signed now, as the provider's retries are.
async fn delivery(f: &AwsPipeline, attempt: u32) -> Reply {
    let request = ApiRequest::post(VKYC, BODY)
        .signed_now()
        .header("x-webhook-attempt", &attempt.to_string());
    call(f, request.request()).await
}

/// `BODY` signed with `secret` at `ts_ms`.
async fn signed_by(f: &AwsPipeline, secret: &str, ts_ms: i64) -> Reply {
    call(
        f,
        ApiRequest::post(VKYC, BODY).signed(secret, ts_ms).request(),
    )
    .await
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn new_event_is_forwarded_once_and_recorded_completed() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[("EVENT_PERSONAL_DATA", "include")]).await;
    let before = chrono::Utc::now().timestamp();
    let reply = delivery(&f, 1).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "accepted");
    let id = reply.id();
    assert_eq!(id.len(), 64);

    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.group_id.as_deref(), Some("cashfree/vkyc#vk-100"));
    assert_eq!(m.deduplication_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        m.attributes,
        vec![
            ("source".to_owned(), "cashfree/vkyc".to_owned()),
            ("type".to_owned(), "kyc.vkyc.call_completed".to_owned())
        ]
    );
    let event: KycEvent = serde_json::from_str(&m.body).expect("a KycEvent");
    assert_eq!(event.specversion, "1.0");
    assert_eq!(event.id, id);
    assert_eq!(event.source, "cashfree/vkyc");
    assert_eq!(event.event_type, "kyc.vkyc.call_completed");
    assert_eq!(event.subject.as_deref(), Some("vk-100"));
    assert_eq!(event.time, "2025-05-22T03:51:14Z");
    assert_eq!(event.datacontenttype, "application/json");
    assert_eq!(event.data.provider, "cashfree");
    assert_eq!(event.data.product, "vkyc");
    assert_eq!(
        event.data.provider_event.as_deref(),
        Some("VKYC_USER_CALL_COMPLETED")
    );
    assert_eq!(event.data.provider_status.as_deref(), Some("VIDEO_CALL"));
    assert_eq!(
        event.data.provider_sub_status.as_deref(),
        Some("CALL_COMPLETED")
    );
    assert_eq!(event.data.payload.get(), BODY, "payload kept byte for byte");
    assert_eq!(
        event.data.auth_scheme,
        kyc_intake::sources::cashfree::HEADER_HMAC
    );
    assert_eq!(event.data.payload_encoding, None);

    let items = stack.items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(s(item, "pk"), format!("cashfree/vkyc#{id}"));
    assert_eq!(s(item, "status"), "COMPLETED");
    assert_eq!(s(item, "kept"), m.message_id);
    assert_eq!(
        s(item, "payload_hash"),
        lambda_idempotency::fingerprint(BODY.as_bytes())
    );
    let ttl = n(item, "expires_at") - before;
    assert!((604_790..=604_810).contains(&ttl), "TTL {ttl}s");
    assert!(n(item, "lease_expires_at") > now_ms());
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "expires_at",
            "kept",
            "lease_expires_at",
            "owner",
            "payload_hash",
            "pk",
            "status"
        ],
        "no payload stored"
    );
}

#[tokio::test]
async fn retry_with_new_delivery_headers_is_a_duplicate() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let first = signed_by(&f, CASHFREE_SECRET, now_ms() - 60_000).await;
    assert_eq!(first.body["status"], "accepted");
    // The provider's retry: fresh timestamp, next attempt, a new signature; same body.
    let retry = delivery(&f, 2).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body["status"], "duplicate");
    assert_eq!(retry.id(), first.id());
    // A second function instance (another Lambda) sees the same record.
    let other = stack.cashfree(&[]).await;
    let again = delivery(&other, 3).await;
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(stack.messages().await.len(), 1);
    assert_eq!(stack.items().await.len(), 1);
}

#[tokio::test]
async fn another_sub_status_is_a_new_event() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let a = BODY
        .replace("CALL_COMPLETED\"", "USER_QUEUED\"")
        .replace("VKYC_USER_CALL_COMPLETED", "VKYC_USER_CALL_SCHEDULED");
    let b = a.replace("USER_QUEUED", "USER_MEETING_SCHEDULED");
    let ra = call(
        &f,
        ApiRequest::post(VKYC, a.as_str()).signed_now().request(),
    )
    .await;
    let rb = call(
        &f,
        ApiRequest::post(VKYC, b.as_str()).signed_now().request(),
    )
    .await;
    assert_eq!(
        (ra.body["status"].as_str(), rb.body["status"].as_str()),
        (Some("accepted"), Some("accepted"))
    );
    assert_ne!(ra.id(), rb.id());
    assert_eq!(stack.messages().await.len(), 2);
}

async fn assert_refused(stack: &Stack, reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.error(), code);
    assert!(stack.items().await.is_empty(), "{code}: no item written");
    assert!(stack.messages().await.is_empty(), "{code}: no message sent");
}

#[tokio::test]
async fn bad_signature_is_refused_and_leaves_nothing() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let reply = signed_by(&f, "not-the-secret", now_ms()).await;
    assert_refused(&stack, &reply, 401, "invalid_signature").await;
    let reply = call(&f, ApiRequest::post(VKYC, BODY).request()).await;
    assert_refused(&stack, &reply, 401, "missing_signature").await;
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused() {
    let stack = Stack::new(true).await;
    let f = stack
        .cashfree(&[("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "300")])
        .await;
    let reply = signed_by(&f, CASHFREE_SECRET, now_ms() - 301_000).await;
    assert_refused(&stack, &reply, 401, "stale_timestamp").await;
    let reply = signed_by(&f, CASHFREE_SECRET, now_ms() + 400_000).await;
    assert_refused(&stack, &reply, 401, "stale_timestamp").await;
    let reply = signed_by(&f, CASHFREE_SECRET, now_ms() - 200_000).await;
    assert_eq!(reply.body["status"], "accepted");
}

#[tokio::test]
async fn rotated_secrets_are_all_accepted() {
    let stack = Stack::new(true).await;
    let f = stack
        .cashfree(&[(
            "CASHFREE_CLIENT_SECRETS",
            "new-secret-0123456789, old-secret-0123456789",
        )])
        .await;
    let a = signed_by(&f, "old-secret-0123456789", now_ms()).await;
    assert_eq!(a.body["status"], "accepted");
    let b = signed_by(&f, "new-secret-0123456789", now_ms()).await;
    assert_eq!(b.body["status"], "duplicate");
}

#[tokio::test]
async fn no_secret_configured_fails_closed() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[("CASHFREE_CLIENT_SECRETS", "")]).await;
    let reply = delivery(&f, 1).await;
    assert_refused(&stack, &reply, 500, "not_configured").await;
}

#[tokio::test]
async fn unrecognized_payload_is_forwarded_with_the_raw_body() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[("EVENT_PERSONAL_DATA", "include")]).await;
    let raw = r#"{"event_type":"VKYC_SOMETHING_NEW","data":{"verification_id":"vk-1"}}"#;
    let reply = call(&f, ApiRequest::post(VKYC, raw).signed_now().request()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "accepted");
    let not_json = "event=VKYC_USER_CALL_COMPLETED";
    let reply2 = call(&f, ApiRequest::post(VKYC, not_json).signed_now().request()).await;
    assert_eq!(reply2.body["status"], "accepted");

    let messages = stack.messages().await;
    assert_eq!(messages.len(), 2);
    let events: Vec<KycEvent> = messages
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("event"))
        .collect();
    assert!(events
        .iter()
        .all(|e| e.event_type == "kyc.vkyc.unrecognized" && e.subject.is_none()));
    let first = events.iter().find(|e| e.id == reply.id()).expect("first");
    assert_eq!(first.data.payload.get(), raw);
    assert_eq!(
        first.data.provider_event.as_deref(),
        Some("VKYC_SOMETHING_NEW")
    );
    let second = events.iter().find(|e| e.id == reply2.id()).expect("second");
    assert_eq!(second.data.payload.get(), format!("\"{not_json}\""));
}

#[tokio::test]
async fn queue_down_answers_503_releases_the_claim_and_the_retry_is_accepted_once() {
    let stack = Stack::new(true).await;
    let broken = stack.cashfree_with_dead(Dead::Sqs).await;
    let reply = delivery(&broken, 1).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.error(), "unavailable");
    assert!(
        stack.items().await.is_empty(),
        "claim released: no record left"
    );

    let healthy = stack.cashfree(&[]).await;
    let retry = delivery(&healthy, 2).await;
    assert_eq!(retry.body["status"], "accepted");
    let again = delivery(&healthy, 3).await;
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(stack.messages().await.len(), 1);
    let items = stack.items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "status"), "COMPLETED");
}

#[tokio::test]
async fn table_down_answers_503_and_sends_nothing() {
    let stack = Stack::new(true).await;
    let broken = stack.cashfree_with_dead(Dead::DynamoDb).await;
    let reply = delivery(&broken, 1).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.error(), "unavailable");
    assert!(stack.messages().await.is_empty());
}

#[tokio::test]
async fn standard_queue_works_without_fifo_ids() {
    let stack = Stack::new(false).await;
    let f = stack.cashfree(&[]).await;
    let reply = delivery(&f, 1).await;
    assert_eq!(reply.body["status"], "accepted");
    let dup = delivery(&f, 1).await;
    assert_eq!(dup.body["status"], "duplicate");
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].group_id, None);
    let event: KycEvent = serde_json::from_str(&messages[0].body).expect("event");
    assert_eq!(event.id, reply.id());
}

#[tokio::test]
async fn stage_prefix_and_base64_body_are_accepted() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let mut req = ApiRequest::post("/prod/webhooks/cashfree/vkyc", BODY).signed_now();
    req.base64 = true;
    let reply = call(&f, req.request()).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    assert_eq!(stack.messages().await.len(), 1);
}

#[tokio::test]
async fn a_body_of_max_body_bytes_is_forwarded_and_one_byte_more_is_413() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[("EVENT_PERSONAL_DATA", "include")]).await;
    let prefix = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"vk-big","status":"VIDEO_CALL","sub_status":"CALL_COMPLETED","agent_remarks":""#;
    let suffix = r#""}}"#;
    let pad = "x".repeat(262_144 - prefix.len() - suffix.len());
    let body = format!("{prefix}{pad}{suffix}");
    assert_eq!(body.len(), 262_144);
    let reply = call(
        &f,
        ApiRequest::post(VKYC, body.as_str()).signed_now().request(),
    )
    .await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].body.len() > 262_144,
        "the envelope adds to the body"
    );
    let over = format!("{prefix}{pad}y{suffix}");
    let reply = call(
        &f,
        ApiRequest::post(VKYC, over.as_str()).signed_now().request(),
    )
    .await;
    assert_eq!((reply.status, reply.error()), (413, "payload_too_large"));
}
