//! Configuration from the environment, typed and validated once at start-up. A bad value stops
//! the start with one line naming the variable; secrets are never part of that line. This module
//! reads the settings every function shares and offers the parsers the providers' own settings
//! use (`sources/<provider>/mod.rs`).

use crate::auth::ip::IpAllowlist;
use crate::normalize::MAX_BODY_BYTES_LIMIT;
use crate::pipeline::Settings;
use crate::secret::SecretList;

/// The variables every function reads. Each provider lists its own in its `FunctionSpec`.
pub mod var {
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    pub const EVENTS_QUEUE_URL: &str = "EVENTS_QUEUE_URL";
    pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
    pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
    /// The audit archive's bucket; unset, nothing is archived. Only the webhook functions read it.
    pub const ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";
    /// What every webhook function reads beyond `COMMON`.
    pub const WEBHOOK: &[&str] = &[ARCHIVE_BUCKET];

    pub const COMMON: &[&str] = &[
        IDEMPOTENCY_TABLE,
        EVENTS_QUEUE_URL,
        IDEMPOTENCY_TTL_SECONDS,
        MAX_BODY_BYTES,
    ];
}

pub const DEFAULT_TTL_SECONDS: u64 = 604_800;
pub const DEFAULT_MAX_BODY_BYTES: usize = 262_144;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// An error naming `var`. The reason must never contain a secret's value.
pub fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Where values come from: the process environment, or a closure in tests. `Sync`, so a
/// start-up that reads it can run on any thread (the console serves replays from axum).
pub trait Env: Sync {
    /// The variable's value; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String>;

    /// A secret setting's list of secrets: the variable's comma-separated value here; the shared,
    /// refreshable list when the value comes from Secrets Manager (`secrets::WithManaged`).
    /// Every value is checked (`secrets_manager::parse_list`): a bad one is an error naming `var`.
    fn secrets(&self, var: &'static str) -> Result<SecretList, ConfigError> {
        crate::secrets_manager::parse_list(&self.get(var).unwrap_or_default())
            .map(SecretList::new)
            .map_err(|reason| err(var, reason))
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String> + Sync> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// Configuration every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub table: String,
    pub queue_url: String,
    /// The audit archive's bucket, when deliveries are archived.
    pub archive_bucket: Option<String>,
    pub settings: Settings,
}

fn required(env: &dyn Env, var: &'static str) -> Result<String, ConfigError> {
    env.get(var)
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| err(var, "required but not set"))
}

/// A positive whole number, or `default` when unset.
pub fn positive<T: std::str::FromStr + PartialOrd + Default>(
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

/// The first non-empty item of a comma-separated list.
pub fn first_listed(list: &str) -> Option<&str> {
    list.split(',').map(str::trim).find(|s| !s.is_empty())
}

/// A comma-separated list of secrets (rotation), blanks skipped; empty when unset. From Secrets
/// Manager when `<var>_SECRET_ID` is set (see `secrets_manager`).
pub fn secrets(env: &dyn Env, var: &'static str) -> Result<SecretList, ConfigError> {
    env.secrets(var)
}

/// A comma-separated list of IPs/CIDRs; `None` when unset.
pub fn allowlist(env: &dyn Env, var: &'static str) -> Result<Option<IpAllowlist>, ConfigError> {
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
    let archive_bucket = env
        .get(var::ARCHIVE_BUCKET)
        .map(|b| b.trim().to_owned())
        .map(|b| {
            let valid = (3..=63).contains(&b.len())
                && b.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.'
                })
                && !b.starts_with(['-', '.'])
                && !b.ends_with(['-', '.']);
            if valid {
                Ok(b)
            } else {
                Err(err(
                    var::ARCHIVE_BUCKET,
                    format!("`{b}` is not an S3 bucket name (3-63 of a-z 0-9 . -)"),
                ))
            }
        })
        .transpose()?;
    Ok(Common {
        table,
        queue_url,
        archive_bucket,
        settings: Settings {
            ttl_secs,
            max_body_bytes,
        },
    })
}

/// A fake environment for tests: the required settings plus `extra` (which wins).
#[cfg(any(test, feature = "test-util"))]
pub fn fake_env(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut map: std::collections::HashMap<String, String> = [
        (var::IDEMPOTENCY_TABLE, "t"),
        (
            var::EVENTS_QUEUE_URL,
            "http://127.0.0.1:4566/000000000000/events.fifo",
        ),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    map.retain(|_, v| !v.is_empty());
    move |k: &str| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = common(&fake_env(&[])).expect("valid");
        assert_eq!(c.settings.ttl_secs, 604_800);
        assert_eq!(c.settings.max_body_bytes, 262_144);
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
            (vec![("IDEMPOTENCY_TABLE", "")], "IDEMPOTENCY_TABLE"),
            (vec![("ARCHIVE_BUCKET", "My_Bucket")], "ARCHIVE_BUCKET"),
        ];
        for (extra, var) in cases {
            let e = common(&fake_env(&extra)).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e
                .to_string()
                .starts_with(&format!("invalid configuration: {var}: ")));
        }
    }

    #[test]
    fn a_short_or_json_secret_is_refused_naming_the_variable_never_the_value() {
        for bad in [
            "tiny",
            "a-secret-of-16-chars,fifteen-chars-x",
            r#"{"CASHFREE_CLIENT_SECRETS":"a-secret-of-16-chars"}"#,
            r#""a-secret-of-16-chars""#,
            "a-secret-of 16-chars",
        ] {
            let e = secrets(&fake_env(&[("S", bad)]), "S").expect_err(bad);
            assert_eq!(e.var, "S");
            for part in bad.split(',') {
                assert!(!e.to_string().contains(part), "{e}");
            }
        }
        assert!(secrets(&fake_env(&[]), "S").expect("unset").is_empty());
        assert!(secrets(&fake_env(&[("S", "sixteen-chars-ok")]), "S").is_ok());
    }

    #[test]
    fn the_largest_body_that_fits_the_queue_is_accepted() {
        let c = common(&fake_env(&[("MAX_BODY_BYTES", "783360")])).expect("valid");
        assert_eq!(c.settings.max_body_bytes, MAX_BODY_BYTES_LIMIT);
    }

    #[test]
    fn lists_are_split_and_trimmed() {
        let e = fake_env(&[
            ("S", " a-secret-of-16-chars, ,b-secret-of-16-chars ,"),
            ("IPS", "1.2.3.4, 10.0.0.0/8"),
        ]);
        let s = secrets(&e, "S").expect("valid");
        assert!(s.any_matches(b"a-secret-of-16-chars") && s.any_matches(b"b-secret-of-16-chars"));
        assert!(!s.any_matches(b""));
        assert!(allowlist(&e, "IPS").expect("valid").is_some());
        assert_eq!(allowlist(&e, "NONE").expect("unset"), None);
        assert_eq!(
            allowlist(&fake_env(&[("X", "nope")]), "X")
                .expect_err("bad")
                .var,
            "X"
        );
    }
}
