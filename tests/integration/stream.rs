//! The journey stream on the local server: webhooks in through the real handlers, the journey
//! worker's real handler fed by the local event source, its publishes to an SNS FIFO topic, and
//! the queues subscribed to it, as a consumer reads them.

use crate::journey::{drain, enqueue_in_groups, events, vkyc, webhook, MOTO_SENDER};
use kyc_intake::journeys::senders::Senders;
use kyc_intake::journeys::stream::{COUNT_EXTENSION, EFFECT_EXTENSION, STATE_EXTENSION};
use kyc_intake_tests::{endpoint, local_sdk_config, Stack};
use kyc_local::event_source::EventSource;
use kyc_local::resources::{self, Received};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Journey `journey`'s user queued: a webhook through the intake, then the worker (publishing).
async fn queued_through_the_worker(
    stack: &Stack,
    deployed: &kyc_intake_tests::Deployed,
    worker: &kyc_intake::runtime::startup::AwsJourneyWorker,
    journey: &str,
) {
    let body = vkyc(
        journey,
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    );
    webhook(deployed, &body).await;
    let sdk = local_sdk_config(endpoint()).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    drain(&source, worker).await;
}

/// A queue subscribed to the stack's stream topic (filtered to `types` unless empty).
async fn subscriber(stack: &Stack, topic: &str, name: &str, types: &[&str]) -> String {
    let name = format!("{}-{name}.fifo", stack.table);
    resources::subscribe_queue(&stack.sdk, topic, &name, types)
        .await
        .expect("subscribed queue")
}

async fn read(stack: &Stack, queue: &str) -> Vec<(Received, Value)> {
    resources::drain(&stack.sdk, queue)
        .await
        .expect("drain")
        .into_iter()
        .map(|m| {
            let v = serde_json::from_str(&m.body).expect("a JSON event");
            (m, v)
        })
        .collect()
}

fn attribute<'a>(m: &'a Received, name: &str) -> Option<&'a str> {
    m.attributes
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The event ids of each message group, in the order the queue gave them.
fn by_group(messages: &[(Received, Value)]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (m, v) in messages {
        groups
            .entry(m.group_id.clone().expect("a FIFO group"))
            .or_default()
            .push(v["id"].as_str().expect("id").to_owned());
    }
    groups
}

/// Three journeys, twelve events: `a` ends approved with one event older than the one before it,
/// `b` stays open, `c`'s link expires. Each entry: (journey, provider event, sub-status, time).
const RUN: [(&str, &str, &str, &str); 12] = [
    (
        "a",
        "VKYC_USER_LINK_GENERATED",
        "LINK_GENERATED",
        "2025-05-22T03:50:00Z",
    ),
    (
        "b",
        "VKYC_USER_LINK_GENERATED",
        "LINK_GENERATED",
        "2025-05-22T03:50:00Z",
    ),
    (
        "c",
        "VKYC_USER_LINK_GENERATED",
        "LINK_GENERATED",
        "2025-05-22T03:50:00Z",
    ),
    (
        "a",
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    ),
    (
        "b",
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    ),
    (
        "a",
        "VKYC_USER_CALL_COMPLETED",
        "CALL_COMPLETED",
        "2025-05-22T04:10:00Z",
    ),
    (
        "c",
        "VKYC_USER_AADHAAR_VERIFIED",
        "AADHAAR_VERIFIED",
        "2025-05-22T03:56:00Z",
    ),
    // Older than a's call_completed, delivered after it.
    (
        "a",
        "VKYC_USER_CALL_STARTED",
        "CALL_STARTED",
        "2025-05-22T04:00:00Z",
    ),
    (
        "b",
        "VKYC_USER_CALL_STARTED",
        "CALL_STARTED",
        "2025-05-22T04:00:00Z",
    ),
    (
        "c",
        "VKYC_USER_LINK_EXPIRED",
        "LINK_EXPIRED",
        "2025-05-22T05:00:00Z",
    ),
    (
        "b",
        "VKYC_USER_CALL_COMPLETED",
        "CALL_COMPLETED",
        "2025-05-22T04:10:00Z",
    ),
    (
        "a",
        "VKYC_AUDITOR_REVIEW_COMPLETED",
        "AUDITOR_APPROVED",
        "2025-05-22T04:30:00Z",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscribed_queue_gets_every_accepted_event_once_in_journey_order() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    // Every message here comes from moto's one sender id: it may send Cashfree's events only.
    let senders = Senders::parse(&format!("{MOTO_SENDER}=cashfree/*")).expect("valid");
    let (table, worker, topic) = stack.journey_worker_with_stream(&sdk, Some(senders)).await;
    let everything = subscriber(&stack, &topic, "app", &[]).await;
    let decisions = subscriber(
        &stack,
        &topic,
        "decisions",
        &[
            "kyc.vkyc.call_completed",
            "kyc.vkyc.auditor_review_completed",
        ],
    )
    .await;

    // Each webhook delivered twice (the intake forwards it once).
    let mut sent: Vec<(String, String)> = Vec::new();
    for (journey, event, sub_status, time) in RUN {
        let body = vkyc(&format!("s-{journey}"), event, sub_status, time);
        webhook(&deployed, &body).await;
        let reply = deployed
            .call(
                kyc_intake_tests::ApiRequest::post("/webhooks/cashfree/vkyc", body.as_str())
                    .signed(
                        kyc_intake_tests::CASHFREE_SECRET,
                        chrono::Utc::now().timestamp_millis(),
                    )
                    .request(),
            )
            .await;
        assert_eq!(reply.body["status"], "duplicate");
        sent.push((
            format!("cashfree/vkyc#s-{journey}"),
            reply.body["id"].as_str().expect("id").to_owned(),
        ));
    }
    // A record its sender may not send (HyperVerge's, from Cashfree's sender) and a record that
    // is no event, each in a group of its own.
    let hyperverge = events(&[vkyc(
        "s-x",
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    )])
    .await
    .remove(0)
    .replace("\"cashfree/vkyc\"", "\"hyperverge/results\"");
    enqueue_in_groups(
        &stack,
        &[
            ("refused", hyperverge),
            ("poison", "not an event".to_owned()),
        ],
    )
    .await;

    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polls = drain(&source, &worker).await;
    let failed: Vec<&String> = polls.iter().flat_map(|p| &p.failed).collect();
    assert_eq!(failed.len(), 1, "only the poison record fails: {polls:?}");

    let all = read(&stack, &everything).await;
    let ids: Vec<&str> = all
        .iter()
        .map(|(_, v)| v["id"].as_str().expect("id"))
        .collect();
    assert_eq!(all.len(), 12, "every accepted event, once: {ids:?}");
    for (m, v) in &all {
        assert_eq!(m.deduplication_id.as_deref(), v["id"].as_str());
        assert_eq!(attribute(m, "type"), v["type"].as_str());
        assert_eq!(attribute(m, "source"), Some("cashfree/vkyc"));
        assert_eq!(attribute(m, "journey_state"), v[STATE_EXTENSION].as_str());
        assert!(v.get("subject").is_some(), "the CloudEvent as received");
    }
    // In journey order: each journey's events in the order they were applied.
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (journey, id) in &sent {
        expected
            .entry(journey.clone())
            .or_default()
            .push(id.clone());
    }
    assert_eq!(by_group(&all), expected);
    // The journey's state, the event's effect and the count, on each message.
    let said: HashMap<&str, (&str, &str, u64)> = all
        .iter()
        .map(|(_, v)| {
            (
                v["id"].as_str().expect("id"),
                (
                    v[STATE_EXTENSION].as_str().expect("state"),
                    v[EFFECT_EXTENSION].as_str().expect("effect"),
                    v[COUNT_EXTENSION].as_u64().expect("count"),
                ),
            )
        })
        .collect();
    let a: Vec<(&str, &str, u64)> = expected["cashfree/vkyc#s-a"]
        .iter()
        .map(|id| said[id.as_str()])
        .collect();
    assert_eq!(
        a,
        [
            ("open", "applied", 1),
            ("open", "applied", 2),
            ("open", "applied", 3),
            ("open", "older", 4),
            ("closed", "applied", 5),
        ]
    );
    // As a consumer in another language reads them: the schema, the CloudEvents SDK.
    let bodies: Vec<String> = all.iter().map(|(m, _)| m.body.clone()).collect();
    let (valid, why) = crate::other_languages::validate(&bodies);
    assert!(valid, "{why}");
    let c = &expected["cashfree/vkyc#s-c"];
    assert_eq!(said[c[2].as_str()], ("closed", "applied", 3));
    let journey = stack
        .journey(&table, "cashfree/vkyc#s-a")
        .await
        .expect("journey a");
    assert_eq!(journey["event_count"], "5");

    // The filtered queue: its two types only, still in journey order.
    let filtered = read(&stack, &decisions).await;
    let types: Vec<&str> = filtered
        .iter()
        .map(|(_, v)| v["type"].as_str().expect("type"))
        .collect();
    assert_eq!(filtered.len(), 3, "{types:?}");
    assert!(types.iter().all(|t| [
        "kyc.vkyc.call_completed",
        "kyc.vkyc.auditor_review_completed"
    ]
    .contains(t)));
    let a_decisions = &by_group(&filtered)["cashfree/vkyc#s-a"];
    assert_eq!(
        a_decisions,
        &[
            expected["cashfree/vkyc#s-a"][2].clone(),
            expected["cashfree/vkyc#s-a"][4].clone()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_leaves_the_record_on_the_queue_and_its_next_delivery_publishes_it() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker, topic) = stack.journey_worker_with_stream(&sdk, None).await;
    let app = subscriber(&stack, &topic, "app", &[]).await;
    // The same worker, its topic unreachable (nothing listens where SNS should be).
    let dead = kyc_intake_tests::dead_sdk_config().await;
    let (_, unreachable, _) = stack.journey_worker_with_stream(&sdk, None).await;
    let unreachable = unreachable.with_stream(Some(
        kyc_intake::aws::SnsStream::new(aws_sdk_sns::Client::new(&dead), &topic)
            .deferring(aws_sdk_sqs::Client::new(&sdk), &stack.queue_url),
    ));

    let body = vkyc(
        "pf-1",
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    );
    webhook(&deployed, &body).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let batch = source.receive(0).await.expect("receive").expect("a batch");
    let deadline = chrono::Utc::now().timestamp_millis() + 10_000;
    let response = kyc_intake::runtime::lambda::worker_batch(&unreachable, &batch, deadline).await;
    assert_eq!(response.batch_item_failures.len(), 1, "not acknowledged");
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    source.settle(&batch, &failed).await.expect("settle");
    let journey = stack
        .journey(&table, "cashfree/vkyc#pf-1")
        .await
        .expect("applied");
    assert_eq!(journey["event_count"], "1");
    assert!(read(&stack, &app).await.is_empty(), "nothing published");
    // Deferred: not delivered again at once.
    assert!(
        source.receive(0).await.expect("receive").is_none(),
        "the record waits out its back-off"
    );

    // Its back-off over, the next delivery is published, from what the claim kept.
    let receipt = batch.records[0].receipt_handle.clone().expect("receipt");
    aws_sdk_sqs::Client::new(&sdk)
        .change_message_visibility()
        .queue_url(&stack.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await
        .expect("the back-off over");
    let polls = drain(&source, &worker).await;
    assert!(polls.iter().all(|p| p.failed.is_empty()), "{polls:?}");
    let published = read(&stack, &app).await;
    assert_eq!(published.len(), 1);
    let v = &published[0].1;
    assert_eq!(v[EFFECT_EXTENSION], "repeat");
    assert_eq!(v[STATE_EXTENSION], "open");
    assert_eq!(v[COUNT_EXTENSION], 1);
    let journey = stack
        .journey(&table, "cashfree/vkyc#pf-1")
        .await
        .expect("journey");
    assert_eq!(journey["event_count"], "1", "applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_journey_holds_back_only_its_own_stream() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (_, worker, topic) = stack.journey_worker_with_stream(&sdk, None).await;
    let app = subscriber(&stack, &topic, "app", &[]).await;
    let time = |m: u32| format!("2025-05-22T04:{m:02}:00Z");
    let bodies = events(&[
        vkyc("px", "VKYC_USER_CALL_QUEUED", "USER_QUEUED", &time(1)),
        vkyc("py", "VKYC_USER_CALL_QUEUED", "USER_QUEUED", &time(2)),
        vkyc("px", "VKYC_USER_CALL_STARTED", "CALL_STARTED", &time(3)),
        vkyc("py", "VKYC_USER_CALL_STARTED", "CALL_STARTED", &time(4)),
    ])
    .await;
    enqueue_in_groups(
        &stack,
        &[
            ("x", bodies[0].clone()),
            ("x", "not an event".to_owned()),
            ("y", bodies[1].clone()),
            ("x", bodies[2].clone()),
            ("y", bodies[3].clone()),
        ],
    )
    .await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    drain(&source, &worker).await;
    let published = read(&stack, &app).await;
    let subjects: Vec<&str> = published
        .iter()
        .map(|(_, v)| v["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(
        subjects.iter().filter(|s| **s == "py").count(),
        2,
        "the other journey's stream goes on: {subjects:?}"
    );
    assert_eq!(
        subjects.iter().filter(|s| **s == "px").count(),
        1,
        "the poison journey's later event waits behind it: {subjects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_poll_on_the_application_queue_delays_no_webhook_and_no_kycctl_command() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (_, worker, topic) = stack.journey_worker_with_stream(&sdk, None).await;
    let app = subscriber(&stack, &topic, "app", &[]).await;
    // Built before the clock starts (the first use builds the workspace's binaries).
    kyc_intake_tests::workspace_binary("kycctl");
    let started = std::time::Instant::now();
    let consumer = {
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let app = app.clone();
        tokio::spawn(async move {
            sqs.receive_message()
                .queue_url(app)
                .wait_time_seconds(20)
                .send()
                .await
                .expect("long poll")
                .messages()
                .len()
        })
    };
    // While the consumer waits: a webhook, the worker, and a kycctl command.
    queued_through_the_worker(&stack, &deployed, &worker, "lp-1").await;
    let (code, out) = tokio::task::spawn_blocking({
        let env = [
            ("EVENTS_QUEUE_URL", stack.queue_url.clone()),
            (
                "EVENTS_DLQ_URL",
                stack.queue_url.replace(".fifo", "-dlq.fifo"),
            ),
        ];
        move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            kyc_intake_tests::kycctl_local(&["dlq", "list"], &env, &[])
        }
    })
    .await
    .expect("kycctl");
    assert_eq!(code, 0, "{out}");
    let served = started.elapsed();
    // The long poll was answered by the event the webhook made, not at the end of its wait.
    assert_eq!(consumer.await.expect("consumer"), 1);
    assert!(
        served < std::time::Duration::from_secs(10),
        "the webhook, the worker and kycctl waited for the long poll: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_consumer_runs_as_written_on_the_application_queue() {
    let consumer = std::fs::read_to_string(kyc_intake_tests::workspace().join("docs/consumer.py"))
        .expect("docs/consumer.py");
    let readme = std::fs::read_to_string(kyc_intake_tests::workspace().join("README.md"))
        .expect("README.md");
    assert!(
        readme.contains(&format!("```python\n{consumer}```")),
        "the README shows docs/consumer.py as it is"
    );
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (_, worker, topic) = stack.journey_worker_with_stream(&sdk, None).await;
    let app = subscriber(&stack, &topic, "app", &[]).await;
    // As `make consume` runs it (through tools/local/consume.py: short polls, a quiet Ctrl-C):
    // the local stack's variables, nothing else.
    let mut child = std::process::Command::new(kyc_intake_tests::moto_python())
        .arg(kyc_intake_tests::workspace().join("tools/local/consume.py"))
        .arg(kyc_intake_tests::workspace().join("docs/consumer.py"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_DEFAULT_REGION", kyc_local::defaults::REGION)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("APPLICATION_QUEUE_URL", &app)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run docs/consumer.py");
    let stdout = child.stdout.take().expect("stdout");
    let printed = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("rc-1"))
    });
    queued_through_the_worker(&stack, &deployed, &worker, "rc-1").await;
    let line = tokio::time::timeout(std::time::Duration::from_secs(60), printed).await;
    // Ctrl-C: one line, no traceback, a clean exit.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("the consumer ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        line.expect("the consumer printed within a minute")
            .expect("reader"),
        Some("kyc.vkyc.call_queued rc-1 open".to_owned())
    );
    assert!(interrupted, "SIGINT sent");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
    assert!(stderr.contains("consumer stopped"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}
