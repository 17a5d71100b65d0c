//! Digio's KYC status API, for the journey sweeper: `POST {base}/client/kyc/v2/{KID}/response`,
//! `Authorization: Basic base64(client_id:client_secret)`, body `{}`; the answer is the KYC request
//! (`id`, `status`, …). Several integrations agree on the method and path, none of Digio's own
//! pages was available: the base is configurable, and a 404 or 405 is taken as a wrong base or
//! method (the journey is left, never reported stalled), not as "Digio does not know it". No
//! redirect is followed, and the secret never reaches a log or an error.

use crate::config::setting::Setting;
use crate::config::{ConfigError, Env};
use crate::intake::auth::AuthScheme;
use crate::sources::status::{
    self, ApiError, ApiFuture, Connection, ConnectionVars, ProviderState, StatusApi, StatusApiSpec,
};
use crate::sources::Reconcile;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The journey sweeper read it from Digio's KYC status API (`kyc.journey.reconciled`).
pub const STATUS_API_SCHEME: AuthScheme = AuthScheme::named("digio_status_api");

/// The sweeper's variables for Digio's status API.
pub mod var {
    pub const DIGIO_API_CLIENT_ID: &str = "DIGIO_API_CLIENT_ID";
    pub const DIGIO_API_CLIENT_SECRET: &str = "DIGIO_API_CLIENT_SECRET";
    pub const DIGIO_API_BASE: &str = "DIGIO_API_BASE";
}

/// Digio's production API (the sandbox is `https://ext.digio.in:444`).
pub const DEFAULT_DIGIO_API_BASE: &str = "https://api.digio.in";

pub static STATUS_API: StatusApiSpec = StatusApiSpec {
    provider: "digio",
    scheme: STATUS_API_SCHEME,
    resource: "DigioApi",
    settings: &[
        Setting::text(
            var::DIGIO_API_CLIENT_ID,
            "DigioApiClientId",
            "",
            "Digio API client id for reconciling stalled Digio journeys from its KYC status API; \
             empty = the sweeper only reports them.",
        ),
        Setting::secret(
            var::DIGIO_API_CLIENT_SECRET,
            "DigioApiClientSecret",
            "Its client secret (the stack keeps it in Secrets Manager; empty = a random \
             placeholder until you put the real value).",
        ),
        Setting::matching(
            var::DIGIO_API_BASE,
            "DigioApiBase",
            DEFAULT_DIGIO_API_BASE,
            "^https://.+",
            "Digio API base URL (https://ext.digio.in:444 for the sandbox).",
        ),
    ],
    fixed_address: false,
    when_off: "set DigioApiClientId (DIGIO_API_CLIENT_ID) and its secret",
    build,
};

fn build(env: &dyn Env) -> Result<Option<Arc<dyn StatusApi>>, ConfigError> {
    let vars = ConnectionVars {
        client_id: var::DIGIO_API_CLIENT_ID,
        client_secret: var::DIGIO_API_CLIENT_SECRET,
        base: var::DIGIO_API_BASE,
        default_base: DEFAULT_DIGIO_API_BASE,
    };
    Ok(Connection::from_env(env, vars)?
        .map(|connection| Arc::new(DigioStatusApi { connection }) as Arc<dyn StatusApi>))
}

/// Digio's KYC status API client.
pub struct DigioStatusApi {
    connection: Connection,
}

impl DigioStatusApi {
    async fn ask(
        &self,
        reconcile: &Reconcile,
        subject: &str,
        timeout: Duration,
    ) -> Result<ProviderState, ApiError> {
        if subject.is_empty()
            || subject.len() > 64
            || !subject.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ApiError::Invalid(
                "the subject is not a KYC request id".into(),
            ));
        }
        let c = &self.connection;
        let secret = c.secret()?;
        let mut credentials = c.client_id.clone().into_bytes();
        credentials.push(b':');
        credentials.extend_from_slice(secret.expose());
        let url = format!("{}{}", c.base, reconcile.path.replace("{KID}", subject));
        let request = c
            .http
            .post(&url)
            .header(
                "authorization",
                format!("Basic {}", BASE64.encode(credentials)),
            )
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body("{}");
        let body = match status::fetch(request, timeout).await {
            Err(ApiError::NotFound) => return Err(ApiError::Unavailable(
                "HTTP 404: check DIGIO_API_BASE (a wrong base or method, not an unknown request)"
                    .into(),
            )),
            other => other?,
        };
        checked_answer(&body, reconcile, subject)
    }
}

impl StatusApi for DigioStatusApi {
    fn status<'a>(
        &'a self,
        reconcile: &'a Reconcile,
        subject: &'a str,
        timeout: Duration,
    ) -> ApiFuture<'a> {
        Box::pin(self.ask(reconcile, subject, timeout))
    }
}

/// A status word as Digio writes them: `[a-z][a-z0-9_]{0,63}`.
const WORDS: status::Words = status::Words {
    case: u8::is_ascii_lowercase,
    spelled: "lower-case",
    provider: "Digio",
};

/// The answer, believed only when its `id` is the KYC request asked about and its `status` a
/// status word. The problem names no value of the answer: it carries personal data.
pub fn checked_answer(
    body: &[u8],
    reconcile: &Reconcile,
    subject: &str,
) -> Result<ProviderState, ApiError> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::Invalid("not JSON".into()))?;
    if !answer.is_object() {
        return Err(ApiError::Invalid("not a JSON object".into()));
    }
    if answer.get(reconcile.subject_field).and_then(Value::as_str) != Some(subject) {
        return Err(ApiError::Invalid("its id is not the journey's".into()));
    }
    let status = WORDS.checked(answer.get(reconcile.status_field), reconcile.statuses)?;
    Ok(ProviderState {
        status,
        sub_status: None,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconcile() -> &'static Reconcile {
        super::super::kyc::SOURCE
            .journey
            .reconcile
            .as_ref()
            .expect("Digio reconciles")
    }

    #[test]
    fn an_answer_is_believed_only_about_its_request_with_a_status_word() {
        let ok = checked_answer(
            br#"{"id":"KID1","status":"approval_pending","actions":[{"details":{"pan":{}}}]}"#,
            reconcile(),
            "KID1",
        )
        .expect("believed");
        assert_eq!(
            (ok.status.as_str(), ok.sub_status),
            ("approval_pending", None)
        );
        for bad in [
            &b"<html>"[..],
            b"[]",
            br#"{"id":"KID2","status":"approved"}"#,
            br#"{"status":"approved"}"#,
            br#"{"id":"KID1"}"#,
            br#"{"id":"KID1","status":"APPROVED"}"#,
            br#"{"id":"KID1","status":"approved now"}"#,
            br#"{"id":"KID1","status":7}"#,
        ] {
            assert!(
                matches!(
                    checked_answer(bad, reconcile(), "KID1"),
                    Err(ApiError::Invalid(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
