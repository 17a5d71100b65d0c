//! Authentication: the outcome types every scheme shares and the generic mechanisms (IP
//! allowlist, static header token, IP + URL token). A provider's own scheme (Cashfree's HMAC)
//! lives in its folder under `sources/`. Each is a pure function of the request (raw body,
//! headers, query, source IP) and the clock, so it can be tested with known answers and fuzzed
//! without any I/O.

pub mod ip;
pub mod token;
pub mod url_token;

pub use crate::event::AuthScheme;
use crate::intake::inbound::Inbound;
use chrono::{DateTime, Utc};

/// Why a request was refused before anything was written anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no authentication is configured for this source")]
    NotConfigured,
    #[error("signature header missing")]
    MissingSignature,
    #[error("signature does not match")]
    InvalidSignature,
    #[error("timestamp header missing")]
    MissingTimestamp,
    #[error("timestamp header is not epoch milliseconds")]
    InvalidTimestamp,
    #[error("timestamp outside the replay window")]
    StaleTimestamp,
    #[error("token header missing")]
    MissingToken,
    #[error("token does not match")]
    InvalidToken,
    #[error("source IP not allowed")]
    SourceIpNotAllowed,
}

impl AuthError {
    pub const ALL: [Self; 9] = [
        Self::NotConfigured,
        Self::MissingSignature,
        Self::InvalidSignature,
        Self::MissingTimestamp,
        Self::InvalidTimestamp,
        Self::StaleTimestamp,
        Self::MissingToken,
        Self::InvalidToken,
        Self::SourceIpNotAllowed,
    ];

    /// The `error` code of the response body.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::MissingSignature => "missing_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::MissingTimestamp => "missing_timestamp",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::SourceIpNotAllowed => "source_ip_not_allowed",
        }
    }

    pub fn status(self) -> http::StatusCode {
        match self {
            Self::NotConfigured => http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::SourceIpNotAllowed => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// One source's authentication. Implemented per scheme; a source holds one.
pub trait Authenticate: Send + Sync {
    /// `Ok` names the scheme that authenticated the request (it goes into `data.auth_scheme`).
    fn authenticate(&self, req: &Inbound<'_>, now: DateTime<Utc>) -> Result<AuthScheme, AuthError>;

    /// False when the source has nothing to check against and so refuses everything.
    fn is_configured(&self) -> bool {
        true
    }

    /// Request headers that carry one of our secrets (a token header): never archived or logged.
    fn secret_headers(&self) -> Vec<http::HeaderName> {
        Vec::new()
    }
}

/// An HMAC-SHA256 keyed with `secret`, for the schemes that sign with one.
pub(crate) fn hmac_sha256(secret: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!())
}

/// Whether `check` holds for any of `secrets`: every one is tried, with no early exit, so timing
/// does not tell which one matched.
pub(crate) fn any_secret(
    secrets: &crate::secrets::secret::SecretList,
    check: impl Fn(&[u8]) -> bool,
) -> bool {
    secrets
        .current()
        .iter()
        .fold(false, |found, s| check(s.expose()) | found)
}

/// How far in the future a signed time may be (clock skew), for every scheme that signs one.
pub use crate::event::MAX_FUTURE_SKEW_MS;

/// A signed-time window from `var` (`default` when unset), held to `check_replay_window` against
/// the idempotency TTL.
pub fn replay_window(
    env: &dyn crate::config::Env,
    var: &'static str,
    default: u64,
    ttl_secs: u64,
) -> Result<u64, crate::config::ConfigError> {
    let tolerance = crate::config::positive(env, var, default)?;
    check_replay_window(var, tolerance, ttl_secs)?;
    Ok(tolerance)
}

/// The longest lease an idempotency claim can carry, in seconds: Lambda's longest invocation plus
/// the idempotency crate's lease margin, which the pipeline keeps at its default.
const MAX_LEASE_SECS: u64 =
    lambda_idempotency::MAX_INVOCATION.as_secs() + lambda_idempotency::LEASE_MARGIN.as_secs();

/// Start-up's rule for a scheme whose replay bound is a signed time at most `tolerance_secs` old
/// (`var`): a replay is either inside the window, where the idempotency record still catches it,
/// or outside, where it is refused; so the record must outlive the window, the future skew allowed
/// and the longest lease a claim can carry.
pub fn check_replay_window(
    var: &'static str,
    tolerance_secs: u64,
    ttl_secs: u64,
) -> Result<(), crate::config::ConfigError> {
    let skew = u64::try_from(MAX_FUTURE_SKEW_MS / 1000).unwrap_or_default();
    let lease = MAX_LEASE_SECS;
    let needed = tolerance_secs.saturating_add(skew).saturating_add(lease);
    let ttl = ttl_secs;
    if needed >= ttl {
        return Err(crate::config::err(
            var,
            format!(
                "{tolerance_secs} + {skew} s of future skew + {lease} s of the longest lease must be shorter than {} ({ttl}), or a replay older than the idempotency record would be accepted again",
                crate::config::var::IDEMPOTENCY_TTL_SECONDS,
            ),
        ));
    }
    Ok(())
}

/// Fail closed: a source without credentials refuses every request.
pub struct NotConfigured;

impl Authenticate for NotConfigured {
    fn authenticate(&self, _: &Inbound<'_>, _: DateTime<Utc>) -> Result<AuthScheme, AuthError> {
        Err(AuthError::NotConfigured)
    }

    fn is_configured(&self) -> bool {
        false
    }
}

/// The single value of a header that must appear at most once.
/// `Ok(None)`: absent. `Err(())`: repeated or not visible ASCII.
pub(crate) fn single_header<'h>(
    headers: &'h http::HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(|v| Some(v.trim())).map_err(|_| ())
}
