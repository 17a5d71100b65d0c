//! `kycctl send`: a sample event from `events/` (or any API Gateway event), its placeholders filled
//! with a fresh timestamp, the Cashfree signature or Digio checksum, and the DigiLocker or Results
//! token, POSTed to
//! a deployed endpoint (or `make run`'s). Prints the status and body; exit 1 unless it is 200.

use crate::http::{check_url, redact, redirect_location};
use crate::report::{Failure, Finding, Report};
use clap::Args;
use kyc_intake::sources::{cashfree, digio, hyperverge};
use kyc_samples::{self as events, Credentials};
use lambda_http::RequestExt;
use serde::Serialize;
use serde_json::Value;
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
    /// The journey reference to send in place of the sample's. To a remote URL it defaults to
    /// `smoke-<epoch seconds>`, so a smoke test's event can never be taken for a customer's;
    /// to `make run`'s gateway, the sample's own.
    #[arg(long)]
    pub(crate) subject: Option<String>,
}

/// `template` with every string of its body equal to the sample's journey reference replaced by
/// `subject`; and the reference it had. The body is the provider's JSON, so the reference is
/// the value its source recognizes as the subject, wherever the provider puts it.
fn with_subject(template: &str, subject: &str) -> Result<(String, String), String> {
    fn replace(v: &mut Value, old: &str, new: &str) {
        match v {
            Value::String(s) if s == old => *s = new.to_owned(),
            Value::Array(items) => items.iter_mut().for_each(|i| replace(i, old, new)),
            Value::Object(map) => map.values_mut().for_each(|i| replace(i, old, new)),
            _ => {}
        }
    }
    let mut event: Value = serde_json::from_str(template).map_err(|e| e.to_string())?;
    let path = event["rawPath"]
        .as_str()
        .or_else(|| event["path"].as_str())
        .ok_or("no path")?
        .to_owned();
    let (_, source) =
        kyc_intake::sources::registry::serving(kyc_intake::sources::registry::FUNCTIONS, &path)
            .ok_or_else(|| format!("no source serves {path}"))?;
    let body = event["body"].as_str().ok_or("no body")?;
    let mut payload: Value = serde_json::from_str(body).map_err(|e| format!("its body: {e}"))?;
    let old = (source.recognize)(&payload)
        .map(|r| r.subject)
        .ok_or("its source does not recognize its body: no journey reference to replace")?;
    replace(&mut payload, &old, subject);
    event["body"] = Value::String(payload.to_string());
    Ok((event.to_string(), old))
}

pub async fn send(args: SendArgs, timeout: Duration) -> Result<Report, Failure> {
    let base = check_url("--url", &args.url)?;
    let template = std::fs::read_to_string(&args.event)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.event)))?;
    let loopback = crate::http::is_loopback(&base);
    let subject = crate::report::given(args.subject)
        .or_else(|| (!loopback).then(|| format!("smoke-{}", chrono::Utc::now().timestamp())));
    let (template, replaced) = match &subject {
        Some(subject) => {
            let (template, old) = with_subject(&template, subject)
                .map_err(|e| Failure::usage(format!("{}: --subject: {e}", args.event)))?;
            (template, Some((old, subject.clone())))
        }
        None => (template, None),
    };
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
    Ok(Report::of(&Sent {
        event: args.event,
        url: shown,
        status: status.as_u16(),
        subject: replaced.as_ref().map(|(_, new)| new.clone()),
        // The answer's JSON, or its text when it is not JSON.
        body: serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body.clone())),
        text: body,
        replaced: replaced.map(|(old, _)| old),
    }))
}

/// `kycctl send`: the sample sent, where, and what the stack answered; anything but 200 is a
/// difference.
#[derive(Serialize)]
struct Sent {
    event: String,
    url: String,
    status: u16,
    /// The journey reference the sample now carries, when it was replaced.
    subject: Option<String>,
    body: Value,
    /// The answer as it came.
    #[serde(skip)]
    text: String,
    /// The sample's own journey reference, when it was replaced.
    #[serde(skip)]
    replaced: Option<String>,
}

impl Finding for Sent {
    fn lines(&self) -> Vec<String> {
        let mut text = vec![format!(
            "{}: HTTP {} {}",
            self.event, self.status, self.text
        )];
        if let (Some(old), Some(new)) = (&self.replaced, &self.subject) {
            text.push(format!(
                "  journey {new} (in place of the sample's {old}): what it leaves is an event on the journey stream for your consumers, a journey item and an archived delivery; erase them with kycctl erase --source <its source> --subject {new} --reason \"smoke test\" (a sample that closes its journey never counts as stalled)"
            ));
        }
        text
    }

    fn drift(&self) -> bool {
        self.status != 200
    }
}

#[cfg(test)]
mod subject_tests {
    use super::with_subject;

    #[test]
    fn a_samples_journey_reference_is_replaced_wherever_its_provider_puts_it() {
        for (sample, old) in [
            (
                include_str!("../../../events/cashfree/vkyc/link_expired.json"),
                "test333",
            ),
            (
                include_str!("../../../events/hyperverge/results/finish_auto_approved.json"),
                "txn-7f3a9c",
            ),
        ] {
            let (template, replaced) = with_subject(sample, "smoke-1765000000").expect("replaced");
            assert_eq!(replaced, old);
            assert!(template.contains("smoke-1765000000"), "{template}");
            assert!(!template.contains(old), "{template}");
            // Placeholders stay for the renderer to fill and sign.
            assert_eq!(template.matches("{{").count(), sample.matches("{{").count());
        }
        let unrecognized = r#"{"rawPath":"/webhooks/cashfree/vkyc","body":"{\"a\":1}"}"#;
        assert!(with_subject(unrecognized, "smoke-1").is_err());
    }
}
