//! Hard cases against the real local DynamoDB/SQS server (whose SQS
//! refuses what SQS refuses) through the real handlers: payloads SQS would refuse as is, DigiLocker
//! re-runs, claims taken over from a late invocation, and AWS calls that would outlast the
//! invocation.

use kyc_intake::aws::SqsSink;
use kyc_intake::fault::FaultKind;
use kyc_intake::intake::queue::{EventSink, OutgoingMessage};
use kyc_intake::intake::settings::MAX_BODY_BYTES_LIMIT;
use kyc_intake::KycEvent;
use kyc_intake_tests::{
    call, endpoint, local_sdk_config, s, ApiRequest, Dead, Stack, DIGILOCKER_TOKEN,
};
use lambda_http::RequestExt;
use lambda_idempotency::DynamoDbStore;
use lambda_idempotency::{Claim, ClaimOutcome, IdempotencyStore, Settled};

const VKYC: &str = "/webhooks/cashfree/vkyc";
const HV_DIGILOCKER: &str = "/webhooks/hyperverge/digilocker";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"vk-trust","status":"VIDEO_CALL","sub_status":"CALL_COMPLETED"}}"#;

#[tokio::test]
async fn the_local_queue_refuses_what_sqs_refuses_and_the_fault_says_so() {
    let stack = Stack::new(true).await;
    let sink = SqsSink::new(
        aws_sdk_sqs::Client::new(&local_sdk_config(endpoint()).await),
        stack.queue_url.clone(),
    );
    let message = |body: String| OutgoingMessage {
        body,
        group_id: "g".into(),
        deduplication_id: "d".into(),
        event_type: "kyc.vkyc.call_completed".into(),
        source: "cashfree/vkyc".into(),
        replay: None,
        trace_header: None,
    };
    for body in ["a\u{FFFF}b".to_owned(), "x".repeat(1_048_577)] {
        let e = sink.send(&message(body)).await.expect_err("refused");
        assert_eq!(e.kind, FaultKind::Rejected, "{e}");
        assert_eq!(e.operation, "SQS SendMessage");
    }
    assert!(sink.send(&message("a\u{FFFD}b".into())).await.is_ok());
}

#[tokio::test]
async fn bodies_sqs_would_refuse_as_is_reach_the_queue_as_base64() {
    let stack = Stack::new(true).await;
    let limit = MAX_BODY_BYTES_LIMIT.to_string();
    let f = stack
        .cashfree(&[
            ("MAX_BODY_BYTES", limit.as_str()),
            ("EVENT_PERSONAL_DATA", "include"),
        ])
        .await;
    let with_ffff = BODY.replace("VIDEO_CALL\"", "VIDEO_CALL\",\"note\":\"\u{FFFF}\"");
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("JSON holding U+FFFF", with_ffff.into_bytes(), true),
        (
            "text holding U+FFFE",
            "note \u{FFFE}".as_bytes().to_vec(),
            false,
        ),
        ("256 KiB of control characters", vec![0x01; 262_144], false),
        (
            "MAX_BODY_BYTES at its limit, all control characters",
            vec![0x02; MAX_BODY_BYTES_LIMIT],
            false,
        ),
    ];
    for (name, body, recognized) in cases {
        let reply = call(
            &f,
            ApiRequest::post(VKYC, body.clone()).signed_now().request(),
        )
        .await;
        assert_eq!(reply.body["status"], "accepted", "{name}: {:?}", reply.body);
        let messages = stack.messages().await;
        assert_eq!(messages.len(), 1, "{name}");
        let event: KycEvent = serde_json::from_str(&messages[0].body).expect("a KycEvent");
        assert_eq!(
            event.base64_payload(),
            Some(body),
            "{name}: every byte arrives"
        );
        assert_eq!(event.id, reply.id());
        assert_eq!(
            !event.event_type.ends_with("unrecognized"),
            recognized,
            "{name}"
        );
        let items = stack.items().await;
        assert!(
            items.iter().all(|i| s(i, "status") == "COMPLETED"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_digilocker_rerun_on_the_same_ref_id_is_a_new_event() {
    let stack = Stack::new(true).await;
    let f = stack.hyperverge(&[]).await;
    let at = |ts: &str| {
        let body = format!(
            r#"{{"refId":"ref-rerun","event":{{"name":"digilocker.user.denied","code":"user_cancelled"}},"timeStamp":"{ts}"}}"#
        );
        let mut r =
            ApiRequest::post(HV_DIGILOCKER, body).query(&format!("token={DIGILOCKER_TOKEN}"));
        r.source_ip = "3.6.33.64".into();
        r.request()
    };
    let first = call(&f, at("2024-01-15T10:30:45.123Z")).await;
    assert_eq!(first.body["status"], "accepted");
    assert_eq!(
        call(&f, at("2024-01-15T10:30:45.123Z")).await.body["status"],
        "duplicate"
    );
    let rerun = call(&f, at("2024-01-15T10:41:02.001Z")).await;
    assert_eq!(
        rerun.body["status"], "accepted",
        "the second cancel is not lost"
    );
    assert_ne!(rerun.id(), first.id());
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 2);
    for m in &messages {
        let event: KycEvent = serde_json::from_str(&m.body).expect("event");
        assert_eq!(
            event.data.auth_scheme,
            kyc_intake::sources::hyperverge::IP_URL_TOKEN
        );
        assert_eq!(event.subject.as_deref(), Some("ref-rerun"));
    }
}

fn claim(owner: &str, now_ms: i64) -> Claim {
    Claim::new(
        "cashfree/vkyc#late",
        owner,
        now_ms + 1_000,
        now_ms / 1000 + 3_600,
        "h",
        now_ms,
    )
}

#[tokio::test]
async fn a_late_invocation_never_overwrites_a_claim_another_delivery_took_over() {
    let stack = Stack::new(true).await;
    let store = DynamoDbStore::new(stack.ddb.clone(), stack.table.clone());
    let now = chrono::Utc::now().timestamp_millis();
    let late = claim("late-invocation", now);
    assert_eq!(
        store.claim(&late).await.expect("claim"),
        ClaimOutcome::Claimed
    );
    // An SDK retry of the same put finds its own claim: claimed, not 409.
    assert_eq!(
        store.claim(&late).await.expect("retry"),
        ClaimOutcome::Claimed
    );
    // Its lease runs out; the provider's retry takes the claim over.
    let retry = claim("provider-retry", now + 2_000);
    assert_eq!(
        store.claim(&retry).await.expect("takeover"),
        ClaimOutcome::Claimed
    );
    // A third delivery meanwhile sees a live claim that is not its own.
    let third = claim("third", now + 2_500);
    assert_eq!(
        store.claim(&third).await.expect("live"),
        ClaimOutcome::InProgress
    );
    // The late invocation wakes up: it must touch nothing.
    assert_eq!(
        store.complete(&late, "m-late").await.expect("complete"),
        Settled::NotOurs
    );
    assert_eq!(
        store.release(&late).await.expect("release"),
        Settled::NotOurs
    );
    let items = stack.items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            s(&items[0], "status"),
            s(&items[0], "owner"),
            s(&items[0], "kept")
        ),
        ("IN_PROGRESS".into(), "provider-retry".into(), String::new())
    );
    assert_eq!(
        store.complete(&retry, "m-retry").await.expect("complete"),
        Settled::Done
    );
    let items = stack.items().await;
    assert_eq!(
        (s(&items[0], "status"), s(&items[0], "kept")),
        ("COMPLETED".into(), "m-retry".into())
    );
    // A completed record is no one's claim any more: no release deletes it.
    assert_eq!(
        store.release(&retry).await.expect("release"),
        Settled::NotOurs
    );
    assert_eq!(stack.items().await.len(), 1);
}

/// The operation's own write and the claim's completion commit together or not at all, and the
/// proof of `Completion::Done` comes only from that commit.
#[tokio::test]
async fn an_operations_write_and_its_completion_commit_together_or_not_at_all() {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    use lambda_idempotency::NotCommitted;
    let stack = Stack::new(true).await;
    let store = DynamoDbStore::new(stack.ddb.clone(), stack.table.clone());
    let now = chrono::Utc::now().timestamp_millis();
    // The operation's effect: an item of its own, created only if absent.
    let effect = |pk: &str| {
        let put = Put::builder()
            .table_name(&stack.table)
            .item("pk", AttributeValue::S(pk.to_owned()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("a put");
        stack
            .ddb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
    };
    let first = claim("first", now);
    assert_eq!(store.claim(&first).await, Ok(ClaimOutcome::Claimed));
    store
        .complete_with(&first, "kept-1", effect("effect#1"))
        .await
        .expect("committed");
    let items = stack.items().await;
    let status = |pk: &str| {
        items
            .iter()
            .find(|i| s(i, "pk") == pk)
            .map(|i| (s(i, "status"), s(i, "kept")))
    };
    assert_eq!(
        status("cashfree/vkyc#late"),
        Some(("COMPLETED".into(), "kept-1".into()))
    );
    assert_eq!(status("effect#1"), Some((String::new(), String::new())));

    // Completed already: the claim is no longer ours, and the new effect is not written.
    assert_eq!(
        store
            .complete_with(&first, "kept-2", effect("effect#2"))
            .await,
        Err(NotCommitted::NotOurs)
    );
    // A live claim whose own item's condition fails: neither is written.
    let second = Claim::new(
        "other#key",
        "second",
        now + 1_000,
        now / 1000 + 60,
        "h",
        now,
    );
    assert_eq!(store.claim(&second).await, Ok(ClaimOutcome::Claimed));
    assert_eq!(
        store
            .complete_with(&second, "kept-3", effect("effect#1"))
            .await,
        Err(NotCommitted::ConditionFailed(vec![0]))
    );
    let items = stack.items().await;
    let pks: Vec<String> = items.iter().map(|i| s(i, "pk")).collect();
    assert!(!pks.contains(&"effect#2".to_owned()), "{pks:?}");
    let other = items
        .iter()
        .find(|i| s(i, "pk") == "other#key")
        .expect("the claim");
    assert_eq!(s(other, "status"), "IN_PROGRESS");
}

/// A signed delivery of `BODY` whose invocation ends `ms` from now.
fn with_deadline_in(ms: u64) -> (lambda_http::Request, std::time::Instant) {
    let mut context = lambda_runtime::Context::default();
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("after 1970");
    context.deadline = now + ms;
    let request = ApiRequest::post(VKYC, BODY)
        .signed_now()
        .request()
        .with_lambda_context(context);
    (
        request,
        std::time::Instant::now() + std::time::Duration::from_millis(ms),
    )
}

#[tokio::test]
async fn a_hanging_table_is_answered_503_before_the_invocation_ends() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree_with_hanging(Dead::DynamoDb).await;
    let (request, deadline) = with_deadline_in(4_000);
    let reply = call(&f, request).await;
    assert_eq!((reply.status, reply.error()), (503, "unavailable"));
    assert!(
        std::time::Instant::now() < deadline,
        "answered before Lambda would kill it"
    );
    assert!(stack.messages().await.is_empty());
}

#[tokio::test]
async fn a_hanging_queue_leaves_time_to_release_the_claim() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree_with_hanging(Dead::Sqs).await;
    let (request, deadline) = with_deadline_in(5_000);
    let reply = call(&f, request).await;
    assert_eq!((reply.status, reply.error()), (503, "unavailable"));
    assert!(
        std::time::Instant::now() < deadline,
        "answered before Lambda would kill it"
    );
    assert!(
        stack.items().await.is_empty(),
        "the claim was released in time"
    );
    let retry = call(
        &stack.cashfree(&[]).await,
        ApiRequest::post(VKYC, BODY).signed_now().request(),
    )
    .await;
    assert_eq!(
        retry.body["status"], "accepted",
        "the provider's retry goes through at once"
    );
    assert_eq!(stack.messages().await.len(), 1);
}
