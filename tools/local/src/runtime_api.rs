//! A Lambda Runtime API emulator on loopback: run a function's real `bootstrap` as Lambda runs it
//! (`AWS_LAMBDA_RUNTIME_API=<address>`), hand it events and collect its answers. It serves the
//! three calls a runtime makes: `GET /2018-06-01/runtime/invocation/next` (waits until an event
//! is queued), `POST .../invocation/{id}/response` and `POST .../invocation/{id}/error`, and takes
//! `POST .../runtime/init/error`.

use crate::resources::BoxError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

const PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `.../response`: the handler's result.
    Response(Bytes),
    /// `.../error`: the handler failed.
    Error(Bytes),
}

#[derive(Default)]
struct State {
    queued: Mutex<VecDeque<(String, Bytes, u64)>>,
    arrived: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    init_error: Mutex<Option<Bytes>>,
    /// When the runtime first asked for an event: the end of its init.
    first_next: Mutex<Option<std::time::Instant>>,
    /// Invocations handed out and not yet answered, now and at most.
    in_flight: Mutex<(usize, usize)>,
}

impl State {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The emulator; it stops serving when dropped (its task is aborted).
pub struct RuntimeApi {
    address: String,
    state: Arc<State>,
    counter: std::sync::atomic::AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Listen on a free loopback port.
    pub async fn start() -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(State::default());
        let served = state.clone();
        let server = tokio::spawn(async move {
            let _ = crate::http::serve(listener, move |req, _| {
                let state = served.clone();
                async move { serve(&state, req).await }
            })
            .await;
        });
        Ok(Self {
            address,
            state,
            counter: std::sync::atomic::AtomicU64::new(0),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// When the runtime first asked for an event (its init is over), if it has.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        *State::lock(&self.state.first_next)
    }

    /// The most invocations the runtime had in hand at once.
    pub fn max_in_flight(&self) -> usize {
        State::lock(&self.state.in_flight).1
    }

    /// What the runtime reported through `/init/error`, if anything.
    pub fn init_error(&self) -> Option<Bytes> {
        State::lock(&self.state.init_error).clone()
    }

    /// Queue `event` for the function, with `timeout` as its deadline, and wait for its answer
    /// (`None` when none came within the timeout plus a second).
    pub async fn invoke(&self, event: impl Into<Bytes>, timeout: Duration) -> Option<Answer> {
        let rx = self.queue(event.into(), timeout);
        tokio::time::timeout(timeout + Duration::from_secs(1), rx)
            .await
            .ok()?
            .ok()
    }

    /// Queue `event` and return where its answer will arrive (for many invocations in flight).
    pub fn queue(&self, event: Bytes, timeout: Duration) -> oneshot::Receiver<Answer> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let id = format!("emulated-{n:08}");
        let deadline = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default()
            + u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let (tx, rx) = oneshot::channel();
        State::lock(&self.state.waiting).insert(id.clone(), tx);
        State::lock(&self.state.queued).push_back((id, event, deadline));
        self.state.arrived.notify_one();
        rx
    }
}

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r
}

async fn serve(state: &State, req: hyper::Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(404, "");
    };
    if rest == "/invocation/next" {
        return next(state).await;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if rest == "/init/error" {
        *State::lock(&state.init_error) = Some(body);
        return reply(202, "");
    }
    let answer = rest.strip_prefix("/invocation/").and_then(|r| {
        r.strip_suffix("/response")
            .map(|id| (id, Answer::Response(body.clone())))
            .or_else(|| r.strip_suffix("/error").map(|id| (id, Answer::Error(body))))
    });
    let Some((id, answer)) = answer else {
        return reply(404, "");
    };
    match State::lock(&state.waiting).remove(id) {
        Some(tx) => {
            let mut in_flight = State::lock(&state.in_flight);
            in_flight.0 = in_flight.0.saturating_sub(1);
            let _ = tx.send(answer);
            reply(202, r#"{"status":"OK"}"#)
        }
        None => reply(400, r#"{"errorType":"InvalidRequestID"}"#),
    }
}

/// Wait for the next queued event and hand it over with the headers a runtime expects.
async fn next(state: &State) -> Reply {
    State::lock(&state.first_next).get_or_insert_with(std::time::Instant::now);
    loop {
        let notified = state.arrived.notified();
        if let Some((id, event, deadline)) = State::lock(&state.queued).pop_front() {
            let mut in_flight = State::lock(&state.in_flight);
            in_flight.0 += 1;
            in_flight.1 = in_flight.1.max(in_flight.0);
            drop(in_flight);
            let mut r = reply(200, event);
            let headers = r.headers_mut();
            let pairs = [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:ap-south-1:000000000000:function:emulated".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
                // Each invocation's X-Ray header, as Lambda with active tracing hands it out.
                (
                    "lambda-runtime-trace-id",
                    kyc_intake::trace::TraceHeader::new_root(true).header(),
                ),
            ];
            for (k, v) in pairs {
                if let Ok(v) = http::HeaderValue::from_str(&v) {
                    headers.insert(k, v);
                }
            }
            return r;
        }
        notified.await;
    }
}
