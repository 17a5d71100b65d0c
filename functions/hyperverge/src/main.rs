//! `hyperverge-webhook`: the hyperverge sources behind API Gateway.
#![forbid(unsafe_code)]

use kyc_intake::{aws, lambda, sources, telemetry};
use lambda_http::{run_concurrent, service_fn, Error};
use std::sync::Arc;

// One thread: a Lambda environment serves one request at a time (or, on Managed Instances, a
// few that mostly wait on DynamoDB and SQS), and one thread spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let sdk = aws::load_config().await;
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok(config) = lambda::config_from_env(&sources::hyperverge::FUNCTION, &sdk)
        .await
        .inspect_err(lambda::log_config_error)
    else {
        std::process::exit(2)
    };
    let pipeline = Arc::new(lambda::pipeline_with(&sdk, config));
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY says otherwise (Lambda Managed Instances).
    run_concurrent(service_fn(move |req| {
        let pipeline = Arc::clone(&pipeline);
        async move { lambda::handle(&pipeline, req).await }
    }))
    .await
}
