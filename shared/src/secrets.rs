//! Secrets from AWS Secrets Manager. For each secret setting `X` of a function (a comma-separated
//! list: client secrets, tokens), `X_SECRET_ID` names a secret whose `SecretString` is that list,
//! read at start-up instead of the plain variable. The value is cached in the `SecretList` the
//! source's authentication holds; when a request fails authentication and the cached value is
//! older than the refresh interval (5 minutes), it is read again once before the request is
//! refused, so a rotation done in Secrets Manager takes effect without a redeploy, and a flood of
//! bad signatures costs at most one read per interval.
//!
//! Setting both `X` and `X_SECRET_ID`, or a secret that cannot be read, is bad configuration: the
//! start-up error names the variable, never a value.

use crate::config::{err, ConfigError, Env};
use crate::ports::{FaultKind, PortError};
use crate::secret::{Secret, SecretList};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// How old a cached secret must be before a failed authentication reads it again.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// The variable naming the secret that holds `var`'s value.
pub fn id_variable(var: &str) -> String {
    format!("{var}_SECRET_ID")
}

/// Reads a secret's `SecretString`. Secrets Manager in production; anything in tests.
pub trait SecretReader: Send + Sync {
    fn read(&self, secret_id: &str) -> impl Future<Output = Result<String, PortError>> + Send;
}

impl SecretReader for aws_sdk_secretsmanager::Client {
    async fn read(&self, secret_id: &str) -> Result<String, PortError> {
        let out = self
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                let kind = match &e {
                    aws_sdk_secretsmanager::error::SdkError::TimeoutError(_) => FaultKind::Timeout,
                    _ => FaultKind::Unavailable,
                };
                // The error names the secret and the cause, never a value.
                PortError::new(
                    "Secrets Manager GetSecretValue",
                    kind,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        out.secret_string().map(str::to_owned).ok_or_else(|| {
            PortError::new(
                "Secrets Manager GetSecretValue",
                FaultKind::Refused,
                "the secret has no SecretString (a binary secret)",
            )
        })
    }
}

/// Split a comma-separated list of secrets, blanks skipped.
pub fn parse_list(text: &str) -> Vec<Secret> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect()
}

/// One secret setting whose value lives in Secrets Manager.
#[derive(Debug)]
struct Managed {
    var: &'static str,
    secret_id: String,
    list: SecretList,
}

/// The secret settings of a function that come from Secrets Manager: an environment for its
/// configuration (the managed settings resolve to shared, refreshable lists) and the refresher
/// its pipeline calls when authentication fails.
pub struct ManagedSecrets<R> {
    reader: R,
    managed: Vec<Managed>,
    interval: Duration,
    /// When the values were last read; one refresh at a time.
    read_at: tokio::sync::Mutex<Instant>,
}

impl<R: SecretReader> ManagedSecrets<R> {
    /// Read every `X_SECRET_ID` among `vars` once. `Ok(None)` when none is set.
    pub async fn load(
        env: &dyn Env,
        vars: &[&'static str],
        reader: R,
    ) -> Result<Option<Self>, ConfigError> {
        let mut managed = Vec::new();
        for &var in vars {
            let id_var = id_variable(var);
            let Some(secret_id) = env.get(&id_var) else {
                continue;
            };
            if env.get(var).is_some() {
                return Err(err(var, format!("set either {var} or {id_var}, not both")));
            }
            let value = reader.read(secret_id.trim()).await.map_err(|e| {
                err(
                    var,
                    format!(
                        "the secret named by {id_var} cannot be read ({}: {})",
                        e.kind.as_str(),
                        e.detail
                    ),
                )
            })?;
            managed.push(Managed {
                var,
                secret_id: secret_id.trim().to_owned(),
                list: SecretList::new(parse_list(&value)),
            });
        }
        if managed.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            reader,
            managed,
            interval: REFRESH_INTERVAL,
            read_at: tokio::sync::Mutex::new(Instant::now()),
        }))
    }

    /// Read again after `interval` instead of 5 minutes (tests).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The configuration's view of the environment: managed settings resolve to their shared
    /// lists (which a refresh updates in place).
    pub fn env<'a>(&'a self, base: &'a dyn Env) -> WithManaged<'a> {
        WithManaged {
            base,
            lists: self
                .managed
                .iter()
                .map(|m| (m.var, m.list.clone()))
                .collect(),
        }
    }

    /// Read every managed secret again if the cached values are older than the interval.
    /// `true` when a read happened (and so a refused request is worth another try).
    pub async fn refresh_if_stale(&self) -> bool {
        let Ok(mut read_at) = self.read_at.try_lock() else {
            // Another request is refreshing right now; it will have read the new value.
            return false;
        };
        if read_at.elapsed() < self.interval {
            return false;
        }
        *read_at = Instant::now();
        let mut changed = false;
        for m in &self.managed {
            match self.reader.read(&m.secret_id).await {
                Ok(value) => {
                    let fresh = parse_list(&value);
                    if !fresh.is_empty() {
                        m.list.replace(fresh);
                        changed = true;
                    }
                }
                Err(e) => tracing::error!(
                    variable = m.var,
                    fault = e.kind.as_str(),
                    error = %e,
                    "re-reading a secret failed; the cached value stays"
                ),
            }
        }
        if changed {
            tracing::info!("secrets re-read from Secrets Manager after a failed authentication");
        }
        changed
    }
}

/// An environment in which some secret settings come from Secrets Manager.
pub struct WithManaged<'a> {
    base: &'a dyn Env,
    lists: HashMap<&'static str, SecretList>,
}

impl Env for WithManaged<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.base.get(name)
    }

    fn secrets(&self, var: &'static str) -> SecretList {
        match self.lists.get(var) {
            Some(list) => list.clone(),
            None => self.base.secrets(var),
        }
    }
}

/// Something a pipeline can ask to refresh its secrets after a failed authentication.
pub trait Refresh: Send + Sync {
    /// `true` when the secrets were read again.
    fn refresh_if_stale(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

impl<R: SecretReader> Refresh for ManagedSecrets<R> {
    fn refresh_if_stale(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(ManagedSecrets::refresh_if_stale(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Secrets in memory, counting reads.
    #[derive(Default)]
    struct Store {
        values: Mutex<HashMap<String, String>>,
        reads: AtomicUsize,
    }

    impl SecretReader for &Store {
        async fn read(&self, id: &str) -> Result<String, PortError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.values
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .cloned()
                .ok_or_else(|| {
                    PortError::new("get", FaultKind::Refused, "ResourceNotFoundException")
                })
        }
    }

    fn store(pairs: &[(&str, &str)]) -> Store {
        let s = Store::default();
        for (k, v) in pairs {
            s.values
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((*k).to_owned(), (*v).to_owned());
        }
        s
    }

    #[tokio::test]
    async fn a_secret_id_replaces_the_plain_variable() {
        let s = store(&[("cf", "old-secret, new-secret")]);
        let env = fake_env(&[("CASHFREE_CLIENT_SECRETS_SECRET_ID", "cf")]);
        let managed = ManagedSecrets::load(&env, &["CASHFREE_CLIENT_SECRETS"], &s)
            .await
            .expect("valid")
            .expect("managed");
        let list = managed.env(&env).secrets("CASHFREE_CLIENT_SECRETS");
        assert!(list.any_matches(b"new-secret") && list.any_matches(b"old-secret"));
        assert_eq!(s.reads.load(Ordering::SeqCst), 1);
        let none = ManagedSecrets::load(&fake_env(&[]), &["CASHFREE_CLIENT_SECRETS"], &s)
            .await
            .expect("valid");
        assert!(none.is_none());
    }

    #[tokio::test]
    async fn both_set_or_unreadable_is_bad_configuration_naming_the_variable() {
        let s = store(&[("cf", "v4lue")]);
        let both = fake_env(&[
            ("CASHFREE_CLIENT_SECRETS", "pl41n"),
            ("CASHFREE_CLIENT_SECRETS_SECRET_ID", "cf"),
        ]);
        let e = ManagedSecrets::load(&both, &["CASHFREE_CLIENT_SECRETS"], &s)
            .await
            .err()
            .expect("both");
        assert_eq!(e.var, "CASHFREE_CLIENT_SECRETS");
        assert!(!e.to_string().contains("pl41n") && !e.to_string().contains("v4lue"));
        let missing = fake_env(&[("CASHFREE_CLIENT_SECRETS_SECRET_ID", "nope")]);
        let e = ManagedSecrets::load(&missing, &["CASHFREE_CLIENT_SECRETS"], &s)
            .await
            .err()
            .expect("unreadable");
        assert_eq!(e.var, "CASHFREE_CLIENT_SECRETS");
        assert!(e.to_string().contains("CASHFREE_CLIENT_SECRETS_SECRET_ID"));
    }

    #[tokio::test]
    async fn a_refresh_reads_at_most_once_per_interval_and_updates_the_shared_list() {
        let s = store(&[("cf", "old")]);
        let env = fake_env(&[("CASHFREE_CLIENT_SECRETS_SECRET_ID", "cf")]);
        let managed = ManagedSecrets::load(&env, &["CASHFREE_CLIENT_SECRETS"], &s)
            .await
            .expect("valid")
            .expect("managed")
            .with_refresh_interval(Duration::from_millis(50));
        let list = managed.env(&env).secrets("CASHFREE_CLIENT_SECRETS");
        s.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert("cf".into(), "rotated".into());
        assert!(!managed.refresh_if_stale().await, "too soon");
        assert!(!list.any_matches(b"rotated"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(managed.refresh_if_stale().await);
        assert!(list.any_matches(b"rotated") && !list.any_matches(b"old"));
        assert!(!managed.refresh_if_stale().await, "once per interval");
        assert_eq!(s.reads.load(Ordering::SeqCst), 2);
    }
}
