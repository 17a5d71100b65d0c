//! The one module that knows about Lambda: a `lambda_http::Request` into the pipeline's input,
//! its outcome back into a response.

use crate::aws::{self, DynamoStore, SqsSink};
use crate::config::{self, Common, ConfigError};
use crate::pipeline::{Inbound, Outcome, Pipeline};
use crate::ports::{EventSink, IdempotencyStore};
use crate::registry::FunctionSpec;
use crate::sources::Source;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::convert::Infallible;
use std::net::IpAddr;

pub type AwsPipeline = Pipeline<DynamoStore, SqsSink>;

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
