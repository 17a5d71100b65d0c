//! Provider sources. Each module knows one source's route, authentication and payload; the
//! pipeline knows none of them. Adding a source means one module here, one route, sample events
//! and one template entry.

pub mod cashfree_digilocker;
pub mod cashfree_vkyc;
pub mod hyperverge_digilocker;
pub mod hyperverge_results;

use crate::auth::Authenticate;
use chrono::FixedOffset;
use serde_json::Value;

/// One webhook source: `<provider>/<product>` on one route.
pub struct Source {
    /// `<provider>/<product>`: the CloudEvents `source`, and the idempotency key's prefix.
    pub name: &'static str,
    pub provider: &'static str,
    pub product: &'static str,
    /// Matched against the tail of the request path, so an API Gateway stage prefix does not matter.
    pub route: &'static str,
    /// Zone for provider times that carry none.
    pub naive_zone: FixedOffset,
    /// JSON pointer to the provider's event name, reported even for unrecognized payloads.
    pub event_pointer: &'static str,
    /// The provider's payload → the normalized fields; `None` means unrecognized.
    pub recognize: fn(&Value) -> Option<Recognized>,
    pub auth: Box<dyn Authenticate>,
}

impl Source {
    pub fn matches(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        path.ends_with(self.route)
    }

    pub(crate) fn event_name(&self, v: &Value) -> Option<String> {
        v.pointer(self.event_pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("route", &self.route)
            .field("configured", &self.auth.is_configured())
            .finish()
    }
}

/// What a source module reads out of a payload it recognizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    /// Last part of the event type: `kyc.<product>.<kind>`.
    pub kind: &'static str,
    pub provider_event: String,
    pub status: Option<String>,
    pub sub_status: Option<String>,
    pub subject: String,
    /// The provider's time field, raw.
    pub time: Option<String>,
    /// The identity fields' values, in DESIGN.md's order.
    pub identity: Vec<Value>,
}

pub(crate) const UTC: FixedOffset = match FixedOffset::east_opt(0) {
    Some(z) => z,
    None => unreachable!(),
};

pub(crate) const IST: FixedOffset = match FixedOffset::east_opt(5 * 3600 + 30 * 60) {
    Some(z) => z,
    None => unreachable!(),
};

/// A non-empty string at `pointer`.
pub(crate) fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The value at `pointer`, which must be present (it may be `null`).
pub(crate) fn present(v: &Value, pointer: &str) -> Option<Value> {
    v.pointer(pointer).cloned()
}

/// The value at `pointer` as text: strings as they are, numbers printed; else `None`.
pub(crate) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Look a provider value up in a source's table.
pub(crate) fn lookup(table: &[(&str, &'static str)], value: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == value).map(|(_, v)| *v)
}

/// Cashfree's two Secure ID products share one payload shape:
/// `{event_type, event_time, version, data: {verification_id, status, sub_status?, ...}}`.
pub(crate) fn recognize_cashfree(
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
