//! Cashfree Secure ID Video KYC: `POST /webhooks/cashfree/vkyc`, HMAC-signed. The ten events and
//! their statuses come from Cashfree's "Video KYC Webhooks" page (Secure ID developer
//! documentation); docs/providers.md restates what this module relies on.

use super::payload::{Shape, SubStatus};
use crate::sources::{JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

const EVENTS: &[(&str, &str)] = &[
    ("VKYC_USER_LINK_GENERATED", "link_generated"),
    ("VKYC_USER_LINK_EXPIRED", "link_expired"),
    ("VKYC_USER_AADHAAR_VERIFIED", "aadhaar_verified"),
    ("VKYC_USER_CALL_SCHEDULED", "call_scheduled"),
    ("VKYC_USER_PRECHECK_FAILED", "precheck_failed"),
    ("VKYC_USER_CALL_QUEUED", "call_queued"),
    ("VKYC_USER_CALL_STARTED", "call_started"),
    ("VKYC_USER_DROPOFF_FROM_CALL", "user_dropped_off"),
    ("VKYC_USER_CALL_COMPLETED", "call_completed"),
    ("VKYC_AUDITOR_REVIEW_COMPLETED", "auditor_review_completed"),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "cashfree/vkyc",
    provider: "cashfree",
    product: "vkyc",
    route: "/webhooks/cashfree/vkyc",
    authentication: super::settings::AUTHENTICATION,
    register: "Register in the Cashfree dashboard for Video KYC.",
    url_query: None,
    naive_zone: IST,
    event_pointer: "/event_type",
    notification_id: None,
    recognize,
    events: EVENTS,
    // The video call's recording and the person's session link (each opens the person's video
    // KYC), and the agent's and auditor's free-text remarks about the person (Cashfree's VKYC
    // webhook fields and the samples).
    personal_data: &[
        "/data/recording_link",
        "/data/vkyc_link",
        "/data/agent_remarks",
        "/data/auditor_remarks",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["auditor_review_completed", "link_expired"],
        stall_after_secs: 86_400,
        reconcile: Some(Reconcile {
            path: "/verification/vkyc",
            subject_field: "verification_id",
            status_field: "status",
            sub_status_field: Some("sub_status"),
            // Cashfree calls these final in its webhook tables; an auditor's decision is too.
            final_statuses: &[
                "EXPIRED",
                "REJECTED",
                "APPROVED",
                "AUDITOR_APPROVED",
                "AUDITOR_REJECTED",
            ],
            // Not all published: open strings.
            statuses: None,
            // The status answer is the webhook's `data` object.
            personal_data: &[
                "/recording_link",
                "/vkyc_link",
                "/agent_remarks",
                "/auditor_remarks",
            ],
        }),
    },
};

const SHAPE: Shape = Shape {
    sub_status: Some(SubStatus {
        pointer: "/data/sub_status",
        counts: true,
    }),
    ..Shape::VERIFICATION
};

/// Identity: `data.verification_id`, `event_type`, `data.status`, `data.sub_status`, `event_time`.
/// `VKYC_USER_PRECHECK_FAILED` and `VKYC_USER_CALL_SCHEDULED` repeat with other sub-statuses;
/// each is a separate event.
fn recognize(v: &Value) -> Option<Recognized> {
    super::payload::recognize(v, EVENTS, &SHAPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::normalize::event_id;
    use serde_json::json;

    fn sample(event: &str, sub_status: &str) -> Value {
        json!({"event_type": event, "event_time": "2025-05-22T03:51:14Z", "version": "v1",
               "data": {"verification_id": "test333", "reference_id": 10449, "status": "PRE_VIDEO_CALL", "sub_status": sub_status}})
    }

    #[test]
    fn all_ten_events() {
        for (event, kind) in EVENTS {
            let r = recognize(&sample(event, "USER_QUEUED")).expect(event);
            assert_eq!(r.kind, *kind);
            assert_eq!(r.subject, "test333");
            assert_eq!(r.sub_status.as_deref(), Some("USER_QUEUED"));
        }
    }

    #[test]
    fn another_sub_status_is_another_event() {
        let a = recognize(&sample(
            "VKYC_USER_PRECHECK_FAILED",
            "USER_AUDIO_CHECK_FAILED",
        ))
        .expect("a");
        let b = recognize(&sample(
            "VKYC_USER_PRECHECK_FAILED",
            "USER_VIDEO_CHECK_FAILED",
        ))
        .expect("b");
        assert_ne!(
            event_id(SOURCE.name, &a.identity),
            event_id(SOURCE.name, &b.identity)
        );
        let mut no_sub = sample("VKYC_USER_CALL_STARTED", "x");
        no_sub["data"]
            .as_object_mut()
            .expect("obj")
            .remove("sub_status");
        assert_eq!(recognize(&no_sub), None);
    }
}
