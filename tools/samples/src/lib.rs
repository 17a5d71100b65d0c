//! Sample events: API Gateway proxy events (HTTP API 2.0 or REST 1.0) under `events/`. Signed ones
//! carry placeholders that are filled in at send time, so they never go stale:
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{{now_ms}}` | the current time, epoch ms (for `x-webhook-timestamp`, and in a body: Digio's `created_at`) |
//! | `{{stale_ms}}` | two days ago, epoch ms |
//! | `{{long_ago_ms}}`, `{{future_ms}}` | (in a body) thirty days ago, an hour ahead, epoch ms |
//! | `{{digio_checksum}}` | the hex checksum of the body, with the first of `DIGIO_WEBHOOK_SECRETS` |
//! | `{{cashfree_signature}}` | the header-scheme signature of the timestamp header and the body, with the first of `CASHFREE_CLIENT_SECRETS` |
//! | `{{cashfree_legacy_signature}}` | (in the body) the legacy signature of the body's `data`, with the same secret |
//! | `{{<VARIABLE>}}`, e.g. `{{HYPERVERGE_RESULTS_AUTH_TOKENS}}` | (in a header or the query string) the first value of that secret variable |
//!
//! The values come from the environment, else from the registry's local values
//! (`FunctionSpec::local`), which is what `make run` and the tests configure.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use kyc_intake::config;
use kyc_intake::sources::cashfree::settings::var::CLIENT_SECRETS as CASHFREE_SECRETS;
use kyc_intake::sources::cashfree::signature::{sign, sign_legacy, TIMESTAMP_HEADER};
use kyc_intake::sources::digio::checksum::sign as digio_sign;
use kyc_intake::sources::digio::settings::var::WEBHOOK_SECRETS as DIGIO_SECRETS;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use serde_json::Value;
use std::collections::BTreeMap;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The credentials placeholders are filled with: one value per secret variable of the registry.
#[derive(Clone, Default)]
pub struct Credentials(BTreeMap<String, String>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl Credentials {
    /// The registry's local values: what `make run` and the tests configure.
    pub fn local() -> Self {
        Self::with(|_| None)
    }

    /// The first value of each secret variable in the environment, else the local one.
    pub fn from_env() -> Self {
        Self::with(|var| std::env::var(var).ok())
    }

    fn with(env: impl Fn(&str) -> Option<String>) -> Self {
        let mut values = BTreeMap::new();
        for var in FUNCTIONS
            .iter()
            .flat_map(|f| f.secret_variables().into_iter())
        {
            let value = env(var)
                .and_then(|v| config::first_listed(&v).map(str::to_owned))
                .or_else(|| registry::local_value(var).map(str::to_owned));
            if let Some(value) = value {
                values.insert((*var).to_owned(), value);
            }
        }
        Self(values)
    }

    /// Sign or fill `variable`'s placeholders with `value` instead.
    pub fn set(&mut self, variable: &str, value: impl Into<String>) {
        self.0.insert(variable.to_owned(), value.into());
    }

    fn get(&self, variable: &str) -> Result<&str, BoxError> {
        self.0
            .get(variable)
            .map(String::as_str)
            .ok_or_else(|| format!("no value for {variable}").into())
    }

    /// `text` with every `{{<VARIABLE>}}` filled, each value passed through `encode`.
    fn fill(&self, text: &str, encode: impl Fn(&str) -> String) -> String {
        let mut out = text.to_owned();
        for (var, value) in &self.0 {
            let placeholder = format!("{{{{{var}}}}}");
            if out.contains(&placeholder) {
                out = out.replace(&placeholder, &encode(value));
            }
        }
        out
    }
}

/// The request body of an API Gateway event, decoded.
pub fn body_of(event: &Value) -> Vec<u8> {
    let body = event
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        BASE64.decode(body).unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    }
}

/// A rendered event as the request its function receives: `lambda_http` reads it as it does on
/// Lambda (method, path, query string, headers, the body decoded).
pub fn request(rendered: &str) -> Result<lambda_http::Request, BoxError> {
    Ok(lambda_http::request::from_str(rendered)?)
}

/// The request path of an API Gateway event (`rawPath` in 2.0, `path` in 1.0).
pub fn path_of(event: &Value) -> &str {
    event
        .get("rawPath")
        .or_else(|| event.get("path"))
        .and_then(Value::as_str)
        .unwrap_or("/")
}

fn header_values_mut(event: &mut Value) -> Vec<(String, &mut Value)> {
    let mut out = Vec::new();
    let Value::Object(root) = event else {
        return out;
    };
    for (key, section) in root.iter_mut() {
        if key != "headers" && key != "multiValueHeaders" {
            continue;
        }
        let Some(map) = section.as_object_mut() else {
            continue;
        };
        for (name, v) in map.iter_mut() {
            match v {
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        out.push((name.to_lowercase(), item));
                    }
                }
                other => out.push((name.to_lowercase(), other)),
            }
        }
    }
    out
}

/// Fill in the placeholders of an event, at `now_ms`.
pub fn render(template: &str, creds: &Credentials, now_ms: i64) -> Result<String, BoxError> {
    let mut event: Value = serde_json::from_str(template)?;
    let stale_ms = now_ms - 2 * 86_400_000;

    // Body first: the header signature covers the final body.
    let encoded = event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    let body = String::from_utf8_lossy(&body_of(&event)).into_owned();
    let times = [
        ("{{now_ms}}", now_ms),
        ("{{stale_ms}}", stale_ms),
        ("{{long_ago_ms}}", now_ms - 30 * 86_400_000),
        ("{{future_ms}}", now_ms + 3_600_000),
    ];
    let body = if times.iter().any(|(p, _)| body.contains(p)) {
        let body = times
            .iter()
            .fold(body, |b, (p, ms)| b.replace(p, &ms.to_string()));
        event["body"] = Value::from(if encoded {
            BASE64.encode(&body)
        } else {
            body.clone()
        });
        body
    } else {
        body
    };
    if body.contains("{{cashfree_legacy_signature}}") {
        let parsed: Value = serde_json::from_str(&body)?;
        let data = parsed
            .get("data")
            .ok_or("legacy-signed body has no `data`")?;
        let sig = sign_legacy(creds.get(CASHFREE_SECRETS)?.as_bytes(), data)
            .ok_or("legacy-signed body's `data` is not an object")?;
        let body = body.replace("{{cashfree_legacy_signature}}", &sig);
        event["body"] = Value::from(if encoded { BASE64.encode(&body) } else { body });
    }
    let body = body_of(&event);

    let mut timestamp = None;
    for (name, value) in header_values_mut(&mut event) {
        let Some(text) = value.as_str() else { continue };
        let filled = creds.fill(
            &text
                .replace("{{now_ms}}", &now_ms.to_string())
                .replace("{{stale_ms}}", &stale_ms.to_string()),
            str::to_owned,
        );
        if name == TIMESTAMP_HEADER {
            timestamp = Some(filled.clone());
        }
        *value = Value::from(filled);
    }
    fill_query(&mut event, creds);
    for (_, value) in header_values_mut(&mut event) {
        if value.as_str() == Some("{{cashfree_signature}}") {
            let ts = timestamp
                .as_deref()
                .ok_or("`{{cashfree_signature}}` needs an x-webhook-timestamp header")?;
            *value = Value::from(sign(creds.get(CASHFREE_SECRETS)?.as_bytes(), ts, &body));
        } else if value.as_str() == Some("{{digio_checksum}}") {
            *value = Value::from(digio_sign(creds.get(DIGIO_SECRETS)?.as_bytes(), &body));
        }
    }
    Ok(serde_json::to_string_pretty(&event)?)
}

/// Fill `{{<VARIABLE>}}` in the query string (`rawQueryString` in 2.0) and the parsed query
/// parameters (both versions), URL-encoded where the event carries it encoded.
fn fill_query(event: &mut Value, creds: &Credentials) {
    let Value::Object(root) = event else { return };
    if let Some(Value::String(raw)) = root.get_mut("rawQueryString") {
        *raw = creds.fill(raw, |v| {
            form_urlencoded::byte_serialize(v.as_bytes()).collect()
        });
    }
    for key in ["queryStringParameters", "multiValueQueryStringParameters"] {
        let Some(Value::Object(map)) = root.get_mut(key) else {
            continue;
        };
        for v in map.values_mut() {
            let items: Vec<&mut Value> = match v {
                Value::Array(items) => items.iter_mut().collect(),
                other => vec![other],
            };
            for item in items {
                if let Value::String(text) = item {
                    *text = creds.fill(text, str::to_owned);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_timestamp_then_signature_over_the_final_body() {
        let mut creds = Credentials::default();
        creds.set(CASHFREE_SECRETS, "s");
        creds.set("HYPERVERGE_RESULTS_AUTH_TOKENS", "t");
        let template = r#"{"version":"2.0","rawPath":"/webhooks/cashfree/vkyc","headers":{"X-Webhook-Timestamp":"{{now_ms}}","x-webhook-signature":"{{cashfree_signature}}","x-webhook-token":"{{HYPERVERGE_RESULTS_AUTH_TOKENS}}"},"body":"{\"a\":1}","isBase64Encoded":false}"#;
        let out: Value =
            serde_json::from_str(&render(template, &creds, 1000).expect("render")).expect("json");
        assert_eq!(out["headers"]["X-Webhook-Timestamp"], "1000");
        assert_eq!(out["headers"]["x-webhook-token"], "t");
        assert_eq!(
            out["headers"]["x-webhook-signature"],
            sign(b"s", "1000", br#"{"a":1}"#)
        );
    }

    #[test]
    fn fills_legacy_signature_in_the_body() {
        let mut creds = Credentials::default();
        creds.set(CASHFREE_SECRETS, "test_client_secret");
        let template = r#"{"path":"/webhooks/cashfree/vkyc","headers":{},"body":"{\"signature\":\"{{cashfree_legacy_signature}}\",\"data\":{\"verification_id\":\"test333\",\"reference_id\":10449,\"status\":\"RECEIVED\",\"sub_status\":\"LINK_GENERATED\"}}"}"#;
        let out: Value =
            serde_json::from_str(&render(template, &creds, 0).expect("render")).expect("json");
        let body: Value = serde_json::from_str(out["body"].as_str().expect("body")).expect("json");
        assert_eq!(
            body["signature"],
            "cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw="
        );
    }

    #[test]
    fn every_secret_variable_has_a_local_value_and_a_placeholder_without_one_is_left_alone() {
        let creds = Credentials::local();
        for var in FUNCTIONS
            .iter()
            .flat_map(|f| f.secret_variables().into_iter())
        {
            assert!(creds.get(var).is_ok(), "{var}");
        }
        let template = r#"{"path":"/x","headers":{"x-unknown":"{{NOT_A_VARIABLE}}"},"body":"{}"}"#;
        let out: Value =
            serde_json::from_str(&render(template, &creds, 0).expect("render")).expect("json");
        assert_eq!(out["headers"]["x-unknown"], "{{NOT_A_VARIABLE}}");
    }

    fn sample_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                sample_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json")
                && path.file_name().is_some_and(|n| n != "expected.json")
            {
                out.push(path);
            }
        }
    }

    /// What kycctl sends is what the function would receive: every sample, rendered, reads
    /// through lambda_http with the event's path, query string and body.
    #[test]
    fn every_sample_reads_as_the_request_its_function_receives() {
        use lambda_http::RequestExt;
        let mut files = Vec::new();
        sample_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events"),
            &mut files,
        );
        assert!(files.len() > 30, "{} samples", files.len());
        let creds = Credentials::local();
        for file in files {
            let template = std::fs::read_to_string(&file).expect("a sample");
            let rendered = render(&template, &creds, 1_000).expect("renders");
            let event: Value = serde_json::from_str(&rendered).expect("JSON");
            let req = request(&rendered).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(req.raw_http_path(), path_of(&event), "{}", file.display());
            assert_eq!(req.body().as_ref(), body_of(&event), "{}", file.display());
            let query = req.uri().query().unwrap_or_default();
            assert!(!query.contains("{{"), "{}: {query}", file.display());
            for value in req.headers().values() {
                assert!(!value.as_bytes().starts_with(b"{{"), "{}", file.display());
            }
        }
    }

    #[test]
    fn fills_the_digilocker_token_in_the_query() {
        let mut creds = Credentials::default();
        creds.set("HYPERVERGE_DIGILOCKER_URL_TOKENS", "d+1");
        let v2 = r#"{"version":"2.0","rawPath":"/webhooks/hyperverge/digilocker","rawQueryString":"token={{HYPERVERGE_DIGILOCKER_URL_TOKENS}}","headers":{},"body":"{}"}"#;
        let out: Value =
            serde_json::from_str(&render(v2, &creds, 0).expect("render")).expect("json");
        assert_eq!(out["rawQueryString"], "token=d%2B1");
        let v1 = r#"{"path":"/webhooks/hyperverge/digilocker","queryStringParameters":{"token":"{{HYPERVERGE_DIGILOCKER_URL_TOKENS}}"},"multiValueQueryStringParameters":{"token":["{{HYPERVERGE_DIGILOCKER_URL_TOKENS}}"]},"headers":{},"body":"{}"}"#;
        let out: Value =
            serde_json::from_str(&render(v1, &creds, 0).expect("render")).expect("json");
        assert_eq!(out["queryStringParameters"]["token"], "d+1");
        assert_eq!(out["multiValueQueryStringParameters"]["token"][0], "d+1");
    }
}
