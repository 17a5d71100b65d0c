//! The one module that knows about Lambda: a `lambda_http::Request` into the pipeline's input,
//! its outcome back into a response.

use crate::aws::{self, DynamoJourneys, DynamoStore, SqsSink};
use crate::config::{self, Common, ConfigError};
use crate::journey::{JourneyStore, JourneyWorker, WorkerConfig};
use crate::pipeline::DEFAULT_DEADLINE_MS;
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::ports::{EventSink, IdempotencyStore};
use crate::registry::FunctionSpec;
use crate::sources::Source;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::convert::Infallible;
use std::net::IpAddr;

pub type AwsPipeline = Pipeline<DynamoStore, SqsSink>;
pub type AwsJourneyWorker = JourneyWorker<DynamoStore, DynamoJourneys>;

/// Read and validate the configuration once, from the process environment. The error names the
/// variable, never its value (which may be a secret); `main` logs it and exits, so Lambda reports
/// an init failure.
pub fn config_from_env(function: &FunctionSpec) -> Result<(Common, Vec<Source>), ConfigError> {
    function.config(&config::ProcessEnv)
}

/// The one log line for bad configuration: the variable and why, never a value.
pub fn log_config_error(e: &ConfigError) {
    tracing::error!(variable = e.var, "{e}");
}

/// Build the AWS clients once per cold start and the pipeline around them.
pub async fn aws_pipeline(common: Common, sources: Vec<Source>) -> AwsPipeline {
    pipeline_with(&aws::load_config().await, common, sources)
}

/// The pipeline on given SDK settings (a local emulator in tests and `make run`).
pub fn pipeline_with(
    sdk: &aws_config::SdkConfig,
    common: Common,
    sources: Vec<Source>,
) -> AwsPipeline {
    Pipeline::new(
        sources,
        DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), common.table),
        SqsSink::new(aws_sdk_sqs::Client::new(sdk), common.queue_url),
        common.settings,
    )
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
pub async fn handle<S: IdempotencyStore, Q: EventSink>(
    pipeline: &Pipeline<S, Q>,
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
    };
    let outcome = pipeline.process(&inbound, chrono::Utc::now()).await;
    Ok(response(&outcome))
}

pub fn response(outcome: &Outcome) -> Response<Body> {
    let mut builder = Response::builder()
        .status(outcome.status())
        .header(http::header::CONTENT_TYPE, "application/json");
    if outcome.status() == http::StatusCode::METHOD_NOT_ALLOWED {
        builder = builder.header(http::header::ALLOW, "POST");
    }
    builder
        .body(Body::Text(outcome.body()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// The journey worker on given SDK settings: its claims in the idempotency table, its state in
/// the journey table, one DynamoDB client for both (built once per cold start).
pub fn aws_journey_worker(sdk: &aws_config::SdkConfig, config: &WorkerConfig) -> AwsJourneyWorker {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let claims = DynamoStore::new(client.clone(), config.idempotency_table.clone());
    let journeys = DynamoJourneys::new(client, config.journey_table.clone(), claims.clone());
    JourneyWorker::new(claims, journeys, config.ttl_secs)
}

/// Serve one SQS batch. Never fails: every record's fate is in the batch response.
pub async fn handle_batch<S: IdempotencyStore, J: JourneyStore>(
    worker: &JourneyWorker<S, J>,
    event: lambda_runtime::LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    let now = chrono::Utc::now().timestamp_millis();
    let deadline_ms = i64::try_from(event.context.deadline)
        .ok()
        .filter(|d| *d > now)
        .unwrap_or(now + DEFAULT_DEADLINE_MS);
    Ok(worker.handle(&event.payload, deadline_ms).await)
}
