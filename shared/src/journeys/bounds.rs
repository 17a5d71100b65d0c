//! The bounds every writer of the journey table keeps, whoever sent the record: the envelope
//! fields the worker stores (subject, type, id, source, statuses, times) each at most
//! [`MAX_FIELD_BYTES`] with no control character, and the times RFC 3339. A record outside them
//! is refused (acknowledged, logged by journey hash, counted `RefusedInvalid`), never applied or
//! published: a sender that may write a journey can never wedge it. The intake's own bounds
//! already forward an authentic delivery with such fields as `unrecognized`, so no webhook is
//! refused here.
//!
//! The item's size is bounded too: the timeline is trimmed by size as well as by count (the
//! journey table's adapter keeps the item under [`MAX_ITEM_BYTES`]).

use crate::event::KycEvent;

/// The longest envelope field the worker stores, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;
/// What a journey item never exceeds, whatever arrives (DynamoDB's own limit is 400 KB).
pub const MAX_ITEM_BYTES: usize = 64 * 1024;
/// What a trim brings the item back under, so a trim is not needed at every write.
pub const TRIMMED_ITEM_BYTES: usize = 48 * 1024;

/// Which field is out of bounds, and how (never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {problem}")]
pub struct OutOfBounds {
    pub field: &'static str,
    pub problem: &'static str,
}

fn text(field: &'static str, value: &str) -> Result<(), OutOfBounds> {
    if value.len() > MAX_FIELD_BYTES {
        return Err(OutOfBounds {
            field,
            problem: "longer than 256 bytes",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(OutOfBounds {
            field,
            problem: "holding a control character",
        });
    }
    Ok(())
}

fn time(field: &'static str, value: &str) -> Result<(), OutOfBounds> {
    text(field, value)?;
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|_| ())
        .map_err(|_| OutOfBounds {
            field,
            problem: "not an RFC 3339 time",
        })
}

/// `value` cut to at most [`MAX_FIELD_BYTES`] (on a character boundary), for a log line.
pub fn truncated(value: &str) -> &str {
    let mut end = value.len().min(MAX_FIELD_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// Whether `event`'s stored fields are within bounds.
pub fn check(event: &KycEvent) -> Result<(), OutOfBounds> {
    text("id", &event.id)?;
    text("source", &event.source)?;
    text("type", &event.event_type)?;
    if let Some(subject) = &event.subject {
        text("subject", subject)?;
    }
    time("time", &event.time)?;
    time("data.received_at", &event.data.received_at)?;
    if let Some(fetched_at) = &event.data.fetched_at {
        time("data.fetched_at", fetched_at)?;
    }
    for (field, value) in [
        ("data.provider_status", &event.data.provider_status),
        ("data.provider_sub_status", &event.data.provider_sub_status),
    ] {
        if let Some(value) = value {
            text(field, value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> serde_json::Value {
        serde_json::json!({
            "specversion": "1.0", "id": "e1", "source": "cashfree/vkyc",
            "type": "kyc.vkyc.call_queued", "subject": "v1", "time": "2025-05-22T03:51:14Z",
            "datacontenttype": "application/json",
            "data": {"provider": "cashfree", "product": "vkyc", "provider_event": "E",
                     "provider_status": "S", "provider_sub_status": null, "provider_time": null,
                     "received_at": "2025-05-22T03:51:14Z", "auth_scheme": "application",
                     "fetched_at": "2025-05-22T03:51:14Z", "payload": {}}
        })
    }

    fn checked(v: &serde_json::Value) -> Result<(), OutOfBounds> {
        check(&serde_json::from_value(v.clone()).expect("a KycEvent"))
    }

    #[test]
    fn an_event_within_bounds_passes_and_each_stored_field_is_held_to_them() {
        assert_eq!(checked(&event()), Ok(()));
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let cases: [(&str, &[&str], serde_json::Value); 9] = [
            ("id", &["id"], long.clone().into()),
            ("source", &["source"], long.clone().into()),
            ("type", &["type"], "kyc.vkyc.\u{7}".into()),
            ("subject", &["subject"], long.clone().into()),
            ("time", &["time"], "yesterday".into()),
            (
                "time",
                &["time"],
                format!("2025-05-22T03:51:14{long}Z").into(),
            ),
            ("data.fetched_at", &["data", "fetched_at"], "soon".into()),
            (
                "data.provider_status",
                &["data", "provider_status"],
                long.clone().into(),
            ),
            (
                "data.provider_sub_status",
                &["data", "provider_sub_status"],
                "a\nb".into(),
            ),
        ];
        for (field, path, value) in cases {
            let mut v = event();
            let mut at = &mut v;
            for key in &path[..path.len() - 1] {
                at = &mut at[*key];
            }
            at[path[path.len() - 1]] = value;
            assert_eq!(checked(&v).map_err(|e| e.field), Err(field), "{path:?}");
        }
        // Exactly 256 bytes is in bounds; a 130 KB time is not.
        let mut v = event();
        v["subject"] = "s".repeat(MAX_FIELD_BYTES).into();
        assert_eq!(checked(&v), Ok(()));
        v["time"] = "9".repeat(130_000).into();
        assert!(checked(&v).is_err());
        assert_eq!(truncated(&"é".repeat(200)).len(), 256);
        assert_eq!(truncated("short"), "short");
    }
}
