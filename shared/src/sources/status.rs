//! A provider's status API, as the journey sweeper asks it when a journey is due: what an
//! answer is (`ProviderState`), what can go wrong (`ApiError`, each with its rule in the sweeper),
//! and what every provider's client shares: the checked base URL, the capped read of an answer.
//! Each provider's own client lives in its folder and names itself in its sources' `Reconcile`.

use crate::config::setting::Setting;
use crate::config::{err, ConfigError, Env};
use crate::intake::auth::AuthScheme;
use crate::secrets::secret::{Secret, SecretList};
use crate::sources::Reconcile;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The largest status API answer read; a longer one is not believed.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A journey's state as the provider's API tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderState {
    pub status: String,
    pub sub_status: Option<String>,
    /// The API's whole answer.
    pub answer: Value,
}

/// Why the status API gave no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The provider does not know the journey: it knows no more than we do.
    #[error("not found")]
    NotFound,
    /// Our credentials were refused: no call of this run will do better.
    #[error("credentials refused ({0})")]
    Unauthorized(u16),
    /// Asked to slow down: no more calls this run.
    #[error("throttled (429)")]
    Throttled,
    #[error("no answer in time")]
    Timeout,
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An answer we cannot read (not JSON, no status).
    #[error("unreadable answer: {0}")]
    Invalid(String),
}

/// What a status API call comes back with.
pub type ApiFuture<'a> = Pin<Box<dyn Future<Output = Result<ProviderState, ApiError>> + Send + 'a>>;

/// A provider's status API: the state of the journey `subject` of a source (`reconcile` is that
/// source's), within `timeout`.
pub trait StatusApi: Send + Sync {
    fn status<'a>(
        &'a self,
        reconcile: &'a Reconcile,
        subject: &'a str,
        timeout: Duration,
    ) -> ApiFuture<'a>;
}

/// Builds a provider's status API from the sweeper's environment.
pub type BuildStatusApi = fn(&dyn Env) -> Result<Option<Arc<dyn StatusApi>>, ConfigError>;

/// A provider's status API as its folder describes it to the journey sweeper.
pub struct StatusApiSpec {
    /// The provider whose sources it answers for.
    pub provider: &'static str,
    /// `data.auth_scheme` of the `kyc.journey.reconciled` events made from its answers.
    pub scheme: AuthScheme,
    /// The name its template resources start with (`CashfreeApi`: its secret
    /// `CashfreeApiSecret`, its condition `HasCashfreeApi`, its output `CashfreeApiSecretId`).
    pub resource: &'static str,
    /// The sweeper settings it reads, as the template declares them; the secrets among them may
    /// come from Secrets Manager (`<X>_SECRET_ID`). Its client id comes first: the API is on
    /// when that is set.
    pub settings: &'static [Setting],
    /// Whether the provider answers only addresses it has allowlisted: the API is then on only
    /// where the sweeper runs in the team's VPC (template parameter `SweeperSubnetIds`), whose
    /// NAT gives it one fixed address.
    pub fixed_address: bool,
    /// What the sweeper says, once per run, when the API is off: how to turn it on.
    pub when_off: &'static str,
    /// The API from the sweeper's environment; `Ok(None)` when its credentials are not set (the
    /// provider's journeys are then only reported).
    pub build: BuildStatusApi,
}

impl std::fmt::Debug for StatusApiSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusApiSpec")
            .field("provider", &self.provider)
            .finish()
    }
}

/// A status API's base URL from `var`: parsed as a URL, `https` required except for a loopback
/// host (`127.0.0.1`, `::1`, `localhost` exactly: tests), no user name or password, no query.
/// The client secret goes to this address, so a prefix check is not enough
/// (`http://127.0.0.1@attacker.example` is a request to `attacker.example`).
pub fn api_base(var: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let url = reqwest::Url::parse(value)
        .map_err(|e| err(var, format!("`{value}` is not a URL ({e})")))?;
    // The parser has normalized the host: lower case, IPv4 in dotted decimal, IPv6 in brackets.
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            var,
            "a URL with a user name or password is not accepted",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(var, "the base URL takes no query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(err(
                var,
                format!(
                    "`{value}` is not HTTPS (plain HTTP only to 127.0.0.1, ::1 or localhost, for tests)"
                ),
            ))
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A client id and its secret from `id_var` and `secret_var` (or its `_SECRET_ID`): both or
/// neither (`Ok(None)`: the API is not configured).
fn credentials(
    env: &dyn Env,
    id_var: &'static str,
    secret_var: &'static str,
) -> Result<Option<(String, SecretList)>, ConfigError> {
    let id = env.get(id_var);
    let secret = env.secrets(secret_var)?;
    match (id, secret.is_empty()) {
        (None, true) => Ok(None),
        (Some(_), true) => Err(err(
            secret_var,
            format!("{id_var} is set but the secret is not (or its _SECRET_ID)"),
        )),
        (None, false) => Err(err(
            id_var,
            format!("{secret_var} is set but {id_var} is not"),
        )),
        (Some(id), false) => Ok(Some((id.trim().to_owned(), secret))),
    }
}

/// How to reach a provider's status API: a client that follows no redirect, the checked base URL
/// and the client's credentials. Each provider's client adds its own request and answer.
#[derive(Debug, Clone)]
pub struct Connection {
    pub http: reqwest::Client,
    pub base: String,
    pub client_id: String,
    pub client_secret: SecretList,
}

/// The variables a status API is configured from.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionVars {
    pub client_id: &'static str,
    pub client_secret: &'static str,
    pub base: &'static str,
    /// The provider's production API, when `base` is unset.
    pub default_base: &'static str,
}

impl Connection {
    /// The connection `vars` describe; `Ok(None)` when neither credential is set (the API is not
    /// configured).
    pub fn from_env(env: &dyn Env, vars: ConnectionVars) -> Result<Option<Self>, ConfigError> {
        let Some((client_id, client_secret)) =
            credentials(env, vars.client_id, vars.client_secret)?
        else {
            return Ok(None);
        };
        let base = api_base(
            vars.base,
            &env.get(vars.base)
                .unwrap_or_else(|| vars.default_base.to_owned()),
        )?;
        let http = client().map_err(|reason| err(vars.base, reason))?;
        Ok(Some(Self {
            http,
            base,
            client_id,
            client_secret,
        }))
    }

    /// The newest client secret, as the request sends it.
    pub fn secret(&self) -> Result<Secret, ApiError> {
        self.client_secret
            .current()
            .first()
            .cloned()
            .ok_or_else(|| ApiError::Unavailable("no client secret configured".into()))
    }
}

/// A status word as a provider writes them: a letter of `case`, then up to 63 more of its
/// letters, digits or `_` (Cashfree's are upper case, Digio's lower case).
pub fn is_status_word(s: &str, case: fn(&u8) -> bool) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| case(&b))
        && s.len() <= 64
        && bytes.all(|b| case(&b) || b.is_ascii_digit() || b == b'_')
}

/// How a provider writes its status words, to check an answer's status by.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// Its letters' case (Cashfree's upper, Digio's and HyperVerge's lower).
    pub case: fn(&u8) -> bool,
    /// That case as the problem names it: `upper-case`.
    pub spelled: &'static str,
    pub provider: &'static str,
}

impl Words {
    /// The status at `value`: a status word and, where the provider publishes a closed list, one
    /// of `documented`. The problem names no value (an answer may carry personal data).
    pub fn checked(
        &self,
        value: Option<&Value>,
        documented: Option<&[&str]>,
    ) -> Result<String, ApiError> {
        let status = match value {
            Some(Value::String(s)) if is_status_word(s, self.case) => s.clone(),
            None | Some(Value::Null) => return Err(ApiError::Invalid("no status".into())),
            Some(_) => {
                return Err(ApiError::Invalid(format!(
                    "its status is not {} word",
                    article(self.spelled)
                )))
            }
        };
        if documented.is_some_and(|list| !list.contains(&status.as_str())) {
            return Err(ApiError::Invalid(format!(
                "its status is not one {} documents",
                self.provider
            )));
        }
        Ok(status)
    }
}

/// `an upper-case`, `a lower-case`.
fn article(word: &str) -> String {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => format!("an {word}"),
        _ => format!("a {word}"),
    }
}

/// An HTTPS client that follows no redirect (one would carry the credentials elsewhere).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("the HTTPS client: {e}"))
}

/// What an HTTP status means to the sweeper, for every provider alike.
pub fn refusal(status: u16) -> Option<ApiError> {
    match status {
        200..=299 => None,
        401 | 403 => Some(ApiError::Unauthorized(status)),
        404 => Some(ApiError::NotFound),
        429 => Some(ApiError::Throttled),
        code => Some(ApiError::Unavailable(format!("HTTP {code}"))),
    }
}

/// Send `request` and read its answer, at most `MAX_ANSWER_BYTES` (a longer one is `Invalid`,
/// and not read further), all within `timeout`. The errors carry no URL (it can carry the
/// subject).
pub async fn fetch(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    let sent = request.timeout(timeout).send().await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Err(ApiError::Timeout),
        Err(e) => return Err(ApiError::Unavailable(e.without_url().to_string())),
    };
    if let Some(e) = refusal(response.status().as_u16()) {
        return Err(e);
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, read_capped(response)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::Timeout),
    }
}

fn too_large() -> ApiError {
    ApiError::Invalid(format!("the answer is over {MAX_ANSWER_BYTES} bytes"))
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(ApiError::Unavailable(e.without_url().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_a_parsed_url_https_unless_exactly_loopback() {
        for good in [
            "https://api.cashfree.com",
            "https://sandbox.cashfree.com/",
            "http://127.0.0.1:8080",
            "http://localhost:9",
            "http://[::1]:9",
        ] {
            assert!(api_base("V", good).is_ok(), "{good}");
        }
        for bad in [
            "http://localhost.attacker.example",
            "http://127.0.0.1@attacker.example",
            "http://127.0.0.1.nip.io",
            "http://api.cashfree.com",
            "https://user:pass@api.cashfree.com",
            "https://api.cashfree.com/?x=1",
            "ftp://127.0.0.1",
            "api.cashfree.com",
        ] {
            let e = api_base("V", bad).expect_err(bad);
            assert_eq!(e.var, "V");
        }
    }
}
