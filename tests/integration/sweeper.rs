//! The journey sweeper on the local server, with the journey worker's real handler and a fake of
//! Cashfree's status API on loopback (its documented shape: `GET /verification/vkyc?
//! verification_id=...` answering `status` and `sub_status`; and its failures: 401, 429, 500, a
//! hang, an answer that is not JSON). Time is not waited for: the sweeper is asked about a moment
//! past the journeys' due times.

use kyc_intake::aws::{DynamoDueJourneys, SqsSink};
use kyc_intake::journeys::sweeper::{StatusApis, SweepReport, Sweeper};
use kyc_intake::metrics::Captured;
use kyc_intake_tests::provider_apis::{cashfree_sweeper, FakeCashfree, Mode};
use kyc_intake_tests::{
    call, endpoint, local_sdk_config, workspace, workspace_binary, ApiRequest, Stack,
    DIGILOCKER_TOKEN,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const VKYC: &str = "/webhooks/cashfree/vkyc";

fn vkyc_body(v: &str, event: &str, status: &str, sub_status: &str, time: &str) -> String {
    format!(
        r#"{{"event_type":"{event}","event_time":"{time}","version":"v1","data":{{"verification_id":"{v}","reference_id":1,"status":"{status}","sub_status":"{sub_status}"}}}}"#
    )
}

fn queued(v: &str) -> String {
    vkyc_body(
        v,
        "VKYC_USER_CALL_QUEUED",
        "PRE_VIDEO_CALL",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    )
}

/// A moment past every due time of the test's journeys (the limits are a day or three).
fn later() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::days(4)
}

const BUDGET: Duration = Duration::from_secs(20);

fn types(messages: &[kyc_local::resources::Received]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            let e: Value = serde_json::from_str(&m.body).expect("event");
            (
                e["subject"].as_str().unwrap_or_default().to_owned(),
                e["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Put received messages back on the queue for the worker (they were drained to be looked at).
async fn resend(stack: &Stack, messages: &[kyc_local::resources::Received]) {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for m in messages {
        sqs.send_message()
            .queue_url(&stack.queue_url)
            .message_body(&m.body)
            .set_message_group_id(m.group_id.clone())
            .set_message_deduplication_id(m.deduplication_id.clone())
            .send()
            .await
            .expect("send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_vkyc_journey_is_reconciled_when_cashfree_knows_more_and_reported_once_when_it_does_not(
) {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    for v in ["sw-a", "sw-b"] {
        let reply = call(&f, ApiRequest::post(VKYC, queued(v)).signed_now().request()).await;
        assert_eq!(reply.status, 200);
    }
    stack.apply_queue(&worker).await;
    let fake = FakeCashfree::default();
    fake.state().known.insert(
        "sw-a".into(),
        ("EXPIRED".into(), Some("VKYC_EXPIRED".into())),
    );
    fake.state().known.insert(
        "sw-b".into(),
        ("PRE_VIDEO_CALL".into(), Some("USER_QUEUED".into())),
    );
    let base = fake.start().await;
    let metrics = Arc::new(Captured::default());
    let s = cashfree_sweeper(&stack, &table, Some(&base))
        .await
        .with_metrics(metrics.clone());

    // Not due yet: nothing read, nothing sent.
    let report = s.run(chrono::Utc::now(), BUDGET).await;
    assert_eq!((report.read, report.stalled, report.reconciled), (0, 0, 0));

    let report = s.run(later(), BUDGET).await;
    assert_eq!(
        report,
        SweepReport {
            read: 2,
            scanned: 2,
            reconciled: 1,
            stalled: 1,
            complete: true,
            ..SweepReport::default()
        }
    );
    assert_eq!(
        fake.state().bad_headers,
        0,
        "x-client-id, x-client-secret, x-api-version sent"
    );
    let sent = stack.messages().await;
    assert_eq!(
        types(&sent),
        [
            ("sw-a".to_owned(), "kyc.journey.reconciled".to_owned()),
            ("sw-b".to_owned(), "kyc.journey.stalled".to_owned())
        ]
    );
    let reconciled: Value = serde_json::from_str(
        &sent
            .iter()
            .find(|m| m.body.contains("reconciled"))
            .expect("one")
            .body,
    )
    .expect("event");
    assert_eq!(reconciled["data"]["auth_scheme"], "cashfree_status_api");
    assert_eq!(reconciled["data"]["provider_status"], "EXPIRED");
    assert!(reconciled["data"]["fetched_at"].is_string());
    assert_eq!(
        reconciled["data"]["payload"]["status"], "EXPIRED",
        "the API's answer"
    );
    let counted = metrics.documents().join("\n");
    assert!(
        counted.contains(r#""StalledJourneys":1"#) && counted.contains(r#""ReconciledJourneys":1"#),
        "{counted}"
    );

    // The worker applies them: the reconciled state closes sw-a (EXPIRED is final), sw-b is off
    // the list until a new event moves it.
    resend(&stack, &sent).await;
    stack.apply_queue(&worker).await;
    let a = stack
        .journey(&table, "cashfree/vkyc#sw-a")
        .await
        .expect("sw-a");
    assert_eq!(a["type"], "kyc.journey.reconciled");
    assert_eq!(a["provider_status"], "EXPIRED");
    assert!(a.contains_key("reconciled_at") && a.contains_key("closed_at"));
    assert!(!a.contains_key("due_at"));
    let b = stack
        .journey(&table, "cashfree/vkyc#sw-b")
        .await
        .expect("sw-b");
    assert!(
        b.contains_key("stalled_at") && b["sweep_shard"] == "stalled",
        "{b:?}"
    );
    assert_eq!(
        b["type"], "kyc.vkyc.call_queued",
        "a stall report changes no state"
    );

    // Reported once: the next run finds nothing.
    let report = s.run(later(), BUDGET).await;
    assert_eq!((report.read, report.stalled, report.reconciled), (0, 0, 0));
    assert!(stack.messages().await.is_empty());

    // What an operator sees: sw-b among the stalled journeys, sw-a closed.
    let (code, out) = kycctl_journey(&table, &["list", "--stalled"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("JOURNEY"), "a header: {out}");
    assert!(
        out.contains("cashfree/vkyc#sw-b") && !out.contains("sw-a"),
        "{out}"
    );
    // The JSON list says nothing it does not know: no `null` count or times, no empty timeline.
    let (code, out) = kycctl_journey(&table, &["--json", "list", "--stalled"]);
    assert_eq!(code, 0, "{out}");
    let stalled: Value = serde_json::from_str(out.trim()).expect("JSON");
    let b = &stalled["journeys"][0];
    assert_eq!(b["pk"], "cashfree/vkyc#sw-b", "{stalled}");
    for absent in ["event_count", "stalled_at", "history"] {
        assert!(b.get(absent).is_none(), "{absent}: {b}");
    }
    let (code, out) = kycctl_journey(
        &table,
        &["--json", "list", "--open", "--source", "cashfree/vkyc"],
    );
    assert_eq!(code, 0, "{out}");
    let open: Value = serde_json::from_str(out.trim()).expect("--json prints JSON");
    assert_eq!(open["journeys"], json!([]), "neither is open");
    let (code, out) = kycctl_journey(&table, &["--json", "show", "cashfree/vkyc", "sw-a"]);
    assert_eq!(code, 0, "{out}");
    let a: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(
        (a["state"].as_str(), a["provider_status"].as_str()),
        (Some("closed"), Some("EXPIRED"))
    );
    let (code, out) = kycctl_journey(&table, &["find", "sw-b"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("cashfree/vkyc#sw-b  stalled") && out.contains("stalled   "),
        "{out}"
    );
    let (code, out) = kycctl_journey(&table, &["show", "cashfree/vkyc", "nobody"]);
    assert_eq!(code, 1, "{out}");

    // A new event moves sw-b; if it stalls again, it is reported again.
    let started = vkyc_body(
        "sw-b",
        "VKYC_USER_CALL_STARTED",
        "IN_VIDEO_CALL",
        "USER_CALL_STARTED",
        "2025-05-22T04:00:00Z",
    );
    assert_eq!(
        call(&f, ApiRequest::post(VKYC, started).signed_now().request())
            .await
            .status,
        200
    );
    stack.apply_queue(&worker).await;
    fake.state().known.insert(
        "sw-b".into(),
        ("IN_VIDEO_CALL".into(), Some("USER_CALL_STARTED".into())),
    );
    let report = s.run(later(), BUDGET).await;
    assert_eq!((report.read, report.stalled), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_started_by_the_application_and_never_called_back_is_reported_and_a_closed_one_never_is(
) {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // The application announces two DigiLocker journeys with the real kycctl...
    for subject in ["dl-silent", "dl-done"] {
        let out = std::process::Command::new(workspace_binary("kycctl"))
            .args([
                "journey",
                "start",
                "--source",
                "hyperverge/digilocker",
                "--subject",
                subject,
                "--expect-within",
                "600",
            ])
            .current_dir(workspace())
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_REGION", "ap-south-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("EVENTS_QUEUE_URL", &stack.queue_url)
            .output()
            .expect("kycctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stack.apply_queue(&worker).await;
    let silent = stack
        .journey(&table, "hyperverge/digilocker#dl-silent")
        .await
        .expect("opened");
    assert_eq!(silent["type"], "kyc.journey.started");
    // ...one of them is called back (DigiLocker's first webhook is its last: it closes).
    let hv = stack.hyperverge(&[]).await;
    let mut done = ApiRequest::post(
        "/webhooks/hyperverge/digilocker",
        r#"{"refId":"dl-done","event":{"name":"digilocker.user.consent.granted","code":"user_granted_consent"},"timeStamp":"2024-01-15T10:30:45.123Z"}"#,
    )
    .query(&format!("token={DIGILOCKER_TOKEN}"));
    done.source_ip = "65.0.82.147".into();
    assert_eq!(call(&hv, done.request()).await.status, 200);
    stack.apply_queue(&worker).await;
    let closed = stack
        .journey(&table, "hyperverge/digilocker#dl-done")
        .await
        .expect("closed");
    assert_eq!(
        closed["type"], "kyc.digilocker.consent_granted",
        "the webhook wins over the start"
    );
    assert!(closed.contains_key("closed_at") && !closed.contains_key("due_at"));

    // HyperVerge: detection only. Ten minutes on, only the silent one is reported.
    let s: Sweeper<DynamoDueJourneys, SqsSink> = Sweeper::new(
        DynamoDueJourneys::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone()),
        StatusApis::none(),
        SqsSink::new(aws_sdk_sqs::Client::new(&sdk), stack.queue_url.clone()),
    );
    let report = s
        .run(chrono::Utc::now() + chrono::Duration::minutes(5), BUDGET)
        .await;
    assert_eq!(report.read, 0, "expect_within not yet passed");
    let report = s
        .run(chrono::Utc::now() + chrono::Duration::minutes(11), BUDGET)
        .await;
    assert_eq!((report.read, report.stalled), (1, 1));
    let sent = stack.messages().await;
    assert_eq!(
        types(&sent),
        [("dl-silent".to_owned(), "kyc.journey.stalled".to_owned())]
    );
    let stalled: Value = serde_json::from_str(&sent[0].body).expect("event");
    assert_eq!(
        stalled["data"]["payload"]["last_type"],
        "kyc.journey.started"
    );
    assert!(stalled["data"]["payload"]["open_for_s"]
        .as_i64()
        .is_some_and(|s| s >= 600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_runs_send_nothing_twice() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    for v in ["ov-1", "ov-2", "ov-3"] {
        assert_eq!(
            call(&f, ApiRequest::post(VKYC, queued(v)).signed_now().request())
                .await
                .status,
            200
        );
    }
    stack.apply_queue(&worker).await;
    let a = cashfree_sweeper(&stack, &table, None).await;
    let b = cashfree_sweeper(&stack, &table, None).await;
    let now = later();
    let (ra, rb) = tokio::join!(a.run(now, BUDGET), b.run(now, BUDGET));
    assert_eq!(ra.stalled + rb.stalled, 6, "each run reports all three");
    let sent = stack.messages().await;
    assert_eq!(
        sent.len(),
        3,
        "the queue holds each report once: {:?}",
        types(&sent)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_status_api_leaves_the_journey_for_the_next_run() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    assert_eq!(
        call(
            &f,
            ApiRequest::post(VKYC, queued("fail-1"))
                .signed_now()
                .request()
        )
        .await
        .status,
        200
    );
    stack.apply_queue(&worker).await;
    let fake = FakeCashfree::default();
    fake.state()
        .known
        .insert("fail-1".into(), ("EXPIRED".into(), None));
    let base = fake.start().await;
    let s = cashfree_sweeper(&stack, &table, Some(&base)).await;
    for mode in [
        Mode::Status(401),
        Mode::Status(429),
        Mode::Status(500),
        Mode::Status(503),
        Mode::NotJson,
        Mode::Hang,
    ] {
        fake.state().mode = Some(mode);
        // A short run: the hanging API is cut off by the run's own budget.
        let report = s.run(later(), Duration::from_secs(4)).await;
        assert_eq!(
            (report.read, report.reconciled, report.stalled, report.left),
            (1, 0, 0, 1),
            "{mode:?}"
        );
        assert!(
            stack.messages().await.is_empty(),
            "{mode:?}: nothing invented"
        );
        assert!(
            stack
                .journey(&table, "cashfree/vkyc#fail-1")
                .await
                .expect("j")
                .contains_key("due_at"),
            "{mode:?}: still due"
        );
    }
    fake.state().mode = Some(Mode::Normal);
    let report = s.run(later(), BUDGET).await;
    assert_eq!(
        (report.reconciled, report.left),
        (1, 0),
        "the next run reconciles it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweepers_cost_does_not_grow_with_closed_journeys() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    use kyc_intake::aws::journey_table::attr as j;
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, _) = stack.journey_worker(&sdk).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let now_ms = chrono::Utc::now().timestamp_millis();
    // 10 000 closed journeys and 100 open ones past their due time.
    let items: Vec<HashMap<String, AttributeValue>> = (0..10_100)
        .map(|i| {
            let mut item: HashMap<String, AttributeValue> = [
                (j::PK.to_owned(), s(&format!("cashfree/vkyc#scale-{i}"))),
                (j::TYPE.to_owned(), s("kyc.vkyc.call_queued")),
                (j::EVENT_ID.to_owned(), s(&format!("e{i}"))),
                (j::TIME.to_owned(), s("2025-05-22T03:55:00Z")),
                (j::EVENT_COUNT.to_owned(), n(1)),
            ]
            .into_iter()
            .collect();
            if i >= 10_000 {
                item.insert(j::SWEEP_SHARD.to_owned(), s("open"));
                item.insert(j::DUE_AT.to_owned(), n(now_ms - 1_000 - i));
            } else {
                item.insert(j::CLOSED_AT.to_owned(), s("2025-05-22T04:00:00Z"));
            }
            item
        })
        .collect();
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        ddb.batch_write_item()
            .request_items(&table, requests)
            .send()
            .await
            .expect("BatchWriteItem");
    }
    let sweeper = cashfree_sweeper(&stack, &table, None).await;
    let report = sweeper
        .run(chrono::Utc::now(), Duration::from_secs(120))
        .await;
    assert!(report.complete);
    assert_eq!(
        (report.read, report.scanned, report.stalled),
        (100, 100, 100),
        "items read per run: the open ones only"
    );
    eprintln!(
        "sweeper with 10 000 closed + 100 open journeys: {} items read, {} reported",
        report.scanned, report.stalled
    );
    assert_eq!(stack.messages().await.len(), 100);
}

/// Deliver a queued VKYC webhook for each subject and let the worker open their journeys.
async fn open_journeys(
    stack: &Stack,
    worker: &kyc_intake::runtime::startup::AwsJourneyWorker,
    ids: &[&str],
) {
    let f = stack.cashfree(&[]).await;
    for v in ids {
        let reply = call(&f, ApiRequest::post(VKYC, queued(v)).signed_now().request()).await;
        assert_eq!(reply.status, 200);
    }
    stack.apply_queue(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_throttled_status_api_reports_nothing_stalled_and_the_next_run_reconciles() {
    for code in [429, 401, 403] {
        let stack = Stack::new(true).await;
        let sdk = local_sdk_config(endpoint()).await;
        let (table, worker) = stack.journey_worker(&sdk).await;
        open_journeys(&stack, &worker, &["th-1", "th-2", "th-3"]).await;
        let fake = FakeCashfree::default();
        for v in ["th-1", "th-2", "th-3"] {
            fake.state()
                .known
                .insert(v.into(), ("EXPIRED".into(), Some("LINK_EXPIRED".into())));
        }
        fake.state().first = Some(code);
        let base = fake.start().await;
        let s = cashfree_sweeper(&stack, &table, Some(&base)).await;
        let report = s.run(later(), BUDGET).await;
        assert_eq!(
            (
                report.stalled,
                report.reconciled,
                report.left,
                report.unavailable
            ),
            (0, 0, 3, 3),
            "{code}: nothing reported stalled because the API could not be asked"
        );
        assert_eq!(fake.state().calls, 1, "{code}: no call after the refusal");
        assert!(stack.messages().await.is_empty());
        let report = s.run(later(), BUDGET).await;
        assert_eq!((report.reconciled, report.left), (3, 0), "{code}");
        assert_eq!(
            types(&stack.messages().await),
            ["th-1", "th-2", "th-3"].map(|v| (v.to_owned(), "kyc.journey.reconciled".to_owned()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_or_broken_answers_never_stop_the_run_reaching_the_journeys_behind_them() {
    let logs = kyc_intake_tests::captured_logs();
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // Due in this order (oldest first): the broken ones first, the good one last.
    let ids = ["hb-big", "hb-fffe", "hb-other", "hb-lower", "hb-good"];
    open_journeys(&stack, &worker, &ids).await;
    let fake = FakeCashfree::default();
    {
        let mut state = fake.state();
        // Over 64 KiB.
        state.raw.insert(
            "hb-big".into(),
            json!({"verification_id": "hb-big", "status": "EXPIRED", "remarks": "x".repeat(70_000)})
                .to_string(),
        );
        // A user's text echoed back with a character SQS refuses: believed, carried as Base64.
        state.raw.insert(
            "hb-fffe".into(),
            json!({"verification_id": "hb-fffe", "reference_id": 9, "status": "EXPIRED", "sub_status": "LINK_EXPIRED", "remarks": "name \u{FFFE} here"})
                .to_string(),
        );
        // Another journey's answer.
        state.raw.insert(
            "hb-other".into(),
            json!({"verification_id": "someone-else", "status": "APPROVED"}).to_string(),
        );
        state.raw.insert(
            "hb-lower".into(),
            json!({"verification_id": "hb-lower", "status": "approved; drop table"}).to_string(),
        );
        state.known.insert(
            "hb-good".into(),
            ("EXPIRED".into(), Some("LINK_EXPIRED".into())),
        );
    }
    // A due item of no known source (a corrupt or foreign item): left, and logged without its key.
    {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        use kyc_intake::aws::journey_table::attr as j;
        aws_sdk_dynamodb::Client::new(&sdk)
            .put_item()
            .table_name(&table)
            .item(j::PK, A::S("nobody/kyc#hb-customer-ref".into()))
            .item(j::TYPE, A::S("kyc.kyc.created".into()))
            .item(j::EVENT_ID, A::S("e-unknown".into()))
            .item(j::TIME, A::S("2025-05-22T03:55:00Z".into()))
            .item(j::SWEEP_SHARD, A::S("open".into()))
            .item(j::DUE_AT, A::N("1".into()))
            .send()
            .await
            .expect("put");
        // And one that is not a due journey at all (no event id, no type): reported, not read as
        // an empty journey.
        aws_sdk_dynamodb::Client::new(&sdk)
            .put_item()
            .table_name(&table)
            .item(j::PK, A::S("cashfree/vkyc#hb-corrupt".into()))
            .item(j::TIME, A::S("2025-05-22T03:55:00Z".into()))
            .item(j::SWEEP_SHARD, A::S("open".into()))
            .item(j::DUE_AT, A::N("2".into()))
            .send()
            .await
            .expect("put");
    }
    let base = fake.start().await;
    for run in 0..2 {
        let s = cashfree_sweeper(&stack, &table, Some(&base)).await;
        let report = s.run(later(), BUDGET).await;
        assert!(report.complete, "run {run}");
        assert_eq!(
            report.invalid, 5,
            "run {run}: too large, another's, not a status word, no known source, corrupt"
        );
        let sent = stack.messages().await;
        if run == 0 {
            assert_eq!(
                types(&sent),
                [
                    ("hb-fffe".to_owned(), "kyc.journey.reconciled".to_owned()),
                    ("hb-good".to_owned(), "kyc.journey.reconciled".to_owned()),
                ]
            );
            let fffe: Value = serde_json::from_str(
                &sent
                    .iter()
                    .find(|m| m.body.contains("hb-fffe"))
                    .expect("sent")
                    .body,
            )
            .expect("event");
            // An answer that could travel only as Base64 is left out whole (its statuses stay).
            assert_eq!(fffe["data"]["payload"], Value::Null);
            assert_eq!(fffe["data"]["withheld"], serde_json::json!([""]));
            assert_eq!(fffe["data"]["provider_status"], "EXPIRED");
        }
    }
    let due: Vec<bool> = {
        let mut v = Vec::new();
        for id in ["hb-big", "hb-other", "hb-lower"] {
            v.push(
                stack
                    .journey(&table, &format!("cashfree/vkyc#{id}"))
                    .await
                    .expect("j")
                    .contains_key("due_at"),
            );
        }
        v
    };
    assert_eq!(
        due,
        [true, true, true],
        "left due, never closed by what was not believed"
    );
    // The logs name journeys by event id, never by the customer reference.
    let sweeper_lines: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("kyc_intake::journeys::sweeper"))
        .map(str::to_owned)
        .collect();
    assert!(
        sweeper_lines.iter().any(|l| l.contains("e-unknown")),
        "named by its event id"
    );
    assert!(
        logs.text().lines().any(|l| l.contains("not a due journey")
            && l.contains(&kyc_intake::journeys::worker::journey_hash(
                "cashfree/vkyc#hb-corrupt"
            ))
            && l.contains("event_id")),
        "the corrupt item is reported by its hash and what it lacks"
    );
    assert!(
        sweeper_lines
            .iter()
            .any(|l| l.contains(&kyc_intake::journeys::worker::journey_hash(
                "cashfree/vkyc#hb-big"
            ))),
        "and by the journey's hash"
    );
    for line in &sweeper_lines {
        assert!(!line.contains("hb-"), "a customer reference logged: {line}");
    }
}

/// `kycctl journey ...` against this stack's journey table; its exit code and output.
fn kycctl_journey(table: &str, args: &[&str]) -> (i32, String) {
    let (global, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| **a == "--json");
    let args: Vec<&str> = global.into_iter().chain(["journey"]).chain(rest).collect();
    kyc_intake_tests::kycctl_local(&args, &[("JOURNEY_TABLE", table)], &[])
}
