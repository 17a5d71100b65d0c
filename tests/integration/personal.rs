//! Personal data only where it is needed, through the real handlers on the local server: by
//! default no value a source declares personal reaches the queue, `data.withheld` names exactly
//! what was removed and the event is the one `include` makes; with `include` the payload is as
//! received, byte for byte. A payload whose fields are unknown is left out whole, and the
//! archived delivery `archive_key` names still has it. The sweeper's reconciled events withhold
//! their answers the same way.

use base64::Engine;
use kyc_intake::intake::withhold::{self, PersonalData};
use kyc_intake::journeys::completeness;
use kyc_intake::sources::{cashfree, digio, registry, SourceSpec};
use kyc_intake::KycEvent;
use kyc_intake_tests::{expectations, sample_event, ApiRequest, Stack};
use serde_json::{json, Value};

/// Every string at a pointer `declared` matches in `body`, quoted as JSON, that appears nowhere
/// else in it (a Digio access token's `entity_id` is the request's own id): what must not appear
/// in a message that withholds them.
fn declared_strings(body: &Value, declared: &[&str]) -> Vec<String> {
    let mut copy = body.clone();
    let mut strings = Vec::new();
    let removed = withhold::remove(&mut copy, declared);
    let rest = copy.to_string();
    for pointer in removed {
        let mut stack = vec![body.pointer(&pointer).cloned().unwrap_or(Value::Null)];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => strings.push(Value::String(s).to_string()),
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    strings.retain(|s| !rest.contains(s.as_str()));
    strings
}

fn source(name: &str) -> &'static SourceSpec {
    registry::source(name).expect("a source")
}

/// Check one event made under `withhold` against the `raw` body it came from; the number of
/// declared strings it left out.
fn check_withheld(message: &str, raw: &[u8], what: &str) -> usize {
    let event: KycEvent = serde_json::from_str(message).expect("an event");
    let spec = source(&event.source);
    let parsed: Option<Value> = serde_json::from_slice(raw).ok();
    match parsed {
        Some(body) if !event.event_type.ends_with(".unrecognized") => {
            let strings = declared_strings(&body, spec.personal_data);
            for s in &strings {
                assert!(
                    !message.contains(s.as_str()),
                    "{what}: {s} reached the queue"
                );
            }
            let mut minimized = body.clone();
            let removed = withhold::remove(&mut minimized, spec.personal_data);
            assert_eq!(
                event.data.withheld,
                Some(withhold::listed(removed)),
                "{what}: withheld names exactly what was removed"
            );
            let payload: Value = serde_json::from_str(event.data.payload.get()).expect("JSON");
            assert_eq!(payload, minimized, "{what}: the rest of the payload stays");
            strings.len()
        }
        _ => {
            assert_eq!(event.data.payload.get(), "null", "{what}");
            assert_eq!(event.data.withheld, Some(vec![String::new()]), "{what}");
            0
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_no_declared_value_reaches_the_queue_and_include_is_the_payload_as_received() {
    let withholding = Stack::new(true).await;
    let including = Stack::new(true).await;
    let include = [("EVENT_PERSONAL_DATA", "include")];
    let legacy = ("CASHFREE_LEGACY_SIGNATURE", "on");
    let w = withholding.deploy(&[]).await;
    let w_legacy = withholding.deploy(&[legacy]).await;
    let i = including.deploy(&include).await;
    let i_legacy = including.deploy(&[include[0], legacy]).await;

    // Digio's REST fields in a webhook (DIGIO-NOTES.md, §2): Aadhaar and PAN details, a name,
    // a session token; signed as Digio signs.
    let digio_body = json!({
        "entities": ["kyc_request"],
        "payload": {"kyc_request": {
            "id": "KID240514123045123ABCDEFGHJKLMNP", "status": "approval_pending",
            "customer_identifier": "9800000000", "customer_name": "Asha Rao",
            "reference_id": "CUST-PD", "transaction_id": "TXN-PD",
            "actions": [
                {"type": "digilocker", "status": "approved",
                 "details": {"aadhaar": {"name": "Asha Rao", "dob": "01/01/1990", "id_number": "XXXXXXXX1234"}}},
                {"type": "image", "status": "approved",
                 "details": {"pan": {"name": "ASHA RAO", "id_number": "ABCDE1234F"}}}
            ],
            "access_token": {"id": "GWT240514123045123ABCDEFGHJKLMN", "entity_id": "KID240514123045123ABCDEFGHJKLMNP"},
            "created_at": 1715670045000_u64, "updated_at": 1715670095000_u64
        }},
        "created_at": chrono::Utc::now().timestamp_millis(),
        "id": "WHN240514123135902POIUYTREWQAPD1",
        "event": "kyc.request.completed"
    })
    .to_string();
    let digio_request = {
        let secret = registry::local_value(digio::settings::var::WEBHOOK_SECRETS).expect("local");
        let checksum = digio::checksum::sign(secret.as_bytes(), digio_body.as_bytes());
        let mut event: Value =
            serde_json::from_str(&sample_event("digio/kyc/completed.json")).expect("event");
        event["body"] = digio_body.clone().into();
        event["headers"]["x-digio-checksum"] = checksum.into();
        event.to_string()
    };

    let mut cases: Vec<(String, String)> = expectations()
        .into_iter()
        .filter(|(_, want)| want["status"] == 200)
        .map(|(rel, want)| {
            let legacy = want.get("env").is_some();
            (
                format!("{rel}{}", if legacy { " (legacy)" } else { "" }),
                sample_event(&rel),
            )
        })
        .collect();
    cases.push(("a Digio completion with actions".to_owned(), digio_request));

    let (mut left_out, mut sealed_values) = (0, 0);
    for (what, rendered) in &cases {
        let event: Value = serde_json::from_str(rendered).expect("event");
        let raw = if event["isBase64Encoded"] == true {
            base64::engine::general_purpose::STANDARD
                .decode(event["body"].as_str().unwrap_or_default())
                .expect("Base64")
        } else {
            event["body"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec()
        };
        let request = || lambda_http::request::from_str(rendered).expect("a request");
        let (wd, id) = if what.ends_with("(legacy)") {
            (&w_legacy, &i_legacy)
        } else {
            (&w, &i)
        };
        assert_eq!(wd.call(request()).await.status, 200, "{what}");
        assert_eq!(id.call(request()).await.status, 200, "{what}");
        let withheld = withholding.messages().await;
        let included = including.messages().await;
        assert_eq!((withheld.len(), included.len()), (1, 1), "{what}");
        left_out += check_withheld(&withheld[0].body, &raw, what);

        let w_event: KycEvent = serde_json::from_str(&withheld[0].body).expect("event");
        let i_event: KycEvent = serde_json::from_str(&included[0].body).expect("event");
        assert_eq!(
            (&w_event.id, &w_event.subject, &w_event.event_type),
            (&i_event.id, &i_event.subject, &i_event.event_type),
            "{what}: the same event"
        );
        assert_eq!(
            (
                &w_event.data.provider_status,
                &w_event.data.provider_sub_status
            ),
            (
                &i_event.data.provider_status,
                &i_event.data.provider_sub_status
            ),
            "{what}"
        );
        assert_eq!(i_event.data.withheld, None, "{what}");
        if i_event.data.payload_encoding.is_none() {
            let as_received = match std::str::from_utf8(&raw) {
                Ok(text) if serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok() => {
                    text.to_owned()
                }
                Ok(text) => Value::String(text.to_owned()).to_string(),
                Err(_) => unreachable!("a body that is not UTF-8 travels as Base64"),
            };
            assert_eq!(
                i_event.data.payload.get(),
                as_received,
                "{what}: byte for byte"
            );
        }
        // Both name the delivery the archive keeps whole, sealed: none of its personal data is
        // in the object's bytes.
        let key = w_event.data.archive_key.clone().expect("archive_key");
        let object = String::from_utf8_lossy(&withholding.object(&key).await).into_owned();
        if let Ok(body) = serde_json::from_slice::<Value>(&raw) {
            for quoted in declared_strings(&body, source(&w_event.source).personal_data) {
                let bare = quoted.trim_matches('"');
                assert!(
                    bare.len() < 6 || !object.contains(bare),
                    "{what}: {quoted} in clear in the archive"
                );
                sealed_values += 1;
            }
        }
    }
    assert!(sealed_values >= 15, "{sealed_values} values sealed");
    // The samples' names, dates of birth, mobiles, e-mails, Aadhaar and PAN details, tokens.
    assert!(left_out >= 15, "{left_out} declared values left out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payload_is_left_out_whole_and_the_archive_still_has_it() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let bodies: [(&str, Vec<u8>); 2] = [
        (
            "unrecognized",
            br#"{"event_type":"VKYC_SOMETHING_NEW","data":{"verification_id":"pd-1","name":"Asha Rao"}}"#
                .to_vec(),
        ),
        ("Base64 (not UTF-8)", b"\xff\xfe Asha Rao".to_vec()),
    ];
    for (what, body) in bodies {
        let request = ApiRequest::post("/webhooks/cashfree/vkyc", body.clone()).signed_now();
        assert_eq!(deployed.call(request.request()).await.status, 200, "{what}");
        let messages = stack.messages().await;
        assert!(!messages[0].body.contains("Asha"), "{what}");
        let event: KycEvent = serde_json::from_str(&messages[0].body).expect("event");
        assert_eq!(event.data.payload.get(), "null", "{what}");
        assert_eq!(event.data.withheld, Some(vec![String::new()]), "{what}");
        assert_eq!(event.data.payload_encoding, None, "{what}");
        // What a consumer granted the operator's reading does with `archive_key`.
        let key = event.data.archive_key.expect("archive_key");
        let raw = stack.object(&key).await;
        assert!(
            !String::from_utf8_lossy(&raw).contains("Asha"),
            "{what}: sealed in the archive"
        );
        let object = &stack.opened().await[&key];
        assert_eq!(object["event_id"], event.id.as_str());
        let kept = base64::engine::general_purpose::STANDARD
            .decode(object["request"]["body_base64"].as_str().expect("body"))
            .expect("Base64");
        assert_eq!(kept, body, "{what}: the archive keeps it whole");
    }
}

#[test]
fn reconciled_events_withhold_their_answers_declared_fields() {
    // The answers the sweeper's fakes give, with the fields the providers document.
    let answers: [(&'static SourceSpec, Value); 3] = [
        (
            &cashfree::vkyc::SOURCE,
            json!({"verification_id": "v-1", "reference_id": 1, "status": "APPROVED",
                   "sub_status": "AUDITOR_APPROVED", "recording_link": "https://rec.example/v-1.mp4",
                   "vkyc_link": "https://vkyc.cashfree.com/link/abc", "agent_remarks": "Asha looked away",
                   "auditor_remarks": "Asha Rao approved"}),
        ),
        (
            &cashfree::digilocker::SOURCE,
            json!({"verification_id": "d-1", "reference_id": 2, "status": "AUTHENTICATED",
                   "user_details": {"name": "Asha Rao", "dob": "01-01-1990", "gender": "F", "mobile": "9800000000"}}),
        ),
        (
            &digio::kyc::SOURCE,
            json!({"id": "KID1", "status": "approved", "customer_identifier": "asha@example.com",
                   "customer_name": "Asha Rao",
                   "actions": [{"type": "digilocker", "status": "approved", "details": {"aadhaar": {"name": "Asha"}}}],
                   "access_token": {"id": "GWT1"}}),
        ),
    ];
    for (spec, answer) in answers {
        let declared = spec.journey.reconcile.expect("a status API").personal_data;
        let make = |personal_data| {
            completeness::reconciled(
                spec,
                "subject-1",
                ("approved", None),
                (&answer, declared, personal_data),
                kyc_intake::sources::cashfree::STATUS_API_SCHEME,
                chrono::Utc::now(),
            )
            .expect("an event")
        };
        let withheld = make(PersonalData::Withhold);
        let strings = declared_strings(&answer, declared);
        assert!(strings.len() >= 2, "{}", spec.name);
        for s in &strings {
            assert!(!withheld.body.contains(s.as_str()), "{}: {s}", spec.name);
        }
        let event: KycEvent = serde_json::from_str(&withheld.body).expect("event");
        assert!(
            event.data.withheld.is_some_and(|w| !w.is_empty()),
            "{}",
            spec.name
        );
        let included = make(PersonalData::Include);
        assert_eq!(included.id, withheld.id, "{}: the same event", spec.name);
        let event: KycEvent = serde_json::from_str(&included.body).expect("event");
        assert_eq!(
            event.data.payload.get(),
            answer.to_string(),
            "{}",
            spec.name
        );
    }
}
