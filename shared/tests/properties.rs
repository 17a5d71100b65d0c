//! Property tests and bounded fuzzing of every provider parser and of signature verification.
//! `cargo test` runs `PROPTEST_CASES` cases per property (default 1024); `make fuzz` runs a
//! million in release mode. Each property prints how many inputs it ran.

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use kyc_intake::config;
use kyc_intake::intake::memory::MemorySink;
use kyc_intake::intake::normalize::{self, sqs_accepts};
use kyc_intake::intake::settings::QUEUE_MAX_MESSAGE_BYTES;
use kyc_intake::secrets::secret::{Secret, SecretList};
use kyc_intake::sources::cashfree::signature::{
    sign, CashfreeAuth, Legacy, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_intake::sources::{cashfree, hyperverge, Source};
use kyc_intake::{Inbound, Outcome, Pipeline, Refusal};
use lambda_idempotency::MemoryStore;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The registry's local values, which `all_sources` configures.
fn local(var: &str) -> &'static str {
    registry::local_value(var).expect("a local value")
}

fn normalize(source: &Source, body: &[u8], now: chrono::DateTime<Utc>) -> normalize::Normalized {
    normalize::normalize(
        source.spec,
        body,
        now,
        kyc_intake::sources::cashfree::HEADER_HMAC,
    )
    .expect("normalize never fails to serialize")
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn report(name: &str, runs: u32) {
    eprintln!("property {name}: {runs} cases");
}

fn all_sources() -> Vec<Source> {
    let local: Vec<(&str, &str)> = registry::local_env(FUNCTIONS).into_iter().collect();
    let env = config::fake_env(&local);
    registry::configure_all(FUNCTIONS, &env).expect("valid configuration")
}

/// Arbitrary JSON, biased towards the providers' field names and values.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("event_type".to_owned()),
        Just("event_time".to_owned()),
        Just("data".to_owned()),
        Just("verification_id".to_owned()),
        Just("status".to_owned()),
        Just("sub_status".to_owned()),
        Just("refId".to_owned()),
        Just("event".to_owned()),
        Just("name".to_owned()),
        Just("code".to_owned()),
        Just("transactionId".to_owned()),
        Just("applicationStatus".to_owned()),
        Just("eventType".to_owned()),
        Just("eventId".to_owned()),
        Just("eventTime".to_owned()),
        Just("signature".to_owned()),
        ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("VKYC_USER_CALL_QUEUED"),
            Just("DIGILOCKER_VERIFICATION_SUCCESS"),
            Just("user_cancelled"),
            Just("auto_approved"),
            Just("FINISH_TRANSACTION_WEBHOOK"),
            Just("2025-05-22T03:51:14Z"),
            Just("2023-01-30T1722.102Z"),
            Just(""),
        ]
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A recognized payload of one of the sources (by name), with arbitrary field values.
fn recognized_payload() -> impl Strategy<Value = (&'static str, Value)> {
    let text = "[A-Za-z0-9_-]{1,16}";
    (0usize..5, text, text, text, text).prop_map(|(i, a, b, c, d)| match i {
        0 => ("cashfree/digilocker", json!({"event_type": "DIGILOCKER_VERIFICATION_SUCCESS", "event_time": b, "version": "v1",
                    "data": {"verification_id": a, "status": c, "reference_id": 1, "user_details": {"name": d}}})),
        1 => ("cashfree/vkyc", json!({"signature": d, "event_type": "VKYC_USER_CALL_SCHEDULED", "event_time": b, "version": "v1",
                    "data": {"verification_id": a, "status": c, "sub_status": d, "meeting_schedule": null}})),
        2 => ("hyperverge/digilocker", json!({"refId": a, "event": {"name": b, "code": "user_denied_consent"}, "timeStamp": c})),
        3 => ("hyperverge/results", json!({"transactionId": a, "applicationStatus": "needs_review", "eventTime": b,
                    "eventType": "FINISH_TRANSACTION_WEBHOOK", "eventVersion": c, "eventId": d})),
        _ => ("digio/kyc", json!({"entities": ["kyc_request"], "payload": {"kyc_request": {"id": a, "status": c,
                    "customer_identifier": d}}, "created_at": 1_715_670_371_000_i64, "id": format!("WHN{b}"),
                    "event": "kyc.request.approved"})),
    })
}

/// The configured source named `name`.
fn by_name<'a>(sources: &'a [Source], name: &str) -> &'a Source {
    sources
        .iter()
        .find(|s| s.spec.name == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

/// The same JSON with its object keys in another order (seeded).
fn reorder(v: &Value, seed: u64) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            let n = entries.len().max(1) as u64;
            entries.rotate_left((seed % n) as usize);
            if seed & 1 == 1 {
                entries.reverse();
            }
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), reorder(v, seed / 3 + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| reorder(i, seed)).collect()),
        other => other.clone(),
    }
}

#[test]
fn parsing_and_normalizing_never_panic_on_arbitrary_bytes() {
    let sources = all_sources();
    proptest!(config(), |(body in prop::collection::vec(any::<u8>(), 0..512))| {
        for s in &sources {
            let e = normalize(s, &body, Utc::now());
            prop_assert_eq!(e.id.len(), 64);
            prop_assert!(e.group_id().len() <= 128);
            prop_assert!(sqs_accepts(&e.body), "SQS accepts the message");
            prop_assert!(e.body.len() < QUEUE_MAX_MESSAGE_BYTES);
            let event = serde_json::from_str::<kyc_intake::KycEvent>(&e.body).expect("valid event");
            if std::str::from_utf8(&body).is_err() {
                prop_assert_eq!(event.base64_payload(), Some(body.clone()), "a non-UTF-8 body is kept as Base64");
            }
        }
    });
    report("normalize(arbitrary bytes) x every source", cases());
}

#[test]
fn parsing_and_normalizing_never_panic_on_arbitrary_json() {
    let sources = all_sources();
    proptest!(config(), |(v in json_value())| {
        let body = serde_json::to_vec(&v).expect("serializes");
        for s in &sources {
            let e = normalize(s, &body, Utc::now());
            let event: kyc_intake::KycEvent = serde_json::from_str(&e.body).expect("valid event");
            prop_assert!(sqs_accepts(&e.body), "SQS accepts the message");
            let kept = event.base64_payload().unwrap_or_else(|| event.data.payload.get().as_bytes().to_vec());
            prop_assert_eq!(kept.as_slice(), body.as_slice(), "payload kept byte for byte");
            prop_assert!(e.group_id().bytes().all(|b| b.is_ascii_graphic()));
        }
    });
    report("normalize(arbitrary JSON) x every source", cases());
}

#[test]
fn event_id_is_stable_under_key_order_and_whitespace() {
    let sources = all_sources();
    proptest!(config(), |((name, v) in recognized_payload(), seed in any::<u64>())| {
        let source = by_name(&sources, name);
        let compact = serde_json::to_vec(&v).expect("ser");
        let shuffled = serde_json::to_vec_pretty(&reorder(&v, seed)).expect("ser");
        let a = normalize(source, &compact, Utc::now());
        let b = normalize(source, &shuffled, Utc::now());
        prop_assert!(!a.event_type.ends_with("unrecognized"), "{}", a.event_type);
        prop_assert_eq!(&a.id, &b.id);
        prop_assert_eq!(a.subject, b.subject);
        // Unrecognized JSON is canonicalized too.
        let mut broken = v.clone();
        broken["unexpected"] = json!({"z": 1, "a": [1, 2]});
        if let Some(o) = broken.as_object_mut() {
            o.remove("eventType");
            o.remove("event_type");
            o.remove("refId");
            o.remove("event");
        }
        let c = normalize(source, &serde_json::to_vec(&broken).expect("ser"), Utc::now());
        let d = normalize(source, &serde_json::to_vec_pretty(&reorder(&broken, seed)).expect("ser"), Utc::now());
        prop_assert!(c.event_type.ends_with("unrecognized"));
        prop_assert_eq!(c.id, d.id);
    });
    report("event id stable under key order and whitespace", cases());
}

#[test]
fn signature_verification_never_panics_and_never_accepts_a_forgery() {
    let auth = CashfreeAuth::new(
        SecretList::new(vec![Secret::new(local(
            cashfree::settings::var::CLIENT_SECRETS,
        ))]),
        86_400,
        Legacy::On,
    );
    let now = Utc
        .timestamp_millis_opt(1_746_427_759_733)
        .single()
        .expect("time");
    let header_value = prop_oneof![
        "[ -~]{0,64}",
        Just("1746427759733".to_owned()),
        Just("pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=".to_owned()),
        "[A-Za-z0-9+/]{43}=",
    ];
    let headers = prop::collection::vec(
        (
            prop_oneof![
                Just(SIGNATURE_HEADER),
                Just(TIMESTAMP_HEADER),
                Just("x-webhook-attempt")
            ],
            header_value,
        ),
        0..4,
    );
    proptest!(config(), |(pairs in headers, body in prop::collection::vec(any::<u8>(), 0..256))| {
        let mut h = HeaderMap::new();
        for (k, v) in &pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append(HeaderName::from_static(k), v);
            }
        }
        prop_assert!(auth.verify(&h, &body, now).is_err(), "accepted without the secret");
    });
    proptest!(config(), |(body in prop::collection::vec(any::<u8>(), 0..256), ts in 1_746_341_359_733i64..1_746_428_059_733)| {
        let ts = ts.to_string();
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(&ts).expect("digits"));
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sign(local(cashfree::settings::var::CLIENT_SECRETS).as_bytes(), &ts, &body)).expect("b64"));
        prop_assert_eq!(auth.verify(&h, &body, now), Ok(kyc_intake::sources::cashfree::HEADER_HMAC));
        let mut tampered = body.clone();
        tampered.push(b' ');
        prop_assert!(auth.verify(&h, &tampered, now).is_err());
    });
    report(
        "signature verification: forgeries and round trips",
        2 * cases(),
    );
}

#[test]
fn the_pipeline_never_panics_and_refusals_write_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let sink = std::sync::Arc::new(MemorySink::default());
    let pipeline = Pipeline::new(
        all_sources(),
        MemoryStore::default(),
        sink.clone(),
        kyc_intake::Settings {
            ttl_secs: 3600 * 48,
            max_body_bytes: 300,
        },
    );
    let path = prop_oneof![
        Just("/webhooks/cashfree/vkyc"),
        Just("/prod/webhooks/cashfree/digilocker"),
        Just("/webhooks/hyperverge/digilocker"),
        Just("/webhooks/hyperverge/results"),
        Just("/"),
        Just(""),
    ];
    let ip = prop_oneof![
        Just(None),
        Just(Some("65.0.82.147")),
        Just(Some("10.0.0.1")),
        Just(Some("::1"))
    ];
    let query = prop_oneof![
        Just(None),
        "[ -~]{0,24}".prop_map(Some),
        Just(Some(format!(
            "token={}",
            local(hyperverge::settings::var::DIGILOCKER_URL_TOKENS)
        ))),
        Just(Some(format!(
            "token={}&token=x",
            local(hyperverge::settings::var::DIGILOCKER_URL_TOKENS)
        ))),
    ];
    proptest!(config(), |(path in path, ip in ip, body in prop::collection::vec(any::<u8>(), 0..400), token in prop::option::of("[ -~]{0,8}"), query in query)| {
        let mut headers = HeaderMap::new();
        if let Some(t) = token.and_then(|t| HeaderValue::from_str(&t).ok()) {
            headers.insert("x-webhook-token", t);
        }
        let req = Inbound {
            method: &Method::POST,
            path,
            query: query.as_deref(),
            headers: &headers,
            body: &body,
            source_ip: ip.and_then(|i| i.parse().ok()),
            deadline_ms: None,
            trace: None,
        };
        let messages_before = sink.messages().len();
        let records_before = pipeline.store().records().len();
        let out = rt.block_on(pipeline.process(&req, Utc::now()));
        match out {
            Outcome::Refused(r) => {
                prop_assert_eq!(sink.messages().len(), messages_before);
                prop_assert_eq!(pipeline.store().records().len(), records_before);
                if body.len() > 300 {
                    prop_assert!(matches!(r, Refusal::PayloadTooLarge | Refusal::UnknownRoute));
                }
            }
            Outcome::Accepted { .. } | Outcome::Duplicate { .. } => {
                // No route can be passed without a secret: the DigiLocker route only from an
                // allowed IP with the URL token.
                prop_assert!(path.ends_with("/hyperverge/digilocker") && ip == Some("65.0.82.147"));
                prop_assert_eq!(query, Some(format!("token={}", local(hyperverge::settings::var::DIGILOCKER_URL_TOKENS))));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    });
    report("pipeline(arbitrary request)", cases());
}
