//! Cashfree Secure ID e-sign: `POST /webhooks/cashfree/esign`, HMAC-signed. Its three events and
//! payload come from Cashfree's "E-Sign — Webhooks" page, whose event table spells them
//! `E_SIGN_VERIFICATION_*` while its sample payloads say `ESIGN_VERIFICATION_*`: both spellings are
//! recognized as one event type. docs/providers.md restates what this module relies on.

use super::payload::Shape;
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("E_SIGN_VERIFICATION_SUCCESS", "succeeded"),
    ("E_SIGN_VERIFICATION_FAILURE", "failed"),
    ("E_SIGN_VERIFICATION_EXPIRED", "expired"),
    ("ESIGN_VERIFICATION_SUCCESS", "succeeded"),
    ("ESIGN_VERIFICATION_FAILURE", "failed"),
    ("ESIGN_VERIFICATION_EXPIRED", "expired"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/esign",
    provider: "cashfree",
    product: "esign",
    route: "/webhooks/cashfree/esign",
    authentication: super::settings::AUTHENTICATION,
    register: "Register in the Cashfree dashboard (Developers > Webhooks > Secure ID) for e-sign.",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The signers' names (and, in the status answer, what their Aadhaar e-sign disclosed), and
    // the link to the signed document (Cashfree's e-sign payload and status API, the samples).
    personal_data: &[
        "/data/signers/*/name",
        "/data/signers/*/meta_data",
        "/data/signed_doc_url",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["succeeded", "failed", "expired"],
        // Cashfree sends nothing between the request and its outcome: three days is a generous
        // signing window.
        stall_after_secs: 259_200,
        reconcile: Some(Reconcile {
            path: "/verification/esignature",
            subject_field: "verification_id",
            status_field: "status",
            sub_status_field: None,
            final_statuses: &["SUCCESS", "FAILURE", "EXPIRED"],
            statuses: Some(&["IN_PROGRESS", "SUCCESS", "EXPIRED", "FAILURE"]),
            personal_data: &["/signers/*/name", "/signers/*/meta_data", "/signed_doc_url"],
        }),
    },
};

/// Identity: `data.verification_id`, `event_type`, `data.status`, `event_time`.
fn recognize(v: &Value) -> Option<Recognized> {
    super::payload::recognize(v, EVENTS, &Shape::VERIFICATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_of_each_event_are_one_type() {
        for (event, kind) in EVENTS {
            let v = json!({"event_type": event, "event_time": "2023-07-19 10:46:16", "version": "v1",
                           "data": {"status": "SUCCESS", "reference_id": 32, "verification_id": "ABC00123"}});
            let r = recognize(&v).expect(event);
            assert_eq!((r.kind, r.subject.as_str()), (*kind, "ABC00123"));
        }
        let kinds = |prefix: &str| -> Vec<&str> {
            EVENTS
                .iter()
                .filter(|(e, _)| e.starts_with(prefix))
                .map(|(_, k)| *k)
                .collect()
        };
        assert_eq!(kinds("E_SIGN_"), kinds("ESIGN_"));
    }
}
