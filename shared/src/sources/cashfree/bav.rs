//! Cashfree Secure ID bank account verification (BAV v2, asynchronous): `POST
//! /webhooks/cashfree/bav`, HMAC-signed. Its three events and payload come from Cashfree's "Bank
//! Account Verification V2 — Webhooks" page. The webhook carries Cashfree's `reference_id` (one per
//! request) and the merchant's `user_id` (one per user, shared by that user's requests), so the
//! journey's subject is the `reference_id`. docs/providers.md restates what this module relies on.

use super::payload::{Shape, SubStatus};
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("BANK_ACCOUNT_VERIFICATION_SUCCESS", "succeeded"),
    ("BANK_ACCOUNT_VERIFICATION_REJECTED", "rejected"),
    ("BANK_ACCOUNT_VERIFICATION_FAILED", "failed"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/bav",
    provider: "cashfree",
    product: "bav",
    route: "/webhooks/cashfree/bav",
    authentication: super::settings::AUTHENTICATION,
    register: "Register in the Cashfree dashboard (Developers > Webhooks > Secure ID) for bank account verification.",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The account holder's name as the bank has it, the account and its IFSC where a payload
    // carries them, and the bank's transfer reference (Cashfree's BAV v2 payload, the samples).
    personal_data: &[
        "/data/name_at_bank",
        "/data/bank_account",
        "/data/ifsc",
        "/data/utr",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["succeeded", "rejected", "failed"],
        // An asynchronous check answers within minutes; an hour without one is a missing webhook.
        stall_after_secs: 3_600,
        reconcile: Some(Reconcile {
            path: "/verification/bank-account",
            subject_field: "reference_id",
            status_field: "account_status",
            sub_status_field: Some("account_status_code"),
            final_statuses: &[
                "VALID",
                "INVALID",
                "FAILED",
                "REJECTED",
                "CANCELLED",
                "MANUALLY_REJECTED",
            ],
            statuses: Some(&[
                "VALID",
                "INVALID",
                "RECEIVED",
                "FAILED",
                "REJECTED",
                "APPROVAL_PENDING",
                "PARTIALLY_APPROVED",
                "IN_PROCESS",
                "CANCELLED",
                "PROCESSING",
                "MANUALLY_REJECTED",
            ]),
            personal_data: &["/name_at_bank", "/bank_account", "/ifsc", "/utr"],
        }),
    },
};

const SHAPE: Shape = Shape {
    subject: "/data/reference_id",
    status: "/data/account_status",
    sub_status: Some(SubStatus {
        pointer: "/data/account_status_code",
        counts: true,
    }),
    details: &[],
};

/// Identity: `data.reference_id`, `event_type`, `data.account_status`,
/// `data.account_status_code`, `event_time`.
fn recognize(v: &Value) -> Option<Recognized> {
    super::payload::recognize(v, EVENTS, &SHAPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(event: &str) -> Value {
        json!({"event_type": event, "event_time": "2023-07-19 10:46:16", "version": "v2",
               "data": {"reference_id": 1294785793, "user_id": "123123", "name_at_bank": "John Doe",
                        "account_status": "VALID", "account_status_code": "ACCOUNT_IS_VALID"}})
    }

    #[test]
    fn the_subject_is_the_request_not_the_user() {
        for (event, kind) in EVENTS {
            let r = recognize(&sample(event)).expect(event);
            assert_eq!((r.kind, r.subject.as_str()), (*kind, "1294785793"));
            assert_eq!(r.status.as_deref(), Some("VALID"));
            assert_eq!(r.sub_status.as_deref(), Some("ACCOUNT_IS_VALID"));
        }
        let mut v = sample("BANK_ACCOUNT_VERIFICATION_FAILED");
        v["data"]
            .as_object_mut()
            .expect("obj")
            .remove("reference_id");
        assert_eq!(recognize(&v), None, "a user_id alone names no request");
    }
}
