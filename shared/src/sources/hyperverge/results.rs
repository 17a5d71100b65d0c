//! HyperVerge Results: `POST /webhooks/hyperverge/results`. Authenticated by the static header
//! the subscription is configured to send, plus a source-IP allowlist when one is set. Event
//! types, statuses and payload: HyperVerge's "Results Webhook" page (docs/providers.md).

use crate::sources::{lookup, present, text, JourneyRules, Recognized, Reconcile, SourceSpec, UTC};
use serde_json::Value;

const EVENT_TYPES: &[&str] = &[
    "FINISH_TRANSACTION_WEBHOOK",
    "MANUAL_REVIEW_STATUS_UPDATE",
    "INTERMEDIATE_TRANSACTION_WEBHOOK",
];

const STATUSES: &[(&str, &str)] = &[
    ("auto_approved", "approved"),
    ("manually_approved", "approved"),
    ("auto_declined", "declined"),
    ("manually_declined", "declined"),
    ("needs_review", "needs_review"),
    ("kyc_in_progress", "in_progress"),
    ("user_cancelled", "cancelled"),
    ("error", "error"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "hyperverge/results",
    provider: "hyperverge",
    product: "application",
    route: "/webhooks/hyperverge/results",
    authentication: "a static header token (plus an IP allowlist when `HYPERVERGE_RESULTS_ALLOWED_IPS` is set)",
    register: "Register with PUT https://review-api.idv.hyperverge.co/api/v1/config (with the token header).",
    url_query: None,
    naive_zone: UTC,
    event_pointer: "/eventType",
    notification_id: None,
    recognize,
    events: STATUSES,
    // The reviewer of a manual review (`MANUAL_REVIEW_STATUS_UPDATE`, the provider's page).
    personal_data: &["/reviewerEmail"],
    auth: super::settings::results_auth,
    journey: JourneyRules {
        terminal: &["approved", "declined", "cancelled"],
        stall_after_secs: 259_200,
        // HyperVerge's Output API (`output_api`), which summarizes an application whether or not
        // its webhook went out; the client reads both fields within the answer's `result`.
        reconcile: Some(Reconcile {
            path: "/v1/output",
            subject_field: "transactionId",
            status_field: "applicationStatus",
            sub_status_field: None,
            final_statuses: &[
                "auto_approved",
                "auto_declined",
                "manually_approved",
                "manually_declined",
                "user_cancelled",
            ],
            statuses: Some(&[
                "started",
                "kyc_in_progress",
                "needs_review",
                "auto_approved",
                "auto_declined",
                "manually_approved",
                "manually_declined",
                "user_cancelled",
                "error",
            ]),
            // The summary of the person's application: every field but the status.
            personal_data: &["/result/*"],
        }),
    },
};

/// Identity: `eventId`; when absent, `transactionId`, `eventType`, `applicationStatus`, `eventTime`.
/// `eventTime` is kept raw: the provider's own sample (`2023-01-30T1722.102Z`) is not ISO 8601.
fn recognize(v: &Value) -> Option<Recognized> {
    let event_type = text(v, "/eventType")?;
    if !EVENT_TYPES.contains(&event_type) {
        return None;
    }
    let status = text(v, "/applicationStatus")?;
    let kind = lookup(STATUSES, status)?;
    let transaction_id = text(v, "/transactionId")?;
    let identity = match text(v, "/eventId") {
        Some(event_id) => vec![Value::from(event_id)],
        None => vec![
            Value::from(transaction_id),
            Value::from(event_type),
            Value::from(status),
            present(v, "/eventTime")?,
        ],
    };
    Some(Recognized {
        kind,
        provider_event: event_type.to_owned(),
        status: Some(status.to_owned()),
        sub_status: None,
        subject: transaction_id.to_owned(),
        time: text(v, "/eventTime").map(str::to_owned),
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_status_and_event_type() {
        for event_type in EVENT_TYPES {
            for (status, kind) in STATUSES {
                let v = json!({"transactionId": "txn-1", "applicationStatus": status, "eventId": "e-1",
                               "eventVersion": "1.0.0", "eventTime": "2023-01-30T1722.102Z", "eventType": event_type});
                let r = recognize(&v).expect(status);
                assert_eq!(r.kind, *kind);
                assert_eq!(r.subject, "txn-1");
                assert_eq!(r.identity, vec![json!("e-1")]);
                assert_eq!(r.time.as_deref(), Some("2023-01-30T1722.102Z"));
            }
        }
    }

    #[test]
    fn identity_without_event_id() {
        let v = json!({"transactionId": "t", "applicationStatus": "needs_review",
                       "eventTime": "2022-08-22T12:48:32.346Z", "eventType": "FINISH_TRANSACTION_WEBHOOK"});
        let r = recognize(&v).expect("recognized");
        assert_eq!(r.identity.len(), 4);
        let mut no_time = v.clone();
        no_time.as_object_mut().expect("obj").remove("eventTime");
        assert_eq!(recognize(&no_time), None);
    }

    #[test]
    fn unknown_values_are_unrecognized() {
        let base = json!({"transactionId": "t", "applicationStatus": "auto_approved", "eventId": "e", "eventType": "FINISH_TRANSACTION_WEBHOOK"});
        for (field, value) in [
            ("applicationStatus", "approved_by_magic"),
            ("eventType", "NEW_WEBHOOK"),
            ("transactionId", ""),
        ] {
            let mut v = base.clone();
            v[field] = json!(value);
            assert_eq!(recognize(&v), None, "{field}");
        }
    }
}
