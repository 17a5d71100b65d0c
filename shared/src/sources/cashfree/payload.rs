//! The payload shape Cashfree's Secure ID products share.

use crate::sources::{as_text, lookup, present, text, Recognized};
use serde_json::Value;

/// Cashfree's two Secure ID products share one payload shape:
/// `{event_type, event_time, version, data: {verification_id, status, sub_status?, ...}}`.
pub fn recognize(
    v: &Value,
    table: &[(&str, &'static str)],
    with_sub_status: bool,
) -> Option<Recognized> {
    let event = text(v, "/event_type")?;
    let kind = lookup(table, event)?;
    let verification_id = text(v, "/data/verification_id")?;
    let status = present(v, "/data/status")?;
    let time = present(v, "/event_time")?;
    let mut identity = vec![
        Value::from(verification_id),
        Value::from(event),
        status.clone(),
    ];
    let sub_status = if with_sub_status {
        let s = present(v, "/data/sub_status")?;
        identity.push(s.clone());
        as_text(&s)
    } else {
        v.pointer("/data/sub_status").and_then(as_text)
    };
    identity.push(time.clone());
    Some(Recognized {
        kind,
        provider_event: event.to_owned(),
        status: as_text(&status),
        sub_status,
        subject: verification_id.to_owned(),
        time: as_text(&time),
        identity,
    })
}
