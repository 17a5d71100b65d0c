//! Running a function: `startup` builds what a cold start needs once (configuration, clients,
//! the pipeline, the worker or the sweeper), `lambda` serves it (API Gateway events ⇄ the
//! pipeline, SQS batches ⇄ the worker, the runtime loops). One entry per kind of function, so
//! every `main` is one call: `webhook`, `journey_worker`, `journey_sweeper`, `archive_replay`.
//!
//! A bad configuration is one log line naming the variable, then exit code 2 (Lambda reports an
//! init failure).

pub mod lambda;
pub mod startup;
pub mod telemetry;

use crate::config::ProcessEnv;
use crate::journeys::worker::WorkerConfig;
use crate::sources::FunctionSpec;
pub use lambda_runtime::Error;
use std::sync::Arc;

/// The value, or the configuration error logged and the process ended.
fn or_exit<T>(configured: Result<T, crate::config::ConfigError>) -> T {
    match configured.inspect_err(startup::log_config_error) {
        Ok(value) => value,
        Err(_) => std::process::exit(2),
    }
}

/// A webhook function (`name` is its binary's) serving `function`'s sources behind API Gateway.
pub async fn webhook(name: &str, function: &'static FunctionSpec) -> Result<(), Error> {
    telemetry::init(name);
    let pipeline = or_exit(startup::webhook_pipeline(function).await);
    lambda::serve(pipeline).await
}

/// The journey worker: the events queue (SQS event source mapping, partial batch responses) in,
/// the journey table and the journey stream out.
pub async fn journey_worker(name: &str) -> Result<(), Error> {
    telemetry::init(name);
    let config = or_exit(WorkerConfig::from_env(&ProcessEnv));
    let worker = Arc::new(startup::aws_journey_worker(
        &crate::aws::lambda_config(),
        &config,
    ));
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY says otherwise (Lambda Managed Instances).
    lambda_runtime::run_concurrent(lambda_runtime::service_fn(move |event| {
        let worker = Arc::clone(&worker);
        async move { lambda::handle_batch(&worker, event).await }
    }))
    .await
}

/// The journey sweeper, run on a schedule: open journeys past their due time reconciled or
/// reported.
pub async fn journey_sweeper(name: &str) -> Result<(), Error> {
    telemetry::init(name);
    let sdk = crate::aws::lambda_config();
    let (sweeper, secrets) = or_exit(startup::journey_sweeper(&ProcessEnv, &sdk).await);
    lambda::serve_sweeper(sweeper, secrets).await
}

/// The `archive-replay` function: invoked (never routed) with a replay request, it replays what
/// the archive attests and answers what it did with each delivery.
pub async fn archive_replay(name: &str) -> Result<(), Error> {
    telemetry::init(name);
    let sdk = crate::aws::lambda_config();
    let replayer = or_exit(startup::archive_replay(&ProcessEnv, &sdk));
    lambda::serve_replay(replayer).await
}
