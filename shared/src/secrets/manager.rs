//! Secrets from AWS Secrets Manager. For each secret setting `X` of a function (a comma-separated
//! list: client secrets, tokens), `X_SECRET_ID` names a secret whose `SecretString` is that list,
//! read at start-up instead of the plain variable.
//!
//! A value read from Secrets Manager is used for at most `SECRETS_MAX_AGE_SECONDS` (default 300):
//! the first request after that reads it again before it is authenticated, so removing a value
//! revokes it within that time, warm environments included. A request that fails authentication
//! reads again once when the cached value is older than 60 s, so a value added on one side takes
//! effect at once while a flood of bad signatures costs at most one read a minute. Every read is
//! bounded by the time the request has left, and a new value goes through the same validation as
//! at start-up (the function's whole configuration is built with it); a read that fails or yields
//! an invalid value keeps the cached one, logs an error naming the variable and counts
//! `SecretRefreshFailed`. A failed read is not tried again for a minute (or the max age, if
//! shorter), so an outage of Secrets Manager does not slow every request down.
//!
//! Setting both `X` and `X_SECRET_ID`, a secret that cannot be read, or an invalid value is bad
//! configuration at start-up: the error names the variable, never a value.

use crate::config::{err, ConfigError, Env};
use crate::fault::Fault;
use crate::metrics::{self, MetricsSink};
use crate::secrets::secret::{parse_list, Secret, SecretList};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The variable setting how long a value read from Secrets Manager is used.
pub const MAX_AGE_VARIABLE: &str = "SECRETS_MAX_AGE_SECONDS";
/// Its default.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// How old a cached value must be before a failed authentication reads it again.
pub const AFTER_FAILED_AUTH: Duration = Duration::from_secs(60);

/// The variable naming the secret that holds `var`'s value.
pub fn id_variable(var: &str) -> String {
    format!("{var}_SECRET_ID")
}

/// Reads a secret's `SecretString`. Secrets Manager in production; anything in tests.
pub trait SecretReader: Send + Sync {
    fn read(&self, secret_id: &str) -> impl Future<Output = Result<String, Fault>> + Send;
}

/// `parse_list` for a value read from Secrets Manager, where an empty value is an error too.
fn parse_stored(text: &str) -> Result<Vec<Secret>, String> {
    let list = parse_list(text)?;
    if list.is_empty() {
        return Err("the secret is empty".to_owned());
    }
    Ok(list)
}

/// One secret setting whose value lives in Secrets Manager.
#[derive(Debug)]
struct Managed {
    var: &'static str,
    secret_id: String,
    list: SecretList,
}

/// Checks a configuration built with a candidate value: the function's own start-up validation.
pub type Validate = Box<dyn Fn(&dyn Env) -> Result<(), ConfigError> + Send + Sync>;

/// When the values were last read, and last tried.
#[derive(Debug, Clone, Copy)]
struct Reads {
    succeeded: Instant,
    tried: Instant,
}

/// Why a refresh is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// Before authenticating: the values may not be used past the max age.
    MaxAge,
    /// A request failed authentication: a value added on the other side may be waiting.
    FailedAuth,
}

/// The secret settings of a function that come from Secrets Manager: an environment for its
/// configuration (the managed settings resolve to shared, refreshable lists) and the refresher
/// its pipeline calls before authenticating and after a failed authentication.
pub struct ManagedSecrets<R> {
    reader: R,
    managed: Vec<Managed>,
    /// The plain settings at start-up, for validating a candidate value.
    plain: HashMap<String, String>,
    validate: Validate,
    max_age: Duration,
    /// One refresh at a time; others wait for it (within their own time) and then find the
    /// values fresh.
    reads: tokio::sync::Mutex<Reads>,
}

impl<R: SecretReader> ManagedSecrets<R> {
    /// Read every `X_SECRET_ID` among `vars` once. `Ok(None)` when none is set. `plain` lists
    /// the variables `validate` reads besides the secrets; `validate` builds the function's
    /// configuration from an environment, as start-up does.
    pub async fn load(
        env: &dyn Env,
        vars: &[&'static str],
        plain: &[&str],
        validate: Validate,
        reader: R,
    ) -> Result<Option<Self>, ConfigError> {
        let max_age = crate::config::positive(env, MAX_AGE_VARIABLE, DEFAULT_MAX_AGE.as_secs())?;
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
            let list = parse_stored(&value)
                .map_err(|reason| err(var, format!("the secret named by {id_var}: {reason}")))?;
            managed.push(Managed {
                var,
                secret_id: secret_id.trim().to_owned(),
                list: SecretList::new(list),
            });
        }
        if managed.is_empty() {
            return Ok(None);
        }
        let plain = plain
            .iter()
            .filter_map(|v| env.get(v).map(|value| ((*v).to_owned(), value)))
            .collect();
        let now = Instant::now();
        Ok(Some(Self {
            reader,
            managed,
            plain,
            validate,
            max_age: Duration::from_secs(max_age),
            reads: tokio::sync::Mutex::new(Reads {
                succeeded: now,
                tried: now,
            }),
        }))
    }

    /// Use values for at most `max_age` instead of `SECRETS_MAX_AGE_SECONDS` (tests).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
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

    /// Read every managed secret again when the cached values are too old for `why`, within
    /// `budget`. `true` when new values were installed (so a refused request is worth another
    /// try).
    pub async fn refresh(&self, why: Staleness, budget: Duration, sink: &dyn MetricsSink) -> bool {
        let until = Instant::now() + budget;
        let Ok(mut reads) = tokio::time::timeout_at(until, self.reads.lock()).await else {
            return false;
        };
        let older_than = match why {
            Staleness::MaxAge => self.max_age,
            Staleness::FailedAuth => self.max_age.min(AFTER_FAILED_AUTH),
        };
        let retry_after = older_than.min(AFTER_FAILED_AUTH);
        if reads.succeeded.elapsed() < older_than || reads.tried.elapsed() < retry_after {
            return false;
        }
        reads.tried = Instant::now();
        let mut installed = 0;
        for m in &self.managed {
            match self.read_valid(m, until).await {
                Ok(list) => {
                    let current = m.list.current();
                    let changed = current.len() != list.len()
                        || current
                            .iter()
                            .zip(&list)
                            .any(|(a, b)| a.expose() != b.expose());
                    if changed {
                        // Which setting and how many values: never a value.
                        tracing::info!(
                            variable = m.var,
                            values = list.len(),
                            "a new value read from Secrets Manager is in use"
                        );
                    }
                    m.list.replace(list);
                    installed += 1;
                }
                Err(reason) => {
                    tracing::error!(
                        variable = m.var,
                        error = %reason,
                        "re-reading a secret failed; the cached value stays"
                    );
                    sink.emit(&metrics::secret_refresh_failed(
                        m.var,
                        chrono::Utc::now().timestamp_millis(),
                    ));
                }
            }
        }
        if installed == self.managed.len() {
            reads.succeeded = Instant::now();
        }
        if installed > 0 {
            tracing::debug!(?why, "secrets re-read from Secrets Manager");
        }
        installed > 0
    }

    /// One managed secret read again and validated as at start-up. The reason names neither the
    /// value nor anything derived from it.
    async fn read_valid(&self, m: &Managed, until: Instant) -> Result<Vec<Secret>, String> {
        let value = tokio::time::timeout_at(until, self.reader.read(&m.secret_id))
            .await
            .map_err(|_| "no answer within the request's remaining time".to_owned())?
            .map_err(|e| format!("{}: {}", e.kind.as_str(), e))?;
        let list = parse_stored(&value)?;
        let candidate = Candidate {
            plain: &self.plain,
            var: m.var,
            value: &value,
        };
        (self.validate)(&candidate).map_err(|e| e.reason)?;
        Ok(list)
    }
}

/// The start-up settings with one secret setting's candidate value: what `Validate` checks.
struct Candidate<'a> {
    plain: &'a HashMap<String, String>,
    var: &'static str,
    value: &'a str,
}

impl Env for Candidate<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if name == self.var {
            return Some(self.value.to_owned());
        }
        self.plain.get(name).cloned()
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

    fn secrets(&self, var: &'static str) -> Result<SecretList, ConfigError> {
        match self.lists.get(var) {
            Some(list) => Ok(list.clone()),
            None => self.base.secrets(var),
        }
    }
}

/// Something a pipeline asks to refresh its secrets: before authenticating, and after a failed
/// authentication.
pub trait Refresh: Send + Sync {
    /// `true` when new values were installed.
    fn refresh<'a>(
        &'a self,
        why: Staleness,
        budget: Duration,
        sink: &'a dyn MetricsSink,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}

impl<R: SecretReader> Refresh for ManagedSecrets<R> {
    fn refresh<'a>(
        &'a self,
        why: Staleness,
        budget: Duration,
        sink: &'a dyn MetricsSink,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(ManagedSecrets::refresh(self, why, budget, sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;
    use crate::fault::FaultKind;
    use crate::metrics::Captured;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    const OLD: &str = "old-secret-0123456789";
    const NEW: &str = "new-secret-0123456789";
    const VAR: &str = "CASHFREE_CLIENT_SECRETS";

    /// Secrets in memory, counting reads.
    #[derive(Default)]
    struct Store {
        values: Mutex<HashMap<String, String>>,
        reads: AtomicUsize,
    }

    impl Store {
        fn put(&self, id: &str, value: &str) {
            self.values
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_owned(), value.to_owned());
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl SecretReader for &Store {
        async fn read(&self, id: &str) -> Result<String, Fault> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.values
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .cloned()
                .ok_or_else(|| Fault::new("get", FaultKind::Rejected, "ResourceNotFoundException"))
        }
    }

    fn store(pairs: &[(&str, &str)]) -> Store {
        let s = Store::default();
        for (k, v) in pairs {
            s.put(k, v);
        }
        s
    }

    /// Start-up's validation of the one setting: the list rules and nothing else.
    fn validate() -> Validate {
        Box::new(|env| env.secrets(VAR).map(|_| ()))
    }

    async fn load<'a>(
        s: &'a Store,
        extra: &[(&str, &str)],
    ) -> Result<Option<ManagedSecrets<&'a Store>>, ConfigError> {
        let mut pairs = vec![("CASHFREE_CLIENT_SECRETS_SECRET_ID", "cf")];
        pairs.extend_from_slice(extra);
        ManagedSecrets::load(&fake_env(&pairs), &[VAR], &[], validate(), s).await
    }

    async fn managed(s: &Store) -> ManagedSecrets<&Store> {
        load(s, &[]).await.expect("valid").expect("managed")
    }

    const BUDGET: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_secret_id_replaces_the_plain_variable() {
        let s = store(&[("cf", &format!("{OLD}, {NEW}"))]);
        let m = managed(&s).await;
        let env = fake_env(&[]);
        let list = m.env(&env).secrets(VAR).expect("valid");
        assert!(list.any_matches(NEW.as_bytes()) && list.any_matches(OLD.as_bytes()));
        assert_eq!(s.reads(), 1);
        assert_eq!(m.max_age(), DEFAULT_MAX_AGE);
        let none = ManagedSecrets::load(&fake_env(&[]), &[VAR], &[], validate(), &s)
            .await
            .expect("valid");
        assert!(none.is_none());
    }

    #[tokio::test]
    async fn both_set_unreadable_short_or_json_is_bad_configuration_naming_the_variable() {
        let s = store(&[
            ("cf", "v4lue-0123456789abc"),
            ("short", "short"),
            (
                "json",
                r#"{"CASHFREE_CLIENT_SECRETS":"v4lue-0123456789abc"}"#,
            ),
            ("empty", " "),
        ]);
        let e = load(&s, &[(VAR, "pl41n-0123456789abc")])
            .await
            .err()
            .expect("both");
        assert_eq!(e.var, VAR);
        assert!(!e.to_string().contains("pl41n") && !e.to_string().contains("v4lue"));
        for id in ["nope", "short", "json", "empty"] {
            let e = load(&s, &[("CASHFREE_CLIENT_SECRETS_SECRET_ID", id)])
                .await
                .err()
                .expect(id);
            assert_eq!(e.var, VAR, "{id}");
            assert!(
                e.to_string().contains("CASHFREE_CLIENT_SECRETS_SECRET_ID"),
                "{e}"
            );
            assert!(!e.to_string().contains("v4lue") && !e.to_string().contains("short,"));
        }
        let e = load(&s, &[("SECRETS_MAX_AGE_SECONDS", "0")])
            .await
            .err()
            .expect("max age");
        assert_eq!(e.var, "SECRETS_MAX_AGE_SECONDS");
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_past_its_max_age_is_read_again_so_a_removed_one_is_revoked() {
        let s = store(&[("cf", &format!("{OLD},{NEW}"))]);
        let m = managed(&s).await;
        let env = fake_env(&[]);
        let list = m.env(&env).secrets(VAR).expect("valid");
        let sink = Captured::default();
        s.put("cf", NEW);
        tokio::time::advance(DEFAULT_MAX_AGE - Duration::from_secs(1)).await;
        assert!(
            !m.refresh(Staleness::MaxAge, BUDGET, &sink).await,
            "not yet"
        );
        assert!(list.any_matches(OLD.as_bytes()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(m.refresh(Staleness::MaxAge, BUDGET, &sink).await);
        assert!(!list.any_matches(OLD.as_bytes()), "revoked");
        assert!(list.any_matches(NEW.as_bytes()));
        assert!(
            !m.refresh(Staleness::MaxAge, BUDGET, &sink).await,
            "fresh again"
        );
        assert_eq!(s.reads(), 2);
        assert!(sink.documents().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_authentication_reads_again_once_the_value_is_a_minute_old() {
        let s = store(&[("cf", OLD)]);
        let m = managed(&s).await;
        let env = fake_env(&[]);
        let list = m.env(&env).secrets(VAR).expect("valid");
        let sink = Captured::default();
        s.put("cf", NEW);
        tokio::time::advance(Duration::from_secs(59)).await;
        for _ in 0..3 {
            assert!(!m.refresh(Staleness::FailedAuth, BUDGET, &sink).await);
        }
        assert_eq!(s.reads(), 1, "a flood of bad signatures reads nothing");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(m.refresh(Staleness::FailedAuth, BUDGET, &sink).await);
        assert!(list.any_matches(NEW.as_bytes()));
        assert!(!m.refresh(Staleness::FailedAuth, BUDGET, &sink).await);
        assert_eq!(s.reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_invalid_or_unreadable_value_keeps_the_cached_one_and_is_counted() {
        let s = store(&[("cf", OLD)]);
        let m = managed(&s).await;
        let env = fake_env(&[]);
        let list = m.env(&env).secrets(VAR).expect("valid");
        let sink = Captured::default();
        let bad = [
            "x",
            "short,ok-but-the-other-is-short",
            r#"{"CASHFREE_CLIENT_SECRETS":"new-secret-0123456789"}"#,
            "",
        ];
        for value in bad {
            s.put("cf", value);
            tokio::time::advance(DEFAULT_MAX_AGE).await;
            assert!(
                !m.refresh(Staleness::MaxAge, BUDGET, &sink).await,
                "{value}"
            );
            assert!(
                list.any_matches(OLD.as_bytes()),
                "{value}: the cached value stays"
            );
        }
        s.values.lock().unwrap_or_else(|e| e.into_inner()).clear();
        tokio::time::advance(DEFAULT_MAX_AGE).await;
        assert!(
            !m.refresh(Staleness::MaxAge, BUDGET, &sink).await,
            "unreadable"
        );
        assert!(list.any_matches(OLD.as_bytes()));
        let docs = sink.documents();
        assert_eq!(docs.len(), bad.len() + 1);
        for d in &docs {
            let values = crate::metrics::check_emf(d).expect("EMF");
            assert_eq!(values["SecretRefreshFailed"], 1);
            assert!(d.contains(r#""Variable":"CASHFREE_CLIENT_SECRETS""#), "{d}");
            assert!(!d.contains("new-secret") && !d.contains("short"), "{d}");
        }
        // A failed read is not retried on every request.
        let reads = s.reads();
        assert!(!m.refresh(Staleness::MaxAge, BUDGET, &sink).await);
        assert!(!m.refresh(Staleness::FailedAuth, BUDGET, &sink).await);
        assert_eq!(s.reads(), reads);
        s.put("cf", NEW);
        tokio::time::advance(AFTER_FAILED_AUTH).await;
        assert!(
            m.refresh(Staleness::MaxAge, BUDGET, &sink).await,
            "recovers"
        );
        assert!(list.any_matches(NEW.as_bytes()));
    }

    /// A reader that never answers.
    struct Hanging;

    impl SecretReader for Hanging {
        async fn read(&self, _: &str) -> Result<String, Fault> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_is_bounded_by_the_budget_and_concurrent_requests_wait_their_turn() {
        let s = store(&[("cf", OLD)]);
        let env = fake_env(&[("CASHFREE_CLIENT_SECRETS_SECRET_ID", "cf")]);
        let m = ManagedSecrets::load(&env, &[VAR], &[], validate(), &s)
            .await
            .expect("valid")
            .expect("managed");
        let list = m.env(&env).secrets(VAR).expect("valid");
        // The same cached state behind a reader that hangs.
        let hanging = ManagedSecrets {
            reader: Hanging,
            managed: m.managed,
            plain: HashMap::new(),
            validate: validate(),
            max_age: DEFAULT_MAX_AGE,
            reads: m.reads,
        };
        let sink = Captured::default();
        tokio::time::advance(DEFAULT_MAX_AGE).await;
        let started = Instant::now();
        let (a, b) = tokio::join!(
            hanging.refresh(Staleness::MaxAge, Duration::from_secs(2), &sink),
            hanging.refresh(Staleness::MaxAge, Duration::from_secs(3), &sink),
        );
        assert!(!a && !b);
        // The second waited for the first (2 s), then found a failed read too recent to repeat.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert!(list.any_matches(OLD.as_bytes()));
        assert_eq!(sink.documents().len(), 1, "one failed read");
    }
}
