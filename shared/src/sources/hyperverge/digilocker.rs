//! HyperVerge DigiLocker consent: `POST /webhooks/hyperverge/digilocker`. Unsigned; authenticated by
//! the source IP (HyperVerge publishes its sending addresses, shared by all its customers) and the
//! secret `token` of the URL we registered. Codes, payload and addresses: HyperVerge's
//! "DigiLocker Webhook" page (docs/providers.md).

use crate::sources::{lookup, present, text, JourneyRules, Recognized, SourceSpec, UTC};
use serde_json::Value;

const CODES: &[(&str, &str)] = &[
    ("user_granted_consent", "consent_granted"),
    ("user_denied_consent", "consent_denied"),
    ("user_cancelled_or_denied_consent", "consent_denied"),
    ("user_cancelled", "cancelled"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "hyperverge/digilocker",
    provider: "hyperverge",
    product: "digilocker",
    route: "/webhooks/hyperverge/digilocker",
    authentication: "source IP in the allowlist, **then** the URL's secret `token`",
    register: "Register with POST https://api.hyperverge.co/api/digilocker/webHook, replacing YOUR_DIGILOCKER_URL_TOKEN with one of HyperVergeDigilockerUrlTokens.",
    url_query: Some("token=YOUR_DIGILOCKER_URL_TOKEN"),
    naive_zone: UTC,
    event_pointer: "/event/code",
    notification_id: None,
    recognize,
    events: CODES,
    // `{refId, event, timeStamp}`: nothing about the person (the provider's page and samples).
    personal_data: &[],
    auth: super::settings::digilocker_auth,
    // HyperVerge's results API answers only after the webhook went out: detection only.
    journey: JourneyRules {
        terminal: &["consent_granted", "consent_denied", "cancelled"],
        stall_after_secs: 3_600,
        reconcile: None,
    },
};

/// `{refId, event: {name, code}, timeStamp}`. Identity: `refId`, `event.name`, `event.code`,
/// `timeStamp`: a user who restarts on the same `refId` and ends the same way again is a new event.
fn recognize(v: &Value) -> Option<Recognized> {
    let ref_id = text(v, "/refId")?;
    let code = text(v, "/event/code")?;
    let kind = lookup(CODES, code)?;
    let name = present(v, "/event/name")?;
    let time = present(v, "/timeStamp")?;
    Some(Recognized {
        kind,
        provider_event: code.to_owned(),
        status: name.as_str().map(str::to_owned),
        sub_status: None,
        subject: ref_id.to_owned(),
        time: time.as_str().map(str::to_owned),
        identity: vec![Value::from(ref_id), name, Value::from(code), time],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_four_codes() {
        let cases = [
            (
                "digilocker.user.consent.granted",
                "user_granted_consent",
                "consent_granted",
            ),
            ("digilocker.user.denied", "user_cancelled", "cancelled"),
            (
                "digilocker.user.denied",
                "user_denied_consent",
                "consent_denied",
            ),
            (
                "digilocker.user.denied",
                "user_cancelled_or_denied_consent",
                "consent_denied",
            ),
        ];
        for (name, code, kind) in cases {
            let v = json!({"refId": "ref-1", "event": {"name": name, "code": code}, "timeStamp": "2024-01-15T10:30:45.123Z"});
            let r = recognize(&v).expect(code);
            assert_eq!(r.kind, kind);
            assert_eq!(r.subject, "ref-1");
            assert_eq!(r.provider_event, code);
            assert_eq!(
                r.identity,
                vec![
                    json!("ref-1"),
                    json!(name),
                    json!(code),
                    json!("2024-01-15T10:30:45.123Z")
                ]
            );
        }
    }

    #[test]
    fn a_rerun_on_the_same_ref_id_is_another_event() {
        let first = json!({"refId": "r", "event": {"name": "digilocker.user.denied", "code": "user_cancelled"}, "timeStamp": "2024-01-15T10:30:45.123Z"});
        let mut again = first.clone();
        again["timeStamp"] = json!("2024-01-15T10:41:02.001Z");
        let a = recognize(&first).expect("first");
        let b = recognize(&again).expect("again");
        assert_ne!(a.identity, b.identity);
        assert_ne!(
            crate::intake::normalize::event_id(SOURCE.name, &a.identity),
            crate::intake::normalize::event_id(SOURCE.name, &b.identity)
        );
    }

    #[test]
    fn unknown_or_incomplete_is_unrecognized() {
        assert_eq!(
            recognize(&json!({"refId": "r", "event": {"name": "n", "code": "new_code"}})),
            None
        );
        assert_eq!(
            recognize(&json!({"event": {"name": "n", "code": "user_cancelled"}})),
            None
        );
        assert_eq!(
            recognize(
                &json!({"refId": "r", "event": {"code": "user_cancelled"}, "timeStamp": "t"})
            ),
            None
        );
        assert_eq!(
            recognize(&json!({"refId": "r", "event": {"name": "n", "code": "user_cancelled"}})),
            None,
            "timeStamp is part of the identity"
        );
        assert_eq!(recognize(&json!("user_cancelled")), None);
    }
}
