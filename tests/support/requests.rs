//! Requests as API Gateway sends them, the handlers' answers, and the sample events.

use crate::*;
use kyc_intake::runtime::lambda;
use kyc_intake::runtime::startup::AwsPipeline;
use serde_json::Value;

/// An HTTP API (payload 2.0) request as API Gateway delivers it to the function.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    /// The raw query string (`token=...`), without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
    pub base64: bool,
}

impl ApiRequest {
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            source_ip: "52.66.25.127".into(),
            base64: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the raw query string.
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    /// Sign the body as Cashfree does, at `ts_ms`.
    pub fn signed(self, secret: &str, ts_ms: i64) -> Self {
        let ts = ts_ms.to_string();
        let sig =
            kyc_intake::sources::cashfree::signature::sign(secret.as_bytes(), &ts, &self.body);
        self.header("x-webhook-timestamp", &ts)
            .header("x-webhook-signature", &sig)
    }

    pub fn signed_now(self) -> Self {
        self.signed(CASHFREE_SECRET, chrono::Utc::now().timestamp_millis())
    }

    /// The event API Gateway would deliver, built by the local gateway's own builder.
    pub fn event(&self) -> Value {
        let uri = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(uri);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let (parts, ()) = builder.body(()).expect("a valid request").into_parts();
        let ip = self.source_ip.parse().expect("an IP address");
        kyc_local::gateway::http_api_event(&parts, &self.body, ip, self.base64)
    }

    pub fn request(&self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("valid API Gateway event")
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_owned()
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// Run a request through a function's real handler.
pub async fn call(pipeline: &AwsPipeline, request: lambda_http::Request) -> Reply {
    let response = match lambda::handle(pipeline, request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    Reply { status, body }
}

/// A sample event from `events/`, rendered with the local credentials at the current time: the
/// API Gateway event as JSON text.
pub fn sample_event(rel: &str) -> String {
    let path = workspace().join("events").join(rel);
    let template = std::fs::read_to_string(&path).expect("sample event");
    let creds = kyc_samples::Credentials::local();
    kyc_samples::render(&template, &creds, chrono::Utc::now().timestamp_millis()).expect("render")
}

/// A sample event from `events/` as the request the handler gets.
pub fn sample(rel: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&sample_event(rel)).expect("valid API Gateway event")
}

/// `events/expected.json`: what each sample should produce.
pub fn expectations() -> Vec<(String, Value)> {
    let raw = std::fs::read_to_string(workspace().join("events/expected.json")).expect("manifest");
    let map: serde_json::Map<String, Value> = serde_json::from_str(&raw).expect("json");
    map.into_iter().collect()
}
