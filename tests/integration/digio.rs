//! The Digio function end to end: its real handler, real AWS SDK clients, the local server; and
//! the journey sweeper reconciling a stalled Digio journey from a fake of Digio's KYC status API
//! on loopback, built from the documented shapes (`POST /client/kyc/v2/{KID}/response`, Basic
//! auth; the KYC request as the answer) and its failures.

use kyc_intake::aws::{DynamoDueJourneys, SqsSink};
use kyc_intake::journeys::sweeper::{StatusApis, Sweeper};
use kyc_intake::sources::digio::{self, checksum};
use kyc_intake::sources::status::StatusApi;
use kyc_intake::KycEvent;
use kyc_intake_tests::provider_apis::{DigioState, FakeDigio};
use kyc_intake_tests::{call, endpoint, local_sdk_config, ApiRequest, Reply, Stack, DIGIO_SECRET};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const ROUTE: &str = "/webhooks/digio/kyc";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A notification `whn` of `event` about KYC request `kid` at `status`, made at `created_at`.
fn notification(whn: &str, event: &str, kid: &str, status: &str, created_at: i64) -> String {
    format!(
        r#"{{"entities":["kyc_request"],"payload":{{"kyc_request":{{"id":"{kid}","status":"{status}","customer_identifier":"asha@example.com","reference_id":"CUST-1"}}}},"created_at":{created_at},"id":"{whn}","event":"{event}"}}"#
    )
}

fn signed(body: &str, checksum: &str) -> ApiRequest {
    ApiRequest::post(ROUTE, body.as_bytes().to_vec()).header("x-digio-checksum", checksum)
}

fn checksum(body: &str) -> String {
    checksum::sign(DIGIO_SECRET.as_bytes(), body.as_bytes())
}

async fn deliver(f: &kyc_intake::runtime::startup::AwsPipeline, body: &str) -> Reply {
    call(f, signed(body, &checksum(body)).request()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digio_notification_is_forwarded_once_with_its_type_subject_status_and_time() {
    let stack = Stack::new(true).await;
    let f = stack.function(&digio::FUNCTION, &[]).await;
    let created_at = now_ms() - 60_000;
    let body = notification(
        "WHN1000000000000001AAAAAAAAAAAAA",
        "kyc.request.approved",
        "KID1000000000000001AAAAAAAAAAAAA",
        "approved",
        created_at,
    );
    let reply = deliver(&f, &body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "accepted");
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    let event: KycEvent = serde_json::from_str(&messages[0].body).expect("event");
    assert_eq!(event.event_type, "kyc.application.approved");
    assert_eq!(event.source, "digio/kyc");
    assert_eq!(
        event.subject.as_deref(),
        Some("KID1000000000000001AAAAAAAAAAAAA")
    );
    assert_eq!(event.data.provider_status.as_deref(), Some("approved"));
    assert_eq!(
        event.data.provider_event.as_deref(),
        Some("kyc.request.approved")
    );
    assert_eq!(event.data.auth_scheme.as_str(), "digio_checksum");
    let time = chrono::DateTime::parse_from_rfc3339(&event.time).expect("time");
    assert_eq!(
        time.timestamp_millis(),
        created_at,
        "time is the signed created_at"
    );
    assert_eq!(
        messages[0].group_id.as_deref(),
        Some("digio/kyc#KID1000000000000001AAAAAAAAAAAAA")
    );
    assert_eq!(stack.archived().await.len(), 1, "archived");

    // Digio's retry (the same notification, the same WHN): a duplicate, nothing more sent.
    let again = deliver(&f, &body).await;
    assert_eq!(again.body["status"], "duplicate", "{:?}", again.body);
    assert!(stack.messages().await.is_empty());

    // An upper-case checksum is the same checksum.
    let body = notification(
        "WHN1000000000000002AAAAAAAAAAAAA",
        "KYC_REQUEST_REJECTED",
        "KID1000000000000002AAAAAAAAAAAAA",
        "rejected",
        now_ms(),
    );
    let reply = call(&f, signed(&body, &checksum(&body).to_uppercase()).request()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let event: KycEvent = serde_json::from_str(&stack.messages().await[0].body).expect("event");
    assert_eq!(
        event.event_type, "kyc.application.declined",
        "KYC_REQUEST_REJECTED"
    );

    // An event the intake does not map (eSign) is forwarded as unrecognized; its fields are
    // unknown, so its payload is left out (the archive keeps it, `archive_key` names it).
    let esign = format!(
        r#"{{"entities":["document"],"payload":{{"document":{{"id":"DID1","agreement_status":"completed"}}}},"created_at":{},"id":"WHN1000000000000003AAAAAAAAAAAAA","event":"doc.signed"}}"#,
        now_ms()
    );
    let reply = deliver(&f, &esign).await;
    assert_eq!(reply.status, 200);
    let event: Value = serde_json::from_str(&stack.messages().await[0].body).expect("event");
    assert_eq!(event["type"], "kyc.application.unrecognized");
    assert_eq!(event["data"]["provider_event"], "doc.signed");
    assert_eq!(event["data"]["payload"], Value::Null);
    assert_eq!(event["data"]["withheld"], serde_json::json!([""]));
    let key = event["data"]["archive_key"].as_str().expect("archive_key");
    let archived = &stack.archived().await[key];
    assert_eq!(archived["event_id"], event["id"], "the delivery it names");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_notification_gets_its_answer_and_leaves_nothing_behind() {
    let stack = Stack::new(true).await;
    let f = stack.function(&digio::FUNCTION, &[]).await;
    let kid = "KID2000000000000001AAAAAAAAAAAAA";
    let fresh = notification(
        "WHN2000000000000001AAAAAAAAAAAAA",
        "kyc.request.approved",
        kid,
        "approved",
        now_ms(),
    );
    let stale = notification(
        "WHN2000000000000002AAAAAAAAAAAAA",
        "kyc.request.approved",
        kid,
        "approved",
        now_ms() - 7 * 86_400_000,
    );
    let future = notification(
        "WHN2000000000000003AAAAAAAAAAAAA",
        "kyc.request.approved",
        kid,
        "approved",
        now_ms() + 3_600_000,
    );
    let no_time = r#"{"entities":["kyc_request"],"payload":{"kyc_request":{"id":"KID2"}},"id":"WHN2000000000000004AAAAAAAAAAAAA","event":"kyc.request.approved"}"#;
    let cases: Vec<(&str, ApiRequest, u16, &str)> = vec![
        (
            "missing",
            ApiRequest::post(ROUTE, fresh.clone()),
            401,
            "missing_signature",
        ),
        (
            "wrong",
            signed(
                &fresh,
                &checksum::sign(b"another-secret-0123456789", fresh.as_bytes()),
            ),
            401,
            "invalid_signature",
        ),
        (
            "not hex",
            signed(&fresh, "not-a-checksum"),
            401,
            "invalid_signature",
        ),
        (
            "stale",
            signed(&stale, &checksum(&stale)),
            401,
            "stale_timestamp",
        ),
        (
            "future",
            signed(&future, &checksum(&future)),
            401,
            "stale_timestamp",
        ),
        (
            "no created_at",
            signed(no_time, &checksum(no_time)),
            401,
            "stale_timestamp",
        ),
        (
            "too large",
            {
                let big = format!("{{\"x\":\"{}\"}}", "a".repeat(300_000));
                let c = checksum(&big);
                signed(&big, &c)
            },
            413,
            "payload_too_large",
        ),
    ];
    for (what, request, status, error) in cases {
        let reply = call(&f, request.request()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (status, error),
            "{what}: {:?}",
            reply.body
        );
    }
    // With an allowlist, another address is refused before anything else.
    let allow = stack
        .function(&digio::FUNCTION, &[("DIGIO_ALLOWED_IPS", "13.126.198.236")])
        .await;
    let mut from_elsewhere = signed(&fresh, &checksum(&fresh));
    from_elsewhere.source_ip = "203.0.113.9".into();
    let reply = call(&allow, from_elsewhere.request()).await;
    assert_eq!(
        (reply.status, reply.error()),
        (403, "source_ip_not_allowed")
    );
    let mut from_digio = signed(&fresh, &checksum(&fresh));
    from_digio.source_ip = "13.126.198.236".into();
    assert_eq!(call(&allow, from_digio.request()).await.status, 200);
    let _ = stack.messages().await;
    // No secret configured: fail closed.
    let none = stack
        .function(&digio::FUNCTION, &[("DIGIO_WEBHOOK_SECRETS", "")])
        .await;
    let reply = call(&none, signed(&fresh, &checksum(&fresh)).request()).await;
    assert_eq!((reply.status, reply.error()), (500, "not_configured"));
    // Nothing written by any refusal: one claim and one object, both of the accepted delivery.
    assert!(stack.messages().await.is_empty());
    assert_eq!(stack.items().await.len(), 1);
    assert_eq!(stack.archived().await.len(), 1);
}

/// One way the fake fails.
type Failure<'a> = dyn Fn(&mut DigioState) + 'a;

const CLIENT_ID: &str = "digio-client";
const CLIENT_SECRET: &str = "digio-api-secret-0123456789";

fn sweeper(
    sdk: &aws_config::SdkConfig,
    stack: &Stack,
    table: &str,
    base: &str,
) -> Sweeper<DynamoDueJourneys, SqsSink> {
    let env = move |k: &str| match k {
        "DIGIO_API_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "DIGIO_API_CLIENT_SECRET" => Some(CLIENT_SECRET.to_owned()),
        "DIGIO_API_BASE" => Some(base.to_owned()),
        _ => None,
    };
    let api: Arc<dyn StatusApi> = (digio::status_api::STATUS_API.build)(&env)
        .expect("valid")
        .expect("configured");
    Sweeper::new(
        DynamoDueJourneys::new(aws_sdk_dynamodb::Client::new(sdk), table),
        StatusApis::none().with("digio", api),
        SqsSink::new(aws_sdk_sqs::Client::new(sdk), stack.queue_url.clone()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_digio_journey_is_reconciled_from_its_status_api_and_left_when_the_api_fails() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.function(&digio::FUNCTION, &[]).await;
    let kid = "KID3000000000000001AAAAAAAAAAAAA";
    let completed = notification(
        "WHN3000000000000001AAAAAAAAAAAAA",
        "kyc.request.completed",
        kid,
        "approval_pending",
        now_ms(),
    );
    assert_eq!(deliver(&f, &completed).await.status, 200);
    stack.apply_queue(&worker).await;
    let fake = FakeDigio::default();
    fake.state().known.insert(
        kid.into(),
        json!({"id": kid, "status": "approved", "customer_identifier": "asha@example.com",
               "actions": [{"type": "digilocker", "status": "approved", "details": {"aadhaar": {"name": "Asha"}}}]}),
    );
    let base = fake.start().await;
    let s = sweeper(&sdk, &stack, &table, &base);
    // Past the three-day limit.
    let later = chrono::Utc::now() + chrono::Duration::days(4);

    // Every failure leaves the journey due, sends nothing, reports no stall.
    let failures: Vec<(&str, Box<Failure<'_>>)> = vec![
        ("401", Box::new(|s| s.status = Some(401))),
        (
            "404 (a wrong base, not an unknown request)",
            Box::new(|s| s.status = Some(404)),
        ),
        ("405", Box::new(|s| s.status = Some(405))),
        ("429", Box::new(|s| s.status = Some(429))),
        ("503", Box::new(|s| s.status = Some(503))),
        ("not JSON", Box::new(|s| s.raw = Some("<html>".into()))),
        (
            "another request's answer",
            Box::new(|s| s.raw = Some(json!({"id": "KID9", "status": "approved"}).to_string())),
        ),
        (
            "an upper-case status",
            Box::new(|s| s.raw = Some(json!({"id": kid, "status": "APPROVED"}).to_string())),
        ),
        ("a hang", Box::new(|s| s.hang = true)),
    ];
    for (what, set) in failures {
        {
            let mut state = fake.state();
            *state = DigioState {
                known: state.known.clone(),
                ..DigioState::default()
            };
            set(&mut state);
        }
        let report = s.run(later, Duration::from_secs(8)).await;
        assert_eq!(
            (report.read, report.reconciled, report.stalled, report.left),
            (1, 0, 0, 1),
            "{what}"
        );
        assert!(
            stack.messages().await.is_empty(),
            "{what}: nothing invented"
        );
    }
    // The API answers: reconciled to `approved`, which closes the journey.
    let known = fake.state().known.clone();
    *fake.state() = DigioState {
        known,
        ..DigioState::default()
    };
    let report = s.run(later, Duration::from_secs(20)).await;
    assert_eq!((report.reconciled, report.left), (1, 0));
    let (method, path, auth) = fake.state().seen[0].clone();
    assert_eq!(method, "POST");
    assert_eq!(path, format!("/client/kyc/v2/{kid}/response"));
    let expected = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{CLIENT_ID}:{CLIENT_SECRET}"),
    );
    assert_eq!(auth, format!("Basic {expected}"));
    let sent = stack.messages().await;
    assert_eq!(sent.len(), 1);
    let event: Value = serde_json::from_str(&sent[0].body).expect("event");
    assert_eq!(event["type"], "kyc.journey.reconciled");
    assert_eq!(event["data"]["auth_scheme"], "digio_status_api");
    assert_eq!(event["data"]["provider_status"], "approved");
    // The worker applies it: `approved` is final.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    sqs.send_message()
        .queue_url(&stack.queue_url)
        .message_body(&sent[0].body)
        .set_message_group_id(sent[0].group_id.clone())
        .set_message_deduplication_id(sent[0].deduplication_id.clone())
        .send()
        .await
        .expect("send");
    stack.apply_queue(&worker).await;
    let j = stack
        .journey(&table, &format!("digio/kyc#{kid}"))
        .await
        .expect("journey");
    assert_eq!(j["provider_status"], "approved");
    assert!(
        j.contains_key("closed_at") && !j.contains_key("due_at"),
        "{j:?}"
    );
}
