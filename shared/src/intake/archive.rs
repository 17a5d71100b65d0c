//! The audit archive: every authenticated delivery that makes a new event, kept as the provider
//! sent it, before the 200. One object per event in the archive bucket (`ARCHIVE_BUCKET`),
//! `deliveries/<source>/<YYYY>/<MM>/<DD>/<event id>.json` (the UTC day of receipt), written
//! create-only and concurrently with the queue send; both must succeed before the claim completes.
//! The bucket keeps it under S3 Object Lock, encrypted with the stack's KMS key.
//!
//! The object holds the raw body (Base64), the request's path without its query string (the
//! DigiLocker token travels there), the source IP, the headers minus every one that carries one of
//! our secrets (the source's token header, `authorization`, `cookie`; Cashfree's signature and
//! timestamp stay: they are the provider's proof), what authenticated it, when it arrived, and the
//! normalized event exactly as it was sent to the queue. `replay` turns an archived delivery into
//! an event again with this build's code (see `kycctl replay`).

use crate::event::KycEvent;
use crate::intake::auth::{AuthError, AuthScheme, Reverified};
use crate::intake::inbound::Inbound;
use crate::intake::normalize::{normalize, Normalized};
use crate::ports::{FaultKind, OutgoingMessage, PortError};
use crate::sources::SourceSpec;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// The key prefix of every delivery.
pub const PREFIX: &str = "deliveries";
/// Headers never archived, whatever the source: they can carry credentials.
pub const NEVER_ARCHIVED: &[&str] = &["authorization", "cookie"];
/// The message attribute and CloudEvents extension attribute that mark a replayed event.
pub const REPLAY_ATTRIBUTE: &str = "replay";

/// The object key of an event received at `received_at`.
pub fn key(source: &str, received_at: DateTime<Utc>, event_id: &str) -> String {
    format!("{}{event_id}.json", day_prefix(source, received_at))
}

/// The key prefix of one source's deliveries of one UTC day (ends with `/`).
pub fn day_prefix(source: &str, day: DateTime<Utc>) -> String {
    format!(
        "{PREFIX}/{source}/{:04}/{:02}/{:02}/",
        day.year(),
        day.month(),
        day.day()
    )
}

/// One archived delivery (the object's JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedDelivery {
    pub event_id: String,
    pub source: String,
    /// RFC 3339, as in the event's `data.received_at`.
    pub received_at: String,
    pub auth_scheme: AuthScheme,
    pub request: ArchivedRequest,
    /// The normalized event exactly as it was sent to the queue.
    pub event: Box<RawValue>,
}

/// The HTTP request as API Gateway passed it on, minus our secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedRequest {
    /// The path, never the query string.
    pub path: String,
    pub source_ip: Option<String>,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The raw body as received (after API Gateway's Base64 decoding).
    pub body_base64: String,
}

impl ArchivedDelivery {
    /// The record of `req`, authenticated by `auth_scheme`, which became `event` at `received_at`.
    /// `secret_headers` are the source's own (its token header).
    pub fn of(
        req: &Inbound<'_>,
        secret_headers: &[http::HeaderName],
        auth_scheme: AuthScheme,
        event: &Normalized,
        received_at: DateTime<Utc>,
    ) -> Result<Self, PortError> {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in req.headers {
            let name = name.as_str();
            if NEVER_ARCHIVED.contains(&name) || secret_headers.iter().any(|s| s == name) {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let event_json = RawValue::from_string(event.body.clone()).map_err(|e| {
            PortError::new(
                "archive record",
                FaultKind::Rejected,
                format!("the event: {e}"),
            )
        })?;
        Ok(Self {
            event_id: event.id.clone(),
            source: event.source.to_owned(),
            received_at: crate::event::timestamp(received_at),
            auth_scheme,
            request: ArchivedRequest {
                path: req.path.split('?').next().unwrap_or_default().to_owned(),
                source_ip: req.source_ip.map(|ip| ip.to_string()),
                headers,
                body_base64: BASE64.encode(req.body),
            },
            event: event_json,
        })
    }

    /// The object's bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, PortError> {
        serde_json::to_vec(self)
            .map_err(|e| PortError::new("archive record", FaultKind::Rejected, e.to_string()))
    }

    /// The raw body as received.
    pub fn body(&self) -> Result<Vec<u8>, String> {
        BASE64
            .decode(&self.request.body_base64)
            .map_err(|e| format!("{}: body_base64: {e}", self.event_id))
    }

    /// When it was received.
    pub fn received_at(&self) -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(&self.received_at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{}: received_at: {e}", self.event_id))
    }

    /// The journey reference (`subject`) of the event it made when it arrived.
    pub fn subject(&self) -> Option<String> {
        serde_json::from_str::<KycEvent>(self.event.get())
            .ok()
            .and_then(|e| e.subject)
    }

    /// The event type it had when it arrived.
    pub fn event_type(&self) -> Option<String> {
        serde_json::from_str::<KycEvent>(self.event.get())
            .ok()
            .map(|e| e.event_type)
    }
}

/// Where the archive is written: S3 in production (`aws::S3Archive`), memory in unit tests.
pub trait Archive: Send + Sync {
    /// Write `body` under `key` unless an object is there already (an earlier attempt of the
    /// same event), which counts as written.
    fn put_new<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), PortError>> + Send + 'a>>;
}

/// A delivery made into an event again, with this build's code, for a replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The type it had when it arrived.
    pub type_then: Option<String>,
    /// The event it makes now.
    pub event: Normalized,
    /// The message that sends it: marked with the replay id (`kycreplay` in the event, message
    /// attribute `replay`), deduplicated apart from the original (`<event id>:replay:<replay id>`).
    pub message: OutgoingMessage,
}

/// Normalize an archived delivery again with `source` (this build's mapping) and make the
/// replay's message. The event keeps its receipt time and authentication scheme.
pub fn replay(
    delivery: &ArchivedDelivery,
    source: &SourceSpec,
    replay_id: &str,
) -> Result<Replayed, String> {
    let body = delivery.body()?;
    let received_at = delivery.received_at()?;
    let event = normalize(source, &body, received_at, delivery.auth_scheme.clone())
        .map_err(|e| format!("{}: {e}", delivery.event_id))?;
    let mut marked: KycEvent = serde_json::from_str(&event.body)
        .map_err(|e| format!("{}: the event: {e}", delivery.event_id))?;
    marked.kycreplay = Some(replay_id.to_owned());
    let body = serde_json::to_string(&marked)
        .map_err(|e| format!("{}: the event: {e}", delivery.event_id))?;
    let message = OutgoingMessage {
        body,
        deduplication_id: format!("{}:replay:{replay_id}", event.id),
        replay: Some(replay_id.to_owned()),
        ..event.message()
    };
    Ok(Replayed {
        type_then: delivery.event_type(),
        event,
        message,
    })
}

/// How far past the reader's clock a `received_at` may be (clocks differ a little).
const MAX_FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Replay's verdict on one archived delivery: whether it may be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Consistent, and the provider's signature holds again.
    Verified,
    /// Consistent; its scheme's proof (a token) is never archived, so it cannot be checked again.
    Consistent,
    /// Not sent: why.
    Refused(String),
}

impl Verdict {
    pub fn sendable(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Verified => f.write_str("verified"),
            Self::Consistent => f.write_str("consistent (token: not re-verifiable)"),
            Self::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

/// What replay checks an archived object against.
pub struct Check<'a> {
    /// The object's key.
    pub key: &'a str,
    /// How many versions the key has (a delivery is written once: more is tampering).
    pub versions: usize,
    /// The source replay reads (`--source`).
    pub source: &'a SourceSpec,
    /// The source's authentication as its function reads it today (its secrets).
    pub auth: &'a dyn crate::intake::auth::Authenticate,
    /// The variables that hold the source's secrets, to name when none is readable.
    pub secret_variables: &'a [&'static str],
    pub now: DateTime<Utc>,
}

/// Check an archived delivery before it is sent again: the key's source and day, the object's
/// `source`, `received_at` and `event_id`, the event it was sent as, and the event id recomputed
/// from the raw body must agree; `received_at` is not in the future; the key has one version; the
/// provider's signature holds where the archive keeps what it signed. Anyone who can write to the
/// bucket could have written the object, so nothing in it is taken on trust.
pub fn verify(delivery: &ArchivedDelivery, check: &Check<'_>) -> Verdict {
    match consistent(delivery, check) {
        Ok((body, received_at)) => reverify(delivery, &body, received_at, check),
        Err(why) => Verdict::Refused(why),
    }
}

/// The object's checks; the raw body and the receipt time, decoded once, when they hold.
fn consistent(d: &ArchivedDelivery, check: &Check<'_>) -> Result<(Vec<u8>, DateTime<Utc>), String> {
    if check.versions != 1 {
        return Err(format!(
            "tampered: the key has {} versions (a delivery is written once)",
            check.versions
        ));
    }
    let (key_source, key_day, key_id) =
        parse_key(check.key).ok_or_else(|| format!("`{}` is not an archive key", check.key))?;
    let source = check.source.name;
    if key_source != source || d.source != source {
        return Err(format!(
            "the key's source ({key_source}), the object's ({}) and the replayed source ({source}) differ",
            d.source
        ));
    }
    if key_id != d.event_id {
        return Err("the key's event id is not the object's".to_owned());
    }
    let received_at = d.received_at()?;
    if received_at > check.now + MAX_FUTURE_SKEW {
        return Err(format!("received_at {} is in the future", d.received_at));
    }
    if day_prefix(source, received_at) != key_day {
        return Err(format!(
            "received_at {} is not the key's day",
            d.received_at
        ));
    }
    let sent: KycEvent = serde_json::from_str(d.event.get())
        .map_err(|_| "the archived event is not an event".to_owned())?;
    let sent_at = DateTime::parse_from_rfc3339(&sent.data.received_at).ok();
    if sent.id != d.event_id
        || sent.source != source
        || sent.data.auth_scheme != d.auth_scheme
        || sent_at.map(|t| t.with_timezone(&Utc)) != Some(received_at)
    {
        return Err(
            "the archived event's id, source, scheme or receipt time is not the object's"
                .to_owned(),
        );
    }
    if !check.source.matches(&d.request.path) {
        return Err(format!("the path is not {source}'s route"));
    }
    let body = d.body()?;
    let again = normalize(check.source, &body, received_at, d.auth_scheme.clone())
        .map_err(|e| format!("the body cannot be normalized again: {e}"))?;
    // An event unrecognized when it arrived was identified by its whole body: that id stands
    // too (a later mapping may recognize it, which is what replay is for).
    let parsed = serde_json::from_slice(&body).ok();
    let as_unrecognized =
        crate::intake::normalize::unrecognized_id(check.source, &body, parsed.as_ref());
    if again.id != d.event_id && as_unrecognized != d.event_id {
        return Err("the event id recomputed from the body is not the archived one".to_owned());
    }
    Ok((body, received_at))
}

fn reverify(
    d: &ArchivedDelivery,
    body: &[u8],
    received_at: DateTime<Utc>,
    check: &Check<'_>,
) -> Verdict {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &d.request.headers {
        match (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => return Verdict::Refused("a header is not a valid header".to_owned()),
        }
    }
    let source_ip = d
        .request
        .source_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok());
    let req = Inbound {
        source_ip,
        ..Inbound::post(&d.request.path, &headers, body)
    };
    match check.auth.reverify(&req, received_at) {
        Reverified::Verified(scheme) if scheme == d.auth_scheme => Verdict::Verified,
        Reverified::NotReverifiable(scheme) if scheme == d.auth_scheme => Verdict::Consistent,
        Reverified::Verified(scheme) | Reverified::NotReverifiable(scheme) => {
            Verdict::Refused(format!(
                "{} authenticates as {}, the object says {}",
                check.source.name,
                scheme.as_str(),
                d.auth_scheme.as_str()
            ))
        }
        Reverified::Failed(AuthError::NotConfigured) => Verdict::Refused(format!(
            "no secret to check the signature with: set {}",
            check
                .secret_variables
                .iter()
                .map(|v| format!("{v} (or {v}_SECRET_ID)"))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
        Reverified::Failed(e) => {
            Verdict::Refused(format!("the signature does not hold ({})", e.code()))
        }
    }
}

/// A key's source, day prefix and event id: `deliveries/<source>/<YYYY>/<MM>/<DD>/<id>.json`.
fn parse_key(key: &str) -> Option<(&str, &str, &str)> {
    let rest = key.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let stem = rest.strip_suffix(".json")?;
    let (day_path, id) = stem.rsplit_once('/')?;
    let mut parts = day_path.rsplitn(4, '/');
    let (dd, mm, yyyy, source) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(dd, 2) && digits(mm, 2) && digits(yyyy, 4)) || id.is_empty() || source.is_empty() {
        return None;
    }
    Some((source, &key[..key.len() - id.len() - ".json".len()], id))
}

/// An archive in memory, for unit tests: it can be told to fail.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
pub struct MemoryArchive {
    pub objects: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
    pub fail: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, feature = "test-util"))]
impl Archive for MemoryArchive {
    fn put_new<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), PortError>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(PortError::new(
                    "memory archive",
                    FaultKind::Unavailable,
                    "unavailable",
                ));
            }
            self.objects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key.to_owned())
                .or_insert(body);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_source_and_utc_day() {
        let t: DateTime<Utc> = "2026-11-30T23:59:59.999Z".parse().expect("time");
        assert_eq!(
            key("cashfree/vkyc", t, "ab12"),
            "deliveries/cashfree/vkyc/2026/11/30/ab12.json"
        );
        let ist: DateTime<chrono::FixedOffset> = "2026-12-01T05:00:00+05:30".parse().expect("time");
        assert_eq!(
            day_prefix("hyperverge/results", ist.with_timezone(&Utc)),
            "deliveries/hyperverge/results/2026/11/30/",
            "the UTC day"
        );
    }
}
