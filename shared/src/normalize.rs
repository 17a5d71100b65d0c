//! From an authenticated body to the normalized event: recognition by the source's module,
//! then the parts every source shares (event id, time, unrecognized fallback).

use crate::event::{EventData, KycEvent, DATA_CONTENT_TYPE, SPEC_VERSION};
use crate::sources::{Recognized, Source};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A normalized event ready to send: its serialized body and the fields the queue needs.
#[derive(Debug, Clone)]
pub struct Normalized {
    pub id: String,
    pub event_type: String,
    pub source: &'static str,
    pub subject: Option<String>,
    pub body: String,
}

impl Normalized {
    /// FIFO `MessageGroupId`: `<source>#<subject>` keeps one journey's events in order. Unrecognized
    /// events have no subject and get their own group, so they never hold up a journey. A value
    /// over 128 characters or with characters SQS refuses is replaced by its SHA-256.
    pub fn group_id(&self) -> String {
        let raw = match &self.subject {
            Some(s) => format!("{}#{s}", self.source),
            None => format!("{}#{}", self.source, self.id),
        };
        let valid = raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            raw
        } else {
            hex::encode(Sha256::digest(raw.as_bytes()))
        }
    }
}

/// Parse a provider time leniently: RFC 3339, or a date-time without zone read in `naive_zone`
/// (Cashfree sends `2023-07-19 10:46:16`, meant as IST). `None` for anything else.
pub fn parse_time(raw: &str, naive_zone: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t);
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .and_then(|naive| naive.and_local_timezone(naive_zone).single())
}

fn rfc3339<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Hex SHA-256 of the source and the identity values. The values are hashed as one JSON array,
/// so no two different identities share an encoding and JSON formatting of the body does not matter.
pub fn event_id(source: &str, identity: &[Value]) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(serde_json::to_vec(identity).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Identity of an unrecognized body: its canonical JSON (keys sorted, no whitespace, top-level
/// `signature` removed, as it is a delivery detail) when it is JSON, its raw bytes otherwise.
fn unrecognized_id(source: &str, body: &[u8], parsed: Option<&Value>) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    match parsed {
        Some(v) => {
            let mut v = v.clone();
            if let Value::Object(map) = &mut v {
                map.shift_remove("signature");
            }
            h.update(b"\x00json\x00");
            h.update(serde_json::to_vec(&canonical(v)).unwrap_or_default());
        }
        None => {
            h.update(b"\x00raw\x00");
            h.update(body);
        }
    }
    hex::encode(h.finalize())
}

fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Hex SHA-256 of the raw body (stored with the claim to spot an id collision).
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Normalize an authenticated body. Never fails: what the source does not recognize becomes
/// `kyc.<product>.unrecognized` with the raw body kept.
pub fn normalize(source: &Source, body: &[u8], received_at: DateTime<Utc>) -> Normalized {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let recognized: Option<Recognized> = parsed.as_ref().and_then(source.recognize);
    let (payload, encoding) = payload(body);
    let received = received_at.to_rfc3339_opts(SecondsFormat::Millis, true);

    let (id, event_type, subject, time, data_fields) = match recognized {
        Some(r) => {
            let id = event_id(source.name, &r.identity);
            let time = r
                .time
                .as_deref()
                .and_then(|raw| parse_time(raw, source.naive_zone))
                .map(|t| rfc3339(&t))
                .unwrap_or_else(|| received.clone());
            let event_type = format!("kyc.{}.{}", source.product, r.kind);
            let fields = (Some(r.provider_event), r.status, r.sub_status, r.time);
            (id, event_type, Some(r.subject), time, fields)
        }
        None => {
            let id = unrecognized_id(source.name, body, parsed.as_ref());
            let event_type = format!("kyc.{}.unrecognized", source.product);
            let event_name = parsed.as_ref().and_then(|v| source.event_name(v));
            (
                id,
                event_type,
                None,
                received.clone(),
                (event_name, None, None, None),
            )
        }
    };
    let (provider_event, provider_status, provider_sub_status, provider_time) = data_fields;

    let event = KycEvent {
        specversion: SPEC_VERSION.into(),
        id: id.clone(),
        source: source.name.into(),
        event_type: event_type.clone(),
        subject: subject.clone(),
        time,
        datacontenttype: DATA_CONTENT_TYPE.into(),
        data: EventData {
            provider: source.provider.into(),
            product: source.product.into(),
            provider_event,
            provider_status,
            provider_sub_status,
            provider_time,
            received_at: received,
            payload_encoding: encoding,
            payload,
        },
    };
    // Serializing a struct of strings and a RawValue cannot fail.
    let body = serde_json::to_string(&event).unwrap_or_default();
    Normalized {
        id,
        event_type,
        source: source.name,
        subject,
        body,
    }
}

/// The body as the event's `payload`: the JSON itself, else the text as a JSON string, else
/// (not UTF-8) its Base64 as a string, flagged by `payload_encoding`.
fn payload(body: &[u8]) -> (Box<RawValue>, Option<String>) {
    if let Ok(raw) = serde_json::from_slice::<&RawValue>(body) {
        return (raw.to_owned(), None);
    }
    let (text, encoding) = match std::str::from_utf8(body) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (BASE64.encode(body), Some("base64".to_owned())),
    };
    let raw = serde_json::value::to_raw_value(&text).unwrap_or_else(|_| empty_string());
    (raw, encoding)
}

fn empty_string() -> Box<RawValue> {
    RawValue::from_string("\"\"".to_owned()).unwrap_or_else(|_| unreachable!())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ist() -> FixedOffset {
        FixedOffset::east_opt(5 * 3600 + 1800).expect("offset")
    }

    #[test]
    fn lenient_times() {
        let t = parse_time("2025-05-22T03:51:14Z", ist()).expect("rfc3339");
        assert_eq!(rfc3339(&t), "2025-05-22T03:51:14Z");
        let t = parse_time("2023-07-19 10:46:16", ist()).expect("naive");
        assert_eq!(rfc3339(&t), "2023-07-19T10:46:16+05:30");
        let t = parse_time("2022-08-22T12:48:32.346Z", ist()).expect("millis");
        assert_eq!(rfc3339(&t), "2022-08-22T12:48:32.346Z");
        assert!(parse_time("2023-01-30T1722.102Z", ist()).is_none());
        assert!(parse_time("", ist()).is_none());
    }

    #[test]
    fn event_id_separates_fields() {
        let a = event_id("s", &[Value::from("ab"), Value::from("c")]);
        let b = event_id("s", &[Value::from("a"), Value::from("bc")]);
        let c = event_id("t", &[Value::from("ab"), Value::from("c")]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn payload_kept_as_received() {
        let (p, e) = payload(br#"{"b":1, "a":[1.50,2]}"#);
        assert_eq!(p.get(), r#"{"b":1, "a":[1.50,2]}"#);
        assert_eq!(e, None);
        let (p, e) = payload(b"plain text");
        assert_eq!(p.get(), "\"plain text\"");
        assert_eq!(e, None);
        let (p, e) = payload(&[0xff, 0xfe]);
        assert_eq!(p.get(), "\"//4=\"");
        assert_eq!(e.as_deref(), Some("base64"));
    }
}
