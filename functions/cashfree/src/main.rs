//! `cashfree-webhook`: the cashfree sources behind API Gateway.
#![forbid(unsafe_code)]

use kyc_intake::{lambda, sources, telemetry};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok((common, sources)) =
        lambda::config_from_env(&sources::cashfree::FUNCTION).inspect_err(lambda::log_config_error)
    else {
        std::process::exit(2)
    };
    let pipeline = lambda::aws_pipeline(common, sources).await;
    run(service_fn(|req| lambda::handle(&pipeline, req))).await
}
