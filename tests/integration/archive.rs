//! The audit archive on the local server's S3 (versioned, Object Lock, create-only writes as S3
//! enforces them), through the real handlers: each new event's delivery is archived before the
//! 200 with what a regulator needs and none of our secrets; a duplicate is not archived again;
//! an unreachable archive answers 503 and leaves no claim, and the retry archives and sends once.

use base64::Engine;
use kyc_intake::aws::S3Archive;
use kyc_intake::intake::archive::Archive;
use kyc_intake::metrics::Captured;
use kyc_intake_tests::{
    call, ApiRequest, Dead, Stack, CASHFREE_SECRET, DIGILOCKER_TOKEN, RESULTS_TOKEN,
};
use serde_json::Value;
use std::sync::Arc;

const VKYC: &str = "/prod/webhooks/cashfree/vkyc";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"arc-1","status":"PRE_VIDEO_CALL","sub_status":"USER_QUEUED"}}"#;

fn decoded(object: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(
            object["request"]["body_base64"]
                .as_str()
                .expect("body_base64"),
        )
        .expect("Base64")
}

#[tokio::test]
async fn a_new_delivery_is_archived_with_its_proof_and_a_duplicate_is_not_archived_again() {
    let stack = Stack::new(true).await;
    let metrics = Arc::new(Captured::default());
    let f = stack.cashfree(&[]).await.with_metrics(metrics.clone());
    let request = ApiRequest::post(VKYC, BODY)
        .signed_now()
        .header("x-webhook-attempt", "1");
    let reply = call(&f, request.request()).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let id = reply.id();
    let archived = stack.archived().await;
    assert_eq!(archived.len(), 1, "{archived:?}");
    let (key, object) = archived.iter().next().expect("one object");
    let today = chrono::Utc::now().format("%Y/%m/%d");
    assert_eq!(key, &format!("deliveries/cashfree/vkyc/{today}/{id}.json"));
    assert_eq!(object["event_id"], id.as_str());
    assert_eq!(object["source"], "cashfree/vkyc");
    assert_eq!(object["auth_scheme"], "cashfree_header_hmac");
    assert_eq!(object["request"]["path"], VKYC);
    assert_eq!(object["request"]["source_ip"], "52.66.25.127");
    // Sealed: the body and event are under the delivery's own data key, filed under the
    // journey's hash; the raw bytes hold neither, the clear hashes stay.
    assert_eq!(object["request"]["body_base64"], "");
    assert!(object["event"].is_null(), "{object}");
    assert_eq!(object["sealed"]["alg"], "AES-256-GCM");
    let journey = object["journey"].as_str().expect("the journey's hash");
    assert_eq!(
        journey,
        kyc_intake::intake::seal::journey("cashfree/vkyc", Some("arc-1"), &id)
    );
    let raw = String::from_utf8(stack.object(key).await).expect("UTF-8");
    for clear in ["arc-1", "USER_QUEUED", "PRE_VIDEO_CALL"] {
        assert!(!raw.contains(clear), "`{clear}` in clear: {raw}");
    }
    assert_eq!(object["body_sha256"].as_str().map(str::len), Some(64));
    let opened = stack.opened().await;
    let object = &opened[key];
    assert_eq!(
        decoded(object),
        BODY.as_bytes(),
        "the raw body, byte for byte"
    );
    let headers = &object["request"]["headers"];
    let sent_signature = &request
        .headers
        .iter()
        .find(|(k, _)| k == "x-webhook-signature");
    assert_eq!(
        headers["x-webhook-signature"].as_str(),
        sent_signature.map(|(_, v)| v.as_str()),
        "the provider's proof stays"
    );
    assert!(headers["x-webhook-timestamp"].is_string());
    assert_eq!(headers["x-webhook-attempt"], "1");
    // The event exactly as the queue got it.
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    let queued: Value = serde_json::from_str(&messages[0].body).expect("event");
    assert_eq!(object["event"], queued);
    assert_eq!(object["received_at"], queued["data"]["received_at"]);

    // A redelivery (re-signed, next attempt) is a duplicate: nothing more is archived.
    let again = ApiRequest::post(VKYC, BODY)
        .signed_now()
        .header("x-webhook-attempt", "2");
    assert_eq!(call(&f, again.request()).await.body["status"], "duplicate");
    let after = stack.archived().await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[key]["request"]["headers"]["x-webhook-attempt"], "1");
    let counted: Vec<String> = metrics
        .documents()
        .into_iter()
        .filter(|d| d.contains("\"Archived\""))
        .collect();
    assert_eq!(counted.len(), 1, "Archived counted once");
    assert!(counted[0].contains(r#""Source":"cashfree/vkyc""#));
}

#[tokio::test]
async fn no_secret_of_ours_reaches_the_archive() {
    let stack = Stack::new(true).await;
    let hv = stack.hyperverge(&[]).await;
    let digilocker = ApiRequest::post(
        "/webhooks/hyperverge/digilocker",
        r#"{"refId":"arc-dl","event":{"name":"digilocker.user.consent.granted","code":"user_granted_consent"},"timeStamp":"2024-01-15T10:30:45.123Z"}"#,
    )
    .query(&format!("token={DIGILOCKER_TOKEN}"))
    .header("cookie", "session=abc")
    .header("authorization", "Bearer something");
    let mut digilocker = digilocker;
    digilocker.source_ip = "65.0.82.147".into();
    assert_eq!(call(&hv, digilocker.request()).await.status, 200);
    let results = ApiRequest::post(
        "/webhooks/hyperverge/results",
        r#"{"transactionId":"arc-r","applicationStatus":"auto_approved","eventId":"arc-e","eventTime":"2022-08-22T12:48:32.346Z","eventType":"FINISH_TRANSACTION_WEBHOOK"}"#,
    )
    .header("x-webhook-token", RESULTS_TOKEN);
    assert_eq!(call(&hv, results.request()).await.status, 200);
    let archived = stack.archived().await;
    assert_eq!(archived.len(), 2);
    for (key, object) in &archived {
        let text = object.to_string();
        for secret in [
            DIGILOCKER_TOKEN,
            RESULTS_TOKEN,
            CASHFREE_SECRET,
            "session=abc",
            "Bearer",
        ] {
            assert!(!text.contains(secret), "{key} holds `{secret}`: {text}");
        }
        let headers = object["request"]["headers"].as_object().expect("headers");
        for name in ["x-webhook-token", "authorization", "cookie"] {
            assert!(!headers.contains_key(name), "{key}: {name}");
        }
        let path = object["request"]["path"].as_str().expect("path");
        assert!(!path.contains('?') && path.starts_with("/webhooks/hyperverge/"));
    }
}

#[tokio::test]
async fn an_unreachable_archive_answers_503_leaves_no_claim_and_the_retry_archives_and_sends_once()
{
    let stack = Stack::new(true).await;
    let down = stack.cashfree_with_dead(Dead::S3).await;
    let reply = call(&down, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!((reply.status, reply.error()), (503, "unavailable"));
    assert!(stack.items().await.is_empty(), "no live claim");
    assert!(stack.archived().await.is_empty());
    // The provider retries once the archive is back.
    let up = stack.cashfree(&[]).await;
    let reply = call(&up, ApiRequest::post(VKYC, BODY).signed_now().request()).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    assert_eq!(stack.archived().await.len(), 1);
    // The first attempt's send went through before the archive failed; FIFO deduplication on
    // the event id keeps the queue at one message.
    assert_eq!(stack.messages().await.len(), 1);
}

#[tokio::test]
async fn the_local_archive_is_create_only_as_s3_is() {
    let stack = Stack::new(true).await;
    let archive = S3Archive::new(S3Archive::client(&stack.sdk), stack.bucket.clone());
    let key = "deliveries/cashfree/vkyc/2026/11/30/same.json";
    archive
        .put_new(key, br#"{"first":true}"#.to_vec())
        .await
        .expect("first write");
    archive
        .put_new(key, br#"{"second":true}"#.to_vec())
        .await
        .expect("an existing object counts as written");
    let archived = stack.archived().await;
    assert_eq!(
        archived[key],
        serde_json::json!({"first": true}),
        "never overwritten"
    );
}

/// docs/archive.md shows the auditor's check as docs/verify_object.py is, and the script, given
/// an object, its key and the KMS public key (nothing else), says who attested a genuine delivery
/// and fails on one changed in any line.
#[tokio::test]
async fn an_auditor_checks_an_object_with_the_kms_public_key_and_nothing_else() {
    let workspace = kyc_intake_tests::workspace();
    let script = std::fs::read_to_string(workspace.join("docs/verify_object.py"))
        .expect("docs/verify_object.py");
    let doc = std::fs::read_to_string(workspace.join("docs/archive.md")).expect("archive.md");
    assert!(
        doc.contains(&format!("```python\n{script}```")),
        "docs/archive.md shows docs/verify_object.py as it is"
    );

    let stack = Stack::new(true).await;
    // One delivery sealed (an erasable archive), one in clear (`ArchiveErasable=false`).
    let sealing = stack.cashfree(&[]).await;
    let clear = stack
        .cashfree(&[("ARCHIVE_KEYS_TABLE", ""), ("ARCHIVE_KMS_KEY_ID", "")])
        .await;
    let clear_body = BODY.replace("arc-1", "arc-3");
    for (f, body) in [(&sealing, BODY), (&clear, clear_body.as_str())] {
        let reply = call(f, ApiRequest::post(VKYC, body).signed_now().request()).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let public_key = aws_sdk_kms::Client::new(&stack.sdk)
        .get_public_key()
        .key_id(kyc_local::resources::LOCAL_SIGNING_KEY)
        .send()
        .await
        .expect("GetPublicKey");
    let dir = std::env::temp_dir().join(format!("kyc-auditor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let der = dir.join("public_key.der");
    std::fs::write(
        &der,
        public_key.public_key().expect("a public key").as_ref(),
    )
    .expect("write");
    // `aws s3api list-object-versions` as the script reads it: `versions` of the key.
    let listing = |key: &str, versions: usize| {
        let entry = serde_json::json!({"Key": key, "VersionId": "v", "IsLatest": true});
        serde_json::json!({ "Versions": vec![entry; versions] }).to_string()
    };
    let check_with = |key: &str, object: &[u8], der: &std::path::Path, versions: usize| {
        let path = dir.join("object.json");
        std::fs::write(&path, object).expect("write");
        let listed = dir.join("versions.json");
        std::fs::write(&listed, listing(key, versions)).expect("write");
        let out = std::process::Command::new(kyc_intake_tests::moto_python())
            .arg(workspace.join("docs/verify_object.py"))
            .args([key, &path.to_string_lossy(), &der.to_string_lossy()])
            .arg(&listed)
            .output()
            .expect("run docs/verify_object.py");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let check = |key: &str, object: &[u8]| check_with(key, object, &der, 1);
    let archived = stack.archived().await;
    assert_eq!(archived.len(), 2, "{archived:?}");
    for (key, object) in &archived {
        let sealed = object.get("sealed").is_some();
        let bytes = stack.object(key).await;
        let (ok, out) = check(key, &bytes);
        assert!(ok, "{out}");
        assert!(
            !check_with(key, &bytes, &der, 2).0,
            "two versions of a key: tampered"
        );
        assert!(
            out.starts_with("attested by cashfree-webhook (certified 20"),
            "{out}"
        );
        assert_eq!(out.contains("body and event sealed"), sealed, "{out}");
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
        let body_hash = object["body_sha256"].as_str().expect("body_sha256");
        let mut changes = vec![
            (
                "\"source_ip\":\"52.66.25.127\"".to_owned(),
                "\"source_ip\":\"52.66.25.128\"".to_owned(),
            ),
            (
                "\"auth_scheme\":\"cashfree_header_hmac\"".to_owned(),
                "\"auth_scheme\":\"none\"".to_owned(),
            ),
            // A sealed object is held by its clear hash, which the signature covers.
            (body_hash.to_owned(), "0".repeat(64)),
        ];
        if !sealed {
            changes.push(("arc-3".to_owned(), "arc-2".to_owned()));
        }
        for (from, to) in changes {
            assert!(text.contains(&from), "{from}: {text}");
            let (ok, _) = check(key, text.replacen(&from, &to, 1).as_bytes());
            assert!(!ok, "{key}: {from} changed must fail the check");
        }
    }
    // An object attested in version 1, as that version's code wrote it.
    let fixture = workspace.join("shared/tests/fixtures/archive-v1");
    let key = std::fs::read_to_string(fixture.join("key")).expect("key");
    let object = std::fs::read(fixture.join("object.json")).expect("object");
    let (ok, out) = check_with(key.trim(), &object, &fixture.join("public_key.der"), 1);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("attested by kyc-CashfreeFunction-1 (certified 20")
            && out.contains(", attestation v1)"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
