//! The consumer side end to end on the local server: webhooks in through the real handlers, the
//! queue, the journey worker's real Lambda handler fed the typed SQS events an event source
//! mapping delivers (`kyc_local::event_source::EventSource`), and the journey table, with the faults of
//! docs/consuming.md.

use aws_lambda_events::event::sqs::SqsEvent;
use kyc_intake::runtime::startup::AwsJourneyWorker;
use kyc_intake_tests::{
    dead_sdk_config, endpoint, kycctl_local, local_sdk_config, ApiRequest, Deployed, Stack,
    CASHFREE_SECRET,
};
use kyc_local::event_source::{EventSource, Polled};
use std::collections::HashMap;

const VKYC: &str = "/webhooks/cashfree/vkyc";
const TIMEOUT_MS: u64 = 20_000;

/// A VKYC body for journey `v` at `time`.
pub(crate) fn vkyc(v: &str, event: &str, sub_status: &str, time: &str) -> String {
    format!(
        r#"{{"event_type":"{event}","event_time":"{time}","version":"v1","data":{{"verification_id":"{v}","status":"S","sub_status":"{sub_status}"}}}}"#
    )
}

/// Journey `v`'s user joined the Video KYC queue (the same moment for every journey).
fn queued(v: &str) -> String {
    vkyc(
        v,
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    )
}

pub(crate) async fn webhook(deployed: &Deployed, body: &str) {
    let reply = deployed
        .call(
            ApiRequest::post(VKYC, body)
                .signed(CASHFREE_SECRET, chrono::Utc::now().timestamp_millis())
                .request(),
        )
        .await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
}

/// Poll until the queue gives nothing (failed records come back after the visibility timeout,
/// so this stops at the first empty poll).
pub(crate) async fn drain(source: &EventSource, worker: &AwsJourneyWorker) -> Vec<Polled> {
    let mut polls = Vec::new();
    let drained = async {
        loop {
            let polled = source.poll(worker, 0, TIMEOUT_MS).await.expect("poll");
            if polled.received.is_empty() {
                return;
            }
            polls.push(polled);
        }
    };
    // A safety net, not a clock the test races: a queue drains in milliseconds, and a record the
    // worker fails again and again (redelivered at once) fails the test instead of hanging it.
    tokio::time::timeout(std::time::Duration::from_secs(120), drained)
        .await
        .expect("the queue drained within two minutes");
    polls
}

fn count(j: &HashMap<String, String>) -> u64 {
    j["event_count"].parse().expect("a number")
}

#[tokio::test]
async fn webhooks_reach_the_journey_table_newest_state_wins_and_redelivery_changes_nothing() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // One journey, delivered out of order: the call completed (04:10Z) before it started (04:00Z,
    // given in IST); and another journey, plus an unrecognized event.
    webhook(&deployed, &queued("j1")).await;
    webhook(
        &deployed,
        &vkyc(
            "j1",
            "VKYC_USER_CALL_COMPLETED",
            "CALL_COMPLETED",
            "2025-05-22T04:10:00Z",
        ),
    )
    .await;
    webhook(
        &deployed,
        &vkyc(
            "j1",
            "VKYC_USER_CALL_STARTED",
            "CALL_STARTED",
            "2025-05-22T09:30:00+05:30",
        ),
    )
    .await;
    webhook(
        &deployed,
        &vkyc(
            "j2",
            "VKYC_USER_LINK_GENERATED",
            "LINK_GENERATED",
            "2025-05-22T03:51:14Z",
        ),
    )
    .await;
    webhook(&deployed, r#"{"event_type":"VKYC_SOMETHING_NEW"}"#).await;

    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polls = drain(&source, &worker).await;
    let received: usize = polls.iter().map(|p| p.received.len()).sum();
    assert_eq!(received, 5);
    assert!(polls.iter().all(|p| p.failed.is_empty()), "{polls:?}");

    let j1 = stack.journey(&table, "cashfree/vkyc#j1").await.expect("j1");
    assert_eq!(
        j1["type"], "kyc.vkyc.call_completed",
        "the newest by event time"
    );
    assert_eq!(j1["time"], "2025-05-22T04:10:00Z");
    assert_eq!(j1["provider_sub_status"], "CALL_COMPLETED");
    assert_eq!(count(&j1), 3, "the older events still count");
    let j2 = stack.journey(&table, "cashfree/vkyc#j2").await.expect("j2");
    assert_eq!(j2["type"], "kyc.vkyc.link_generated");
    assert_eq!(count(&j2), 1);
    assert_eq!(
        stack.scan(&table).await.len(),
        2,
        "unrecognized events are not stored"
    );

    // The intake's one duplicate window: the same event id sent again. Applied once.
    let event_id = j1["event_id"].clone();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let body = serde_json::json!({
        "specversion": "1.0", "id": event_id, "source": "cashfree/vkyc",
        "type": "kyc.vkyc.call_completed", "subject": "j1", "time": "2025-05-22T04:10:00Z",
        "datacontenttype": "application/json",
        "data": {"provider": "cashfree", "product": "vkyc", "provider_event": "VKYC_USER_CALL_COMPLETED",
                 "provider_status": "S", "provider_sub_status": "CALL_COMPLETED", "provider_time": null,
                 "received_at": "2026-11-25T10:00:00Z", "auth_scheme": "cashfree_header_hmac", "payload": {}}
    });
    sqs.send_message()
        .queue_url(&stack.queue_url)
        .message_body(body.to_string())
        .message_group_id("cashfree/vkyc#j1")
        .message_deduplication_id("a-later-redelivery")
        .send()
        .await
        .expect("send");
    let polls = drain(&source, &worker).await;
    assert_eq!(polls.len(), 1);
    assert!(polls[0].failed.is_empty());
    let j1 = stack.journey(&table, "cashfree/vkyc#j1").await.expect("j1");
    assert_eq!(
        count(&j1),
        3,
        "the redelivered event id was not applied again"
    );
}

/// Send raw bodies to the queue in one message group, in order.
async fn enqueue(stack: &Stack, bodies: &[String]) {
    let grouped: Vec<(&str, String)> = bodies.iter().map(|b| ("g", b.clone())).collect();
    enqueue_in_groups(stack, &grouped).await;
}

/// Send each body to the events queue in its FIFO message group.
pub(crate) async fn enqueue_in_groups(stack: &Stack, bodies: &[(&str, String)]) {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for (i, (group, b)) in bodies.iter().enumerate() {
        sqs.send_message()
            .queue_url(&stack.queue_url)
            .message_body(b)
            .message_group_id(*group)
            .message_deduplication_id(format!("d{i}"))
            .send()
            .await
            .expect("send");
    }
}

/// The normalized events the intake makes of `bodies` (through a real handler, then read back
/// off the queue), in order.
pub(crate) async fn events(bodies: &[String]) -> Vec<String> {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let mut out = Vec::new();
    for b in bodies {
        webhook(&deployed, b).await;
        out.extend(stack.messages().await.into_iter().map(|m| m.body));
    }
    out
}

#[tokio::test]
async fn a_poison_record_holds_back_only_its_own_group_and_the_rest_is_applied_later() {
    let logs = kyc_intake_tests::captured_logs();
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let good = events(&[
        queued("p1"),
        vkyc(
            "p1",
            "VKYC_USER_CALL_STARTED",
            "USER_CALL_STARTED",
            "2025-05-22T03:56:00Z",
        ),
        queued("p2"),
    ])
    .await;
    let (a, b) = ("cashfree/vkyc#p1", "cashfree/vkyc#p2");
    enqueue_in_groups(
        &stack,
        &[
            (a, good[0].clone()),
            (a, "{\"not\": \"a KycEvent\"}".to_owned()),
            (b, good[2].clone()),
            (a, good[1].clone()),
        ],
    )
    .await;
    stack.set_visibility_timeout(1).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let first = source.poll(&worker, 0, TIMEOUT_MS).await.expect("poll");
    assert_eq!(first.received.len(), 4);
    assert_eq!(
        first.failed,
        [first.received[1].clone(), first.received[3].clone()],
        "the poison record and the later record of its group"
    );
    let poison: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("\"poison\"") && l.contains(&first.received[1]))
        .map(str::to_owned)
        .collect();
    assert!(
        poison.iter().any(
            |l| l.contains(&kyc_intake::journeys::worker::journey_hash(a)) && !l.contains("p1")
        ),
        "the journey it holds back, by hash, never by reference: {poison:?}"
    );
    let p1 = stack
        .journey(&table, a)
        .await
        .expect("earlier record applied");
    assert_eq!(count(&p1), 1, "the later one held back");
    let p2 = stack
        .journey(&table, b)
        .await
        .expect("another group goes on");
    assert_eq!(count(&p2), 1);
    // After the visibility timeout both come back (long polling waits for them). The local server
    // does not keep a FIFO group's order on redelivery, as SQS would, so only this is checked: the
    // poison record fails every time (it would reach the dead-letter queue after
    // maxReceiveCount), the held-back one is applied once.
    let poison = first.received[1].clone();
    for _ in 0..10 {
        if stack
            .journey(&table, a)
            .await
            .is_some_and(|j| count(&j) == 2)
        {
            break;
        }
        let again = source.poll(&worker, 2, TIMEOUT_MS).await.expect("poll");
        assert!(
            !again.received.contains(&poison) || again.failed.contains(&poison),
            "{again:?}"
        );
    }
    let p1 = stack.journey(&table, a).await.expect("applied later");
    assert_eq!(count(&p1), 2);
    assert_eq!(
        count(&stack.journey(&table, b).await.expect("p2")),
        1,
        "once"
    );
}

#[tokio::test]
async fn dynamodb_down_fails_every_record_and_applies_nothing() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, _) = stack.journey_worker(&sdk).await;
    let (_, down) = stack.journey_worker(&dead_sdk_config().await).await;
    let bodies = events(&[queued("d1"), queued("d2")]).await;
    enqueue(&stack, &bodies).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polled = source.poll(&down, 0, TIMEOUT_MS).await.expect("poll");
    assert_eq!(polled.failed, polled.received);
    assert_eq!(polled.failed.len(), 2);
    assert!(stack.scan(&table).await.is_empty(), "nothing half-applied");
    assert!(stack.items().await.is_empty(), "no claim left behind");
}

#[tokio::test]
async fn the_same_batch_twice_a_crash_mid_batch_and_fifty_concurrent_workers_each_apply_once() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let bodies = events(&[
        queued("c1"),
        vkyc(
            "c1",
            "VKYC_USER_CALL_STARTED",
            "CALL_STARTED",
            "2025-05-22T04:00:00Z",
        ),
        vkyc(
            "c1",
            "VKYC_USER_CALL_COMPLETED",
            "CALL_COMPLETED",
            "2025-05-22T04:10:00Z",
        ),
        queued("c2"),
    ])
    .await;
    enqueue(&stack, &bodies).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let batch: SqsEvent = source.receive(0).await.expect("receive").expect("a batch");
    assert_eq!(batch.records.len(), 4);
    let deadline = || chrono::Utc::now().timestamp_millis() + 10_000;

    // A worker killed after the first two records: they are applied, nothing is deleted.
    let mut first_half = batch.clone();
    first_half.records.truncate(2);
    assert!(
        kyc_intake::runtime::lambda::worker_batch(&worker, &first_half, deadline())
            .await
            .batch_item_failures
            .is_empty()
    );
    // The whole batch redelivered, twice, and to 50 workers at once.
    assert!(
        kyc_intake::runtime::lambda::worker_batch(&worker, &batch, deadline())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        kyc_intake::runtime::lambda::worker_batch(&worker, &batch, deadline())
            .await
            .batch_item_failures
            .is_empty()
    );
    let mut racers = Vec::new();
    for _ in 0..50 {
        let (_, w) = stack
            .journey_worker(&local_sdk_config(endpoint()).await)
            .await;
        let batch = batch.clone();
        racers.push(tokio::spawn(async move {
            kyc_intake::runtime::lambda::worker_batch(&w, &batch, deadline())
                .await
                .batch_item_failures
                .len()
        }));
    }
    for r in racers {
        // A record another worker is applying right now fails (to be redelivered): fine.
        r.await.expect("worker task");
    }
    source.settle(&batch, &[]).await.expect("delete");

    let c1 = stack.journey(&table, "cashfree/vkyc#c1").await.expect("c1");
    assert_eq!(count(&c1), 3, "each event id applied exactly once");
    assert_eq!(c1["type"], "kyc.vkyc.call_completed");
    let c2 = stack.journey(&table, "cashfree/vkyc#c2").await.expect("c2");
    assert_eq!(count(&c2), 1);
}

#[tokio::test]
async fn an_event_stamped_in_the_far_future_does_not_pin_its_journey() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // A wrong clock (or, with the legacy scheme on, a forged time) far ahead...
    webhook(
        &deployed,
        &vkyc(
            "ff1",
            "VKYC_USER_CALL_QUEUED",
            "USER_QUEUED",
            "2099-01-01T00:00:00Z",
        ),
    )
    .await;
    // ...and then the journey's real next step, a minute after now.
    let next = rfc3339(chrono::Utc::now() + chrono::Duration::minutes(1));
    webhook(
        &deployed,
        &vkyc("ff1", "VKYC_USER_CALL_STARTED", "USER_CALL_STARTED", &next),
    )
    .await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    drain(&source, &worker).await;
    let j = stack
        .journey(&table, "cashfree/vkyc#ff1")
        .await
        .expect("journey");
    assert_eq!(count(&j), 2);
    assert_eq!(
        j["type"], "kyc.vkyc.call_started",
        "the later event wins: {j:?}"
    );
    assert_eq!(j["time"], next);
}

/// The id moto gives every message's sender (real SQS gives the sending role's id).
pub(crate) const MOTO_SENDER: &str = "AIDAIT2UOQQY3AUEKVGXU";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_from_a_sender_outside_its_sources_is_acknowledged_and_not_applied() {
    let logs = kyc_intake_tests::captured_logs();
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    // The sender of every message here may send HyperVerge's events only (as the HyperVerge
    // function's role may): a Cashfree decision from it is not applied.
    let senders =
        kyc_intake::journeys::senders::Senders::parse(&format!("{MOTO_SENDER}=hyperverge/*"))
            .expect("valid");
    let (table, worker) = stack.journey_worker_with_senders(&sdk, Some(senders)).await;
    webhook(
        &deployed,
        &vkyc(
            "snd-1",
            "VKYC_AUDITOR_REVIEW_COMPLETED",
            "AUDITOR_APPROVED",
            "2025-05-22T04:00:00Z",
        ),
    )
    .await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polls = drain(&source, &worker).await;
    assert_eq!(polls.len(), 1);
    assert!(
        polls[0].failed.is_empty(),
        "acknowledged, so not delivered again (or dead-lettered)"
    );
    assert!(
        stack.journey(&table, "cashfree/vkyc#snd-1").await.is_none(),
        "not applied"
    );
    let refused: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("refused_sender"))
        .map(str::to_owned)
        .collect();
    assert!(
        refused.iter().any(|l| l.contains(MOTO_SENDER)
            && l.contains("kyc.vkyc.auditor_review_completed")
            && !l.contains("snd-1")),
        "logged with the sender and the type, not the subject: {refused:?}"
    );

    // The same record from a sender that may send Cashfree's events is applied.
    let senders =
        kyc_intake::journeys::senders::Senders::parse(&format!("{MOTO_SENDER}=cashfree/*"))
            .expect("valid");
    let (table, worker) = stack.journey_worker_with_senders(&sdk, Some(senders)).await;
    webhook(
        &deployed,
        &vkyc(
            "snd-2",
            "VKYC_AUDITOR_REVIEW_COMPLETED",
            "AUDITOR_APPROVED",
            "2025-05-22T04:00:00Z",
        ),
    )
    .await;
    drain(&source, &worker).await;
    assert!(stack.journey(&table, "cashfree/vkyc#snd-2").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_started_in_2099_does_not_pin_its_journey() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // A start stamped far ahead, with the longest wait anyone could ask for.
    let mut started: serde_json::Value = serde_json::from_str(
        &kyc_intake::journeys::completeness::started(
            kyc_intake::sources::registry::source("hyperverge/digilocker").expect("source"),
            "far-1",
            Some(u64::MAX / 1000),
            chrono::Utc::now(),
        )
        .expect("event")
        .body,
    )
    .expect("json");
    started["time"] = "2099-01-01T00:00:00.000Z".into();
    started["data"]["received_at"] = "2099-01-01T00:00:00.000Z".into();
    enqueue(&stack, &[started.to_string()]).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    drain(&source, &worker).await;
    let j = stack
        .journey(&table, "hyperverge/digilocker#far-1")
        .await
        .expect("journey");
    let due_at: i64 = j["due_at"].parse().expect("due_at");
    let latest = chrono::Utc::now() + chrono::Duration::days(30) + chrono::Duration::minutes(10);
    assert!(
        due_at <= latest.timestamp_millis(),
        "due within 30 days and the clock's 5 minutes, not in 2099: {j:?}"
    );
    // Its time as stored is the worker's clock (held to it), and time_ms is that instant.
    let time_ms: i64 = j["time_ms"].parse().expect("time_ms");
    let time = chrono::DateTime::parse_from_rfc3339(&j["time"]).expect("time");
    assert_eq!(
        time.timestamp_millis(),
        time_ms,
        "time_ms is the time: {j:?}"
    );
    assert!(
        time_ms > 0
            && time_ms <= (chrono::Utc::now() + chrono::Duration::minutes(6)).timestamp_millis()
    );
}

/// `kycctl` against this stack's queues; its exit code and output.
fn kycctl_queues(stack: &Stack, args: &[&str]) -> (i32, String) {
    let dlq = dead_letter_queue(stack);
    let env = [
        ("EVENTS_QUEUE_URL", stack.queue_url.as_str()),
        ("EVENTS_DLQ_URL", dlq.as_str()),
    ];
    kyc_intake_tests::kycctl_local(args, &env, &[])
}

/// The stack's dead-letter queue (the local resources name it after the events queue).
fn dead_letter_queue(stack: &Stack) -> String {
    stack.queue_url.replace(".fifo", "-dlq.fifo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_message_is_listed_without_being_taken_and_recovered_by_its_origin() {
    let stack = Stack::new(true).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let group = "cashfree/vkyc#dl-1";
    sqs.send_message()
        .queue_url(dead_letter_queue(&stack))
        .message_body("{\"not\": \"a KycEvent\"}")
        .message_group_id(group)
        .message_deduplication_id("poison-1")
        .message_attributes(
            "type",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("kyc.vkyc.call_queued")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("send");
    for _ in 0..2 {
        let (code, out) = kycctl_queues(&stack, &["dlq", "list"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("MESSAGE ID"), "{out}");
        assert!(
            out.contains(&kyc_intake::journeys::worker::journey_hash(group))
                && out.contains("kyc.vkyc.call_queued")
                && out.contains("1 message in the dead-letter queue"),
            "listed, and still there the second time: {out}"
        );
        assert!(
            !out.contains("not\\\": \\\"a KycEvent") && !out.contains("a KycEvent"),
            "no body unless asked: {out}"
        );
    }
    let (code, out) = kycctl_queues(&stack, &["--json", "dlq", "list", "--body"]);
    assert_eq!(code, 0, "{out}");
    let listed: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(listed["messages"][0]["body"], "{\"not\": \"a KycEvent\"}");
    assert!(
        listed["messages"][0].get("receives").is_none(),
        "no receive count, which each look would raise: {listed}"
    );
    assert!(!out.contains("RECEIVES"), "{out}");
    assert_eq!(listed["messages"][0]["type"], "kyc.vkyc.call_queued");

    // Beside the poison record: a genuine webhook event the worker failed, a forged decision
    // carrying the replay marker (put straight into the dead-letter queue), a sweeper's stall
    // report and an application's start.
    let deployed = stack.deploy(&[]).await;
    let genuine = vkyc(
        "dl-2",
        "VKYC_USER_CALL_COMPLETED",
        "CALL_COMPLETED",
        "2025-05-22T04:10:00Z",
    );
    webhook(&deployed, &genuine).await;
    let genuine = stack.messages().await.remove(0);
    let genuine_event: serde_json::Value = serde_json::from_str(&genuine.body).expect("json");
    let mut forged = genuine_event.clone();
    forged["id"] = "f".repeat(64).into();
    forged["type"] = "kyc.vkyc.auditor_review_completed".into();
    forged["kycreplay"] = "r1".into();
    let mut stall = genuine_event.clone();
    stall["id"] = "5".repeat(64).into();
    stall["type"] = kyc_intake::journeys::completeness::STALLED.into();
    let start = kyc_intake::journeys::completeness::started(
        kyc_intake::sources::registry::source("cashfree/vkyc").expect("source"),
        "dl-3",
        None,
        chrono::Utc::now(),
    )
    .expect("start")
    .body;
    let string = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .expect("attribute")
    };
    for (i, (body, replay)) in [
        (genuine.body.clone(), false),
        (forged.to_string(), true),
        (stall.to_string(), false),
        (start, false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut send = sqs
            .send_message()
            .queue_url(dead_letter_queue(&stack))
            .message_body(body)
            .message_group_id(format!("g{i}"))
            .message_deduplication_id(format!("dead-{i}"));
        if replay {
            send = send.message_attributes("replay", string("r1"));
        }
        send.send().await.expect("send");
    }

    let replay = stack.replay_env();
    let (code, out) = kycctl_local(
        &["dlq", "redrive"],
        &[
            (replay[0].0, replay[0].1.as_str()),
            (replay[1].0, replay[1].1.as_str()),
            ("EVENTS_QUEUE_URL", stack.queue_url.as_str()),
            ("EVENTS_DLQ_URL", dead_letter_queue(&stack).as_str()),
            ("ARCHIVE_BUCKET", stack.bucket.as_str()),
            ("ARCHIVE_KEYS_TABLE", stack.keys_table.as_str()),
            // Replay checks the delivery's attestation: no webhook secret.
            (
                "ARCHIVE_SIGNING_KEY_ID",
                kyc_local::resources::LOCAL_SIGNING_KEY,
            ),
        ],
        &["JOURNEY_SENDERS"],
    );
    assert_eq!(code, 1, "something was left: {out}");
    assert!(
        out.contains(
            "1 replayed from the archive, 1 sweeper event deleted, 1 start sent again, 2 left"
        ),
        "{out}"
    );
    assert!(out.contains("left: not an event"), "{out}");
    assert!(
        out.contains("left: no archived delivery to replay"),
        "{out}"
    );
    let (_, listed) = kycctl_queues(&stack, &["dlq", "list"]);
    assert!(
        listed.contains("2 messages in the dead-letter queue"),
        "the poison and the forged one stay: {listed}"
    );
    let back = stack.messages().await;
    let types: Vec<String> = back.iter().map(|m| m.body.clone()).collect();
    assert_eq!(back.len(), 2, "{types:?}");
    // The genuine event, replayed from the archive under a replay of this redrive's own.
    let replayed = back
        .iter()
        .find(|m| m.body.contains("kyc.vkyc.call_completed"))
        .expect("the genuine event back");
    let v: serde_json::Value = serde_json::from_str(&replayed.body).expect("json");
    assert_eq!(v["id"], genuine_event["id"]);
    assert!(v["kycreplay"].as_str().is_some_and(|r| r != "r1"), "{v}");
    // The start, as it was: no replay marker.
    let resent = back
        .iter()
        .find(|m| m.body.contains("kyc.journey.started"))
        .expect("the start back");
    assert!(!resent.attributes.iter().any(|(k, _)| k == "replay"));
    assert!(!resent.body.contains("kycreplay"));
    assert!(
        !back
            .iter()
            .any(|m| m.body.contains("auditor_review_completed")
                || m.body.contains("kyc.journey.stalled")),
        "the forged decision is never forwarded, the stall report never re-sent"
    );

    // What a redrive left is deleted by id once understood, with a reason; an id that is not
    // there fails naming it, and the rest stay.
    let (_, out) = kycctl_queues(&stack, &["--json", "dlq", "list"]);
    let left: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    let ids: Vec<String> = left["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["message_id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "{left}");
    let (code, out) = kycctl_queues(
        &stack,
        &[
            "dlq",
            "delete",
            &ids[0],
            "not-a-message",
            "--reason",
            "a poison record, fixed in 1.4",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("{} deleted from", ids[0])),
        "logged: {out}"
    );
    assert!(
        out.contains("not in the dead-letter queue: not-a-message"),
        "{out}"
    );
    let (code, out) = kycctl_queues(&stack, &["dlq", "delete", &ids[1], "--reason", " "]);
    assert_eq!(code, 2, "a reason says why: {out}");
    let (code, out) = kycctl_queues(&stack, &["dlq", "delete", &ids[1], "--reason", "forged"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 message deleted from the dead-letter queue (forged)"),
        "{out}"
    );
    let (_, listed) = kycctl_queues(&stack, &["dlq", "list"]);
    assert!(
        listed.contains("0 messages in the dead-letter queue"),
        "{listed}"
    );
    // `make dead-letter` puts a poison record there at once, for the walkthrough.
    let made = std::process::Command::new(kyc_intake_tests::workspace_binary("kyc-local"))
        .arg("dead-letter")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", "ap-south-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("EVENTS_DLQ_URL", dead_letter_queue(&stack))
        .output()
        .expect("kyc-local dead-letter");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (_, listed) = kycctl_queues(&stack, &["dlq", "list"]);
    assert!(
        listed.contains("1 message in the dead-letter queue")
            && listed.contains("kyc.vkyc.call_queued"),
        "{listed}"
    );
    // Away from the local stack a redrive without the worker's senders refuses to start.
    let (code, out) = kycctl_local(
        &[
            "dlq",
            "redrive",
            "--dlq-url",
            "https://sqs.ap-south-1.amazonaws.com/123456789012/kyc-events-dlq.fifo",
            "--queue-url",
            "https://sqs.ap-south-1.amazonaws.com/123456789012/kyc-events.fifo",
        ],
        &[],
        &["JOURNEY_SENDERS", "EVENTS_DLQ_URL", "EVENTS_QUEUE_URL"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("give --senders or set JOURNEY_SENDERS"),
        "{out}"
    );
}

/// The journey's timeline (`history`): every event applied, newest last, with its origin and the
/// archived delivery of a webhook; the latest `timeline::SHOWN` kept (the list trimmed at
/// `timeline::CAP`) while `event_count` counts them all; an older event is on it too.
#[tokio::test]
async fn the_timeline_keeps_the_latest_events_with_their_origin_and_counts_every_one() {
    use kyc_intake::journeys::timeline::{Origin, CAP, SHOWN};
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let reader = kyc_intake::aws::JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");

    // A webhook, then an older one: both on the timeline, in the order applied.
    webhook(
        &deployed,
        &vkyc(
            "t1",
            "VKYC_USER_CALL_STARTED",
            "CALL_STARTED",
            "2025-05-22T04:00:00Z",
        ),
    )
    .await;
    webhook(&deployed, &queued("t1")).await;
    drain(&source, &worker).await;
    let j = reader
        .get("cashfree/vkyc", "t1")
        .await
        .expect("read")
        .expect("t1");
    assert_eq!(j.history.len(), 2, "{:?}", j.history);
    assert_eq!(j.history[0].event_type, "kyc.vkyc.call_started");
    assert_eq!(j.history[1].event_type, "kyc.vkyc.call_queued");
    assert_eq!(j.event_type.as_deref(), Some("kyc.vkyc.call_started"));
    // `kycctl journey show` prints it oldest first by the events' time, as it says.
    let (code, out) = kyc_intake_tests::kycctl_local(
        &["journey", "show", "cashfree/vkyc", "t1"],
        &[("JOURNEY_TABLE", table.as_str())],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let queued_at = out.find("kyc.vkyc.call_queued ").expect("queued");
    let started_at = out.rfind("kyc.vkyc.call_started ").expect("started");
    assert!(out.contains("oldest first"), "{out}");
    assert!(queued_at < started_at, "the older event first: {out}");
    for e in &j.history {
        assert_eq!(e.origin, Origin::Webhook);
        let key = e.archive_key.as_deref().expect("a delivery");
        assert!(
            key.starts_with("deliveries/cashfree/vkyc/")
                && key.ends_with(&format!("{}.json", e.event_id)),
            "{key}"
        );
        assert_eq!(e.provider_status.as_deref(), Some("S"));
    }

    // Past the cap: the latest SHOWN are read, in order; every event is counted.
    let total = CAP + 7;
    let bodies: Vec<String> = (0..total)
        .map(|i| numbered_event(i, i, "t2", "kyc.vkyc.call_started"))
        .collect();
    enqueue_in_groups(
        &stack,
        &bodies
            .iter()
            .map(|b| ("cashfree/vkyc#t2", b.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    let polls = drain(&source, &worker).await;
    assert!(polls.iter().all(|p| p.failed.is_empty()), "{polls:?}");
    let j = reader
        .get("cashfree/vkyc", "t2")
        .await
        .expect("read")
        .expect("t2");
    assert_eq!(j.event_count, Some(i64::try_from(total).expect("small")));
    assert_eq!(j.history.len(), SHOWN);
    let subs: Vec<String> = j
        .history
        .iter()
        .map(|e| e.provider_sub_status.clone().expect("a sub-status"))
        .collect();
    let want: Vec<String> = (total - SHOWN..total).map(|i| format!("N{i}")).collect();
    assert_eq!(subs, want, "the latest, oldest first");
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("cashfree/vkyc#t2".to_owned()),
        )
        .send()
        .await
        .expect("get");
    let kept = item.item().expect("t2")["history"]
        .as_l()
        .expect("a list")
        .len();
    assert!(
        (SHOWN..CAP).contains(&kept),
        "the stored list stays under its cap: {kept}"
    );
}

/// The `i`th of a run of `cashfree/vkyc` events of `subject`: id `id` (as 64 hex digits), a
/// second after the one before, its sub-status `N<i>`.
fn numbered_event(i: usize, id: usize, subject: &str, event_type: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2025-05-22T05:00:00Z").expect("t")
        + chrono::Duration::seconds(i64::try_from(i).expect("small"));
    serde_json::json!({
        "specversion": "1.0", "id": format!("{id:064x}"), "source": "cashfree/vkyc",
        "type": event_type, "subject": subject,
        "time": t.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "datacontenttype": "application/json",
        "data": {"provider": "cashfree", "product": "vkyc", "provider_event": "E",
                 "provider_status": "S", "provider_sub_status": format!("N{i}"),
                 "provider_time": null, "received_at": "2025-05-22T05:00:00Z",
                 "auth_scheme": "cashfree_header_hmac", "payload": {}}
    })
    .to_string()
}

/// Events the project makes (a start, a stall report) never push a provider's event off a
/// journey's timeline: the trim takes the oldest of those first.
#[tokio::test]
async fn a_run_of_starts_leaves_the_providers_events_on_the_timeline() {
    use kyc_intake::journeys::timeline::{Origin, SHOWN};
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let reader = kyc_intake::aws::JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    // Three provider events, then a long run of the project's own.
    let bodies: Vec<String> = (0..3)
        .map(|i| numbered_event(i, i + 1_000_000, "t3", "kyc.vkyc.call_started"))
        .chain((3..3 + 130).map(|i| {
            numbered_event(
                i,
                i + 1_000_000,
                "t3",
                kyc_intake::journeys::completeness::STARTED,
            )
        }))
        .collect();
    enqueue_in_groups(
        &stack,
        &bodies
            .iter()
            .map(|b| ("cashfree/vkyc#t3", b.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    let polls = drain(&source, &worker).await;
    assert!(polls.iter().all(|p| p.failed.is_empty()), "{polls:?}");
    let j = reader
        .get("cashfree/vkyc", "t3")
        .await
        .expect("read")
        .expect("t3");
    assert_eq!(j.event_count, Some(133));
    assert!(j.history.len() <= SHOWN + 20, "{}", j.history.len());
    let providers: Vec<String> = j
        .history
        .iter()
        .filter(|e| e.origin == Origin::Webhook)
        .map(|e| e.provider_sub_status.clone().unwrap_or_default())
        .collect();
    let all: Vec<(String, String)> = j
        .history
        .iter()
        .map(|e| {
            (
                e.origin.as_str().to_owned(),
                e.provider_sub_status.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        providers,
        ["N0", "N1", "N2"],
        "every provider event stays: {all:?}"
    );
}
