//! The payload shape Cashfree's Secure ID products share:
//! `{event_type, event_time, version, data: {<subject>, <status>, ...}}`, and where each product
//! keeps its subject, status and the details that tell two of its events apart.

use crate::sources::{as_text, lookup, present, Recognized};
use serde_json::Value;

/// Where one product keeps what an event is made of (JSON pointers into the webhook body).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The journey's subject: text, or a number printed (BAV's `reference_id`).
    pub subject: &'static str,
    /// The product's status (it must be present; it may be `null`).
    pub status: &'static str,
    /// Its sub-status, when the product has one.
    pub sub_status: Option<SubStatus>,
    /// Further fields that tell two events of one subject, type and status apart (each must be
    /// present), e.g. a KYC link's steps.
    pub details: &'static [&'static str],
}

/// A product's sub-status field.
#[derive(Debug, Clone, Copy)]
pub struct SubStatus {
    pub pointer: &'static str,
    /// Whether it tells events apart: then it must be present and is part of the identity.
    pub counts: bool,
}

impl Shape {
    /// `data.verification_id` and `data.status`, no sub-status or details (e-sign, reverse penny
    /// drop); the other products start from it.
    pub const VERIFICATION: Shape = Shape {
        subject: "/data/verification_id",
        status: "/data/status",
        sub_status: None,
        details: &[],
    };
}

/// The event `v` is, when its `event_type` is in `table` and every field `shape` names is there.
/// Identity, in this order: subject, `event_type`, status, the sub-status when it counts, the
/// details, `event_time`.
pub fn recognize(v: &Value, table: &[(&str, &'static str)], shape: &Shape) -> Option<Recognized> {
    let event = crate::sources::text(v, "/event_type")?;
    let kind = lookup(table, event)?;
    let subject = v
        .pointer(shape.subject)
        .and_then(as_text)
        .filter(|s| !s.trim().is_empty())?;
    let status = present(v, shape.status)?;
    let time = present(v, "/event_time")?;
    let mut identity = vec![
        Value::from(subject.as_str()),
        Value::from(event),
        status.clone(),
    ];
    let sub_status = match shape.sub_status {
        Some(SubStatus {
            pointer,
            counts: true,
        }) => {
            let s = present(v, pointer)?;
            identity.push(s.clone());
            as_text(&s)
        }
        Some(SubStatus { pointer, .. }) => v.pointer(pointer).and_then(as_text),
        None => None,
    };
    for detail in shape.details {
        identity.push(present(v, detail)?);
    }
    identity.push(time.clone());
    Some(Recognized {
        kind,
        provider_event: event.to_owned(),
        status: as_text(&status),
        sub_status,
        subject,
        time: as_text(&time),
        identity,
    })
}
