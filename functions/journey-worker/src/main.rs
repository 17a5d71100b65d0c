//! `journey-worker`: the events queue (SQS event source mapping with `ReportBatchItemFailures`) in,
//! `JOURNEY_TABLE` out. See `kyc_intake::journey`.
#![forbid(unsafe_code)]
// The SDK futures nested in the batch handler are deeper than rustc's default layout limit.
#![recursion_limit = "256"]

use kyc_intake::config::ProcessEnv;
use kyc_intake::journey::WorkerConfig;
use kyc_intake::{lambda, telemetry};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok(config) = WorkerConfig::from_env(&ProcessEnv).inspect_err(lambda::log_config_error)
    else {
        std::process::exit(2)
    };
    let worker = lambda::aws_journey_worker(&kyc_intake::aws::load_config().await, &config);
    run(service_fn(|event| lambda::handle_batch(&worker, event))).await
}
