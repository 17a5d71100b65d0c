//! `kycctl`, the real binary, against a fake of HyperVerge's two configuration APIs on loopback
//! that answers exactly as the documentation shows (docs/providers.md: DigiLocker's `statusCode`
//! is a string, Results' PUT answers `"result": 1`, its GET a list), and `send` against a fake
//! endpoint that checks the signature and against the real handlers behind the local gateway.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use kyc_intake_tests::{serve_loopback, workspace, workspace_binary, Stack};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const APP_ID: &str = "app-1";
const APP_KEY: &str = "app-key-never-printed";
const TOKEN: &str = "results-token-never-printed";
const URL_TOKEN: &str = "dl-token-never-printed-0123";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Status(u16),
    NotJson,
    Hang,
    /// 302 to this port on loopback, plain HTTP.
    Redirect(u16),
}

/// One request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
    raw: Vec<u8>,
}

#[derive(Default)]
struct State {
    digilocker: Option<String>,
    results: Option<Value>,
    seen: Vec<Seen>,
    mode: Option<Mode>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    fn set_mode(&self, mode: Mode) {
        self.state().mode = Some(mode);
    }

    async fn start(&self) -> SocketAddr {
        let fake = self.clone();
        serve_loopback(move |req| {
            let fake = fake.clone();
            async move { fake.answer(req).await }
        })
        .await
    }

    async fn answer(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let raw = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw: raw.to_vec(),
        };
        let mode = self.state().mode.unwrap_or(Mode::Normal);
        self.state().seen.push(seen.clone());
        let reply = |status: u16, body: String| {
            let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
            r
        };
        match mode {
            Mode::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                return reply(200, "{}".into());
            }
            Mode::Status(code) => {
                return reply(code, json!({"status": "failure", "statusCode": code.to_string(), "error": "Internal error"}).to_string())
            }
            Mode::NotJson => return reply(200, "<html>gateway</html>".into()),
            Mode::Redirect(port) => {
                let mut r = reply(302, String::new());
                r.headers_mut().insert(
                    hyper::header::LOCATION,
                    hyper::header::HeaderValue::from_str(&format!(
                        "http://127.0.0.1:{port}/collect?token={URL_TOKEN}"
                    ))
                    .expect("header"),
                );
                return r;
            }
            Mode::Normal => {}
        }
        if seen.path.starts_with("/webhooks/") {
            return reply(200, json!({"status": "accepted", "id": "fake"}).to_string());
        }
        if seen.headers.get("appid").map(String::as_str) != Some(APP_ID)
            || seen.headers.get("appkey").map(String::as_str) != Some(APP_KEY)
        {
            return reply(
                401,
                json!({"status": "failure", "statusCode": "401", "error": "Unauthorised"})
                    .to_string(),
            );
        }
        let mut state = self.state();
        let body = match (seen.method.as_str(), seen.path.as_str()) {
            ("GET", "/api/digilocker/webHook") => {
                json!({"status": "success", "statusCode": "200", "result": state.digilocker.as_ref().map_or(json!({}), |u| json!({"url": u}))})
            }
            ("POST", "/api/digilocker/webHook") => {
                state.digilocker = seen.body["url"].as_str().map(str::to_owned);
                json!({"status": "success", "statusCode": "200", "result": {"message": "Config added successfully"}})
            }
            ("GET", "/api/v1/config") => {
                let list: Vec<Value> = state.results.iter().cloned().collect();
                json!({"statusCode": 200, "status": "success", "result": list})
            }
            ("POST", "/api/v1/config") => {
                state.results = Some(json!({
                    "id": "5", "appId": APP_ID, "vendor": null,
                    "webhookUrl": seen.body["webhookUrl"], "events": seen.body["events"],
                    "createdAt": "2022-08-22T14:55:24.688Z", "updatedAt": "2022-08-22T14:55:24.688Z"
                }));
                json!({"statusCode": 200, "status": "success", "result": {"appId": APP_ID, "webhookUrl": seen.body["webhookUrl"], "created_at": "2022-01-09T12:50:34.544Z", "updated_at": "2022-01-09T12:50:34.544Z", "id": "1"}})
            }
            ("PUT", "/api/v1/config") => {
                let Some(sub) = state.results.as_mut() else {
                    return reply(
                        404,
                        json!({"statusCode": 404, "status": "failure", "error": "No config found"})
                            .to_string(),
                    );
                };
                sub["webhookUrl"] = seen.body["webhookUrl"].clone();
                sub["events"] = seen.body["events"].clone();
                if let Some(h) = seen.body.get("headers") {
                    sub["headers"] = h.clone();
                }
                json!({"statusCode": 200, "status": "success", "result": 1})
            }
            _ => return reply(404, "{}".into()),
        };
        reply(200, body.to_string())
    }
}

/// Run `kycctl` with the app credentials in its environment; its exit code and output.
fn kycctl(args: &[&str]) -> (i32, String) {
    kycctl_env(
        args,
        &[
            ("HYPERVERGE_APP_ID", APP_ID),
            ("HYPERVERGE_APP_KEY", APP_KEY),
        ],
    )
}

fn kycctl_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    kycctl_input(args, env, None)
}

/// `kycctl_env`, with `input` on its standard input when given.
fn kycctl_input(args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let mut cmd = std::process::Command::new(workspace_binary("kycctl"));
    cmd.args(args)
        .current_dir(workspace())
        .env_remove("HYPERVERGE_APP_ID")
        .env_remove("HYPERVERGE_APP_KEY")
        .env_remove("KYCCTL_RESULTS_TOKEN")
        .env_remove("KYCCTL_DIGILOCKER_URL")
        .env_remove("KYCCTL_SIGNING_SECRET")
        .env_remove("KYCCTL_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run kycctl");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("run kycctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [APP_KEY, TOKEN, URL_TOKEN] {
        assert!(!text.contains(secret), "kycctl printed a secret: {text}");
    }
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digilocker_register_and_show_as_documented() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let url = format!("https://abc.execute-api.ap-south-1.amazonaws.com/webhooks/hyperverge/digilocker?token={URL_TOKEN}");
    let (code, out) = kycctl(&[
        "hyperverge",
        "digilocker",
        "register",
        "--url",
        &url,
        "--config-url",
        &base,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("?token=<redacted>"), "{out}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "register, then read back");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/api/digilocker/webHook")
    );
    assert_eq!(seen[0].body, json!({"url": url}));
    assert_eq!(seen[0].headers["appid"], APP_ID);
    assert_eq!(seen[0].headers["appkey"], APP_KEY);
    assert!(seen[0].headers["content-type"].starts_with("application/json"));
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("GET", "/api/digilocker/webHook")
    );
    let (code, out) = kycctl(&[
        "--json",
        "hyperverge",
        "digilocker",
        "show",
        "--config-url",
        &base,
    ]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(out.trim()).expect("--json prints JSON");
    assert!(v["digilocker"]["url"]
        .as_str()
        .expect("url")
        .ends_with("?token=<redacted>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_subscribe_creates_then_updates_and_is_safe_to_rerun() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let url = "https://abc.execute-api.ap-south-1.amazonaws.com/webhooks/hyperverge/results";
    let args = [
        "hyperverge",
        "results",
        "subscribe",
        "--url",
        url,
        "--token-header",
        "x-webhook-token",
        "--token",
        TOKEN,
        "--config-url",
        &base,
    ];
    let (code, out) = kycctl(&args);
    assert_eq!(code, 0, "{out}");
    let calls: Vec<(String, String)> = fake
        .seen()
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let config = "/api/v1/config".to_owned();
    assert_eq!(
        calls,
        [
            ("GET".into(), config.clone()),
            ("POST".into(), config.clone()),
            ("PUT".into(), config.clone()),
            ("GET".into(), config.clone())
        ]
    );
    let seen = fake.seen();
    assert_eq!(
        seen[1].body,
        json!({"webhookUrl": url, "events": ["FINISH_TRANSACTION_WEBHOOK", "MANUAL_REVIEW_STATUS_UPDATE", "INTERMEDIATE_TRANSACTION_WEBHOOK"]})
    );
    assert_eq!(seen[2].body["headers"], json!({"x-webhook-token": TOKEN}));
    // Again: nothing to create, the same update, the same result.
    let (code, out) = kycctl(&args);
    assert_eq!(code, 0, "{out}");
    let methods: Vec<String> = fake.seen()[4..].iter().map(|s| s.method.clone()).collect();
    assert_eq!(methods, ["GET", "PUT", "GET"]);
    // And check agrees, also with the token given (compared, never printed).
    let check = [
        "hyperverge",
        "check",
        "--digilocker-url",
        "https://x/none",
        "--results-url",
        url,
        "--token-header",
        "x-webhook-token",
        "--token",
        TOKEN,
        "--config-url",
        &base,
    ];
    let (code, out) = kycctl(&check);
    assert_eq!(code, 1, "the DigiLocker URL is not registered: {out}");
    assert!(out.contains("DigiLocker: registered (none)"), "{out}");
    assert!(!out.contains("Results:"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_difference_after_a_dashboard_edit() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let dl = format!("https://abc.example/webhooks/hyperverge/digilocker?token={URL_TOKEN}");
    let results = "https://abc.example/webhooks/hyperverge/results";
    assert_eq!(
        kycctl(&[
            "hyperverge",
            "digilocker",
            "register",
            "--url",
            &dl,
            "--config-url",
            &base
        ])
        .0,
        0
    );
    assert_eq!(
        kycctl(&[
            "hyperverge",
            "results",
            "subscribe",
            "--url",
            results,
            "--token",
            TOKEN,
            "--config-url",
            &base
        ])
        .0,
        0
    );
    let check = [
        "--json",
        "hyperverge",
        "check",
        "--digilocker-url",
        &dl,
        "--results-url",
        results,
        "--token-header",
        "x-webhook-token",
        "--config-url",
        &base,
    ];
    let (code, out) = kycctl(&check);
    assert_eq!(code, 0, "{out}");
    // Someone edits the subscription in the dashboard: another URL, one event, no token header.
    {
        let mut state = fake.state();
        let sub = state.results.as_mut().expect("subscription");
        sub["webhookUrl"] = json!("https://old.example/hook");
        sub["events"] = json!(["FINISH_TRANSACTION_WEBHOOK"]);
        sub.as_object_mut().expect("object").remove("headers");
        state.digilocker = Some(
            "https://abc.example/webhooks/hyperverge/digilocker?token=stale-token-000000".into(),
        );
    }
    let (code, out) = kycctl(&check);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    let diffs: Vec<&str> = v["differences"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(diffs.len(), 4, "{diffs:?}");
    assert!(diffs[0].starts_with("DigiLocker: registered") && !diffs[0].contains("stale-token"));
    assert!(diffs
        .iter()
        .any(|d| d.contains("webhook URL is https://old.example/hook")));
    assert!(diffs
        .iter()
        .any(|d| d.contains("events are [FINISH_TRANSACTION_WEBHOOK]")));
    assert!(diffs
        .iter()
        .any(|d| d.contains("no `x-webhook-token` header")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_usage_errors_and_non_https_urls() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let show = ["hyperverge", "results", "show", "--config-url", &base];
    // Wrong credentials: the provider's 401, said as such.
    let (code, out) = kycctl_env(
        &show,
        &[
            ("HYPERVERGE_APP_ID", APP_ID),
            ("HYPERVERGE_APP_KEY", "wrong"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("401") && out.contains("wrong credentials"),
        "{out}"
    );
    // Missing credentials: a usage error naming the variable, no request.
    let before = fake.seen().len();
    let (code, out) = kycctl_env(&show, &[]);
    assert_eq!(code, 2);
    assert!(out.contains("HYPERVERGE_APP_ID is not set"), "{out}");
    // A non-HTTPS URL to register: refused before any request.
    let (code, out) = kycctl(&[
        "hyperverge",
        "results",
        "subscribe",
        "--url",
        "http://abc.example/hook",
        "--token",
        TOKEN,
        "--config-url",
        &base,
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("not HTTPS"), "{out}");
    let (code, _) = kycctl(&[
        "hyperverge",
        "digilocker",
        "register",
        "--url",
        "http://abc.example/x?token=t",
        "--config-url",
        &base,
    ]);
    assert_eq!(code, 2);
    assert_eq!(fake.seen().len(), before, "no request was sent");
    // A bad argument: clap's usage error.
    assert_eq!(kycctl(&["hyperverge", "results", "subscribe"]).0, 2);
    // 500, a body that is not JSON, no answer in time.
    fake.set_mode(Mode::Status(500));
    let (code, out) = kycctl(&show);
    assert_eq!(code, 1);
    assert!(
        out.contains("500") && out.contains("Internal error"),
        "{out}"
    );
    fake.set_mode(Mode::NotJson);
    let (code, out) = kycctl(&show);
    assert_eq!(code, 1);
    assert!(out.contains("not JSON"), "{out}");
    fake.set_mode(Mode::Hang);
    let (code, out) = kycctl(&[
        "--timeout",
        "1",
        "hyperverge",
        "results",
        "show",
        "--config-url",
        &base,
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("no answer in time"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_signs_a_sample_the_receiver_can_verify() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let (code, out) = kycctl(&[
        "send",
        "events/cashfree/vkyc/call_completed.json",
        "--url",
        &base,
        "--secret",
        "smoke-secret",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("HTTP 200"), "{out}");
    let seen = fake.seen();
    let hook = seen.last().expect("a request");
    assert_eq!(
        (hook.method.as_str(), hook.path.as_str()),
        ("POST", "/webhooks/cashfree/vkyc")
    );
    let ts = &hook.headers["x-webhook-timestamp"];
    let now = chrono::Utc::now().timestamp_millis();
    let sent: i64 = ts.parse().expect("epoch ms");
    assert!((now - sent).abs() < 60_000, "a fresh timestamp");
    assert_eq!(
        hook.headers["x-webhook-signature"],
        kyc_intake::sources::cashfree::signature::sign(b"smoke-secret", ts, &hook.raw)
    );
    // A DigiLocker sample gets the token in its query string.
    let (code, out) = kycctl(&[
        "send",
        "events/hyperverge/digilocker/user_cancelled.json",
        "--url",
        &base,
        "--token",
        URL_TOKEN,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("token=") || out.contains("token=<redacted>"),
        "{out}"
    );
    let hook = fake.seen().last().cloned().expect("a request");
    assert_eq!(
        hook.path,
        format!("/webhooks/hyperverge/digilocker?token={URL_TOKEN}")
    );
    // A non-HTTPS URL that is not loopback is refused.
    assert_eq!(
        kycctl(&[
            "send",
            "events/cashfree/vkyc/call_completed.json",
            "--url",
            "http://example.com"
        ])
        .0,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_is_accepted_by_the_real_handlers_behind_the_local_gateway() {
    let stack = Stack::new(true).await;
    let base = stack
        .gateway(kyc_intake::sources::registry::FUNCTIONS, &[])
        .await;

    let send = |event: &'static str, extra: &'static [&'static str]| {
        let base = base.clone();
        async move {
            let mut args = vec!["send", event, "--url", base.as_str()];
            args.extend_from_slice(extra);
            let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                kycctl(&args)
            })
            .await
            .expect("kycctl")
        }
    };
    let (code, out) = send(
        "events/cashfree/vkyc/call_completed.json",
        &["--secret", kyc_intake_tests::CASHFREE_SECRET],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"accepted\""), "{out}");
    let (code, out) = send(
        "events/hyperverge/results/finish_auto_approved.json",
        &["--token", kyc_intake_tests::RESULTS_TOKEN],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = send(
        "events/cashfree/vkyc/call_completed.json",
        &["--secret", "not-the-secret"],
    )
    .await;
    assert_eq!(code, 1, "a refusal exits 1: {out}");
    assert!(out.contains("HTTP 401"), "{out}");
    // Digio: `--secret` is its webhook secret for a Digio event.
    let (code, out) = send(
        "events/digio/kyc/approved.json",
        &["--secret", kyc_intake_tests::DIGIO_SECRET],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"accepted\""), "{out}");
    let (code, out) = send(
        "events/digio/kyc/approved.json",
        &["--secret", "not-the-digio-secret"],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(stack.messages().await.len(), 3);
}

#[test]
fn digio_prints_the_dashboard_steps_the_url_and_the_events() {
    let (code, out) = kycctl(&[
        "--json",
        "digio",
        "--api-url",
        "https://a1b2c3.execute-api.ap-south-1.amazonaws.com/",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(
        v["digio_webhook_url"],
        "https://a1b2c3.execute-api.ap-south-1.amazonaws.com/webhooks/digio/kyc"
    );
    assert_eq!(v["events"].as_array().map(Vec::len), Some(8));
    let (code, _) = kycctl(&["digio", "--api-url", "http://insecure.example"]);
    assert_eq!(code, 2, "HTTPS only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_error_naming_its_location_and_carries_no_credentials() {
    let thief = Fake::default();
    let thief_addr = thief.start().await;
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    fake.set_mode(Mode::Redirect(thief_addr.port()));
    let (code, out) = kycctl(&["hyperverge", "digilocker", "show", "--config-url", &base]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("302"), "{out}");
    assert!(
        out.contains(&format!(
            "http://127.0.0.1:{}/collect?token=<redacted>",
            thief_addr.port()
        )),
        "the location is named, its token redacted: {out}"
    );
    let (code, out) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            kycctl(&[
                "send",
                "events/hyperverge/results/finish_auto_approved.json",
                "--url",
                &base,
                "--token",
                TOKEN,
            ])
        }
    })
    .await
    .expect("kycctl");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("redirect"), "{out}");
    assert!(thief.seen().is_empty(), "nothing followed the redirect");
    assert_eq!(fake.seen().len(), 2, "one request each, not followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_has_to_be_on_the_command_line() {
    let fake = Fake::default();
    let base = format!("http://{}", fake.start().await);
    let url = format!("https://abc.execute-api.ap-south-1.amazonaws.com/webhooks/hyperverge/digilocker?token={URL_TOKEN}");
    let creds = [
        ("HYPERVERGE_APP_ID", APP_ID),
        ("HYPERVERGE_APP_KEY", APP_KEY),
    ];
    // The DigiLocker URL from standard input...
    let args = [
        "hyperverge",
        "digilocker",
        "register",
        "--url",
        "-",
        "--config-url",
        &base,
    ];
    let (code, out) = kycctl_input(&args, &creds, Some(&format!("{url}\n")));
    assert_eq!(code, 0, "{out}");
    assert_eq!(fake.seen()[0].body, json!({"url": url}));
    // ...or from the environment.
    let mut env = creds.to_vec();
    env.push(("KYCCTL_DIGILOCKER_URL", &url));
    let (code, out) = kycctl_env(
        &[
            "hyperverge",
            "digilocker",
            "register",
            "--config-url",
            &base,
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}");
    // The Results token from standard input.
    let args = [
        "hyperverge",
        "results",
        "subscribe",
        "--url",
        "https://abc.execute-api.ap-south-1.amazonaws.com/webhooks/hyperverge/results",
        "--token",
        "-",
        "--config-url",
        &base,
    ];
    let (code, out) = kycctl_input(&args, &creds, Some(TOKEN));
    assert_eq!(code, 0, "{out}");
    let put = fake
        .seen()
        .into_iter()
        .find(|s| s.method == "PUT")
        .expect("a PUT");
    assert_eq!(put.body["headers"]["x-webhook-token"], TOKEN);
    // An empty standard input is a usage error, not an empty token.
    let (code, _) = kycctl_input(&args, &creds, Some(""));
    assert_eq!(code, 2);
    // `send` to a remote endpoint never signs with the local secrets.
    let (code, out) = kycctl(&[
        "send",
        "events/cashfree/vkyc/call_completed.json",
        "--url",
        "https://abc.execute-api.ap-south-1.amazonaws.com",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--secret"), "{out}");
}
