//! Cashfree's Secure ID status API, for the journey sweeper: `GET {base}/verification/vkyc?
//! verification_id=<subject>` (or `/verification/digilocker`), headers `x-client-id`,
//! `x-client-secret`, `x-api-version`; the answer's `status` and `sub_status`. What each failure
//! means to the sweeper: `sweeper::ApiError`. No redirect is followed (it would carry the client
//! secret elsewhere), and the secret never reaches a log or an error.

use crate::sources::Reconcile;
use crate::sweeper::{ApiError, CashfreeApi, ProviderState, StatusApi};
use serde_json::Value;
use std::time::Duration;

pub struct CashfreeStatusApi {
    http: reqwest::Client,
    config: CashfreeApi,
}

impl CashfreeStatusApi {
    pub fn new(config: CashfreeApi) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTPS client: {e}"))?;
        Ok(Self { http, config })
    }
}

impl StatusApi for CashfreeStatusApi {
    async fn status(
        &self,
        reconcile: &Reconcile,
        subject: &str,
        timeout: Duration,
    ) -> Result<ProviderState, ApiError> {
        let Some(secret) = self.config.client_secret.current().first().cloned() else {
            return Err(ApiError::Unauthorized(0));
        };
        let url = format!("{}{}", self.config.base, reconcile.path);
        let secret_header = String::from_utf8_lossy(secret.expose()).into_owned();
        let sent = self
            .http
            .get(&url)
            .query(&[("verification_id", subject)])
            .header("x-client-id", &self.config.client_id)
            .header("x-client-secret", secret_header)
            .header("x-api-version", &self.config.api_version)
            .header("accept", "application/json")
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(ApiError::Timeout),
            // The error's text without the URL (it carries the subject).
            Err(e) => return Err(ApiError::Unavailable(e.without_url().to_string())),
        };
        let status = response.status();
        match status.as_u16() {
            200..=299 => {}
            401 | 403 => return Err(ApiError::Unauthorized(status.as_u16())),
            404 => return Err(ApiError::NotFound),
            429 => return Err(ApiError::Throttled),
            code => return Err(ApiError::Unavailable(format!("HTTP {code}"))),
        }
        let body = match tokio::time::timeout(timeout, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(ApiError::Unavailable(e.without_url().to_string())),
            Err(_) => return Err(ApiError::Timeout),
        };
        let answer: Value =
            serde_json::from_slice(&body).map_err(|_| ApiError::Invalid("not JSON".into()))?;
        let text = |k: &str| {
            answer
                .get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let Some(status) = text("status") else {
            return Err(ApiError::Invalid("no status".into()));
        };
        Ok(ProviderState {
            status,
            sub_status: text("sub_status"),
            answer,
        })
    }
}
