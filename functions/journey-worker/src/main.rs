//! `journey-worker`: the events queue (SQS event source mapping with `ReportBatchItemFailures`) in,
//! `JOURNEY_TABLE` out. See `kyc_intake::journeys::worker`.
#![forbid(unsafe_code)]
// The SDK futures nested in the batch handler are deeper than rustc's default layout limit.
#![recursion_limit = "256"]

use kyc_intake::config::ProcessEnv;
use kyc_intake::journeys::worker::WorkerConfig;
use kyc_intake::{lambda, startup, telemetry};
use lambda_runtime::{run_concurrent, service_fn, Error};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_CRATE_NAME"));
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok(config) = WorkerConfig::from_env(&ProcessEnv).inspect_err(startup::log_config_error)
    else {
        std::process::exit(2)
    };
    let worker = Arc::new(startup::aws_journey_worker(
        &kyc_intake::aws::lambda_config(),
        &config,
    ));
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY says otherwise (Lambda Managed Instances).
    run_concurrent(service_fn(move |event| {
        let worker = Arc::clone(&worker);
        async move { lambda::handle_batch(&worker, event).await }
    }))
    .await
}
