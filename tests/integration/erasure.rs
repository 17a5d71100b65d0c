//! Erasure without breaking the lock: each archived delivery sealed under a data key of its own,
//! `kycctl erase` deleting one journey's keys with an erasure record, and every reader (show,
//! replay, verify) reporting the journey's deliveries erased while the objects, their locks,
//! their attestations and every other journey stay as they were. `--reapply` erases again what
//! a restore of the keys table brought back. (The console's side is in `console.rs`.)

use crate::replay::{deliver, kycctl, kycctl_without, replay, vkyc_body, webhooks};
use aws_sdk_dynamodb::types::AttributeValue;
use kyc_intake::aws::{keys_attr, JourneyReader};
use kyc_intake::intake::seal;
use kyc_intake_tests::{endpoint, local_sdk_config, Stack};
use std::collections::HashMap;

const SOURCE: &str = "cashfree/vkyc";

/// The event id of the archived object at `key`.
fn id_of(key: &str) -> String {
    key.rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".json"))
        .expect("an event id")
        .to_owned()
}

/// The archived deliveries of `subject`'s journey: their event ids.
async fn deliveries_of(stack: &Stack, subject: &str) -> Vec<String> {
    let journey = seal::journey(SOURCE, Some(subject), "");
    stack
        .archived()
        .await
        .into_iter()
        .filter(|(_, o)| o["journey"] == journey.as_str())
        .map(|(k, _)| id_of(&k))
        .collect()
}

fn show(stack: &Stack, id: &str) -> (i32, String) {
    kycctl(stack, &["archive", "show", id, "--source", SOURCE])
}

async fn key_items(stack: &Stack) -> Vec<HashMap<String, AttributeValue>> {
    stack.scan(&stack.keys_table).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_journey_reads_as_erased_everywhere_and_nothing_else_changes() {
    let sdk = local_sdk_config(endpoint()).await;
    let stack = Stack::new(true).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    // rp-1: queued, then completed; rp-2: queued.
    for body in webhooks() {
        deliver(&f, &body).await;
    }
    stack.apply_queue(&worker).await;
    let erased_ids = deliveries_of(&stack, "rp-1").await;
    let kept_ids = deliveries_of(&stack, "rp-2").await;
    assert_eq!((erased_ids.len(), kept_ids.len()), (2, 1));
    // Filed under the journey's hash: no item names the customer's reference.
    let before = key_items(&stack).await;
    assert_eq!(before.len(), 3, "one key item per delivery");
    for item in &before {
        assert!(!format!("{item:?}").contains("rp-1"), "{item:?}");
    }
    let (code, out) = show(&stack, &erased_ids[0]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("verdict: attested by cashfree-webhook"),
        "{out}"
    );
    assert!(
        out.contains("\"verification_id\":\"rp-1\""),
        "opened: {out}"
    );

    let erase = |extra: &[&str]| {
        let mut args = vec![
            "erase",
            "--source",
            SOURCE,
            "--subject",
            "rp-1",
            "--reason",
            "DPDP request 2026-117: never became a customer",
            "--journey-table",
            &table,
        ];
        args.extend_from_slice(extra);
        kycctl(&stack, &args)
    };
    let (code, out) = erase(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 deliveries' keys deleted"), "{out}");
    assert!(out.contains("2 archive links dropped"), "{out}");
    assert!(out.contains("ArchiveKeysRecoveryDays"), "{out}");

    // Every reader: erased, with the date; the attestation still holds.
    for id in &erased_ids {
        let (code, out) = show(&stack, id);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("verdict: erased 20"), "{out}");
        assert!(out.contains("(attested by cashfree-webhook"), "{out}");
        assert!(out.contains("body and event: erased 20"), "{out}");
        assert!(!out.contains("rp-1"), "nothing of it readable: {out}");
    }
    let (code, out) = kycctl(&stack, &["--json", "archive", "show", &erased_ids[0]]);
    assert_eq!(code, 0, "{out}");
    let shown: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert!(shown["erased"]
        .as_str()
        .is_some_and(|at| at.starts_with("20")));
    let (code, out) = show(&stack, &kept_ids[0]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"verification_id\":\"rp-2\""),
        "another journey reads: {out}"
    );
    let (code, out) = replay(&stack, &["--dry-run"]);
    assert_eq!(code, 0, "an erased delivery is no refusal: {out}");
    assert!(
        out.contains("read 3, sent 0, refused 0, failed 0, skipped 2 erased"),
        "{out}"
    );
    for id in &erased_ids {
        let line = out
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .expect("listed");
        assert!(line.contains("erased 20"), "{line}");
    }
    let (code, out) = kycctl(&stack, &["archive", "verify", "--source", SOURCE]);
    assert_eq!(code, 0, "every object still attested: {out}");
    assert!(out.contains("3 objects attested"), "{out}");

    // The journey keeps its statuses and drops its links to what nobody can read.
    let reader = JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let journey = reader
        .get(SOURCE, "rp-1")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(journey.history.len(), 2);
    assert_eq!(
        journey.provider_sub_status.as_deref(),
        Some("CALL_COMPLETED")
    );
    assert!(journey.history.iter().all(|e| e.archive_key.is_none()));
    let other = reader
        .get(SOURCE, "rp-2")
        .await
        .expect("read")
        .expect("kept");
    assert!(other.history.iter().all(|e| e.archive_key.is_some()));

    // Twice: nothing more happens.
    let (code, out) = erase(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("was already erased"), "{out}");
    let records = |items: &[HashMap<String, AttributeValue>]| {
        items
            .iter()
            .filter(|i| {
                i[keys_attr::SK]
                    .as_s()
                    .is_ok_and(|sk| sk.starts_with(seal::ERASURE_PREFIX))
            })
            .count()
    };
    assert_eq!(records(&key_items(&stack).await), 1);

    // A later delivery of the journey has a key of its own: erasure applied to what was before.
    deliver(
        &f,
        &vkyc_body(
            "rp-1",
            "VKYC_AUDITOR_REVIEW_COMPLETED",
            "AUDITOR_APPROVED",
            "2025-05-23T04:30:00Z",
        ),
    )
    .await;
    let later: Vec<String> = deliveries_of(&stack, "rp-1")
        .await
        .into_iter()
        .filter(|id| !erased_ids.contains(id))
        .collect();
    assert_eq!(later.len(), 1);
    let (code, out) = show(&stack, &later[0]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("AUDITOR_APPROVED"), "{out}");

    // A restore of the table brings the deleted keys back; --reapply deletes them again and
    // leaves the later delivery's key alone.
    let erased_journey = seal::partition(SOURCE, &seal::journey(SOURCE, Some("rp-1"), ""));
    for item in before.into_iter().filter(|i| {
        i[keys_attr::PK]
            .as_s()
            .is_ok_and(|pk| *pk == erased_journey)
    }) {
        stack
            .ddb
            .put_item()
            .table_name(&stack.keys_table)
            .set_item(Some(item))
            .send()
            .await
            .expect("restored");
    }
    let (_, out) = show(&stack, &erased_ids[0]);
    assert!(out.contains("rp-1"), "the restore brought it back: {out}");
    let (code, out) = kycctl(&stack, &["erase", "--reapply"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 erasure reapplied: 2 keys deleted again"),
        "{out}"
    );
    for id in &erased_ids {
        let (_, out) = show(&stack, id);
        assert!(out.contains("verdict: erased 20"), "{out}");
    }
    let (_, out) = show(&stack, &later[0]);
    assert!(out.contains("AUDITOR_APPROVED"), "{out}");
    let (code, out) = kycctl(&stack, &["erase", "--reapply"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 keys deleted again"), "{out}");

    // Off (ArchiveErasable=false: no keys table), erase refuses and says why.
    let (code, out) = kycctl_without(
        &stack,
        &[
            "erase",
            "--source",
            SOURCE,
            "--subject",
            "rp-2",
            "--reason",
            "x",
        ],
        &["ARCHIVE_KEYS_TABLE"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("erasure is off"), "{out}");
    assert!(out.contains("ArchiveErasable=false"), "{out}");
    // A reason is required, and says something.
    let (code, out) = kycctl(
        &stack,
        &[
            "erase",
            "--source",
            SOURCE,
            "--subject",
            "rp-2",
            "--reason",
            " ",
        ],
    );
    assert_eq!(code, 2, "{out}");
    let (_, out) = show(&stack, &kept_ids[0]);
    assert!(
        out.contains("rp-2"),
        "a refused erasure erases nothing: {out}"
    );
}

/// A delivery the intake did not recognize has no journey reference: it is a journey of its own,
/// erased by its event id, and the other deliveries stay readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_without_a_journey_reference_is_erased_by_its_event_id() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    deliver(
        &f,
        r#"{"event_type":"SOMETHING_NEW","data":{"note":"no reference"}}"#,
    )
    .await;
    deliver(&f, &webhooks()[0]).await;
    let archived = stack.archived().await;
    let lone: Vec<String> = archived
        .iter()
        .filter(|(_, o)| {
            o["journey"].as_str().is_some_and(|j| {
                j.len() == 64
                    && archived
                        .iter()
                        .any(|(k, _)| seal::journey(SOURCE, None, &id_of(k)) == j)
            })
        })
        .map(|(k, _)| id_of(k))
        .collect();
    assert_eq!(lone.len(), 1, "one subject-less delivery: {archived:?}");
    let others = deliveries_of(&stack, "rp-1").await;
    assert_eq!(others.len(), 1);

    let erase = |extra: &[&str]| {
        let mut args = vec![
            "erase",
            "--source",
            SOURCE,
            "--reason",
            "DPDP request 2026-118",
        ];
        args.extend_from_slice(extra);
        kycctl(&stack, &args)
    };
    let (code, out) = erase(&["--event", &lone[0][..16]]);
    assert_eq!(code, 2, "a prefix is not enough: {out}");
    assert!(out.contains("64 hex digits"), "{out}");
    let (code, out) = erase(&["--event", &lone[0], "--subject", "rp-1"]);
    assert_eq!(code, 2, "one or the other: {out}");
    let (code, out) = erase(&["--event", &lone[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 delivery's key deleted"), "{out}");
    assert!(!out.contains("journey item was left alone"), "{out}");
    let (code, out) = show(&stack, &lone[0]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: erased"), "{out}");
    assert!(!out.contains("no reference"), "{out}");
    let (code, out) = show(&stack, &others[0]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"verification_id\":\"rp-1\""), "{out}");
}

/// An erasure that finds nothing is not an erasure: a reference in another letter case, or one
/// never archived, writes nothing and exits 1 naming what it looked for; the subject is trimmed
/// as every other flag is, so a stray space still finds the journey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erase_that_finds_nothing_writes_nothing_and_a_padded_subject_is_trimmed() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    for body in webhooks() {
        deliver(&f, &body).await;
    }
    let before = key_items(&stack).await;
    assert_eq!(before.len(), 3);
    let erase = |what: &[&str]| {
        let mut args = vec![
            "erase",
            "--source",
            SOURCE,
            "--reason",
            "DPDP request 2026-118",
        ];
        args.extend_from_slice(what);
        kycctl(&stack, &args)
    };
    for what in [
        &["--subject", "RP-1"][..],
        &["--subject", "rp-404"][..],
        &["--event", &"ab".repeat(32)][..],
    ] {
        let (code, out) = erase(what);
        assert_eq!(code, 1, "{what:?}: {out}");
        assert!(out.contains("nothing erased"), "{out}");
        assert!(out.contains(what[1]), "names what it looked for: {out}");
        assert!(!out.contains("deleted"), "{out}");
        assert_eq!(
            key_items(&stack).await,
            before,
            "{what:?}: no erasure record, no key deleted"
        );
    }
    let (code, out) = erase(&["--subject", " rp-1 "]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 deliveries' keys deleted"), "{out}");
    // The list marks the erased deliveries, never a bare `-`.
    let (code, out) = kycctl(&stack, &["archive", "list", "--source", SOURCE]);
    assert_eq!(code, 0, "{out}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.len() > 64 && !l.starts_with("EVENT"))
        .collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        rows.iter().filter(|r| r.contains("erased 20")).count(),
        2,
        "{out}"
    );
    assert!(rows.iter().all(|r| !r.contains("  -  ")), "{out}");
    for id in deliveries_of(&stack, "rp-2").await {
        let (_, out) = show(&stack, &id);
        assert!(
            out.contains("rp-2"),
            "the other journey stays readable: {out}"
        );
    }
}

/// A key item as the table held it before it was partitioned by source (`pk` the journey hash
/// alone): moved there from where the webhook kept it.
async fn to_the_old_form(stack: &Stack, partition: &str, journey: &str) {
    for mut item in key_items(stack)
        .await
        .into_iter()
        .filter(|i| i[keys_attr::PK].as_s().is_ok_and(|pk| pk == partition))
    {
        let sk = item[keys_attr::SK].clone();
        item.insert(
            keys_attr::PK.to_owned(),
            AttributeValue::S(journey.to_owned()),
        );
        stack
            .ddb
            .put_item()
            .table_name(&stack.keys_table)
            .set_item(Some(item))
            .send()
            .await
            .expect("the old form");
        stack
            .ddb
            .delete_item()
            .table_name(&stack.keys_table)
            .key(keys_attr::PK, AttributeValue::S(partition.to_owned()))
            .key(keys_attr::SK, sk)
            .send()
            .await
            .expect("moved");
    }
}

/// Keys are filed under their source (`<source>#<journey hash>`), where each webhook role alone
/// may write; an erasure leaves a tombstone in place of each key, so a provider's retry of an
/// erased delivery (its idempotency record long gone) is answered and archived as any delivery
/// yet keys nothing: it reads as erased. Items of the old form (the hash alone) are still read
/// and erased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_an_erasure_keys_nothing_and_keys_of_the_old_form_are_read_and_erased() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    let first = vkyc_body(
        "rp-9",
        "VKYC_USER_CALL_QUEUED",
        "USER_QUEUED",
        "2025-05-22T03:55:00Z",
    );
    deliver(&f, &first).await;
    let journey = seal::journey(SOURCE, Some("rp-9"), "");
    let partition = seal::partition(SOURCE, &journey);
    let items = key_items(&stack).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0][keys_attr::PK].as_s().ok(), Some(&partition));
    let ids = deliveries_of(&stack, "rp-9").await;
    let erase_rp9 = |reason: &str| {
        let args = [
            "erase",
            "--source",
            SOURCE,
            "--subject",
            "rp-9",
            "--reason",
            reason,
        ];
        kycctl(&stack, &args)
    };

    // The old form: read as before.
    to_the_old_form(&stack, &partition, &journey).await;
    let (code, out) = show(&stack, &ids[0]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"verification_id\":\"rp-9\""),
        "opened: {out}"
    );
    // And erased: the old item gone, a tombstone under the partition.
    let (code, out) = erase_rp9("DPDP request");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 delivery's key deleted"), "{out}");
    let after = key_items(&stack).await;
    assert!(
        after
            .iter()
            .all(|i| i[keys_attr::PK].as_s().ok() == Some(&partition)),
        "nothing left in the old form: {after:?}"
    );
    assert!(
        after.iter().all(|i| !i.contains_key(keys_attr::KEYS)),
        "no key left: {after:?}"
    );
    let (_, out) = show(&stack, &ids[0]);
    assert!(out.contains("verdict: erased 20"), "{out}");

    // The provider retries the erased delivery after its idempotency record expired: a fresh
    // idempotency table is what the intake then sees. Answered, archived, and keyed by nothing.
    let fresh = format!("{}-after-ttl", stack.table);
    kyc_local::resources::ensure_table(&stack.sdk, &fresh)
        .await
        .expect("table");
    let f = stack
        .cashfree(&[("IDEMPOTENCY_TABLE", fresh.as_str())])
        .await;
    deliver(&f, &first).await;
    let tombstone = key_items(&stack)
        .await
        .into_iter()
        .find(|i| i[keys_attr::SK].as_s().ok() == Some(&ids[0]))
        .expect("its tombstone");
    assert!(
        !tombstone.contains_key(keys_attr::KEYS),
        "never keyed again: {tombstone:?}"
    );
    assert!(tombstone.contains_key(keys_attr::ERASED_AT));
    for id in deliveries_of(&stack, "rp-9").await {
        let (_, out) = show(&stack, &id);
        assert!(out.contains("verdict: erased 20"), "{out}");
        assert!(!out.contains("rp-9"), "{out}");
    }
    // Erasing again: already erased, nothing written.
    let (code, out) = erase_rp9("again");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("was already erased"), "{out}");
}
