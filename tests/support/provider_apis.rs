//! Fakes of the providers' status APIs on loopback, built from their documented shapes and
//! failures: Cashfree's Secure ID (`GET /verification/<product>?verification_id=…`, BAV's
//! `?reference_id=…`,
//! `x-client-id`/`x-client-secret`/`x-api-version`; 401, 429, 5xx, a hang, an answer that is not
//! JSON) and Digio's KYC status API (`POST /client/kyc/v2/{KID}/response`, Basic auth, body `{}`;
//! any status, a raw body, a hang), and HyperVerge's Output API (`POST /v1/output`, headers
//! `appId`/`appKey`, body `{"transactionId": …}`; 401, 403, 429, 5xx, a hang, answers not to be
//! believed). Each is a `Fake` of its own state, which the test changes
//! between calls.

use crate::serve_loopback;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kyc_intake::aws::{DynamoDueJourneys, SqsSink};
use kyc_intake::journeys::sweeper::{StatusApis, Sweeper};
use kyc_intake::secrets::secret::{Secret, SecretList};
use kyc_intake::sources::cashfree::status_api::CashfreeStatusApi;
use kyc_intake::sources::status::Connection;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fake API: its state, shared between the test and the server.
#[derive(Debug, Default)]
pub struct Fake<S>(Arc<Mutex<S>>);

impl<S> Clone for Fake<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// How a fake's state answers a request.
pub trait Answers: Sized + Send + 'static {
    /// The answer to `req`, with the fake's state at hand.
    fn answer(
        fake: Fake<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> impl std::future::Future<Output = hyper::Response<Full<Bytes>>> + Send;
}

impl<S: Send + 'static> Fake<S> {
    /// Its state, to read or change.
    pub fn state(&self) -> std::sync::MutexGuard<'_, S> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: Answers> Fake<S> {
    /// Serve it on a loopback port; its base URL.
    pub async fn start(&self) -> String {
        let fake = self.clone();
        let addr = serve_loopback(move |req| S::answer(fake.clone(), req)).await;
        format!("http://{addr}")
    }
}

/// A request header's value, or empty.
fn header(req: &hyper::Request<hyper::body::Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An answer with `status` and `body`.
fn reply(status: u16, body: String) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r
}

/// The client id the Cashfree fake expects.
pub const CASHFREE_API_CLIENT: &str = "cf-client";
/// The client secret the Cashfree fake expects.
pub const CASHFREE_API_SECRET: &str = "cf-api-secret-0123456789";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Status(u16),
    Hang,
    NotJson,
}

#[derive(Debug, Default)]
pub struct CashfreeState {
    /// The request's id (`verification_id`, BAV's `reference_id`) → (status, sub_status).
    pub known: HashMap<String, (String, Option<String>)>,
    pub mode: Option<Mode>,
    /// verification_id → the whole answer's body, as it is (hostile or broken answers).
    pub raw: HashMap<String, String>,
    /// Answer the first call with this status, then as usual.
    pub first: Option<u16>,
    pub calls: usize,
    pub bad_headers: usize,
}

/// The fake: its state, shared with the test.
pub type FakeCashfree = Fake<CashfreeState>;

impl Answers for CashfreeState {
    async fn answer(
        fake: Fake<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let mode = {
            let mut state = fake.state();
            state.calls += 1;
            let h = |k: &str| header(&req, k);
            if h("x-client-id") != CASHFREE_API_CLIENT
                || h("x-client-secret") != CASHFREE_API_SECRET
                || h("x-api-version").is_empty()
            {
                state.bad_headers += 1;
            }
            if let Some(code) = state.first.take() {
                return reply(code, json!({"message": "error", "code": code}).to_string());
            }
            state.mode.unwrap_or(Mode::Normal)
        };
        match mode {
            Mode::Status(code) => {
                return reply(code, json!({"message": "error", "code": code}).to_string())
            }
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return reply(200, "{}".into());
            }
            Mode::NotJson => return reply(200, "<html>maintenance</html>".into()),
            Mode::Normal => {}
        }
        // Each product's path, the query field that names the request (also echoed in the
        // answer), and its status and sub-status fields, from Cashfree's API reference.
        let path = req.uri().path().to_owned();
        let fields = match path.as_str() {
            "/verification/vkyc" | "/verification/digilocker" => {
                Some(("verification_id", "status", "sub_status"))
            }
            "/verification/form" => Some(("verification_id", "form_status", "")),
            "/verification/esignature" | "/verification/remitter/status" => {
                Some(("verification_id", "status", ""))
            }
            "/verification/bank-account" => {
                Some(("reference_id", "account_status", "account_status_code"))
            }
            _ => None,
        };
        let Some((field, status_field, sub_field)) = fields else {
            return reply(404, "{}".into());
        };
        let id = req
            .uri()
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == field))
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if let Some(body) = fake.state().raw.get(&id) {
            return reply(200, body.clone());
        }
        let known = fake.state().known.get(&id).cloned();
        match known {
            Some((status, sub)) => {
                let mut answer = json!({"reference_id": 1, "recording_link": null});
                // BAV's reference_id is a number, as Cashfree writes it.
                answer[field] = match id.parse::<i64>() {
                    Ok(n) if field == "reference_id" => json!(n),
                    _ => json!(id),
                };
                answer[status_field] = json!(status);
                if !sub_field.is_empty() {
                    answer[sub_field] = json!(sub);
                }
                reply(200, answer.to_string())
            }
            None => reply(
                404,
                json!({"message": format!("{field} not found")}).to_string(),
            ),
        }
    }
}

/// How the fake status API answers.
#[derive(Debug, Default)]
pub struct DigioState {
    /// KID → the KYC request it answers with.
    pub known: HashMap<String, Value>,
    /// Answer every call with this status.
    pub status: Option<u16>,
    /// Answer with this body as it is.
    pub raw: Option<String>,
    pub hang: bool,
    pub calls: usize,
    /// (method, path, authorization) of each call.
    pub seen: Vec<(String, String, String)>,
}

/// The fake: its state, shared with the test.
pub type FakeDigio = Fake<DigioState>;

impl Answers for DigioState {
    async fn answer(
        fake: Fake<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let auth = header(&req, "authorization");
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let (status, raw, hang, known) = {
            let mut s = fake.state();
            s.calls += 1;
            s.seen.push((method.clone(), path.clone(), auth.clone()));
            (s.status, s.raw.clone(), s.hang, s.known.clone())
        };
        if hang {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        if let Some(code) = status {
            return reply(code, json!({"code": code, "message": "error"}).to_string());
        }
        if let Some(raw) = raw {
            return reply(200, raw);
        }
        let kid = path
            .strip_prefix("/client/kyc/v2/")
            .and_then(|p| p.strip_suffix("/response"))
            .unwrap_or_default();
        if method != "POST" || body.as_ref() != b"{}" {
            return reply(405, "{}".into());
        }
        match known.get(kid) {
            Some(request) => reply(200, request.to_string()),
            None => reply(404, json!({"message": "not found"}).to_string()),
        }
    }
}

/// The appId and appKey the fake Output API expects.
pub const HYPERVERGE_APP_ID: &str = "hv-app";
pub const HYPERVERGE_APP_KEY: &str = "hv-app-key-0123456789";

/// How the fake of HyperVerge's Output API answers.
#[derive(Debug, Default)]
pub struct HypervergeState {
    /// transactionId → its application status.
    pub known: HashMap<String, String>,
    pub mode: Option<Mode>,
    /// transactionId → the whole answer's body, as it is (answers not to be believed).
    pub raw: HashMap<String, String>,
    pub calls: usize,
    pub bad_requests: usize,
}

/// The fake: its state, shared with the test.
pub type FakeHyperverge = Fake<HypervergeState>;

impl Answers for HypervergeState {
    async fn answer(
        fake: Fake<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let well_formed = req.method() == hyper::Method::POST
            && req.uri().path() == "/v1/output"
            && header(&req, "appId") == HYPERVERGE_APP_ID
            && header(&req, "appKey") == HYPERVERGE_APP_KEY
            && header(&req, "content-type") == "application/json";
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = asked["transactionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mode = {
            let mut state = fake.state();
            state.calls += 1;
            if !well_formed || id.is_empty() {
                state.bad_requests += 1;
            }
            state.mode.unwrap_or(Mode::Normal)
        };
        match mode {
            // HyperVerge's error shape: `{status: "failure", statusCode, error}`.
            Mode::Status(code) => {
                let error = json!({"status": "failure", "statusCode": code, "error": "error"});
                return reply(code, error.to_string());
            }
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return reply(200, "{}".into());
            }
            Mode::NotJson => return reply(200, "<html>maintenance</html>".into()),
            Mode::Normal => {}
        }
        if let Some(body) = fake.state().raw.get(&id) {
            return reply(200, body.clone());
        }
        let known = fake.state().known.get(&id).cloned();
        match known {
            Some(status) => reply(
                200,
                json!({"status": "success", "statusCode": 200,
                       "metadata": {"requestId": "req-1", "transactionId": id},
                       "result": {"transactionId": id, "applicationStatus": status,
                                  "userDetails": {"name": "Asha Verma", "dob": "1990-01-01"}}})
                .to_string(),
            ),
            None => reply(
                404,
                json!({"status": "failure", "statusCode": 404, "error": "transaction not found"})
                    .to_string(),
            ),
        }
    }
}

/// The journey sweeper on the local server's journey table `table` and events queue, reconciling
/// Cashfree journeys from the fake at `api_base` (detection only without one).
pub async fn cashfree_sweeper(
    stack: &crate::Stack,
    table: &str,
    api_base: Option<&str>,
) -> Sweeper<DynamoDueJourneys, SqsSink> {
    let sdk = crate::local_sdk_config(crate::endpoint()).await;
    let apis = match api_base {
        Some(base) => {
            let connection = Connection {
                http: kyc_intake::sources::status::client().expect("client"),
                base: base.to_owned(),
                client_id: CASHFREE_API_CLIENT.into(),
                client_secret: SecretList::new(vec![Secret::new(CASHFREE_API_SECRET)]),
            };
            let api = CashfreeStatusApi::new(connection, "2024-12-01");
            StatusApis::none().with("cashfree", Arc::new(api))
        }
        None => StatusApis::none(),
    };
    Sweeper::new(
        DynamoDueJourneys::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        apis,
        SqsSink::new(aws_sdk_sqs::Client::new(&sdk), stack.queue_url.clone()),
    )
}
