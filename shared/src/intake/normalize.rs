//! From an authenticated body to the normalized event: recognition by the source's module,
//! then the parts every source shares (event id, time, unrecognized fallback).

use super::source::{Recognized, SourceSpec};
use crate::event::{AuthScheme, EventData, KycEvent};
use crate::intake::queue::attributes_size;
use crate::intake::settings::QUEUE_MAX_MESSAGE_BYTES;
use crate::intake::withhold::{self, PersonalData};
use crate::trace::TraceHeader;
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
    /// The provider's event time, epoch ms, when the payload had one we could read.
    pub provider_time_ms: Option<i64>,
    /// The X-Ray trace header of the invocation that made it (`trace`).
    pub trace_header: Option<String>,
}

impl Normalized {
    /// The queue message that sends this event: its body, the journey's message group, the event
    /// id as deduplication id, and the `type` and `source` attributes.
    pub fn message(&self) -> crate::intake::queue::OutgoingMessage {
        crate::intake::queue::OutgoingMessage {
            body: self.body.clone(),
            group_id: self.group_id(),
            deduplication_id: self.id.clone(),
            event_type: self.event_type.clone(),
            source: self.source.to_owned(),
            replay: None,
            trace_header: self.trace_header.clone(),
        }
    }

    /// Carry this event on `trace`: its `traceparent` and its message's `AWSTraceHeader` (the
    /// body written again: for the events made off the webhook path). Unchanged on an error.
    pub fn trace(&mut self, trace: &TraceHeader) -> Result<(), serde_json::Error> {
        let mut event: KycEvent = serde_json::from_str(&self.body)?;
        event.traceparent = Some(trace.traceparent());
        self.body = serde_json::to_string(&event)?;
        self.trace_header = Some(trace.header());
        Ok(())
    }

    /// FIFO `MessageGroupId`: [`crate::event::message_group`].
    pub fn group_id(&self) -> String {
        crate::event::message_group(self.source, self.subject.as_deref(), &self.id)
    }
}

/// Parse a provider time leniently: RFC 3339, epoch milliseconds, or a date-time without zone read in `naive_zone`
/// (Cashfree sends `2023-07-19 10:46:16`, meant as IST). `None` for anything else.
pub fn parse_time(raw: &str, naive_zone: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim();
    // Epoch milliseconds (Digio's `created_at`).
    if (10..=15).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.fixed_offset());
    }
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

/// Identity of an unrecognized body: the provider's notification id when the source has one (the
/// same id the event has once a mapping recognizes it), else its canonical JSON (keys sorted, no
/// whitespace, top-level `signature` removed, as it is a delivery detail) when it is JSON, its raw
/// bytes otherwise.
pub fn unrecognized_id(source: &SourceSpec, body: &[u8], parsed: Option<&Value>) -> String {
    let notification = source
        .notification_id
        .and_then(|pointer| parsed?.pointer(pointer))
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty());
    if let Some(id) = notification {
        return event_id(source.name, &[Value::from(id)]);
    }
    let source = source.name;
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

/// The longest value (in bytes) of an envelope field read from the payload (`subject`,
/// `provider_event`, statuses, `provider_time`). A payload with a longer one, or one holding a
/// control character or a character SQS refuses, is not recognized (its bytes are still forwarded
/// in `payload`), so the envelope around the payload stays small and always valid.
pub const MAX_FIELD_BYTES: usize = 256;
/// True when SQS accepts every character of `text` in a message: #x9, #xA, #xD, #x20–#xD7FF,
/// #xE000–#xFFFD, #x10000–#x10FFFF (a Rust `str` holds no surrogates).
pub fn sqs_accepts(text: &str) -> bool {
    text.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{FFFD}' | '\u{10000}'..))
}

/// A value fit for the envelope: short, no control characters, nothing SQS refuses.
fn fits_envelope(value: &str) -> bool {
    value.len() <= MAX_FIELD_BYTES && !value.chars().any(char::is_control) && sqs_accepts(value)
}

/// Every envelope field the source read from the payload fits; else the payload is forwarded as
/// unrecognized.
fn envelope_fits(r: &Recognized) -> bool {
    [
        Some(r.subject.as_str()),
        Some(r.provider_event.as_str()),
        r.status.as_deref(),
        r.sub_status.as_deref(),
        r.time.as_deref(),
    ]
    .into_iter()
    .flatten()
    .all(fits_envelope)
}

/// The event could not be serialized: it never happens for the strings and JSON it is made of,
/// and if it did, the request is answered 503 rather than an empty message sent.
#[derive(Debug, thiserror::Error)]
#[error("the event could not be serialized: {0}")]
pub struct NormalizeError(#[from] serde_json::Error);

/// The archive's key of a delivery: its source, its receipt time, its event id.
pub type ArchiveKeyRule = fn(&str, DateTime<Utc>, &str) -> String;

/// How an event carries its delivery: the function's personal-data setting, and the archive key
/// rule when the delivery is archived (`data.archive_key`).
#[derive(Debug, Clone, Default)]
pub struct Shaping {
    pub personal_data: PersonalData,
    /// `intake::archive::key` when the function archives.
    pub archive_key: Option<ArchiveKeyRule>,
    /// The invocation's trace, which the event carries on (`traceparent`, `AWSTraceHeader`).
    pub trace: Option<TraceHeader>,
}

impl Shaping {
    /// The payload as received, no archive, no trace: the event as the identity and type rules
    /// make it.
    pub const AS_RECEIVED: Self = Self {
        personal_data: PersonalData::Include,
        archive_key: None,
        trace: None,
    };
}

/// Normalize an authenticated body, its payload as received (`Shaping::AS_RECEIVED`).
pub fn normalize(
    source: &SourceSpec,
    body: &[u8],
    received_at: DateTime<Utc>,
    auth_scheme: AuthScheme,
) -> Result<Normalized, NormalizeError> {
    normalize_shaped(source, body, received_at, auth_scheme, Shaping::AS_RECEIVED)
}

/// Normalize an authenticated body. What the source does not recognize becomes
/// `kyc.<product>.unrecognized` with the raw body kept; a body SQS would refuse as is (not
/// UTF-8, characters outside SQS's set, too large once escaped) travels as Base64; `shaping`
/// withholds the source's personal data and names the archived delivery. The one error is a
/// serialization failure, which the types make impossible in practice.
pub fn normalize_shaped(
    source: &SourceSpec,
    body: &[u8],
    received_at: DateTime<Utc>,
    auth_scheme: AuthScheme,
    shaping: Shaping,
) -> Result<Normalized, NormalizeError> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let recognized: Option<Recognized> = parsed
        .as_ref()
        .and_then(source.recognize)
        .filter(envelope_fits);
    let known = recognized.is_some();
    let received = crate::event::timestamp(received_at);
    let read = match recognized {
        Some(r) => Read::recognized(source, r, received_at, &received),
        None => Read::unrecognized(source, body, parsed.as_ref(), &received),
    };
    let Read {
        id,
        event_type,
        subject,
        time,
        product,
        provider_time_ms,
        fields: (provider_event, provider_status, provider_sub_status, provider_time),
    } = read;
    let mut event = KycEvent::new(
        id.clone(),
        source.name,
        event_type.clone(),
        subject.clone(),
        time,
        EventData {
            provider: source.provider.into(),
            product: product.into(),
            provider_event,
            provider_status,
            provider_sub_status,
            provider_time,
            received_at: received,
            auth_scheme,
            payload_encoding: None,
            expect_within_s: None,
            fetched_at: None,
            // Set below: the body as received, or as Base64.
            payload: RawValue::NULL.to_owned(),
            withheld: None,
            archive_key: shaping
                .archive_key
                .map(|key| key(source.name, received_at, &id)),
        },
    );
    event.traceparent = shaping.trace.as_ref().map(TraceHeader::traceparent);
    let declared = if known { source.personal_data } else { &[] };
    let payload = known.then_some(parsed).flatten();
    let body = shaped_message(&mut event, body, payload, declared, shaping.personal_data)?;
    Ok(Normalized {
        id,
        event_type,
        source: source.name,
        subject,
        body,
        provider_time_ms,
        trace_header: shaping.trace.as_ref().map(TraceHeader::header),
    })
}

/// What a delivery says, as the event carries it: its id, type, subject, time and product, and
/// the provider's event, status, sub-status and time.
struct Read {
    id: String,
    event_type: String,
    subject: Option<String>,
    time: String,
    product: &'static str,
    provider_time_ms: Option<i64>,
    fields: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
}

impl Read {
    /// A delivery its source recognized: the id of its identity, its kind's type (a kind
    /// `<product>.<kind>` is an event of another product of the same journey), its own time
    /// unless it is too far ahead of the receipt.
    fn recognized(
        source: &SourceSpec,
        r: Recognized,
        received_at: DateTime<Utc>,
        received: &str,
    ) -> Self {
        let parsed = r
            .time
            .as_deref()
            .and_then(|raw| parse_time(raw, source.naive_zone));
        let time = parsed
            .filter(|t| *t <= received_at + MAX_FUTURE_TIME)
            .map(|t| rfc3339(&t))
            .unwrap_or_else(|| received.to_owned());
        let (product, kind) = r.kind.split_once('.').unwrap_or((source.product, r.kind));
        Self {
            id: event_id(source.name, &r.identity),
            event_type: format!("kyc.{product}.{kind}"),
            subject: Some(r.subject),
            time,
            product,
            provider_time_ms: parsed.map(|t| t.timestamp_millis()),
            fields: (Some(r.provider_event), r.status, r.sub_status, r.time),
        }
    }

    /// A delivery it did not: the id of its whole body, `unrecognized`, its receipt time, and
    /// the provider's event name when one can be read.
    fn unrecognized(
        source: &SourceSpec,
        body: &[u8],
        parsed: Option<&Value>,
        received: &str,
    ) -> Self {
        let event_name = parsed
            .and_then(|v| source.event_name(v))
            .filter(|n| fits_envelope(n));
        Self {
            id: unrecognized_id(source, body, parsed),
            event_type: format!("kyc.{}.unrecognized", source.product),
            subject: None,
            time: received.to_owned(),
            product: source.product,
            provider_time_ms: None,
            fields: (event_name, None, None, None),
        }
    }
}

/// How far ahead of its receipt an event's `time` may be. A provider time further ahead (a wrong
/// clock, or a field nothing signed) would win every later comparison of the journey's state, so
/// `time` becomes the receipt time; `data.provider_time` keeps the provider's value as sent.
pub const MAX_FUTURE_TIME: chrono::Duration = crate::event::MAX_FUTURE_SKEW;

/// `payload_encoding` of a Base64 payload.
pub const BASE64_ENCODING: &str = "base64";

/// The message body of `event` carrying `raw` as its `payload`: as received (the JSON itself, a
/// text as a JSON string) when `raw` is UTF-8 and the message then fits the queue beside its
/// attributes and SQS accepts every character of it, else as Base64 (`payload_encoding`). The one
/// rule for every event this library sends, a webhook's or the sweeper's.
pub fn message_with_payload(event: &mut KycEvent, raw: &[u8]) -> Result<String, serde_json::Error> {
    let room = QUEUE_MAX_MESSAGE_BYTES - attributes_size(&event.event_type, &event.source);
    let as_is = match std::str::from_utf8(raw) {
        Ok(text) => {
            event.data.payload = as_received(raw, text)?;
            event.data.payload_encoding = None;
            Some(serde_json::to_string(&*event)?)
        }
        Err(_) => None,
    };
    match as_is {
        Some(message) if message.len() <= room && sqs_accepts(&message) => Ok(message),
        _ => {
            event.data.payload = base64_string(raw)?;
            event.data.payload_encoding = Some(BASE64_ENCODING.to_owned());
            serde_json::to_string(&*event)
        }
    }
}

/// The message body of `event` carrying `raw` (`parsed`: its JSON, when it is JSON of a recognized
/// event) with `personal_data`: as received (`message_with_payload`), or with the `declared`
/// fields removed and listed in `withheld`; a payload whose fields are unknown (not JSON,
/// unrecognized) or that would travel as Base64 is then left out whole (`withheld: [""]`). The
/// one rule for every event this library sends, a webhook's or the sweeper's.
pub fn shaped_message(
    event: &mut KycEvent,
    raw: &[u8],
    parsed: Option<Value>,
    declared: &[&str],
    personal_data: PersonalData,
) -> Result<String, serde_json::Error> {
    if personal_data == PersonalData::Include {
        return message_with_payload(event, raw);
    }
    if let Some(mut value) = parsed {
        let removed = withhold::remove(&mut value, declared);
        let minimized;
        let payload: &[u8] = if removed.is_empty() {
            raw
        } else {
            minimized = serde_json::to_vec(&value)?;
            &minimized
        };
        event.data.withheld = Some(withhold::listed(removed));
        let message = message_with_payload(event, payload)?;
        if event.data.payload_encoding.is_none() {
            return Ok(message);
        }
    }
    event.data.payload = RawValue::NULL.to_owned();
    event.data.payload_encoding = None;
    event.data.withheld = Some(vec![withhold::WHOLE.to_owned()]);
    serde_json::to_string(&*event)
}

/// A UTF-8 body as the event's `payload`: the JSON itself, else the text as a JSON string.
fn as_received(body: &[u8], text: &str) -> Result<Box<RawValue>, serde_json::Error> {
    if let Ok(raw) = serde_json::from_slice::<&RawValue>(body) {
        return Ok(raw.to_owned());
    }
    serde_json::value::to_raw_value(text)
}

fn base64_string(body: &[u8]) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(&BASE64.encode(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::settings::{ENVELOPE_RESERVE_BYTES, MAX_BODY_BYTES_LIMIT};

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

    fn vkyc() -> &'static SourceSpec {
        &crate::sources::cashfree::vkyc::SOURCE
    }

    fn event_of(body: &[u8]) -> KycEvent {
        let n = normalize(
            vkyc(),
            body,
            Utc::now(),
            crate::sources::cashfree::HEADER_HMAC,
        )
        .expect("normalized");
        assert!(sqs_accepts(&n.body), "the message is valid for SQS");
        assert!(n.body.len() + attributes_size(&n.event_type, n.source) <= QUEUE_MAX_MESSAGE_BYTES);
        serde_json::from_str(&n.body).expect("a KycEvent")
    }

    fn decoded(e: &KycEvent) -> Vec<u8> {
        assert_eq!(e.data.payload_encoding.as_deref(), Some("base64"));
        let text: String = serde_json::from_str(e.data.payload.get()).expect("a string");
        BASE64.decode(text).expect("base64")
    }

    #[test]
    fn payload_kept_as_received() {
        let e = event_of(br#"{"b":1, "a":[1.50,2]}"#);
        assert_eq!(e.data.payload.get(), r#"{"b":1, "a":[1.50,2]}"#);
        assert_eq!(e.data.payload_encoding, None);
        assert_eq!(e.data.auth_scheme, crate::sources::cashfree::HEADER_HMAC);
        let e = event_of(b"plain text");
        assert_eq!(e.data.payload.get(), "\"plain text\"");
        assert_eq!(e.data.payload_encoding, None);
        let e = event_of(&[0xff, 0xfe]);
        assert_eq!(e.data.payload.get(), "\"//4=\"");
        assert_eq!(decoded(&e), [0xff, 0xfe]);
    }

    #[test]
    fn a_time_more_than_five_minutes_ahead_becomes_the_receipt_time() {
        let received: DateTime<Utc> = "2025-05-22T03:51:14Z".parse().expect("time");
        let body = |t: &str| {
            format!(
                r#"{{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"{t}","data":{{"verification_id":"v-1","status":"IN_VIDEO_CALL","sub_status":"CALL_COMPLETED"}}}}"#
            )
        };
        let at = |t: &str| -> KycEvent {
            let n = normalize(
                vkyc(),
                body(t).as_bytes(),
                received,
                crate::sources::cashfree::HEADER_HMAC,
            )
            .expect("normalized");
            serde_json::from_str(&n.body).expect("a KycEvent")
        };
        let near = at("2025-05-22T03:56:14Z");
        assert_eq!(near.time, "2025-05-22T03:56:14Z", "5 minutes ahead is kept");
        let far = at("2099-01-01T00:00:00Z");
        assert_eq!(far.time, "2025-05-22T03:51:14.000Z");
        assert_eq!(far.time, far.data.received_at);
        assert_eq!(
            far.data.provider_time.as_deref(),
            Some("2099-01-01T00:00:00Z")
        );
        assert_eq!(
            far.event_type, "kyc.vkyc.call_completed",
            "still recognized"
        );
        let just_over = at("2025-05-22T03:56:14.001Z");
        assert_eq!(just_over.time, "2025-05-22T03:51:14.000Z");
    }

    #[test]
    fn characters_sqs_refuses_travel_as_base64() {
        for body in [
            "{\"event_type\":\"X\",\"data\":{\"note\":\"\u{FFFF}\"}}",
            "{\"k\":\"\u{FFFE}\"}",
            "text with \u{FFFF}",
        ] {
            let e = event_of(body.as_bytes());
            assert_eq!(decoded(&e), body.as_bytes(), "{body:?}");
        }
        // Control characters in text are escaped by JSON, which SQS accepts.
        let e = event_of(b"a\x01b");
        assert_eq!(e.data.payload.get(), "\"a\\u0001b\"");
    }

    #[test]
    fn a_body_too_large_once_escaped_travels_as_base64_and_fits() {
        // The worst case: MAX_BODY_BYTES_LIMIT bytes of control characters, each escaped to 6.
        let body = vec![0x01u8; MAX_BODY_BYTES_LIMIT];
        let e = event_of(&body);
        assert_eq!(decoded(&e), body);
        // The largest JSON body that fits as is stays as is.
        let json = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES_LIMIT - 2));
        let e = event_of(json.as_bytes());
        assert_eq!(e.data.payload_encoding, None);
    }

    #[test]
    fn the_envelope_reserve_covers_the_longest_envelope() {
        // Every payload-read field at its longest, made of the character JSON escapes to two bytes.
        let long = "\"".repeat(MAX_FIELD_BYTES);
        let body = serde_json::json!({
            "event_type": "VKYC_USER_CALL_COMPLETED", "event_time": long,
            "data": {"verification_id": long, "status": long, "sub_status": long}
        })
        .to_string();
        let n = normalize(
            vkyc(),
            body.as_bytes(),
            Utc::now(),
            crate::sources::cashfree::LEGACY_BODY_HMAC,
        )
        .expect("normalized");
        let e: KycEvent = serde_json::from_str(&n.body).expect("event");
        assert_eq!(e.subject.as_deref(), Some(long.as_str()), "recognized");
        let envelope = n.body.len() - e.data.payload.get().len();
        let attributes = attributes_size(&n.event_type, n.source);
        assert!(
            envelope + attributes + "\"\"".len() <= ENVELOPE_RESERVE_BYTES,
            "envelope {envelope} + attributes {attributes}"
        );
    }

    #[test]
    fn fields_too_long_or_unsafe_make_the_payload_unrecognized() {
        let good = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","data":{"verification_id":"v","status":"S","sub_status":"C"}}"#;
        assert_eq!(event_of(good.as_bytes()).subject.as_deref(), Some("v"));
        for bad in [
            "x".repeat(MAX_FIELD_BYTES + 1),
            "a\u{0}b".into(),
            "a\nb".into(),
            "\u{FFFF}".into(),
        ] {
            let body = good.replace("\"v\"", &serde_json::to_string(&bad).expect("json"));
            let e = event_of(body.as_bytes());
            assert_eq!(e.event_type, "kyc.vkyc.unrecognized", "{bad:?}");
            assert_eq!(e.subject, None);
            assert_eq!(e.data.payload_encoding.is_some(), bad.contains('\u{FFFF}'));
        }
    }

    #[test]
    fn sqs_character_set() {
        assert!(sqs_accepts(
            "\t\n\r ~\u{7f}\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}"
        ));
        for c in ['\u{0}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!sqs_accepts(&c.to_string()), "{c:?}");
        }
    }
}
