//! Configuration from the environment, typed and validated once at start-up. A bad value stops
//! the start with one line naming the variable; secrets are never part of that line.

use crate::auth::{
    cashfree::{CashfreeAuth, Legacy, MAX_FUTURE_SKEW_MS},
    ip::IpAllowlist,
    token::HeaderToken,
    url_token::IpAndUrlToken,
    Authenticate, NotConfigured,
};
use crate::normalize::MAX_BODY_BYTES_LIMIT;
use crate::pipeline::{Settings, MAX_LEASE_SECS};
use crate::secret::{Secret, SecretList};
use crate::sources::{self, Source};

/// Every environment variable the functions read (the template must set exactly these).
pub mod var {
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    pub const EVENTS_QUEUE_URL: &str = "EVENTS_QUEUE_URL";
    pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
    pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
    pub const CASHFREE_CLIENT_SECRETS: &str = "CASHFREE_CLIENT_SECRETS";
    pub const CASHFREE_TIMESTAMP_TOLERANCE_SECONDS: &str = "CASHFREE_TIMESTAMP_TOLERANCE_SECONDS";
    pub const CASHFREE_LEGACY_SIGNATURE: &str = "CASHFREE_LEGACY_SIGNATURE";
    pub const HYPERVERGE_DIGILOCKER_URL_TOKENS: &str = "HYPERVERGE_DIGILOCKER_URL_TOKENS";
    pub const HYPERVERGE_ALLOWED_IPS: &str = "HYPERVERGE_ALLOWED_IPS";
    pub const HYPERVERGE_RESULTS_ALLOWED_IPS: &str = "HYPERVERGE_RESULTS_ALLOWED_IPS";
    pub const HYPERVERGE_RESULTS_AUTH_HEADER: &str = "HYPERVERGE_RESULTS_AUTH_HEADER";
    pub const HYPERVERGE_RESULTS_AUTH_TOKENS: &str = "HYPERVERGE_RESULTS_AUTH_TOKENS";

    pub const ALL: &[&str] = &[
        IDEMPOTENCY_TABLE,
        EVENTS_QUEUE_URL,
        IDEMPOTENCY_TTL_SECONDS,
        MAX_BODY_BYTES,
        CASHFREE_CLIENT_SECRETS,
        CASHFREE_TIMESTAMP_TOLERANCE_SECONDS,
        CASHFREE_LEGACY_SIGNATURE,
        HYPERVERGE_DIGILOCKER_URL_TOKENS,
        HYPERVERGE_ALLOWED_IPS,
        HYPERVERGE_RESULTS_ALLOWED_IPS,
        HYPERVERGE_RESULTS_AUTH_HEADER,
        HYPERVERGE_RESULTS_AUTH_TOKENS,
    ];
}

pub const DEFAULT_TTL_SECONDS: u64 = 604_800;
pub const DEFAULT_MAX_BODY_BYTES: usize = 262_144;
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 86_400;
pub const DEFAULT_RESULTS_AUTH_HEADER: &str = "x-webhook-token";
/// The shortest DigiLocker URL token accepted: it is the only secret between another HyperVerge
/// customer and our DigiLocker route, so it must not be guessable.
pub const MIN_URL_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Where values come from: the process environment, or a closure in tests.
pub trait Env {
    /// The variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// Configuration every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub table: String,
    pub queue_url: String,
    pub settings: Settings,
}

fn required(env: &dyn Env, var: &'static str) -> Result<String, ConfigError> {
    env.get(var)
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| err(var, "required but not set"))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    env: &dyn Env,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(n) if n > T::default() => Ok(n),
            _ => Err(err(
                var,
                format!("`{}` is not a positive whole number", v.trim()),
            )),
        },
    }
}

fn secrets(env: &dyn Env, var: &'static str) -> SecretList {
    SecretList::new(
        env.get(var)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .collect(),
    )
}

fn allowlist(env: &dyn Env, var: &'static str) -> Result<Option<IpAllowlist>, ConfigError> {
    env.get(var)
        .map(|v| IpAllowlist::parse(&v).map_err(|reason| err(var, reason)))
        .transpose()
}

pub fn common(env: &dyn Env) -> Result<Common, ConfigError> {
    let table = required(env, var::IDEMPOTENCY_TABLE)?;
    let queue_url = required(env, var::EVENTS_QUEUE_URL)?;
    if !(queue_url.starts_with("https://") || queue_url.starts_with("http://")) {
        return Err(err(
            var::EVENTS_QUEUE_URL,
            "must be an SQS queue URL (https://...)",
        ));
    }
    let ttl_secs = positive(env, var::IDEMPOTENCY_TTL_SECONDS, DEFAULT_TTL_SECONDS)?;
    let max_body_bytes = positive(env, var::MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)?;
    if max_body_bytes > MAX_BODY_BYTES_LIMIT {
        return Err(err(
            var::MAX_BODY_BYTES,
            format!(
                "{max_body_bytes} is over {MAX_BODY_BYTES_LIMIT}: a body that large could not reach the queue (1 MiB per message, Base64 when needed)"
            ),
        ));
    }
    Ok(Common {
        table,
        queue_url,
        settings: Settings {
            ttl_secs,
            max_body_bytes,
        },
    })
}

fn or_not_configured(auth: impl Authenticate + 'static) -> Box<dyn Authenticate> {
    if auth.is_configured() {
        Box::new(auth)
    } else {
        Box::new(NotConfigured)
    }
}

/// `on` or `off` (default).
fn legacy(env: &dyn Env) -> Result<Legacy, ConfigError> {
    match env
        .get(var::CASHFREE_LEGACY_SIGNATURE)
        .as_deref()
        .map(str::trim)
    {
        None => Ok(Legacy::default()),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(Legacy::Off),
        Some(v) if v.eq_ignore_ascii_case("on") => Ok(Legacy::On),
        Some(v) => Err(err(
            var::CASHFREE_LEGACY_SIGNATURE,
            format!("`{v}` is neither `on` nor `off`"),
        )),
    }
}

/// The Cashfree function's sources: DigiLocker and Video KYC, one set of client secrets.
pub fn cashfree_sources(env: &dyn Env, common: &Common) -> Result<Vec<Source>, ConfigError> {
    let tolerance = positive(
        env,
        var::CASHFREE_TIMESTAMP_TOLERANCE_SECONDS,
        DEFAULT_TOLERANCE_SECONDS,
    )?;
    // A replay is either inside the window, where the idempotency record still catches it, or
    // outside, where it is refused: the record must outlive the window, the future skew allowed
    // and the longest lease a claim can carry.
    let skew = u64::try_from(MAX_FUTURE_SKEW_MS / 1000).unwrap_or_default();
    let needed = tolerance
        .saturating_add(skew)
        .saturating_add(MAX_LEASE_SECS);
    if needed >= common.settings.ttl_secs {
        return Err(err(
            var::CASHFREE_TIMESTAMP_TOLERANCE_SECONDS,
            format!(
                "{tolerance} + {skew} s of future skew + {MAX_LEASE_SECS} s of the longest lease must be shorter than {} ({}), or a replay older than the idempotency record would be accepted again",
                var::IDEMPOTENCY_TTL_SECONDS,
                common.settings.ttl_secs
            ),
        ));
    }
    let auth = CashfreeAuth::new(
        secrets(env, var::CASHFREE_CLIENT_SECRETS),
        tolerance,
        legacy(env)?,
    );
    Ok(vec![
        sources::cashfree_digilocker::source(or_not_configured(auth.clone())),
        sources::cashfree_vkyc::source(or_not_configured(auth)),
    ])
}

/// DigiLocker URL tokens: each long enough not to be guessed, and made only of characters that
/// travel in a URL as they are (RFC 3986 unreserved), so the registered URL is exactly
/// `...?token=<value>`. The message never repeats a value.
fn url_tokens(env: &dyn Env) -> Result<SecretList, ConfigError> {
    let var = var::HYPERVERGE_DIGILOCKER_URL_TOKENS;
    let raw = env.get(var).unwrap_or_default();
    for (i, t) in raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let unreserved = t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !unreserved || t.len() < MIN_URL_TOKEN_CHARS {
            return Err(err(
                var,
                format!(
                    "token {} must be at least {MIN_URL_TOKEN_CHARS} characters of A-Z a-z 0-9 - . _ ~ (e.g. `openssl rand -hex 32`)",
                    i + 1
                ),
            ));
        }
    }
    Ok(secrets(env, var))
}

/// The HyperVerge function's sources: DigiLocker (IP allowlist and URL token) and Results (header
/// token, plus an IP allowlist when set).
pub fn hyperverge_sources(env: &dyn Env, _common: &Common) -> Result<Vec<Source>, ConfigError> {
    let digilocker_ips = match allowlist(env, var::HYPERVERGE_ALLOWED_IPS)? {
        Some(list) => list,
        None => IpAllowlist::parse(sources::hyperverge_digilocker::DEFAULT_ALLOWED_IPS)
            .map_err(|reason| err(var::HYPERVERGE_ALLOWED_IPS, reason))?,
    };
    let digilocker = IpAndUrlToken::new(digilocker_ips, url_tokens(env)?);
    let results_ips = allowlist(env, var::HYPERVERGE_RESULTS_ALLOWED_IPS)?;
    let header_name = env
        .get(var::HYPERVERGE_RESULTS_AUTH_HEADER)
        .unwrap_or_else(|| DEFAULT_RESULTS_AUTH_HEADER.to_owned());
    let header = http::HeaderName::from_bytes(header_name.trim().as_bytes()).map_err(|_| {
        err(
            var::HYPERVERGE_RESULTS_AUTH_HEADER,
            format!("`{}` is not a valid header name", header_name.trim()),
        )
    })?;
    let token = HeaderToken::new(
        header,
        secrets(env, var::HYPERVERGE_RESULTS_AUTH_TOKENS),
        results_ips,
    );
    Ok(vec![
        sources::hyperverge_digilocker::source(or_not_configured(digilocker)),
        sources::hyperverge_results::source(or_not_configured(token)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("IDEMPOTENCY_TABLE", "t"),
        (
            "EVENTS_QUEUE_URL",
            "http://127.0.0.1:4566/000000000000/events.fifo",
        ),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let mut all = BASE.to_vec();
        all.extend_from_slice(extra);
        env(&all)
    }

    #[test]
    fn defaults() {
        let c = common(&with(&[])).expect("valid");
        assert_eq!(c.settings.ttl_secs, 604_800);
        assert_eq!(c.settings.max_body_bytes, 262_144);
        let cf = cashfree_sources(&with(&[]), &c).expect("valid");
        assert!(
            cf.iter().all(|s| !s.auth.is_configured()),
            "no secret: fail closed"
        );
        let hv =
            hyperverge_sources(&with(&[]), &common(&with(&[])).expect("valid")).expect("valid");
        assert!(!hv[0].auth.is_configured(), "no URL token: fail closed");
        assert!(!hv[1].auth.is_configured(), "no token: fail closed");
        let e = with(&[("HYPERVERGE_DIGILOCKER_URL_TOKENS", "0123456789abcdef")]);
        let hv = hyperverge_sources(&e, &common(&e).expect("valid")).expect("valid");
        assert!(hv[0].auth.is_configured(), "default IPs and a token");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
            (
                vec![("IDEMPOTENCY_TTL_SECONDS", "0")],
                "IDEMPOTENCY_TTL_SECONDS",
            ),
            (
                vec![("IDEMPOTENCY_TTL_SECONDS", "7d")],
                "IDEMPOTENCY_TTL_SECONDS",
            ),
            (vec![("MAX_BODY_BYTES", "-1")], "MAX_BODY_BYTES"),
            (vec![("MAX_BODY_BYTES", "783361")], "MAX_BODY_BYTES"),
            (
                vec![("EVENTS_QUEUE_URL", "events.fifo")],
                "EVENTS_QUEUE_URL",
            ),
        ];
        for (extra, var) in cases {
            let e = common(&with(&extra)).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e
                .to_string()
                .starts_with(&format!("invalid configuration: {var}: ")));
        }
        let e = common(&env(&[("EVENTS_QUEUE_URL", "https://q")])).expect_err("table");
        assert_eq!(e.var, "IDEMPOTENCY_TABLE");
        let e = hyperverge_sources(
            &with(&[("HYPERVERGE_ALLOWED_IPS", "1.2.3.4,bogus")]),
            &common(&with(&[])).expect("valid"),
        )
        .expect_err("ips");
        assert_eq!(e.var, "HYPERVERGE_ALLOWED_IPS");
        let e = hyperverge_sources(
            &with(&[("HYPERVERGE_RESULTS_AUTH_HEADER", "bad header")]),
            &common(&with(&[])).expect("valid"),
        )
        .expect_err("hdr");
        assert_eq!(e.var, "HYPERVERGE_RESULTS_AUTH_HEADER");
        let e = cashfree_sources(
            &with(&[("CASHFREE_LEGACY_SIGNATURE", "yes")]),
            &common(&with(&[])).expect("valid"),
        )
        .expect_err("legacy");
        assert_eq!(e.var, "CASHFREE_LEGACY_SIGNATURE");
        for bad in [
            "short-token",
            "0123456789abcdef?x",
            "0123456789abcdef&x",
            "0123456789 abcdef",
        ] {
            let e = hyperverge_sources(
                &with(&[("HYPERVERGE_DIGILOCKER_URL_TOKENS", bad)]),
                &common(&with(&[])).expect("valid"),
            )
            .expect_err(bad);
            assert_eq!(e.var, "HYPERVERGE_DIGILOCKER_URL_TOKENS");
            assert!(!e.to_string().contains(bad), "the value is never echoed");
        }
    }

    #[test]
    fn the_largest_body_that_fits_the_queue_is_accepted() {
        let c = common(&with(&[("MAX_BODY_BYTES", "783360")])).expect("valid");
        assert_eq!(
            c.settings.max_body_bytes,
            crate::normalize::MAX_BODY_BYTES_LIMIT
        );
    }

    #[test]
    fn legacy_signature_is_off_unless_on() {
        use crate::Inbound;
        let body = br#"{"signature":"cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw=","data":{"verification_id":"test333","reference_id":10449,"status":"RECEIVED","sub_status":"LINK_GENERATED"}}"#;
        let headers = http::HeaderMap::new();
        let req = Inbound::post("/webhooks/cashfree/vkyc", &headers, body);
        for (value, want) in [
            (None, Err(crate::auth::AuthError::MissingSignature)),
            (Some("off"), Err(crate::auth::AuthError::MissingSignature)),
            (
                Some("ON"),
                Ok(crate::auth::AuthScheme::CashfreeLegacyBodyHmac),
            ),
        ] {
            let mut extra = vec![("CASHFREE_CLIENT_SECRETS", "test_client_secret")];
            if let Some(v) = value {
                extra.push(("CASHFREE_LEGACY_SIGNATURE", v));
            }
            let e = with(&extra);
            let sources = cashfree_sources(&e, &common(&e).expect("valid")).expect("valid");
            assert_eq!(
                sources[1].auth.authenticate(&req, chrono::Utc::now()),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn tolerance_plus_skew_plus_longest_lease_must_be_shorter_than_ttl() {
        // 3600 - 300 s of future skew - 910 s of the longest lease = 2390.
        let e = with(&[
            ("IDEMPOTENCY_TTL_SECONDS", "3600"),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "2390"),
        ]);
        let c = common(&e).expect("valid");
        let err = cashfree_sources(&e, &c).expect_err("tolerance");
        assert_eq!(err.var, "CASHFREE_TIMESTAMP_TOLERANCE_SECONDS");
        let e = with(&[
            ("IDEMPOTENCY_TTL_SECONDS", "3600"),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "2389"),
        ]);
        let c = common(&e).expect("valid");
        assert!(cashfree_sources(&e, &c).is_ok());
        // The default tolerance (1 day) against a TTL of 1 hour is refused too.
        let e = with(&[("IDEMPOTENCY_TTL_SECONDS", "3600")]);
        let c = common(&e).expect("valid");
        assert!(cashfree_sources(&e, &c).is_err());
    }

    #[test]
    fn secrets_never_in_errors_or_debug() {
        let e = with(&[
            ("CASHFREE_CLIENT_SECRETS", "s3cr3t-a, s3cr3t-b"),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "x"),
        ]);
        let c = common(&e).expect("valid");
        let err = cashfree_sources(&e, &c).expect_err("bad tolerance");
        assert!(!err.to_string().contains("s3cr3t"));
        let e = with(&[("CASHFREE_CLIENT_SECRETS", "s3cr3t-a, s3cr3t-b")]);
        let sources = cashfree_sources(&e, &c).expect("valid");
        assert!(!format!("{sources:?}").contains("s3cr3t"));
        assert!(sources.iter().all(|s| s.auth.is_configured()));
    }
}
