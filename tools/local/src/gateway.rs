//! A local stand-in for API Gateway in front of the functions, on loopback:
//!
//! - `POST /webhooks/...`: an HTTP request becomes an HTTP API (payload 2.0) event whose
//!   `requestContext.http.sourceIp` is the TCP peer, exactly as API Gateway builds it.
//! - `POST /2015-03-31/functions/<name>/invocations`: the Lambda Invoke API, taking an API Gateway
//!   event as it is (its own `sourceIp`); this is what `make invoke` uses for the sample events.
//!   For `archive-replay` it takes a replay request, as the deployed function does, so kycctl's
//!   replay, the console's and `dlq redrive` work against `make run` (`AWS_ENDPOINT_URL_LAMBDA`).
//!
//! Both go through `lambda_http`'s own event deserialization and the functions' real handler.

use crate::resources::BoxError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use kyc_intake::runtime::lambda;
use kyc_intake::runtime::startup::AwsPipeline;
use kyc_intake::sources::{registry, FunctionSpec};
use lambda_http::{Body, RequestExt};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// API Gateway's own payload limit (10 MB); the functions apply `MAX_BODY_BYTES` below it.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;
/// The invocation deadline given to the handler: the template's function timeout.
const INVOCATION_TIMEOUT_MS: u64 = kyc_intake::intake::pipeline::FUNCTION_TIMEOUT_SECS * 1000;
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

/// The functions served: each webhook function's description and its pipeline, and the
/// `archive-replay` function when the archive is on.
#[derive(Default)]
pub struct Functions {
    pub webhooks: Vec<(&'static FunctionSpec, AwsPipeline)>,
    pub replay: Option<kyc_intake::replay::Replayer>,
}

impl Functions {
    /// The pipeline of the function serving `path`; `None` when no function does (never a
    /// fallback to some other function).
    fn by_route(&self, path: &str) -> Option<&AwsPipeline> {
        let specs: Vec<&FunctionSpec> = self.webhooks.iter().map(|(f, _)| *f).collect();
        let (function, _) = registry::serving(&specs, path)?;
        self.by_name(function.name)
    }

    fn by_name(&self, name: &str) -> Option<&AwsPipeline> {
        self.webhooks
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, p)| p)
    }
}

use crate::http::Response as HttpResponse;

fn reply(status: u16, body: impl Into<Bytes>) -> HttpResponse {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Accept connections until the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    functions: Arc<Functions>,
) -> Result<(), BoxError> {
    let error = crate::http::serve(listener, move |req, peer| {
        let functions = functions.clone();
        async move { dispatch(&functions, req, peer.ip()).await }
    })
    .await;
    Err(error.into())
}

async fn dispatch(
    functions: &Functions,
    req: hyper::Request<Incoming>,
    peer: IpAddr,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, GATEWAY_MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(413, r#"{"message":"Request Entity Too Large"}"#),
    };
    let path = parts.uri.path();
    if let Some(name) = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
    {
        if let (registry::ARCHIVE_REPLAY, Some(replayer)) = (name, &functions.replay) {
            return replay(replayer, &body).await;
        }
        let Some(pipeline) = functions.by_name(name) else {
            return reply(
                404,
                format!(r#"{{"message":"Function not found: {name}"}}"#),
            );
        };
        return match std::str::from_utf8(&body)
            .ok()
            .and_then(|s| lambda_http::request::from_str(s).ok())
        {
            Some(request) => {
                let response = invoke(pipeline, request).await;
                reply(
                    200,
                    serde_json::to_vec(&proxy_response(response)).unwrap_or_default(),
                )
            }
            None => reply(400, r#"{"message":"not an API Gateway proxy event"}"#),
        };
    }

    let event = http_api_event(&parts, &body, peer, true);
    let Ok(request) = lambda_http::request::from_str(&event.to_string()) else {
        return reply(500, r#"{"message":"Internal Server Error"}"#);
    };
    let Some(pipeline) = functions.by_route(path) else {
        return reply(
            404,
            r#"{"message":"Not Found: no function serves this path"}"#,
        );
    };
    let response = invoke(pipeline, request).await;
    let (rparts, rbody) = response.into_parts();
    let mut out = hyper::Response::new(Full::new(Bytes::copy_from_slice(rbody.as_ref())));
    *out.status_mut() = rparts.status;
    *out.headers_mut() = rparts.headers;
    out
}

/// The `archive-replay` function's answer, as the Invoke API gives it: the answer, or the
/// function's error (`X-Amz-Function-Error`, `errorType` and `errorMessage`).
async fn replay(replayer: &kyc_intake::replay::Replayer, body: &[u8]) -> HttpResponse {
    let payload = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(kyc_intake::trace::TraceHeader::new_root(false).header());
    let event = lambda_runtime::LambdaEvent::new(payload, context);
    match lambda::replay(replayer, event).await {
        Ok(answer) => reply(200, serde_json::to_vec(&answer).unwrap_or_default()),
        Err(e) => {
            let mut r = reply(
                200,
                json!({"errorType": "ReplayError", "errorMessage": e.to_string()}).to_string(),
            );
            r.headers_mut().insert(
                "x-amz-function-error",
                http::HeaderValue::from_static("Unhandled"),
            );
            r
        }
    }
}

async fn invoke(
    pipeline: &AwsPipeline,
    request: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = format!(
        "local-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    context.deadline = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
        + INVOCATION_TIMEOUT_MS;
    // A trace header for each invocation, as Lambda with active tracing hands out.
    context.xray_trace_id = Some(kyc_intake::trace::TraceHeader::new_root(true).header());
    let request = request.with_lambda_context(context);
    match lambda::handle(pipeline, request).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// The HTTP API (payload 2.0) event API Gateway would send for this request: repeated headers
/// joined with commas, the source IP in `requestContext.http.sourceIp`, the body Base64-encoded
/// when `base64` is set or it is not UTF-8.
pub fn http_api_event(
    parts: &http::request::Parts,
    body: &[u8],
    source_ip: IpAddr,
    base64: bool,
) -> Value {
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let joined: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::from(joined.join(",")));
    }
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) if !base64 => (text.to_owned(), false),
        _ => (BASE64.encode(body), true),
    };
    let path = parts.uri.path();
    let method = parts.method.as_str();
    let now = chrono::Utc::now();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or_default(),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip.to_canonical().to_string(),
                "userAgent": parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": encoded,
    })
}

/// The proxy-integration response JSON a Lambda returns to API Gateway.
fn proxy_response(response: lambda_http::Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), Value::from(v)))
        })
        .collect();
    json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(body.as_ref()),
        "isBase64Encoded": false,
    })
}
