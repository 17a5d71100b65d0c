//! Replay from the audit archive, end to end on the local server: webhooks through the real
//! handlers into the queue and the archive, the real `kycctl replay`, the journey worker's real
//! handler. What replay must achieve: events lost downstream are restored (every journey ends as
//! it would have); an event `unrecognized` when it arrived is applied as the type a later mapping
//! gives it; replaying twice, or replaying what the worker already applied, changes no journey.

use kyc_intake::aws::{S3Archive, SqsSink};
use kyc_intake::intake::archive::ArchivedDelivery;
use kyc_intake::intake::attest::salted_sha256_hex;
use kyc_intake::secrets::secret::{Secret, SecretList};
use kyc_intake::sources::cashfree::signature::{CashfreeAuth, Legacy};
use kyc_intake::sources::cashfree::vkyc;
use kyc_intake::sources::{Recognized, Source, SourceSpec};
use kyc_intake::{Pipeline, Settings};
use kyc_intake_tests::{call, endpoint, local_sdk_config, ApiRequest, Stack, CASHFREE_SECRET};
use lambda_idempotency::DynamoDbStore;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) const VKYC: &str = "/webhooks/cashfree/vkyc";

pub(crate) fn vkyc_body(v: &str, event: &str, sub_status: &str, time: &str) -> String {
    format!(
        r#"{{"event_type":"{event}","event_time":"{time}","version":"v1","data":{{"verification_id":"{v}","reference_id":1,"status":"IN_PROGRESS","sub_status":"{sub_status}"}}}}"#
    )
}

/// Two journeys: one queued then completed, one only queued.
pub(crate) fn webhooks() -> Vec<String> {
    vec![
        vkyc_body(
            "rp-1",
            "VKYC_USER_CALL_QUEUED",
            "USER_QUEUED",
            "2025-05-22T03:55:00Z",
        ),
        vkyc_body(
            "rp-1",
            "VKYC_USER_CALL_COMPLETED",
            "CALL_COMPLETED",
            "2025-05-22T04:10:00Z",
        ),
        vkyc_body(
            "rp-2",
            "VKYC_USER_CALL_QUEUED",
            "USER_QUEUED",
            "2025-05-22T03:57:00Z",
        ),
    ]
}

pub(crate) async fn deliver(pipeline: &kyc_intake::runtime::startup::AwsPipeline, body: &str) {
    let reply = call(
        pipeline,
        ApiRequest::post(VKYC, body).signed_now().request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

/// Every journey, without the time the worker wrote it.
async fn journeys(stack: &Stack, table: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    stack
        .scan(table)
        .await
        .into_iter()
        .map(|item| {
            let fields: BTreeMap<String, String> = item
                .iter()
                // When the worker applied it and when it becomes due follow the clock of the run.
                .filter(|(k, _)| !["updated_at", "opened_at", "due_at"].contains(&k.as_str()))
                .map(|(k, v)| {
                    let text = v.as_s().or_else(|_| v.as_n()).cloned().unwrap_or_default();
                    (k.clone(), text)
                })
                .collect();
            (fields["pk"].clone(), fields)
        })
        .collect()
}

/// `kycctl replay` (or any kycctl command) against this stack; its exit code and output.
pub(crate) fn kycctl(stack: &Stack, args: &[&str]) -> (i32, String) {
    kycctl_without(stack, args, &[])
}

/// `kycctl`, with the variables `removed` left out of its environment. It never has a webhook
/// secret: attestations are checked with the archive signing key's public half alone.
pub(crate) fn kycctl_without(stack: &Stack, args: &[&str], removed: &[&str]) -> (i32, String) {
    let replay = stack.replay_env();
    let env = [
        ("ARCHIVE_BUCKET", stack.bucket.as_str()),
        ("ARCHIVE_KEYS_TABLE", stack.keys_table.as_str()),
        ("EVENTS_QUEUE_URL", stack.queue_url.as_str()),
        (
            "ARCHIVE_SIGNING_KEY_ID",
            kyc_local::resources::LOCAL_SIGNING_KEY,
        ),
        (replay[0].0, replay[0].1.as_str()),
        (replay[1].0, replay[1].1.as_str()),
    ];
    let secrets: Vec<String> = kyc_intake::sources::registry::FUNCTIONS
        .iter()
        .flat_map(|f| f.secret_variables().into_iter())
        .flat_map(|v| [(*v).to_owned(), format!("{v}_SECRET_ID")])
        .collect();
    let mut removed: Vec<&str> = removed.to_vec();
    removed.extend(secrets.iter().map(String::as_str));
    kyc_intake_tests::kycctl_local(args, &env, &removed)
}

/// Replay today's (and yesterday's, around midnight UTC) cashfree/vkyc deliveries.
pub(crate) fn replay(stack: &Stack, extra: &[&str]) -> (i32, String) {
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let to = now.format("%Y-%m-%d").to_string();
    let mut args = vec![
        "replay",
        "--source",
        "cashfree/vkyc",
        "--from",
        &from,
        "--to",
        &to,
    ];
    args.extend_from_slice(extra);
    kycctl(stack, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_restores_lost_events_and_replaying_again_or_what_was_applied_changes_nothing() {
    let sdk = local_sdk_config(endpoint()).await;
    // What the journeys should be: the same webhooks, applied as they came.
    let control = Stack::new(true).await;
    let (control_table, control_worker) = control.journey_worker(&sdk).await;
    let f = control.cashfree(&[]).await;
    for body in webhooks() {
        deliver(&f, &body).await;
    }
    control.apply_queue(&control_worker).await;
    let expected = journeys(&control, &control_table).await;
    assert_eq!(expected.len(), 2);
    assert_eq!(expected["cashfree/vkyc#rp-1"]["event_count"], "2");

    // Lost downstream: the queue purged before the worker ran.
    let stack = Stack::new(true).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    for body in webhooks() {
        deliver(&f, &body).await;
    }
    assert_eq!(stack.messages().await.len(), 3, "purged");
    stack.apply_queue(&worker).await;
    assert!(journeys(&stack, &table).await.is_empty());

    let (code, out) = replay(&stack, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read 3, sent 3, refused 0, failed 0"), "{out}");
    let replayed = stack.messages().await;
    assert_eq!(replayed.len(), 3);
    // The run's own trace, printed: every replayed event carries it.
    let trace = out
        .split("(trace ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the replay's trace id");
    for m in &replayed {
        let event: Value = serde_json::from_str(&m.body).expect("event");
        let header = m.trace_header.as_deref().expect("AWSTraceHeader");
        assert!(header.starts_with(&format!("Root={trace};")), "{header}");
        let digits: String = trace.split('-').skip(1).collect();
        assert!(
            event["traceparent"]
                .as_str()
                .is_some_and(|t| t.starts_with(&format!("00-{digits}-"))),
            "{event}"
        );
        let id = event["kycreplay"].as_str().expect("the replay id");
        assert!(m.attributes.iter().any(|(k, v)| k == "replay" && v == id));
        assert_eq!(
            m.deduplication_id.as_deref(),
            Some(format!("{}:replay:{id}", event["id"].as_str().unwrap_or_default()).as_str())
        );
        let group = format!(
            "cashfree/vkyc#{}",
            event["subject"].as_str().unwrap_or_default()
        );
        assert_eq!(
            m.group_id.as_deref(),
            Some(group.as_str()),
            "the intake's group"
        );
    }
    // Put them back for the worker (drained above to look at them).
    resend(&stack, &replayed).await;
    stack.apply_queue(&worker).await;
    assert_eq!(
        journeys(&stack, &table).await,
        expected,
        "as it would have been"
    );
    let claims_before = stack.items().await.len();

    // Replayed twice: nothing changes.
    let (code, out) = replay(&stack, &[]);
    assert_eq!(code, 0, "{out}");
    stack.apply_queue(&worker).await;
    assert_eq!(journeys(&stack, &table).await, expected, "replayed twice");
    // The intake's own idempotency records were never touched: only the worker's claims exist
    // beside the intake's three.
    assert_eq!(stack.items().await.len(), claims_before);

    // Replaying what the worker already applied changes nothing either.
    let (code, out) = replay(&control, &[]);
    assert_eq!(code, 0, "{out}");
    control.apply_queue(&control_worker).await;
    assert_eq!(journeys(&control, &control_table).await, expected);
}

/// Send received messages to the queue again, as they were.
async fn resend(stack: &Stack, messages: &[kyc_local::resources::Received]) {
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for m in messages {
        let mut request = sqs
            .send_message()
            .queue_url(&stack.queue_url)
            .message_body(&m.body);
        if let Some(g) = &m.group_id {
            request = request.message_group_id(g);
        }
        if let Some(d) = &m.deduplication_id {
            request = request.message_deduplication_id(d);
        }
        request.send().await.expect("send");
    }
}

/// Cashfree's VKYC mapping before `VKYC_USER_CALL_COMPLETED` was known: such an event arrives as
/// `kyc.vkyc.unrecognized` (a test-only stand-in for a mapping that changed later).
fn old_recognize(v: &Value) -> Option<Recognized> {
    if v["event_type"] == "VKYC_USER_CALL_COMPLETED" {
        return None;
    }
    (vkyc::SOURCE.recognize)(v)
}

static OLD_VKYC: SourceSpec = SourceSpec {
    recognize: old_recognize,
    ..vkyc::SOURCE
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_unrecognized_when_it_arrived_is_applied_as_the_type_the_mapping_gives_it_now() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let auth = CashfreeAuth::new(
        SecretList::new(vec![Secret::new(CASHFREE_SECRET)]),
        86_400,
        Legacy::Off,
    );
    let old = Pipeline::new(
        vec![Source::new(&OLD_VKYC, auth)],
        DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), stack.table.clone()),
        std::sync::Arc::new(SqsSink::new(
            aws_sdk_sqs::Client::new(&sdk),
            stack.queue_url.clone(),
        )),
        Settings {
            ttl_secs: 3_600,
            max_body_bytes: 262_144,
        },
    )
    .with_archive(
        Arc::new(S3Archive::new(
            S3Archive::client(&sdk),
            stack.bucket.clone(),
        )),
        stack.attestor(kyc_local::resources::LOCAL_SIGNING_KEY),
    );
    let completed = vkyc_body(
        "rp-new",
        "VKYC_USER_CALL_COMPLETED",
        "CALL_COMPLETED",
        "2025-05-22T04:10:00Z",
    );
    deliver(&old, &completed).await;
    stack.apply_queue(&worker).await;
    assert!(
        journeys(&stack, &table).await.is_empty(),
        "unrecognized: not stored"
    );

    let (code, out) = replay(&stack, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("kyc.vkyc.unrecognized -> kyc.vkyc.call_completed"),
        "{out}"
    );
    assert!(out.contains("read 1, sent 0, refused 0, failed 0"), "{out}");
    assert!(stack.messages().await.is_empty(), "a dry run sends nothing");

    let (code, out) = replay(&stack, &["--type", "kyc.vkyc.call_completed"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read 1, sent 1, refused 0, failed 0"), "{out}");
    stack.apply_queue(&worker).await;
    let after = journeys(&stack, &table).await;
    let j = &after["cashfree/vkyc#rp-new"];
    assert_eq!(j["type"], "kyc.vkyc.call_completed");
    assert_eq!(j["event_count"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kycctl_lists_and_shows_the_archived_deliveries() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let mut ids = Vec::new();
    for body in webhooks() {
        let reply = call(&f, ApiRequest::post(VKYC, body).signed_now().request()).await;
        ids.push(reply.id());
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (code, out) = kycctl(
        &stack,
        &[
            "archive",
            "list",
            "--source",
            "cashfree/vkyc",
            "--from",
            &today,
            "--to",
            &today,
        ],
    );
    assert_eq!(code, 0, "{out}");
    for id in &ids {
        assert!(out.contains(id.as_str()), "{id}: {out}");
    }
    assert!(
        out.contains("kyc.vkyc.call_completed") && out.contains("3 deliveries"),
        "{out}"
    );
    let (code, out) = kycctl(&stack, &["--json", "archive", "show", &ids[1]]);
    assert_eq!(code, 0, "{out}");
    let shown: Value = serde_json::from_str(out.trim()).expect("--json prints JSON");
    assert_eq!(shown["event_id"], ids[1].as_str());
    assert_eq!(shown["event"]["type"], "kyc.vkyc.call_completed");
    let (code, out) = kycctl(
        &stack,
        &["archive", "show", "00000000", "--source", "cashfree/vkyc"],
    );
    assert_eq!(code, 1, "not there: {out}");
    let (code, out) = kycctl(&stack, &["archive", "list", "--source", "nobody/kyc"]);
    assert_eq!(code, 2, "no such source: {out}");
}

/// Put `bytes` at `key` in the stack's archive, as anyone with `s3:PutObject` could (no
/// If-None-Match: moto evaluates no bucket policy, the template's drift test proves S3 would
/// refuse this).
async fn plant(stack: &Stack, key: &str, bytes: Vec<u8>) {
    S3Archive::client(&stack.sdk)
        .put_object()
        .bucket(&stack.bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .expect("PutObject");
}

/// The salt of the forged objects: any 32 bytes will do.
const SALT: [u8; 32] = [7; 32];

/// An archived delivery of `body` to cashfree/vkyc at `received_at`, as the intake would have
/// written it (its salted digests in clear) but without an attestation, and its key.
fn forged(body: &str, received_at: chrono::DateTime<chrono::Utc>) -> (String, ArchivedDelivery) {
    let event = kyc_intake::intake::normalize::normalize(
        &vkyc::SOURCE,
        body.as_bytes(),
        received_at,
        kyc_intake::sources::cashfree::HEADER_HMAC,
    )
    .expect("normalize");
    let key = kyc_intake::intake::archive::key("cashfree/vkyc", received_at, &event.id);
    let object = serde_json::json!({
        "event_id": event.id,
        "source": "cashfree/vkyc",
        "received_at": received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "auth_scheme": "cashfree_header_hmac",
        "request": {
            "path": VKYC,
            "source_ip": "52.66.25.127",
            "headers": {},
            "body_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body),
        },
        "event": serde_json::from_str::<Value>(&event.body).expect("event"),
        "body_sha256": salted_sha256_hex(&SALT, body.as_bytes()),
        "event_sha256": salted_sha256_hex(&SALT, event.body.as_bytes()),
        "salt": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, SALT),
    });
    let delivery = serde_json::from_str(&object.to_string()).expect("a delivery");
    (key, delivery)
}

fn bytes(d: &ArchivedDelivery) -> Vec<u8> {
    d.to_json().expect("JSON")
}

fn id_of(key: &str) -> &str {
    key.rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".json"))
        .expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_trust_only_what_a_webhook_function_attested_and_refuse_the_rest_with_the_reason() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    // Two genuine deliveries.
    let genuine = &webhooks()[..2];
    for body in genuine {
        deliver(&f, body).await;
    }
    let genuine_keys: Vec<String> = stack.archived().await.into_keys().collect();
    assert_eq!(genuine_keys.len(), 2);
    let now = chrono::Utc::now();
    let approved = |v: &str| {
        vkyc_body(
            v,
            "VKYC_AUDITOR_REVIEW_COMPLETED",
            "AUDITOR_APPROVED",
            "2025-05-22T04:30:00Z",
        )
    };
    let genuine_object: ArchivedDelivery =
        serde_json::from_str(&stack.opened().await[&genuine_keys[1]].to_string())
            .expect("a delivery");
    let attestation = genuine_object.attestation.clone().expect("attested");

    // Forged: a decision nobody attested.
    let (unattested_key, unattested) = forged(&approved("rp-victim"), now);
    plant(&stack, &unattested_key, bytes(&unattested)).await;
    // A genuine attestation copied onto a forged decision.
    let (copied_key, mut copied) = forged(&approved("rp-victim-2"), now);
    copied.attestation = Some(attestation.clone());
    plant(&stack, &copied_key, bytes(&copied)).await;
    // A genuine object whose body was swapped (its hashes left as they were).
    let mut swapped = genuine_object.clone();
    let (swapped_key, decision) = forged(&approved("rp-victim-3"), now);
    swapped.request.body_base64 = decision.request.body_base64.clone();
    swapped.event_id = id_of(&swapped_key).to_owned();
    plant(&stack, &swapped_key, bytes(&swapped)).await;
    // Attested for real, by an environment certified by another KMS key (another stack's, or one
    // the attacker made): the certificate does not verify with this stack's key.
    let other = format!("alias/kyc-other-{}", std::process::id());
    kyc_local::resources::ensure_signing_key(&stack.sdk, &other)
        .await
        .expect("another key");
    let (foreign_key, mut foreign) = forged(&approved("rp-victim-4"), now);
    foreign.attestation = Some(
        stack
            .attestor(&other)
            .attest(&foreign.attested(&foreign_key))
            .await
            .expect("attested"),
    );
    plant(&stack, &foreign_key, bytes(&foreign)).await;
    // Overwritten: a second version of a genuine key.
    let mut second: ArchivedDelivery =
        serde_json::from_str(&stack.opened().await[&genuine_keys[0]].to_string())
            .expect("a delivery");
    second.request.source_ip = Some("203.0.113.9".to_owned());
    plant(&stack, &genuine_keys[0], bytes(&second)).await;

    let (code, out) = replay(&stack, &["--dry-run"]);
    assert_ne!(code, 0, "refusals are not a clean run: {out}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(id_of(key)))
            .unwrap_or_else(|| panic!("{key} not listed: {out}"))
            .to_owned()
    };
    assert!(
        line(&unattested_key).contains("refused: no attestation"),
        "{out}"
    );
    assert!(
        line(&copied_key).contains("refused: the attestation's signature does not hold"),
        "{out}"
    );
    assert!(
        line(&swapped_key).contains("refused: the body is not the one attested"),
        "{out}"
    );
    assert!(
        line(&foreign_key)
            .contains("refused: the certificate does not verify with the archive signing key"),
        "{out}"
    );
    assert!(
        line(&genuine_keys[0]).contains("refused: tampered: the key has 2 versions"),
        "{out}"
    );
    assert!(
        line(&genuine_keys[1]).contains("attested by cashfree-webhook (certified 20"),
        "{out}"
    );
    assert!(out.contains("read 6, sent 0, refused 5, failed 0"), "{out}");

    // Sent for real: only the genuine, untouched delivery reaches the queue.
    let _ = stack.messages().await;
    let (code, out) = replay(&stack, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("read 6, sent 1, refused 5, failed 0"), "{out}");
    let sent = stack.messages().await;
    assert_eq!(sent.len(), 1);
    let event: Value = serde_json::from_str(&sent[0].body).expect("event");
    assert_eq!(id_of(&genuine_keys[1]), event["id"].as_str().unwrap_or("-"));

    // archive show says the verdict too; archive verify lists every object, exit 1.
    let (_, out) = kycctl(
        &stack,
        &[
            "archive",
            "show",
            id_of(&unattested_key),
            "--source",
            "cashfree/vkyc",
        ],
    );
    assert!(out.contains("verdict: refused: no attestation"), "{out}");
    let (code, out) = kycctl(&stack, &["archive", "verify", "--source", "cashfree/vkyc"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 object attested, 5 not"), "{out}");
    assert!(
        out.contains(&format!(
            "{}  attested by cashfree-webhook",
            genuine_keys[1]
        )),
        "{out}"
    );
    // Without the key, nothing can be checked: said, not guessed.
    let (code, out) = kycctl_without(
        &stack,
        &["archive", "verify", "--source", "cashfree/vkyc"],
        &["ARCHIVE_SIGNING_KEY_ID"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no archive signing key to check attestations with: give --key or set ARCHIVE_SIGNING_KEY_ID"),
        "{out}"
    );
    // With the other key named, this stack's genuine objects are the ones refused.
    let (code, out) = kycctl(
        &stack,
        &[
            "archive",
            "verify",
            "--source",
            "cashfree/vkyc",
            "--key",
            &other,
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{}  refused: the certificate does not verify",
            genuine_keys[1]
        )),
        "{out}"
    );
}

/// After the provider's secret is rotated (the function holds only the new one), every earlier
/// delivery still verifies: the attestation, not the provider's signature, is what readers check,
/// and kycctl holds no webhook secret at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_rotation_changes_no_verdict() {
    let stack = Stack::new(true).await;
    let before = stack.cashfree(&[]).await;
    deliver(&before, &webhooks()[0]).await;
    let rotated = stack
        .cashfree(&[("CASHFREE_CLIENT_SECRETS", "a-brand-new-client-secret-0001")])
        .await;
    let body = webhooks()[1].clone();
    let reply = call(
        &rotated,
        ApiRequest::post(VKYC, body.as_str())
            .signed(
                "a-brand-new-client-secret-0001",
                chrono::Utc::now().timestamp_millis(),
            )
            .request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let (code, out) = replay(&stack, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches("attested by cashfree-webhook").count(),
        2,
        "{out}"
    );
    assert!(out.contains("read 2, sent 0, refused 0, failed 0"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_deliveries_are_found_by_subject_shown_by_a_short_id_and_replayed_across_sources(
) {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let mut ids = Vec::new();
    for body in webhooks() {
        ids.push(
            call(&f, ApiRequest::post(VKYC, body).signed_now().request())
                .await
                .id(),
        );
    }
    let hv = stack.hyperverge(&[]).await;
    let reply = call(
        &hv,
        kyc_intake_tests::sample("hyperverge/results/finish_auto_approved.json"),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let digio = stack
        .function(&kyc_intake::sources::digio::FUNCTION, &[])
        .await;
    let reply = call(&digio, kyc_intake_tests::sample("digio/kyc/approved.json")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let list = |extra: &[&str]| {
        let mut args = vec![
            "archive",
            "list",
            "--source",
            "cashfree/vkyc",
            "--from",
            &yesterday,
            "--to",
            &today,
        ];
        args.extend_from_slice(extra);
        kycctl(&stack, &args)
    };
    let (code, out) = list(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("EVENT ID") && out.contains("SUBJECT"),
        "a header: {out}"
    );
    assert!(
        out.contains("rp-1") && out.contains("rp-2"),
        "the subjects: {out}"
    );
    // One customer's deliveries: rp-1 had two.
    let (code, out) = list(&["--subject", "rp-1", "--json"]);
    assert_eq!(code, 0, "{out}");
    let found: Value = serde_json::from_str(out.trim()).expect("JSON");
    let subjects: Vec<&str> = found["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter_map(|d| d["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["rp-1", "rp-1"]);
    // rp-2 had one, and the count says so in the singular.
    let (code, out) = list(&["--subject", "rp-2"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with("\n1 delivery"), "{out}");
    // Shown by the first 10 hex digits, the body decoded.
    let (code, out) = kycctl(&stack, &["archive", "show", &ids[1][..10]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("body (decoded from body_base64):"), "{out}");
    assert!(out.contains("\"VKYC_USER_CALL_COMPLETED\""), "{out}");
    let (code, _) = kycctl(&stack, &["archive", "show", "abc"]);
    assert_eq!(code, 2, "too short to be unique");
    // Replay over every source when --source is left out.
    let (code, out) = kycctl(
        &stack,
        &["replay", "--from", &yesterday, "--to", &today, "--dry-run"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("read 5,"),
        "three VKYC, one Results and one Digio delivery: {out}"
    );
    assert_eq!(
        out.matches("  attested by ").count(),
        5,
        "every source verifies alike, HyperVerge's token-authenticated delivery too: {out}"
    );
    // An empty range says so and fails.
    let (code, out) = kycctl(
        &stack,
        &[
            "replay",
            "--source",
            "digio/kyc",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--dry-run",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing archived for digio/kyc"), "{out}");
}

/// The `archive-replay` function answers in calls: one stopped by its limit answers `continue`,
/// the next goes on after it, and every call of the request (and a retried one) is the same
/// replay; a token that is not the request's is refused. Over its limits, a request is refused
/// naming the limit, by kycctl before it invokes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_function_answers_in_calls_each_going_on_where_the_last_stopped() {
    use kyc_intake::replay::{Limits, Request};
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    for body in webhooks() {
        deliver(&f, &body).await;
    }
    let sdk = local_sdk_config(endpoint()).await;
    let mut replayer = kyc_intake::runtime::startup::archive_replay(&stack.env(&[]), &sdk)
        .expect("the function's configuration");
    replayer.limits = Limits {
        deliveries: 2,
        ..Limits::default()
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let request = Request {
        source: Some("cashfree/vkyc".into()),
        from: Some(today.clone()),
        to: Some(today),
        dry_run: true,
        ..Request::default()
    };
    let first = replayer.answer(&request, None).await.expect("a first call");
    assert_eq!((first.read, first.deliveries.len()), (2, 2));
    let token = first.continue_after.clone().expect("more to do");
    assert_eq!(token, first.deliveries[1].key);
    let mut next = request.clone();
    next.continue_after = Some(token);
    let second = replayer.answer(&next, None).await.expect("the next call");
    assert_eq!(second.read, 1);
    assert_eq!(second.continue_after, None, "done");
    assert_eq!(first.replay_id, second.replay_id, "one replay");
    let mut keys: Vec<&str> = first
        .deliveries
        .iter()
        .chain(&second.deliveries)
        .map(|d| d.key.as_str())
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), 3, "each delivery once");
    assert!(stack.messages().await.len() == 3, "a dry run sends nothing");
    let retried = replayer
        .answer(&request, None)
        .await
        .expect("a retried call");
    assert_eq!(retried.replay_id, first.replay_id);
    let mut foreign = request.clone();
    foreign.continue_after = Some("deliveries/digio/kyc/2026/01/01/x.json".into());
    let refused = replayer
        .answer(&foreign, None)
        .await
        .expect_err("not its token");
    assert!(
        refused
            .to_string()
            .contains("names no delivery of this request"),
        "{refused}"
    );

    let (code, out) = kycctl(
        &stack,
        &[
            "replay",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--dry-run",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("at most 31 days"), "{out}");
    let (code, out) = kycctl_without(
        &stack,
        &["replay", "--from", "2026-01-01", "--to", "2026-01-02"],
        &["REPLAY_FUNCTION"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("give --function or set REPLAY_FUNCTION"),
        "{out}"
    );
}
