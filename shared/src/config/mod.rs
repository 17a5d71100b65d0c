//! Configuration from the environment, typed and validated once at start-up. A bad value stops
//! the start with one line naming the variable; secrets are never part of that line. This module
//! reads the settings every function shares and offers the parsers the providers' own settings
//! use (`sources/<provider>/mod.rs`).

pub mod secret;
pub mod setting;

use secret::SecretList;

/// The variables every function reads. Each provider lists its own in its `FunctionSpec`.
pub mod var {
    pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
    pub const EVENTS_QUEUE_URL: &str = "EVENTS_QUEUE_URL";
    pub const IDEMPOTENCY_TTL_SECONDS: &str = "IDEMPOTENCY_TTL_SECONDS";
    pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
    /// The audit archive's bucket; unset, nothing is archived. Only the webhook functions read it.
    pub const ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";
    /// The KMS signing key that certifies each environment's archive key (ECC_NIST_P256); needed
    /// whenever `ARCHIVE_BUCKET` is set. kycctl reads it too, for the public half.
    pub const ARCHIVE_SIGNING_KEY_ID: &str = "ARCHIVE_SIGNING_KEY_ID";
    /// The archive keys table: each archived delivery's data key, wrapped, by journey (erasure
    /// by crypto-shredding, `intake::seal`); unset, deliveries are sealed by the bucket's key
    /// alone. kycctl reads it too, to open deliveries and to erase.
    pub const ARCHIVE_KEYS_TABLE: &str = "ARCHIVE_KEYS_TABLE";
    /// The archive's KMS key that each delivery's data key is made under; needed with
    /// `ARCHIVE_KEYS_TABLE`.
    pub const ARCHIVE_KMS_KEY_ID: &str = "ARCHIVE_KMS_KEY_ID";
    /// What every webhook function reads beyond `COMMON`.
    pub const WEBHOOK: &[&str] = &[
        ARCHIVE_BUCKET,
        ARCHIVE_SIGNING_KEY_ID,
        ARCHIVE_KEYS_TABLE,
        ARCHIVE_KMS_KEY_ID,
        EVENT_PERSONAL_DATA,
    ];
    /// `withhold` (default) or `include`: what the events of a webhook function or the sweeper
    /// carry of the personal data in a payload (`intake::withhold`).
    pub const EVENT_PERSONAL_DATA: &str = "EVENT_PERSONAL_DATA";

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
    /// Every value is checked (`secret::parse_list`): a bad one is an error naming `var`.
    fn secrets(&self, var: &'static str) -> Result<SecretList, ConfigError> {
        secret::parse_list(&self.get(var).unwrap_or_default())
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

/// A variable that must be set (an empty or blank value counts as unset), trimmed: the one rule
/// for every function's required settings.
pub fn required(env: &dyn Env, var: &'static str) -> Result<String, ConfigError> {
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
    fn a_short_or_json_secret_is_refused_naming_the_variable_never_the_value() {
        for bad in [
            "tiny",
            "a-secret-of-16-chars,fifteen-chars-x",
            r#"{"CASHFREE_CLIENT_SECRETS":"a-secret-of-16-chars"}"#,
            r#""a-secret-of-16-chars""#,
            "a-secret-of 16-chars",
        ] {
            let e = Env::secrets(&fake_env(&[("S", bad)]), "S").expect_err(bad);
            assert_eq!(e.var, "S");
            for part in bad.split(',') {
                assert!(!e.to_string().contains(part), "{e}");
            }
        }
        assert!(Env::secrets(&fake_env(&[]), "S").expect("unset").is_empty());
        assert!(Env::secrets(&fake_env(&[("S", "sixteen-chars-ok")]), "S").is_ok());
    }

    #[test]
    fn lists_are_split_and_trimmed() {
        let e = fake_env(&[("S", " a-secret-of-16-chars, ,b-secret-of-16-chars ,")]);
        let s = Env::secrets(&e, "S").expect("valid");
        assert!(s.any_matches(b"a-secret-of-16-chars") && s.any_matches(b"b-secret-of-16-chars"));
        assert!(!s.any_matches(b""));
    }
}
