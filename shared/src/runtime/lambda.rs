//! The one module that knows about Lambda's events: an API Gateway event into the pipeline's
//! input and its outcome back into a response, an SQS batch's records into the journey worker's
//! and its partial batch response; and the runtime loops that serve them.

use crate::intake::archive::REPLAY_ATTRIBUTE;
use crate::intake::inbound::Inbound;
use crate::intake::outcome::{Outcome, Refusal};
use crate::intake::pipeline::{invocation_deadline_ms, Pipeline};
use crate::intake::queue::EventSink;
use crate::journeys::stream::JourneyStream;
use crate::journeys::sweeper::{DueJourneys, Sweeper};
use crate::journeys::worker::{JourneyStore, JourneyWorker, Record};
use crate::secrets::manager::{Refresh, Staleness};
use crate::trace::TraceHeader;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::FutureExt;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::request::RequestContext;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_idempotency::batch::{fifo_group, process_batch, RecordResult};
use lambda_idempotency::IdempotencyStore;
use std::convert::Infallible;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tracing::Instrument;

/// Serve API Gateway requests with `pipeline`: one at a time, or as many at once as
/// `AWS_LAMBDA_MAX_CONCURRENCY` says (Lambda Managed Instances).
pub async fn serve<S>(pipeline: Arc<Pipeline<S>>) -> Result<(), lambda_http::Error>
where
    S: IdempotencyStore + 'static,
{
    lambda_runtime::run_concurrent(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<LambdaRequest>| {
            let pipeline = Arc::clone(&pipeline);
            async move { Ok::<_, Infallible>(answer(&pipeline, event).await) }
        },
    ))
    .await
}

/// The answer to one API Gateway event, whatever it holds. `lambda_http` turns the event into a
/// request by building a URI, and panics on some query strings (`token=a"b`) and
/// `x-forwarded-proto` values; such a request is answered 400 `bad_request`. A panic while
/// handling it (a bug) is answered 503 `unavailable`, so the provider retries. Either way the
/// request is logged and counted, and the process (with the other invocations it may be
/// serving on Managed Instances) lives on.
pub async fn answer<S: IdempotencyStore>(
    pipeline: &Pipeline<S>,
    event: lambda_runtime::LambdaEvent<LambdaRequest>,
) -> GatewayResponse {
    let lambda_runtime::LambdaEvent { payload, context } = event;
    let origin = payload.request_origin();
    let path = raw_path(&payload);
    let request = std::panic::catch_unwind(AssertUnwindSafe(|| {
        Request::from(payload).with_lambda_context(context)
    }));
    let outcome_response = match request {
        Ok(req) => match AssertUnwindSafe(handle(pipeline, req)).catch_unwind().await {
            Ok(Ok(response)) => response,
            Err(_) => response(&pipeline.record_unhandled(&path, Outcome::Unavailable)),
        },
        Err(_) => {
            response(&pipeline.record_unhandled(&path, Outcome::Refused(Refusal::BadRequest)))
        }
    };
    GatewayResponse::new(&origin, outcome_response)
}

/// The request's path as API Gateway sent it, read before anything can fail on it.
fn raw_path(payload: &LambdaRequest) -> String {
    match payload {
        LambdaRequest::ApiGatewayV1(r) => r.path.clone(),
        LambdaRequest::ApiGatewayV2(r) => r.raw_path.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

/// An API Gateway proxy response, REST (1.0) or HTTP API (2.0) as the request was.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum GatewayResponse {
    V1(ApiGatewayProxyResponse),
    V2(ApiGatewayV2httpResponse),
}

impl GatewayResponse {
    fn new(origin: &RequestOrigin, response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let status_code = i64::from(parts.status.as_u16());
        let body = match body {
            Body::Empty => None,
            b => Some(b),
        };
        match origin {
            RequestOrigin::ApiGatewayV1 => {
                let mut r = ApiGatewayProxyResponse::default();
                r.status_code = status_code;
                // REST APIs merge `headers` into `multiValueHeaders`: one of them only.
                r.multi_value_headers = parts.headers;
                r.body = body;
                Self::V1(r)
            }
            _ => {
                let mut r = ApiGatewayV2httpResponse::default();
                r.status_code = status_code;
                r.headers = parts.headers;
                r.body = body;
                Self::V2(r)
            }
        }
    }
}

/// The source IP API Gateway saw (HTTP API: `requestContext.http.sourceIp`; REST API:
/// `requestContext.identity.sourceIp`). Headers such as `X-Forwarded-For` are never consulted.
pub fn source_ip(req: &Request) -> Option<IpAddr> {
    let raw = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        _ => None,
    }?;
    raw.trim().parse().ok()
}

/// Serve one request. Never fails: every case is a response.
pub async fn handle<S: IdempotencyStore>(
    pipeline: &Pipeline<S>,
    req: Request,
) -> Result<Response<Body>, Infallible> {
    let deadline_ms = req
        .lambda_context_ref()
        .and_then(|c| i64::try_from(c.deadline).ok())
        .filter(|d| *d > 0);
    let body: &[u8] = req.body().as_ref();
    let inbound = Inbound {
        method: req.method(),
        path: req.raw_http_path(),
        query: req.uri().query(),
        headers: req.headers(),
        body,
        source_ip: source_ip(&req),
        deadline_ms,
        trace: req
            .lambda_context_ref()
            .and_then(|c| c.xray_trace_id.as_deref()),
    };
    let outcome = pipeline.process(&inbound, chrono::Utc::now()).await;
    Ok(response(&outcome))
}

/// The Lambda response for an outcome: its HTTP answer, the body as text.
fn response(outcome: &Outcome) -> Response<Body> {
    outcome.response().map(Body::Text)
}

/// Serve one SQS batch. Never fails: every record's fate is in the batch response.
pub async fn handle_batch<S: IdempotencyStore, J: JourneyStore, P: JourneyStream>(
    worker: &JourneyWorker<S, J, P>,
    event: lambda_runtime::LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    let deadline_ms = invocation_deadline_ms(
        i64::try_from(event.context.deadline).ok(),
        chrono::Utc::now().timestamp_millis(),
    );
    Ok(worker_batch(worker, &event.payload, deadline_ms).await)
}

/// One SQS batch through the worker, record by record; the response names every record to be
/// redelivered (on FIFO, a failed record's later records of the same group too:
/// `lambda_idempotency::batch`).
pub async fn worker_batch<S: IdempotencyStore, J: JourneyStore, P: JourneyStream>(
    worker: &JourneyWorker<S, J, P>,
    batch: &SqsEvent,
    deadline_ms: i64,
) -> SqsBatchResponse {
    process_batch(batch, |message| async move {
        if worker
            .process(&record(message), deadline_ms)
            .await
            .succeeded()
        {
            RecordResult::Processed
        } else {
            RecordResult::Failed
        }
    })
    .await
}

/// An SQS message as the worker reads it.
fn record(message: &SqsMessage) -> Record<'_> {
    let attribute = |name: &str| message.attributes.get(name).map(String::as_str);
    Record {
        message_id: message.message_id.as_deref().unwrap_or("-"),
        body: message.body.as_deref().unwrap_or_default(),
        sender: attribute("SenderId"),
        trace: attribute(crate::trace::SQS_ATTRIBUTE).and_then(TraceHeader::parse),
        replay: message.message_attributes.contains_key(REPLAY_ATTRIBUTE),
        receives: attribute("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1),
        receipt: message.receipt_handle.as_deref(),
        group: fifo_group(message),
    }
}

/// Serve the scheduler's invocations with the journey sweeper: any payload (an EventBridge
/// Scheduler event or `{}`) starts one run, bounded by the invocation's deadline; the answer is
/// the run's report. The Cashfree API secret, when from Secrets Manager, is read again once past
/// its max age.
pub async fn serve_sweeper<D, Q>(
    sweeper: Sweeper<D, Q>,
    secrets: Option<Arc<dyn Refresh>>,
) -> Result<(), lambda_runtime::Error>
where
    D: DueJourneys + 'static,
    Q: EventSink + 'static,
{
    let sweeper = Arc::new(sweeper);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let sweeper = Arc::clone(&sweeper);
            let secrets = secrets.clone();
            async move {
                let now = chrono::Utc::now();
                let deadline_ms = invocation_deadline_ms(
                    i64::try_from(event.context.deadline).ok(),
                    now.timestamp_millis(),
                );
                if let Some(secrets) = &secrets {
                    let budget = std::time::Duration::from_secs(5);
                    secrets
                        .refresh(Staleness::MaxAge, budget, &crate::metrics::Stdout)
                        .await;
                }
                let left_ms = deadline_ms - chrono::Utc::now().timestamp_millis();
                let budget =
                    std::time::Duration::from_millis(u64::try_from(left_ms).unwrap_or_default());
                let trace = invocation_trace(&event.context);
                let trace_id = trace.as_ref().map(|t| t.trace_id().to_owned());
                let span = tracing::info_span!("sweep", trace_id);
                let report = sweeper
                    .run_traced(chrono::Utc::now(), budget, trace)
                    .instrument(span)
                    .await;
                Ok::<_, Infallible>(report)
            }
        },
    ))
    .await
}

/// The `archive-replay` function's answer to one invocation: the request read from the payload,
/// the replay carried out on the invocation's trace. A payload that is not a request, or one the
/// function refuses, is a function error whose message says why.
pub async fn replay(
    replayer: &crate::replay::Replayer,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<crate::replay::ReplayRun, lambda_runtime::Error> {
    let request: crate::replay::Request =
        serde_json::from_value(event.payload).map_err(|e| format!("not a replay request: {e}"))?;
    let trace = invocation_trace(&event.context);
    let trace_id = trace.as_ref().map(|t| t.trace_id().to_owned());
    let span = tracing::info_span!("replay", trace_id);
    Ok(replayer.answer(&request, trace).instrument(span).await?)
}

/// Serve `archive-replay`'s invocations, one at a time.
pub async fn serve_replay(replayer: crate::replay::Replayer) -> Result<(), lambda_runtime::Error> {
    let replayer = Arc::new(replayer);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let replayer = Arc::clone(&replayer);
            async move { replay(&replayer, event).await }
        },
    ))
    .await
}

/// The trace Lambda handed the invocation, when it is X-Ray's.
fn invocation_trace(context: &lambda_runtime::Context) -> Option<crate::trace::TraceHeader> {
    context
        .xray_trace_id
        .as_deref()
        .and_then(crate::trace::TraceHeader::parse)
}
