//! Cashfree's Secure ID status API, for the journey sweeper: `GET {base}/verification/vkyc?
//! verification_id=<subject>` (or `/verification/digilocker`), headers `x-client-id`,
//! `x-client-secret`, `x-api-version`; the answer's `status` and `sub_status`. What each failure
//! means to the sweeper: `sweeper::ApiError`. No redirect is followed (it would carry the client
//! secret elsewhere), and the secret never reaches a log or an error.

use crate::sources::{as_text, Reconcile};
use crate::sweeper::{ApiError, CashfreeApi, ProviderState, StatusApi, MAX_ANSWER_BYTES};
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
            return Err(ApiError::Unavailable("no client secret configured".into()));
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
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(ApiError::Invalid(format!(
                "the answer is over {MAX_ANSWER_BYTES} bytes"
            )));
        }
        let body = match tokio::time::timeout(timeout, read_capped(response)).await {
            Ok(result) => result?,
            Err(_) => return Err(ApiError::Timeout),
        };
        checked_answer(&body, reconcile, subject)
    }
}

/// The body, read up to `MAX_ANSWER_BYTES` (a longer one is `Invalid`, and not read further).
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ApiError::Invalid(format!(
                        "the answer is over {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(ApiError::Unavailable(e.without_url().to_string())),
        }
    }
}

/// A status word as Cashfree writes them: `[A-Z][A-Z0-9_]{0,63}`.
pub fn is_status_word(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && s.len() <= 64
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

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
    if answer.get("verification_id").and_then(as_text).as_deref() != Some(subject) {
        return Err(ApiError::Invalid(
            "its verification_id is not the journey's".into(),
        ));
    }
    let status = match answer.get("status") {
        Some(Value::String(s)) if is_status_word(s) => s.clone(),
        None | Some(Value::Null) => return Err(ApiError::Invalid("no status".into())),
        Some(_) => {
            return Err(ApiError::Invalid(
                "its status is not an upper-case word".into(),
            ))
        }
    };
    if reconcile
        .statuses
        .is_some_and(|documented| !documented.contains(&status.as_str()))
    {
        return Err(ApiError::Invalid(
            "its status is not one Cashfree documents".into(),
        ));
    }
    let sub_status = match answer.get("sub_status") {
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
        final_statuses: &[],
        statuses: None,
    };
    const DIGILOCKER: Reconcile = Reconcile {
        path: "/verification/digilocker",
        final_statuses: &[],
        statuses: Some(&["PENDING", "AUTHENTICATED"]),
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
}
