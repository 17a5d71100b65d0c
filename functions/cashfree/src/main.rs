//! `cashfree-webhook`: the cashfree sources behind API Gateway.
#![forbid(unsafe_code)]

use kyc_intake::{config, lambda, telemetry};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let (common, sources) = lambda::config_or_exit(config::cashfree_sources);
    let pipeline = lambda::aws_pipeline(common, sources).await;
    run(service_fn(|req| lambda::handle(&pipeline, req))).await
}
