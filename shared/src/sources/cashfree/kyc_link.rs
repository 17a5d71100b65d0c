//! Cashfree Secure ID KYC links: `POST /webhooks/cashfree/kyc_link`, HMAC-signed. A KYC link is
//! one form that runs several verifications (Aadhaar, PAN, bank account, UPI); its three events and
//! payload come from Cashfree's "KYC Links — Webhooks" page; docs/providers.md restates what this
//! module relies on.

use super::payload::Shape;
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("KYC_LINK_ACTION_PERFORMED", "action_performed"),
    ("KYC_LINK_SUCCESS", "succeeded"),
    ("KYC_LINK_EXPIRED", "expired"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/kyc_link",
    provider: "cashfree",
    product: "kyc_link",
    route: "/webhooks/cashfree/kyc_link",
    authentication: super::settings::AUTHENTICATION,
    register:
        "Register in the Cashfree dashboard (Developers > Webhooks > Secure ID) for KYC links.",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The person's name, phone and e-mail, and the link to the person's own form (Cashfree's KYC
    // link payload and the samples).
    personal_data: &[
        "/data/name",
        "/data/phone",
        "/data/email",
        "/data/form_link",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["succeeded", "expired"],
        // A link lives up to 30 days and each step sends an event: a week without one is a
        // person who stopped, or a webhook that went missing.
        stall_after_secs: 604_800,
        reconcile: Some(Reconcile {
            path: "/verification/form",
            subject_field: "verification_id",
            status_field: "form_status",
            sub_status_field: None,
            final_statuses: &["SUCCESS", "EXPIRED"],
            // Cashfree publishes no closed list of form statuses: open strings.
            statuses: None,
            personal_data: &["/name", "/phone", "/email", "/form_link"],
        }),
    },
};

/// `KYC_LINK_ACTION_PERFORMED` comes once per step, several within a second, with the same form
/// status: the steps (`verification_details`, each step's type and status) tell them apart.
const SHAPE: Shape = Shape {
    status: "/data/form_status",
    details: &["/data/verification_details"],
    ..Shape::VERIFICATION
};

/// Identity: `data.verification_id`, `event_type`, `data.form_status`,
/// `data.verification_details`, `event_time`.
fn recognize(v: &Value) -> Option<Recognized> {
    super::payload::recognize(v, EVENTS, &SHAPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize::event_id;
    use serde_json::json;

    fn sample(event: &str, steps: Value) -> Value {
        json!({"event_type": event, "event_time": "2024-02-15 16:53:15", "version": "v1",
               "data": {"name": "Test", "verification_id": "kl-1", "reference_id": 235461,
                        "form_status": "RECEIVED", "verification_details": steps}})
    }

    #[test]
    fn all_three_events() {
        for (event, kind) in EVENTS {
            let r = recognize(&sample(event, json!([]))).expect(event);
            assert_eq!((r.kind, r.subject.as_str()), (*kind, "kl-1"));
            assert_eq!(r.status.as_deref(), Some("RECEIVED"));
        }
    }

    #[test]
    fn each_step_within_one_second_is_its_own_event() {
        let step = |aadhaar: &str, pan: &str| {
            json!([{"reference_id": 234, "type": "OFFLINE_AADHAAR_VERIFICATION", "status": aadhaar},
                   {"reference_id": 0, "type": "PANDETAILS_VERIFICATION", "status": pan}])
        };
        let id = |steps| {
            let r = recognize(&sample("KYC_LINK_ACTION_PERFORMED", steps)).expect("known");
            event_id(SOURCE.name, &r.identity)
        };
        assert_ne!(
            id(step("SUCCESS", "RECEIVED")),
            id(step("SUCCESS", "SUCCESS"))
        );
        assert_eq!(
            id(step("SUCCESS", "RECEIVED")),
            id(step("SUCCESS", "RECEIVED"))
        );
        let mut no_steps = sample("KYC_LINK_ACTION_PERFORMED", json!([]));
        no_steps["data"]
            .as_object_mut()
            .expect("obj")
            .remove("verification_details");
        assert_eq!(recognize(&no_steps), None);
    }
}
