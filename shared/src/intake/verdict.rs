//! Every reader's verdict on one archived delivery (`verify`): the key written once, the
//! attestation holding (the certificate with the archive signing key, then the environment key's
//! signature over the object's fields, the body and event digested again), and the object agreeing
//! with itself and its key. Replay, `kycctl archive`, `dlq redrive` and the console all decide by it.

use super::archive::{day_prefix, ArchivedDelivery, PREFIX};
use super::source::SourceSpec;
use crate::event::{KycEvent, MAX_FUTURE_SKEW};
use crate::intake::attest::{self, Trust};
use crate::intake::normalize::normalize;
use chrono::{DateTime, Utc};

/// Every reader's verdict on one archived delivery: whether it is what a webhook function
/// received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Attested by an environment of `function`, certified at `certified`, in attestation
    /// `version`, and consistent.
    Attested {
        function: String,
        certified: String,
        version: u32,
    },
    /// Attested as above, but its journey was erased at `erased` (RFC 3339): the body and event
    /// can no longer be read, the attestation still proves what was received and when.
    Erased {
        erased: String,
        function: String,
        certified: String,
        version: u32,
    },
    /// Not to be trusted (nor sent again): why.
    Refused(String),
}

impl Verdict {
    /// Whether it may be sent again (replayed): attested and readable.
    pub fn sendable(&self) -> bool {
        matches!(self, Self::Attested { .. })
    }

    /// Whether its attestation holds (readable or erased).
    pub fn attested(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attested {
                function,
                certified,
                version,
            } => write!(
                f,
                "attested by {function} (certified {certified}{})",
                older(*version)
            ),
            Self::Erased {
                erased,
                function,
                certified,
                version,
            } => write!(
                f,
                "erased {} (attested by {function}, certified {certified}{})",
                erased.get(..10).unwrap_or(erased),
                older(*version)
            ),
            Self::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

/// What a verdict adds for an attestation older than the current one: `, attestation v1`.
fn older(version: u32) -> String {
    if version == attest::CURRENT {
        String::new()
    } else {
        format!(", attestation v{version}")
    }
}

/// What a reader checks an archived object against.
pub struct Check<'a> {
    /// The object's key.
    pub key: &'a str,
    /// How many versions the key has (a delivery is written once: more is tampering).
    pub versions: usize,
    /// The source the key names.
    pub source: &'a SourceSpec,
    /// The registry name of the function that serves it (`registry::function_of`), which a
    /// version 2 certificate must name.
    pub writer: &'a str,
    /// The archive signing key's public half.
    pub trust: &'a Trust,
    pub now: DateTime<Utc>,
}

/// Check an archived delivery: the key has one version; its attestation holds (the certificate
/// with the archive signing key, then the environment key's signature over the object's lines,
/// the body and event hashed again); and the object agrees with itself (the key's source and
/// day, `source`, `received_at`, `event_id`, the event it was sent as, the event id recomputed
/// from the raw body). Anyone who can write to the bucket could have written the object, so
/// nothing in it is taken on trust; no secret of a provider is needed.
pub fn verify(delivery: &ArchivedDelivery, check: &Check<'_>) -> Verdict {
    if check.versions != 1 {
        return Verdict::Refused(format!(
            "tampered: the key has {} versions (a delivery is written once)",
            check.versions
        ));
    }
    if let Some(erased) = &delivery.erased {
        // The body and event are gone: their hashes, in clear, are what the attestation holds.
        return match attested(delivery, None, check).and_then(|cert| {
            placed(delivery, check)?;
            Ok(cert)
        }) {
            Ok(cert) => Verdict::Erased {
                erased: erased.clone(),
                function: cert.function,
                certified: cert.issued_at,
                version: delivery.version(),
            },
            Err(why) => Verdict::Refused(why),
        };
    }
    if delivery.sealed.is_some() {
        return Verdict::Refused(format!(
            "sealed, and its data key could not be read{}",
            delivery
                .unopened
                .as_deref()
                .map(|why| format!(": {why}"))
                .unwrap_or_default()
        ));
    }
    let checked = delivery.body().and_then(|body| {
        let cert = attested(delivery, Some(&body), check)?;
        consistent(delivery, &body, check)?;
        Ok(cert)
    });
    match checked {
        Ok(cert) => Verdict::Attested {
            function: cert.function,
            certified: cert.issued_at,
            version: delivery.version(),
        },
        Err(why) => Verdict::Refused(why),
    }
}

/// The attestation's certificate, when the object's attestation holds: the body (when it can
/// still be read) and the event hashed again, then the signatures.
fn attested(
    d: &ArchivedDelivery,
    body: Option<&[u8]>,
    check: &Check<'_>,
) -> Result<attest::Certificate, String> {
    let Some(attestation) = &d.attestation else {
        return Err("no attestation (not written by a webhook function)".to_owned());
    };
    if let Some(body) = body {
        if d.digest(body)? != d.body_sha256 {
            return Err("the body is not the one attested (body_sha256)".to_owned());
        }
        if d.digest(d.event.get().as_bytes())? != d.event_sha256 {
            return Err("the event is not the one attested (event_sha256)".to_owned());
        }
    }
    let cert = check.trust.check(attestation, &d.attested(check.key))?;
    // Consistency, not the binding: any webhook role may have KMS certify a key under any name;
    // the bucket policy's per-prefix PutObject is what ties a source to its writer.
    if attestation.version >= 2 && cert.function != check.writer {
        return Err(format!(
            "certified for {}, but {} is written by {}",
            cert.function, check.source.name, check.writer
        ));
    }
    let received_at = d.received_at()?;
    match attest::issued_at(cert) {
        Some(t) if t <= received_at + MAX_FUTURE_SKEW => Ok(cert.clone()),
        Some(_) => Err("the certificate was issued after the delivery was received".to_owned()),
        None => Err("the certificate's time is not RFC 3339".to_owned()),
    }
}

/// The object's own agreement with its key: source, event id, day of receipt, not in the future.
fn placed(d: &ArchivedDelivery, check: &Check<'_>) -> Result<(), String> {
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
    Ok(())
}

/// The object's own agreement: with its key (`placed`), and of its event and body with the rest.
fn consistent(d: &ArchivedDelivery, body: &[u8], check: &Check<'_>) -> Result<(), String> {
    placed(d, check)?;
    let source = check.source.name;
    let received_at = d.received_at()?;
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
    let again = normalize(check.source, body, received_at, d.auth_scheme.clone())
        .map_err(|e| format!("the body cannot be normalized again: {e}"))?;
    // An event unrecognized when it arrived was identified by its whole body: that id stands
    // too (a later mapping may recognize it, which is what replay is for).
    let parsed = serde_json::from_slice(body).ok();
    let as_unrecognized =
        crate::intake::normalize::unrecognized_id(check.source, body, parsed.as_ref());
    if again.id != d.event_id && as_unrecognized != d.event_id {
        return Err("the event id recomputed from the body is not the archived one".to_owned());
    }
    Ok(())
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
