//! Cashfree Secure ID reverse penny drop: `POST /webhooks/cashfree/rpd`, HMAC-signed. The person
//! pays one rupee by UPI from the account to verify and gets it back; the three events and payload
//! come from Cashfree's "Reverse Penny Drop — Webhooks" page; docs/providers.md restates what this
//! module relies on.

use super::payload::Shape;
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("RPD_BANK_ACCOUNT_VERIFICATION_SUCCESS", "succeeded"),
    ("RPD_BANK_ACCOUNT_VERIFICATION_EXPIRED", "expired"),
    ("RPD_BANK_ACCOUNT_VERIFICATION_FAILURE", "failed"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/rpd",
    provider: "cashfree",
    product: "rpd",
    route: "/webhooks/cashfree/rpd",
    authentication: super::settings::AUTHENTICATION,
    register: "Register in the Cashfree dashboard (Developers > Webhooks > Secure ID) for reverse penny drop.",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The paying account, its IFSC and holder's name, the UPI id it paid from and the bank's
    // transfer reference (Cashfree's reverse penny drop payload, the samples).
    personal_data: &[
        "/data/bank_account",
        "/data/ifsc",
        "/data/upi",
        "/data/name_at_bank",
        "/data/utr",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["succeeded", "expired", "failed"],
        // The payment link lives ten minutes; an hour without its outcome is a missing webhook.
        stall_after_secs: 3_600,
        reconcile: Some(Reconcile {
            path: "/verification/remitter/status",
            subject_field: "verification_id",
            status_field: "status",
            sub_status_field: None,
            final_statuses: &["SUCCESS", "FAILURE", "EXPIRED"],
            statuses: Some(&["CREATED", "SUCCESS", "FAILURE", "EXPIRED"]),
            personal_data: &["/bank_account", "/ifsc", "/upi", "/name_at_bank", "/utr"],
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
    fn all_three_events() {
        for (event, kind) in EVENTS {
            let v = json!({"event_type": event, "event_time": "2024-02-15 16:53:15", "version": "v1",
                           "data": {"verification_id": "32", "ref_id": 33, "status": "SUCCESS", "upi": "success@upi"}});
            let r = recognize(&v).expect(event);
            assert_eq!((r.kind, r.subject.as_str()), (*kind, "32"));
            assert_eq!(r.status.as_deref(), Some("SUCCESS"));
        }
    }
}
