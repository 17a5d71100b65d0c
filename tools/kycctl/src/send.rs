//! `kycctl send`: a sample event from `events/` (or any API Gateway event), its placeholders filled
//! with a fresh timestamp, the Cashfree signature or Digio checksum, and the DigiLocker or Results
//! token, POSTed to
//! a deployed endpoint (or `make run`'s). Prints the status and body; exit 1 unless it is 200.

use crate::http::{check_url, redact, redirect_location};
use crate::report::{Failure, Report};
use clap::Args;
use kyc_intake::sources::{cashfree, digio, hyperverge};
use kyc_samples::{self as events, Credentials};
use lambda_http::RequestExt;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Args)]
pub struct SendArgs {
    /// An API Gateway event: a sample from `events/` or a file of your own.
    pub(crate) event: String,
    /// Where to POST: the API's base URL (the event's path is appended) or the full endpoint URL.
    #[arg(long)]
    pub(crate) url: String,
    /// The secret to sign with: Cashfree's client secret or Digio's webhook secret, whichever the
    /// event is for (`-`: standard input). Required for a remote URL; to `make run`'s loopback
    /// gateway the local secrets are the default.
    #[arg(long, env = "KYCCTL_SIGNING_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,
    /// The HyperVerge token the event needs: the DigiLocker URL token or the Results header token
    /// (`-`: standard input). Required for a remote URL, as `--secret` is.
    #[arg(long, env = "KYCCTL_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

pub async fn send(args: SendArgs, timeout: Duration) -> Result<Report, Failure> {
    let base = check_url("--url", &args.url)?;
    let template = std::fs::read_to_string(&args.event)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.event)))?;
    let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !loopback && args.secret.is_none() && args.token.is_none() {
        return Err(Failure::usage(
            "--url is not the local gateway: give the deployment's --secret (Cashfree, Digio) or --token (HyperVerge), or set KYCCTL_SIGNING_SECRET / KYCCTL_TOKEN; the local secrets would only be refused",
        ));
    }
    let mut creds = Credentials::from_env();
    if let Some(secret) = args.secret {
        // The signing secret of whichever provider the event is for: it signs only its own.
        let secret = crate::report::secret_arg("--secret", secret)?;
        creds.set(cashfree::settings::var::CLIENT_SECRETS, secret.clone());
        creds.set(digio::settings::var::WEBHOOK_SECRETS, secret);
    }
    if let Some(token) = args.token {
        let token = crate::report::secret_arg("--token", token)?;
        creds.set(
            hyperverge::settings::var::RESULTS_AUTH_TOKENS,
            token.clone(),
        );
        creds.set(hyperverge::settings::var::DIGILOCKER_URL_TOKENS, token);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let rendered = events::render(&template, &creds, now)
        .map_err(|e| Failure::usage(format!("{}: not a sample event: {e}", args.event)))?;
    // The event as the function would receive it: method, path, query, headers and the decoded
    // body, read by lambda_http as on Lambda.
    let event = events::request(&rendered)
        .map_err(|e| Failure::usage(format!("{}: not an API Gateway event: {e}", args.event)))?;
    let path = event.raw_http_path();
    let mut url = base.clone();
    if !base.path().trim_end_matches('/').ends_with(path) {
        url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    }
    url.set_query(event.uri().query().filter(|q| !q.is_empty()));

    let client = reqwest::Client::builder()
        .timeout(timeout)
        // A redirect would carry the signature or token elsewhere, plain HTTP included.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::failed(format!("cannot build the HTTPS client: {e}")))?;
    // The event's headers, minus those the HTTP client sets itself.
    let mut headers = event.headers().clone();
    headers.remove(reqwest::header::HOST);
    headers.remove(reqwest::header::CONTENT_LENGTH);
    let req = client
        .request(event.method().clone(), url.clone())
        .headers(headers)
        .body(event.body().as_ref().to_vec());
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
