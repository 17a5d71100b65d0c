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
//! normalized event exactly as it was sent to the queue, the hashes of both in clear (salted with
//! 32 random bytes of the delivery's own, kept inside the seal when there is one, so that once a
//! journey is erased nobody can test a guessed body against them), and the function's attestation
//! of it all (`attest`). `verify` is every reader's check of an object;
//! `replay` turns an archived delivery into an event again with this build's code (see
//! `kycctl replay`).

use super::source::SourceSpec;
use crate::event::KycEvent;
use crate::fault::{Fault, FaultKind};
use crate::intake::attest::{self, Attestation, Attested};
use crate::intake::auth::AuthScheme;
use crate::intake::inbound::Inbound;
use crate::intake::normalize::{normalize_shaped, Normalized, Shaping};
use crate::intake::queue::OutgoingMessage;
use crate::intake::seal::{self, Sealed};
use crate::intake::withhold::PersonalData;
use crate::trace::TraceHeader;
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
    /// The hex SHA-256 of the salt followed by the raw body (version 1: of the body alone), in
    /// clear: an attestation verifies without the body.
    #[serde(default)]
    pub body_sha256: String,
    /// The hex SHA-256 of the salt followed by `event` (version 1: of the event alone), in clear.
    #[serde(default)]
    pub event_sha256: String,
    /// The delivery's 32 random bytes (Base64) its digests are salted with; inside the seal when
    /// the object is sealed, absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// The function's proof of all the above; absent, the object is not the intake's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
    /// The journey's hash (`seal::journey`), when the body and event are sealed under a data key
    /// of the delivery's own: its key items and erasure records are filed under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    /// The raw body and event, sealed (`seal`): `request.body_base64` is empty and `event` is
    /// `null` in the object until a reader opens it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    /// When a reader found the journey erased before this delivery was opened (its key gone):
    /// the erasure's time (RFC 3339). Never stored.
    #[serde(skip)]
    pub erased: Option<String>,
    /// Why a reader could not open the seal (and it is not erased). Never stored.
    #[serde(skip)]
    pub unopened: Option<String>,
}

/// What a seal holds: the two fields an erasure makes unreadable.
#[derive(Serialize, Deserialize)]
struct SealedContents {
    body_base64: String,
    event: Box<RawValue>,
    /// The digests' salt: erased with the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
}

/// The JSON `null` a sealed object keeps in place of its event.
fn null_event() -> Box<RawValue> {
    RawValue::NULL.to_owned()
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
    ) -> Result<Self, Fault> {
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
        let mut salt = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).map_err(
            |_| {
                Fault::new(
                    "archive record",
                    FaultKind::Rejected,
                    "no randomness for the salt",
                )
            },
        )?;
        let event_json = RawValue::from_string(event.body.clone()).map_err(|e| {
            Fault::new(
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
            body_sha256: attest::salted_sha256_hex(&salt, req.body),
            event_sha256: attest::salted_sha256_hex(&salt, event.body.as_bytes()),
            salt: Some(BASE64.encode(salt)),
            event: event_json,
            attestation: None,
            journey: None,
            sealed: None,
            erased: None,
            unopened: None,
        })
    }

    /// Seal the raw body and event under `data_key`, bound to the object key `key`, filed under
    /// `journey`: what is left in clear is what an attestation is checked with.
    pub fn seal(&mut self, key: &str, journey: &str, data_key: &[u8; 32]) -> Result<(), Fault> {
        let contents = SealedContents {
            body_base64: std::mem::take(&mut self.request.body_base64),
            event: std::mem::replace(&mut self.event, null_event()),
            salt: self.salt.take(),
        };
        let plain = serde_json::to_vec(&contents)
            .map_err(|e| Fault::new("archive seal", FaultKind::Rejected, e.to_string()))?;
        self.sealed = Some(seal::seal(data_key, key, &plain)?);
        self.journey = Some(journey.to_owned());
        Ok(())
    }

    /// Open the seal with `data_key` (the object at `key`): the body and event back in place.
    pub fn unseal(&mut self, key: &str, data_key: &[u8; 32]) -> Result<(), String> {
        let Some(sealed) = &self.sealed else {
            return Ok(());
        };
        let plain = seal::open(data_key, key, sealed)?;
        let contents: SealedContents = serde_json::from_slice(&plain)
            .map_err(|e| format!("the seal holds no body and event ({e})"))?;
        self.request.body_base64 = contents.body_base64;
        self.event = contents.event;
        self.salt = contents.salt;
        self.sealed = None;
        Ok(())
    }

    /// How its attestation signs (`attest::CURRENT` until it is attested).
    pub fn version(&self) -> u32 {
        self.attestation
            .as_ref()
            .map_or(attest::CURRENT, |a| a.version)
    }

    /// The digest its version keeps of `bytes` (the body or the event): salted in version 2.
    pub(crate) fn digest(&self, bytes: &[u8]) -> Result<String, String> {
        if self.version() == 1 {
            return Ok(attest::sha256_hex(bytes));
        }
        let salt = self
            .salt
            .as_deref()
            .ok_or("a version 2 object without its salt")?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| "its salt is not Base64".to_owned())?;
        Ok(attest::salted_sha256_hex(&salt, bytes))
    }

    /// What an attestation of this object under `key` signs.
    pub fn attested<'a>(&'a self, key: &'a str) -> Attested<'a> {
        Attested {
            key,
            event_id: &self.event_id,
            source: &self.source,
            received_at: &self.received_at,
            auth_scheme: self.auth_scheme.as_str(),
            path: &self.request.path,
            source_ip: self.request.source_ip.as_deref().unwrap_or_default(),
            headers_sha256: attest::headers_sha256(self.version(), &self.request.headers),
            body_sha256: &self.body_sha256,
            event_sha256: &self.event_sha256,
        }
    }

    /// The object's bytes.
    pub fn to_json(&self) -> Result<Vec<u8>, Fault> {
        serde_json::to_vec(self)
            .map_err(|e| Fault::new("archive record", FaultKind::Rejected, e.to_string()))
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
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>>;
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
/// replay's message. The event keeps its receipt time and authentication scheme, withholds
/// personal data as the function that received it did (its event carried `withheld`, or not),
/// and names this delivery as its `archive_key`.
pub fn replay(
    delivery: &ArchivedDelivery,
    source: &SourceSpec,
    replay_id: &str,
    trace: Option<&TraceHeader>,
) -> Result<Replayed, String> {
    let body = delivery.body()?;
    let received_at = delivery.received_at()?;
    let then: Option<KycEvent> = serde_json::from_str(delivery.event.get()).ok();
    let personal_data = match then.as_ref().map(|e| e.data.withheld.is_some()) {
        Some(true) => PersonalData::Withhold,
        _ => PersonalData::Include,
    };
    let shaping = Shaping {
        personal_data,
        archive_key: None,
        trace: trace.cloned(),
    };
    let event = normalize_shaped(
        source,
        &body,
        received_at,
        delivery.auth_scheme.clone(),
        shaping,
    )
    .map_err(|e| format!("{}: {e}", delivery.event_id))?;
    let mut marked: KycEvent = serde_json::from_str(&event.body)
        .map_err(|e| format!("{}: the event: {e}", delivery.event_id))?;
    marked.kycreplay = Some(replay_id.to_owned());
    marked.data.archive_key = Some(key(&delivery.source, received_at, &delivery.event_id));
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
