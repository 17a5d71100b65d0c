//! Digio KYC requests: `POST /webhooks/digio/kyc`. The envelope `{entities, payload: {<entity>:
//! {...}}, created_at, id: "WHN…", event}`; the entity is `payload[entities[0]]` (its key matched
//! case-insensitively), the journey its KYC request id (`KID…`). Event names are matched after
//! lower-casing and turning `_` into `.`, so `KYC_REQUEST_APPROVED` is `kyc.request.approved`.
//! What the facts rest on, and how sure each is: docs/providers.md.

use crate::sources::{as_text, lookup, text, JourneyRules, Recognized, Reconcile, SourceSpec, IST};
use serde_json::Value;

/// Digio's events, in the vocabulary the other providers already use (`<product>.<kind>` for an
/// event of another product of the same journey).
const EVENTS: &[(&str, &str)] = &[
    ("kyc.request.created", "created"),
    ("kyc.request.completed", "in_progress"),
    ("kyc.request.review.ready", "needs_review"),
    ("kyc.request.approved", "approved"),
    ("kyc.request.rejected", "declined"),
    ("kyc.request.expired", "expired"),
    ("kyc.request.terminated", "cancelled"),
    (
        "documents.pulled.successfully",
        "digilocker.documents_pulled",
    ),
];

pub static SOURCE: SourceSpec = SourceSpec {
    name: "digio/kyc",
    provider: "digio",
    product: "application",
    route: "/webhooks/digio/kyc",
    authentication:
        "hex HMAC-SHA256 checksum header over the raw body (plus an IP allowlist when set)",
    register: "Set in Digio's Enterprise dashboard (Profile > webhooks) with the webhook secret.",
    url_query: None,
    // REST times come as `YYYY-MM-DD HH:MM:SS` in IST; the envelope's are epoch ms.
    naive_zone: IST,
    event_pointer: "/event",
    notification_id: Some("/id"),
    recognize,
    events: EVENTS,
    // The person's e-mail or mobile and name, the Aadhaar and PAN details of each action, and
    // the access token of the person's session, in whichever entity the payload carries
    // (DIGIO-NOTES.md, §2: the REST object's field names).
    personal_data: &[
        "/payload/*/customer_identifier",
        "/payload/*/customer_name",
        "/payload/*/actions/*/details",
        "/payload/*/access_token",
    ],
    auth: super::settings::auth,
    journey: JourneyRules {
        terminal: &["approved", "declined", "expired", "cancelled"],
        stall_after_secs: 259_200,
        reconcile: Some(Reconcile {
            path: "/client/kyc/v2/{KID}/response",
            subject_field: "id",
            status_field: "status",
            sub_status_field: None,
            final_statuses: &["approved", "rejected", "expired", "terminated"],
            // Digio publishes no closed list: open strings (lower-case words).
            statuses: None,
            // The answer is the `kyc_request` object itself.
            personal_data: &[
                "/customer_identifier",
                "/customer_name",
                "/actions/*/details",
                "/access_token",
            ],
        }),
    },
};

/// An event name as Digio may spell it, in one spelling: `KYC_REQUEST_APPROVED` and
/// `kyc.request.approved` are one event.
pub fn canonical_event(name: &str) -> String {
    name.trim().to_lowercase().replace('_', ".")
}

/// The entity the notification is about: `payload[entities[0]]`, its key matched
/// case-insensitively.
fn entity(v: &Value) -> Option<&Value> {
    let name = v.pointer("/entities/0")?.as_str()?;
    v.get("payload")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, e)| e)
        .filter(|e| e.is_object())
}

/// Identity: the notification's `id` (`WHN…`); a body without one is unrecognized (and so
/// identified by its whole body).
fn recognize(v: &Value) -> Option<Recognized> {
    let event = text(v, "/event")?;
    let kind = lookup(EVENTS, &canonical_event(event))?;
    let notification = text(v, "/id")?;
    let entity = entity(v)?;
    let subject = if kind.starts_with("digilocker.") {
        text(entity, "/kyc_request_id")?
    } else {
        text(entity, "/id")?
    };
    let status = entity
        .get("status")
        .or_else(|| entity.get("state"))
        .and_then(as_text);
    let time = v.get("created_at").and_then(as_text);
    Some(Recognized {
        kind,
        provider_event: event.to_owned(),
        status,
        sub_status: None,
        subject: subject.to_owned(),
        time,
        identity: vec![Value::from(notification)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(event: &str, entity: &str, fields: Value) -> Value {
        json!({"entities": [entity], "payload": {entity: fields}, "created_at": 1715670371000_i64,
               "id": "WHN240514123610482QWERTYUPASDFGH", "event": event})
    }

    #[test]
    fn every_kyc_event_maps_to_the_shared_vocabulary() {
        for (event, kind) in EVENTS.iter().filter(|(e, _)| e.starts_with("kyc.")) {
            let r = recognize(&body(
                event,
                "kyc_request",
                json!({"id": "KID1", "status": "approved"}),
            ))
            .expect(event);
            assert_eq!(r.kind, *kind);
            assert_eq!(r.subject, "KID1");
            assert_eq!(r.status.as_deref(), Some("approved"));
            assert_eq!(r.time.as_deref(), Some("1715670371000"));
            assert_eq!(r.provider_event, *event);
        }
        let pulled = recognize(&body(
            "documents.pulled.successfully",
            "digilocker_request",
            json!({"kyc_request_id": "KID2", "state": "COMPLETED"}),
        ))
        .expect("pulled");
        assert_eq!(
            (
                pulled.kind,
                pulled.subject.as_str(),
                pulled.status.as_deref()
            ),
            ("digilocker.documents_pulled", "KID2", Some("COMPLETED"))
        );
    }

    #[test]
    fn spellings_and_entity_keys_are_matched_loosely_and_the_rest_is_unrecognized() {
        let mut upper = body("KYC_REQUEST_APPROVED", "kyc_request", json!({"id": "KID1"}));
        upper["payload"] = json!({"KYC_REQUEST": {"id": "KID1", "status": "approved"}});
        assert_eq!(recognize(&upper).expect("upper").kind, "approved");
        for unknown in [
            body("doc.signed", "document", json!({"id": "DID1"})),
            body("apimndt.authsuccess", "api_mandate", json!({"id": "ENA1"})),
            body("kyc.action.completed", "kyc_request", json!({"id": "KID1"})),
        ] {
            assert!(recognize(&unknown).is_none(), "{unknown}");
        }
        let mut no_id = body("kyc.request.approved", "kyc_request", json!({"id": "KID1"}));
        no_id.as_object_mut().expect("object").remove("id");
        assert!(recognize(&no_id).is_none(), "no WHN: unrecognized");
        let no_kid = body(
            "kyc.request.approved",
            "kyc_request",
            json!({"status": "approved"}),
        );
        assert!(recognize(&no_kid).is_none());
    }

    #[test]
    fn one_notification_is_one_event_whatever_else_differs() {
        let a = recognize(&body(
            "kyc.request.approved",
            "kyc_request",
            json!({"id": "KID1"}),
        ))
        .expect("a");
        let b = recognize(&body(
            "kyc.request.approved",
            "kyc_request",
            json!({"id": "KID1", "updated_at": 1}),
        ))
        .expect("b");
        assert_eq!(a.identity, b.identity);
    }
}
