//! Cashfree's Secure ID status API, for the journey sweeper: `GET {base}<path>?<field>=<subject>`
//! (e.g. `/verification/vkyc?verification_id=…`, `/verification/bank-account?reference_id=…`),
//! headers `x-client-id`, `x-client-secret`, `x-api-version`; the answer's status and sub-status
//! fields as each source's `Reconcile` names them. What each failure
//! means to the sweeper: `sweeper::ApiError`. No redirect is followed (it would carry the client
//! secret elsewhere), and the secret never reaches a log or an error.

use crate::config::setting::Setting;
use crate::config::{ConfigError, Env};
use crate::intake::auth::AuthScheme;
use crate::sources::status::{
    self, ApiError, ApiFuture, Connection, ConnectionVars, ProviderState, StatusApi, StatusApiSpec,
};
use crate::sources::{as_text, Reconcile};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The journey sweeper read it from Cashfree's status API (`kyc.journey.reconciled`).
pub const STATUS_API_SCHEME: AuthScheme = AuthScheme::named("cashfree_status_api");

/// The sweeper's variables for Cashfree's status API.
pub mod var {
    pub const CASHFREE_API_CLIENT_ID: &str = "CASHFREE_API_CLIENT_ID";
    pub const CASHFREE_API_CLIENT_SECRET: &str = "CASHFREE_API_CLIENT_SECRET";
    pub const CASHFREE_API_BASE: &str = "CASHFREE_API_BASE";
    pub const CASHFREE_API_VERSION: &str = "CASHFREE_API_VERSION";
}

/// Cashfree's production API.
pub const DEFAULT_CASHFREE_API_BASE: &str = "https://api.cashfree.com";
/// The `x-api-version` sent to Cashfree's Secure ID API unless `CASHFREE_API_VERSION` says
/// otherwise (a dated version string; Cashfree's API reference names the current one).
pub const DEFAULT_CASHFREE_API_VERSION: &str = "2024-12-01";

/// Cashfree's status API, as both Cashfree sources name it.
pub static STATUS_API: StatusApiSpec = StatusApiSpec {
    provider: "cashfree",
    scheme: STATUS_API_SCHEME,
    resource: "CashfreeApi",
    settings: &[
        Setting::text(
            var::CASHFREE_API_CLIENT_ID,
            "CashfreeApiClientId",
            "",
            "Cashfree Secure ID API client id for reconciling stalled Cashfree journeys from its \
             status API; empty = the sweeper only reports them.",
        ),
        Setting::secret(
            var::CASHFREE_API_CLIENT_SECRET,
            "CashfreeApiClientSecret",
            "Its client secret (the stack keeps it in Secrets Manager; empty = a random \
             placeholder until you put the real value).",
        ),
        Setting::matching(
            var::CASHFREE_API_BASE,
            "CashfreeApiBase",
            DEFAULT_CASHFREE_API_BASE,
            "^https://.+",
            "Cashfree API base URL (https://sandbox.cashfree.com for the sandbox).",
        ),
        Setting::text(
            var::CASHFREE_API_VERSION,
            "CashfreeApiVersion",
            DEFAULT_CASHFREE_API_VERSION,
            "The x-api-version the sweeper sends to Cashfree's Secure ID API.",
        ),
    ],
    fixed_address: false,
    when_off: "set CashfreeApiClientId (CASHFREE_API_CLIENT_ID) and its secret",
    build,
};

fn build(env: &dyn Env) -> Result<Option<Arc<dyn StatusApi>>, ConfigError> {
    let vars = ConnectionVars {
        client_id: var::CASHFREE_API_CLIENT_ID,
        client_secret: var::CASHFREE_API_CLIENT_SECRET,
        base: var::CASHFREE_API_BASE,
        default_base: DEFAULT_CASHFREE_API_BASE,
    };
    let Some(connection) = Connection::from_env(env, vars)? else {
        return Ok(None);
    };
    let api_version = env
        .get(var::CASHFREE_API_VERSION)
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_CASHFREE_API_VERSION.to_owned());
    Ok(Some(Arc::new(CashfreeStatusApi {
        connection,
        api_version,
    })))
}

/// Cashfree's status API client.
pub struct CashfreeStatusApi {
    connection: Connection,
    api_version: String,
}

impl CashfreeStatusApi {
    /// The client on `connection`, sending `x-api-version: api_version`.
    pub fn new(connection: Connection, api_version: impl Into<String>) -> Self {
        Self {
            connection,
            api_version: api_version.into(),
        }
    }

    async fn ask(
        &self,
        reconcile: &Reconcile,
        subject: &str,
        timeout: Duration,
    ) -> Result<ProviderState, ApiError> {
        let c = &self.connection;
        let secret = c.secret()?;
        let url = format!("{}{}", c.base, reconcile.path);
        let secret_header = String::from_utf8_lossy(secret.expose()).into_owned();
        let request = c
            .http
            .get(&url)
            .query(&[(reconcile.subject_field, subject)])
            .header("x-client-id", &c.client_id)
            .header("x-client-secret", secret_header)
            .header("x-api-version", &self.api_version)
            .header("accept", "application/json");
        let body = status::fetch(request, timeout).await?;
        checked_answer(&body, reconcile, subject)
    }
}

impl StatusApi for CashfreeStatusApi {
    fn status<'a>(
        &'a self,
        reconcile: &'a Reconcile,
        subject: &'a str,
        timeout: Duration,
    ) -> ApiFuture<'a> {
        Box::pin(self.ask(reconcile, subject, timeout))
    }
}

/// A status word as Cashfree writes them: `[A-Z][A-Z0-9_]{0,63}`.
pub fn is_status_word(s: &str) -> bool {
    status::is_status_word(s, u8::is_ascii_uppercase)
}

const WORDS: status::Words = status::Words {
    case: u8::is_ascii_uppercase,
    spelled: "upper-case",
    provider: "Cashfree",
};

/// The answer, believed only when it is about `subject` and its statuses are status words (and,
/// where Cashfree publishes the list, one of its values). The problem names no value of the
/// answer: it may carry personal data.
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
    let field = reconcile.subject_field;
    if answer.get(field).and_then(as_text).as_deref() != Some(subject) {
        return Err(ApiError::Invalid(format!(
            "its {field} is not the journey's"
        )));
    }
    let status = WORDS.checked(answer.get(reconcile.status_field), reconcile.statuses)?;
    let sub_status = match reconcile.sub_status_field.and_then(|f| answer.get(f)) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if is_status_word(s) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::Invalid(
                "its sub_status is not an upper-case word".into(),
            ))
        }
    };
    Ok(ProviderState {
        status,
        sub_status,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VKYC: Reconcile = Reconcile {
        path: "/verification/vkyc",
        subject_field: "verification_id",
        status_field: "status",
        sub_status_field: Some("sub_status"),
        final_statuses: &[],
        statuses: None,
        personal_data: &[],
    };
    const DIGILOCKER: Reconcile = Reconcile {
        path: "/verification/digilocker",
        subject_field: "verification_id",
        status_field: "status",
        sub_status_field: Some("sub_status"),
        final_statuses: &[],
        statuses: Some(&["PENDING", "AUTHENTICATED"]),
        personal_data: &[],
    };

    #[test]
    fn an_answer_is_believed_only_about_its_journey_with_status_words() {
        let ok = checked_answer(
            br#"{"verification_id":"v1","reference_id":7,"status":"EXPIRED","sub_status":"LINK_EXPIRED"}"#,
            &VKYC,
            "v1",
        )
        .expect("believed");
        assert_eq!(ok.status, "EXPIRED");
        assert_eq!(ok.sub_status.as_deref(), Some("LINK_EXPIRED"));
        let cases: &[(&[u8], &Reconcile)] = &[
            (b"<html>", &VKYC),
            (b"[]", &VKYC),
            (br#"{"verification_id":"v2","status":"EXPIRED"}"#, &VKYC),
            (br#"{"status":"EXPIRED"}"#, &VKYC),
            (br#"{"verification_id":"v1"}"#, &VKYC),
            (br#"{"verification_id":"v1","status":"expired"}"#, &VKYC),
            (
                br#"{"verification_id":"v1","status":"EXPIRED\ufffe"}"#,
                &VKYC,
            ),
            (br#"{"verification_id":"v1","status":"A B"}"#, &VKYC),
            (
                br#"{"verification_id":"v1","status":"EXPIRED","sub_status":7}"#,
                &VKYC,
            ),
            (
                br#"{"verification_id":"v1","status":"EXPIRED"}"#,
                &DIGILOCKER,
            ),
        ];
        for (body, reconcile) in cases {
            let e =
                checked_answer(body, reconcile, "v1").expect_err(&String::from_utf8_lossy(body));
            assert!(matches!(e, ApiError::Invalid(_)), "{e:?}");
        }
        let long = format!(
            r#"{{"verification_id":"v1","status":"{}"}}"#,
            "A".repeat(65)
        );
        assert!(checked_answer(long.as_bytes(), &VKYC, "v1").is_err());
        assert!(checked_answer(
            br#"{"verification_id":"v1","status":"PENDING","sub_status":null}"#,
            &DIGILOCKER,
            "v1"
        )
        .is_ok());
    }

    #[test]
    fn each_product_is_read_from_its_own_fields() {
        let reconcile = |s: &crate::sources::SourceSpec| s.journey.reconcile.expect("reconciles");
        let bav = reconcile(&super::super::bav::SOURCE);
        let ok = checked_answer(
            br#"{"reference_id":34,"name_at_bank":"X","account_status":"VALID","account_status_code":"ACCOUNT_IS_VALID"}"#,
            &bav,
            "34",
        )
        .expect("believed");
        assert_eq!(
            (ok.status.as_str(), ok.sub_status.as_deref()),
            ("VALID", Some("ACCOUNT_IS_VALID"))
        );
        // Another request, a status BAV v2 does not document, or the user's id in its place.
        for body in [
            &br#"{"reference_id":35,"account_status":"VALID"}"#[..],
            br#"{"reference_id":34,"account_status":"SUCCESS"}"#,
            br#"{"user_id":"34","account_status":"VALID"}"#,
        ] {
            assert!(checked_answer(body, &bav, "34").is_err());
        }
        let link = reconcile(&super::super::kyc_link::SOURCE);
        let ok = checked_answer(
            br#"{"verification_id":"kl-1","form_status":"PENDING","status":"SUCCESS"}"#,
            &link,
            "kl-1",
        )
        .expect("believed");
        assert_eq!(ok.status, "PENDING");
    }
}
