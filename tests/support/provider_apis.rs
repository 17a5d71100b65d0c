//! Fakes of the providers' status APIs on loopback, built from their documented shapes and
//! failures: Cashfree's Secure ID (`GET /verification/{vkyc,digilocker}?verification_id=…`,
//! `x-client-id`/`x-client-secret`/`x-api-version`; 401, 429, 5xx, a hang, an answer that is not
//! JSON) and Digio's KYC status API (`POST /client/kyc/v2/{KID}/response`, Basic auth, body `{}`;
//! any status, a raw body, a hang). Each is a `Fake` of its own state, which the test changes
//! between calls.

use crate::serve_loopback;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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
    /// verification_id → (status, sub_status).
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
        let path = req.uri().path().to_owned();
        let id = req
            .uri()
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "verification_id")
            })
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if path != "/verification/vkyc" && path != "/verification/digilocker" {
            return reply(404, "{}".into());
        }
        if let Some(body) = fake.state().raw.get(&id) {
            return reply(200, body.clone());
        }
        match fake.state().known.get(&id) {
            Some((status, sub)) => reply(
                200,
                json!({"verification_id": id, "reference_id": 1, "status": status, "sub_status": sub, "recording_link": null}).to_string(),
            ),
            None => reply(404, json!({"message": "verification_id not found"}).to_string()),
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
