//! `hyperverge-webhook`: the hyperverge sources behind API Gateway.
#![forbid(unsafe_code)]

use kyc_intake::{aws, lambda, sources, telemetry};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
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
    let pipeline = lambda::pipeline_with(&sdk, config);
    run(service_fn(|req| lambda::handle(&pipeline, req))).await
}
