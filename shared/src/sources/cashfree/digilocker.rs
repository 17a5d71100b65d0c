//! Cashfree Secure ID DigiLocker: `POST /webhooks/cashfree/digilocker`, HMAC-signed. The events,
//! statuses and payload come from Cashfree's "DigiLocker Webhooks" page (Secure ID developer
//! documentation); docs/providers.md restates what this module relies on.

use super::payload::{Shape, SubStatus};
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("DIGILOCKER_VERIFICATION_SUCCESS", "consent_granted"),
    ("DIGILOCKER_VERIFICATION_CONSENT_DENIED", "consent_denied"),
    ("DIGILOCKER_VERIFICATION_LINK_EXPIRED", "link_expired"),
    ("DIGILOCKER_VERIFICATION_CONSENT_EXPIRED", "consent_expired"),
    ("DIGILOCKER_VERIFICATION_FAILURE", "failed"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/digilocker",
    provider: "cashfree",
    product: "digilocker",
    route: "/webhooks/cashfree/digilocker",
    authentication: super::settings::AUTHENTICATION,
    register: "Register in the Cashfree dashboard (Developers > Webhooks > Secure ID).",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The DigiLocker user's name, date of birth, gender, e-Aadhaar flag and mobile (Cashfree's
    // success payload and the samples).
    personal_data: &["/data/user_details"],
    auth: super::settings::auth,
    journey: JourneyRules {
        // A DigiLocker journey's first webhook is already its last.
        terminal: &[
            "consent_granted",
            "consent_denied",
            "link_expired",
            "consent_expired",
            "failed",
        ],
        stall_after_secs: 3_600,
        reconcile: Some(Reconcile {
            path: "/verification/digilocker",
            subject_field: "verification_id",
            status_field: "status",
            sub_status_field: Some("sub_status"),
            final_statuses: &["AUTHENTICATED", "EXPIRED", "CONSENT_DENIED"],
            statuses: Some(&[
                "PENDING",
                "AUTHENTICATED",
                "EXPIRED",
                "CONSENT_DENIED",
                "FAILURE",
            ]),
            // The status answer carries the same `user_details` at its top.
            personal_data: &["/user_details"],
        }),
    },
};

const SHAPE: Shape = Shape {
    sub_status: Some(SubStatus {
        pointer: "/data/sub_status",
        counts: false,
    }),
    ..Shape::VERIFICATION
};

/// Identity: `data.verification_id`, `event_type`, `data.status`, `event_time`.
fn recognize(v: &Value) -> Option<Recognized> {
    super::payload::recognize(v, EVENTS, &SHAPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(event: &str, status: &str) -> Value {
        json!({"event_type": event, "event_time": "2006-01-02T15:04:05Z", "version": "v1",
               "data": {"user_details": {}, "status": status, "verification_id": "ABC00123", "reference_id": 12345}})
    }

    #[test]
    fn all_five_events() {
        for (event, kind) in EVENTS {
            let r = recognize(&sample(event, "AUTHENTICATED")).expect(event);
            assert_eq!(r.kind, *kind);
            assert_eq!(r.subject, "ABC00123");
            assert_eq!(r.provider_event, *event);
            assert_eq!(r.status.as_deref(), Some("AUTHENTICATED"));
        }
    }

    #[test]
    fn unknown_or_incomplete_is_unrecognized() {
        assert_eq!(recognize(&sample("DIGILOCKER_SOMETHING_NEW", "X")), None);
        let mut v = sample("DIGILOCKER_VERIFICATION_FAILURE", "FAILURE");
        v["data"]
            .as_object_mut()
            .expect("obj")
            .remove("verification_id");
        assert_eq!(recognize(&v), None);
        let mut v = sample("DIGILOCKER_VERIFICATION_FAILURE", "FAILURE");
        v.as_object_mut().expect("obj").remove("event_time");
        assert_eq!(recognize(&v), None);
        assert_eq!(recognize(&json!([1, 2])), None);
    }
}
