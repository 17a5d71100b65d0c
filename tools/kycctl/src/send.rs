//! `kycctl send`: a sample event from `events/` (or any API Gateway event), its placeholders filled
//! with a fresh timestamp, the Cashfree signature, and the DigiLocker or Results token, POSTed to
//! a deployed endpoint (or `make run`'s). Prints the status and body; exit 1 unless it is 200.

use crate::hyperverge::{check_url, redact, redirect_location, Failure};
use crate::{Report, SendArgs};
use kyc_intake::sources::{cashfree, hyperverge};
use kyc_samples::{self as events, Credentials};
use serde_json::{json, Value};
use std::time::Duration;

/// The query string of an API Gateway event: `rawQueryString` (2.0), else the parameters (1.0).
fn query_of(event: &Value) -> String {
    if let Some(raw) = event.get("rawQueryString").and_then(Value::as_str) {
        return raw.to_owned();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Some(map) = event
        .get("multiValueQueryStringParameters")
        .and_then(Value::as_object)
    {
        for (k, values) in map {
            for v in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.append_pair(k, v);
            }
        }
    } else if let Some(map) = event
        .get("queryStringParameters")
        .and_then(Value::as_object)
    {
        for (k, v) in map {
            out.append_pair(k, v.as_str().unwrap_or_default());
        }
    }
    out.finish()
}

/// The headers to send: the event's, minus those the HTTP client sets itself.
fn headers_of(event: &Value) -> Vec<(String, String)> {
    event
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter(|(k, _)| {
                    !matches!(k.to_ascii_lowercase().as_str(), "host" | "content-length")
                })
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn send(args: SendArgs, timeout: Duration) -> Result<Report, Failure> {
    let base = check_url("--url", &args.url)?;
    let template = std::fs::read_to_string(&args.event)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.event)))?;
    let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !loopback && args.secret.is_none() && args.token.is_none() {
        return Err(Failure::usage(
            "--url is not the local gateway: give the deployment's --secret (Cashfree) or --token (HyperVerge), or set KYCCTL_CASHFREE_SECRET / KYCCTL_TOKEN; the local secrets would only be refused",
        ));
    }
    let mut creds = Credentials::from_env();
    if let Some(secret) = args.secret {
        creds.set(
            cashfree::var::CLIENT_SECRETS,
            crate::secret_arg("--secret", secret)?,
        );
    }
    if let Some(token) = args.token {
        let token = crate::secret_arg("--token", token)?;
        creds.set(hyperverge::var::RESULTS_AUTH_TOKENS, token.clone());
        creds.set(hyperverge::var::DIGILOCKER_URL_TOKENS, token);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let rendered = events::render(&template, &creds, now)
        .map_err(|e| Failure::usage(format!("{}: not a sample event: {e}", args.event)))?;
    let event: Value = serde_json::from_str(&rendered)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.event)))?;
    let path = events::path_of(&event);
    let mut url = base.clone();
    if !base.path().trim_end_matches('/').ends_with(path) {
        url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    }
    let query = query_of(&event);
    url.set_query((!query.is_empty()).then_some(query.as_str()));
    let method = event
        .get("requestContext")
        .and_then(|c| {
            c.get("http")
                .and_then(|h| h.get("method"))
                .or_else(|| c.get("httpMethod"))
        })
        .or_else(|| event.get("httpMethod"))
        .and_then(Value::as_str)
        .unwrap_or("POST");
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| Failure::usage(format!("{}: method `{method}`", args.event)))?;

    let client = reqwest::Client::builder()
        .timeout(timeout)
        // A redirect would carry the signature or token elsewhere, plain HTTP included.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::failed(format!("cannot build the HTTPS client: {e}")))?;
    let mut req = client
        .request(method, url.clone())
        .body(events::body_of(&event));
    for (k, v) in headers_of(&event) {
        req = req.header(k, v);
    }
    let shown = redact(url.as_str());
    let res = req.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "no answer in time (--timeout)".to_owned()
        } else if e.is_connect() {
            "cannot connect; is the stack deployed (or `make run` running)?".to_owned()
        } else {
            "the request failed".to_owned()
        };
        Failure::failed(format!("POST {shown}: {why}"))
    })?;
    let status = res.status();
    if let Some(location) = redirect_location(&res) {
        return Err(Failure::failed(format!(
            "POST {shown}: answered {status}, a redirect to {location}; kycctl never follows one (it would send the signature or token there)"
        )));
    }
    let body = res.text().await.unwrap_or_default();
    Ok(Report {
        text: vec![format!("{}: HTTP {} {body}", args.event, status.as_u16())],
        json: json!({ "event": args.event, "url": shown, "status": status.as_u16(), "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body.clone())) }),
        drift: status != reqwest::StatusCode::OK,
    })
}
