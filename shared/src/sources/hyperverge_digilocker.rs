//! HyperVerge DigiLocker consent: `POST /webhooks/hyperverge/digilocker`. Unsigned; authenticated by
//! the source IP (HyperVerge publishes its sending addresses).

use super::{lookup, present, text, Recognized, Source, UTC};
use crate::auth::Authenticate;
use serde_json::Value;

pub const NAME: &str = "hyperverge/digilocker";
pub const ROUTE: &str = "/webhooks/hyperverge/digilocker";
/// HyperVerge's documented sending addresses.
pub const DEFAULT_ALLOWED_IPS: &str = "65.0.82.147,3.7.90.248,3.6.33.64";

const CODES: &[(&str, &str)] = &[
    ("user_granted_consent", "consent_granted"),
    ("user_denied_consent", "consent_denied"),
    ("user_cancelled_or_denied_consent", "consent_denied"),
    ("user_cancelled", "cancelled"),
];

pub fn source(auth: Box<dyn Authenticate>) -> Source {
    Source {
        name: NAME,
        provider: "hyperverge",
        product: "digilocker",
        route: ROUTE,
        naive_zone: UTC,
        event_pointer: "/event/code",
        recognize,
        auth,
    }
}

/// `{refId, event: {name, code}, timeStamp}`. Identity: `refId`, `event.name`, `event.code`.
fn recognize(v: &Value) -> Option<Recognized> {
    let ref_id = text(v, "/refId")?;
    let code = text(v, "/event/code")?;
    let kind = lookup(CODES, code)?;
    let name = present(v, "/event/name")?;
    Some(Recognized {
        kind,
        provider_event: code.to_owned(),
        status: name.as_str().map(str::to_owned),
        sub_status: None,
        subject: ref_id.to_owned(),
        time: text(v, "/timeStamp").map(str::to_owned),
        identity: vec![Value::from(ref_id), name, Value::from(code)],
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
            assert_eq!(r.identity, vec![json!("ref-1"), json!(name), json!(code)]);
        }
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
            recognize(&json!({"refId": "r", "event": {"code": "user_cancelled"}})),
            None
        );
        assert_eq!(recognize(&json!("user_cancelled")), None);
    }
}
