//! HyperVerge's two configuration APIs' client, as HyperVerge documents them (docs/providers.md):
//!
//! - DigiLocker: `BASE/api/digilocker/webHook`, POST `{"url": ...}` registers, GET reads back.
//!   Responses carry `statusCode` as a string (`"200"`).
//! - Results: `BASE/api/v1/config` (USA: its own host), GET lists subscriptions, POST creates one
//!   (`webhookUrl`, `events`), PUT updates it (and is the only way to set `headers`, our token);
//!   PUT answers `"result": 1`.
//!
//! Both take the headers `appId` and `appKey`. Nothing here ever prints the key or a token: a URL
//! that carries the DigiLocker token is shown with the token redacted.

use crate::http::{check_url, redirect_location};
use crate::report::Failure;
use serde_json::{json, Value};
use std::time::Duration;

pub const DIGILOCKER_PATH: &str = "/api/digilocker/webHook";
pub const RESULTS_PATH: &str = "/api/v1/config";
pub const DIGILOCKER_BASE: &str = "https://api.hyperverge.co";
pub const RESULTS_BASE_IND: &str = "https://review-api.idv.hyperverge.co";
pub const RESULTS_BASE_USA: &str = "https://review-api-usa.idv.hyperverge.co";
pub const ALL_EVENTS: [&str; 3] = [
    "FINISH_TRANSACTION_WEBHOOK",
    "MANUAL_REVIEW_STATUS_UPDATE",
    "INTERMEDIATE_TRANSACTION_WEBHOOK",
];

/// `appId` and `appKey`; the key never prints.
#[derive(Clone)]
pub struct Credentials {
    pub app_id: String,
    pub app_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl Credentials {
    pub fn from_env() -> Result<Self, Failure> {
        let get = |var: &str, what: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "{var} is not set: export your HyperVerge {what} (dashboard → credentials)"
                    ))
                })
        };
        Ok(Self {
            app_id: get("HYPERVERGE_APP_ID", "app id")?,
            app_key: get("HYPERVERGE_APP_KEY", "app key")?,
        })
    }
}

/// The configuration APIs' client.
pub struct Api {
    http: reqwest::Client,
    creds: Credentials,
    digilocker_base: String,
    results_base: String,
}

impl Api {
    /// `config_url` replaces the scheme and host of both documented endpoints (tests, proxies).
    pub fn new(
        creds: Credentials,
        config_url: Option<&str>,
        usa: bool,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let (digilocker_base, results_base) = match config_url {
            Some(base) => {
                let base = check_url("--config-url", base)?;
                let base = base.as_str().trim_end_matches('/').to_owned();
                (base.clone(), base)
            }
            None => (
                DIGILOCKER_BASE.to_owned(),
                if usa {
                    RESULTS_BASE_USA
                } else {
                    RESULTS_BASE_IND
                }
                .to_owned(),
            ),
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would carry appId and appKey to another host, plain HTTP included.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure::failed(format!("cannot build the HTTPS client: {e}")))?;
        Ok(Self {
            http,
            creds,
            digilocker_base,
            results_base,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("appId", &self.creds.app_id)
            .header("appKey", &self.creds.app_key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let what = format!("{method} {url}");
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                Failure::failed(format!(
                    "{what}: no answer in time (--timeout); is the network up?"
                ))
            } else {
                Failure::failed(format!(
                    "{what}: cannot reach HyperVerge: {}",
                    without_url(&e)
                ))
            }
        })?;
        let status = res.status();
        if let Some(location) = redirect_location(&res) {
            return Err(Failure::failed(format!(
                "{what}: HyperVerge answered {status}, a redirect to {location}; kycctl never follows one (it would send appId and appKey there): check --config-url or the network path"
            )));
        }
        let text = res.text().await.unwrap_or_default();
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(Failure::failed(format!(
                "{what}: HyperVerge answered {status}: wrong credentials? check HYPERVERGE_APP_ID and HYPERVERGE_APP_KEY{}",
                provider_message(parsed.as_ref())
            )));
        }
        if !status.is_success() {
            return Err(Failure::failed(format!(
                "{what}: HyperVerge answered {status}{}",
                provider_message(parsed.as_ref())
            )));
        }
        let value = parsed.ok_or_else(|| {
            Failure::failed(format!(
                "{what}: HyperVerge answered {status} with a body that is not JSON"
            ))
        })?;
        // The body's own status ("statusCode": "200" or 200).
        let code = value.get("statusCode").and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        });
        if code.is_some_and(|c| !(200..300).contains(&c)) {
            return Err(Failure::failed(format!(
                "{what}: HyperVerge refused it (statusCode {}){}",
                code.unwrap_or_default(),
                provider_message(Some(&value))
            )));
        }
        Ok(value)
    }

    pub async fn digilocker_show(&self) -> Result<Option<String>, Failure> {
        let v = self
            .call(
                reqwest::Method::GET,
                format!("{}{DIGILOCKER_PATH}", self.digilocker_base),
                None,
            )
            .await?;
        Ok(registered_url(&v))
    }

    pub async fn digilocker_register(&self, url: &str) -> Result<(), Failure> {
        self.call(
            reqwest::Method::POST,
            format!("{}{DIGILOCKER_PATH}", self.digilocker_base),
            Some(json!({ "url": url })),
        )
        .await
        .map(|_| ())
    }

    fn results_url(&self) -> String {
        format!("{}{RESULTS_PATH}", self.results_base)
    }

    /// The first subscription, if any.
    pub async fn results_show(&self) -> Result<Option<Subscription>, Failure> {
        let v = self
            .call(reqwest::Method::GET, self.results_url(), None)
            .await?;
        let first = match &v["result"] {
            Value::Array(list) => list.first().cloned(),
            Value::Object(_) => Some(v["result"].clone()),
            _ => None,
        };
        Ok(first.map(|s| Subscription::from_json(&s)))
    }

    pub async fn results_create(&self, url: &str, events: &[String]) -> Result<(), Failure> {
        self.call(
            reqwest::Method::POST,
            self.results_url(),
            Some(json!({ "webhookUrl": url, "events": events })),
        )
        .await
        .map(|_| ())
    }

    pub async fn results_update(
        &self,
        url: &str,
        events: &[String],
        header: &str,
        token: &str,
    ) -> Result<(), Failure> {
        self.call(
            reqwest::Method::PUT,
            self.results_url(),
            Some(json!({ "webhookUrl": url, "events": events, "headers": { header: token } })),
        )
        .await
        .map(|_| ())
    }
}

/// A reqwest error's text without the URL (which may carry a token).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// ` (message)` from a provider error body, when it has one.
fn provider_message(v: Option<&Value>) -> String {
    let Some(v) = v else { return String::new() };
    ["message", "error", "errorMessage"]
        .iter()
        .find_map(|k| {
            v.get(*k)
                .or_else(|| v.get("result").and_then(|r| r.get(*k)))
                .and_then(Value::as_str)
        })
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// The URL a DigiLocker GET reports (`result.url`, or `result.webhookUrl`).
fn registered_url(v: &Value) -> Option<String> {
    let r = &v["result"];
    let r = match r {
        Value::Array(list) => list.first().unwrap_or(&Value::Null),
        other => other,
    };
    ["url", "webhookUrl"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

/// A Results subscription as GET reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub webhook_url: Option<String>,
    pub events: Vec<String>,
    /// Header names and values (values never printed).
    pub headers: Vec<(String, String)>,
}

impl Subscription {
    fn from_json(v: &Value) -> Self {
        let mut events: Vec<String> = v["events"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        events.sort();
        let headers = v["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            webhook_url: v["webhookUrl"].as_str().map(str::to_owned),
            events,
            headers,
        }
    }

    /// What differs from the wanted subscription; a token is compared, never shown.
    pub fn differences(
        &self,
        url: &str,
        events: &[String],
        header: &str,
        token: Option<&str>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if self.webhook_url.as_deref() != Some(url) {
            out.push(format!(
                "webhook URL is {}, expected {url}",
                self.webhook_url.as_deref().unwrap_or("(none)")
            ));
        }
        let mut want: Vec<String> = events.to_vec();
        want.sort();
        if self.events != want {
            out.push(format!(
                "events are [{}], expected [{}]",
                self.events.join(", "),
                want.join(", ")
            ));
        }
        let header = header.to_ascii_lowercase();
        match self.headers.iter().find(|(k, _)| *k == header) {
            None => out.push(format!(
                "no `{header}` header: the webhooks carry no token (set it with `subscribe`)"
            )),
            Some((_, v)) if v.is_empty() => out.push(format!("the `{header}` header is empty")),
            Some((_, v)) => {
                if token.is_some_and(|t| t != v) {
                    out.push(format!(
                        "the `{header}` header holds another token than the one given"
                    ));
                }
            }
        }
        for (k, _) in self.headers.iter().filter(|(k, _)| *k != header) {
            out.push(format!("an unexpected header `{k}` is sent"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::redact;

    fn creds() -> Credentials {
        Credentials {
            app_id: "a".into(),
            app_key: "k".into(),
        }
    }

    #[test]
    fn the_region_picks_the_documented_host_and_config_url_replaces_both() {
        let t = Duration::from_secs(1);
        let ind = Api::new(creds(), None, false, t).expect("api");
        assert_eq!(
            ind.results_url(),
            "https://review-api.idv.hyperverge.co/api/v1/config"
        );
        let usa = Api::new(creds(), None, true, t).expect("api");
        assert_eq!(
            usa.results_url(),
            "https://review-api-usa.idv.hyperverge.co/api/v1/config"
        );
        assert_eq!(usa.digilocker_base, "https://api.hyperverge.co");
        let local = Api::new(creds(), Some("http://127.0.0.1:9/"), true, t).expect("api");
        assert_eq!(local.results_url(), "http://127.0.0.1:9/api/v1/config");
        assert!(Api::new(creds(), Some("http://proxy.example"), false, t).is_err());
        assert!(!format!("{:?}", creds()).contains('k'));
    }

    #[test]
    fn tokens_in_urls_are_redacted() {
        assert_eq!(
            redact("https://h/x?a=1&token=s3cret"),
            "https://h/x?a=1&token=<redacted>"
        );
        assert_eq!(redact("https://h/x"), "https://h/x");
    }
}
