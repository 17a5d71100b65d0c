//! `digio-webhook`: the digio source behind API Gateway.
#![forbid(unsafe_code)]

use kyc_intake::{lambda, sources, startup, telemetry};
use lambda_http::Error;

// One thread: a Lambda environment serves one request at a time (or, on Managed Instances, a
// few that mostly wait on DynamoDB and SQS), and one thread spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_CRATE_NAME"));
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok(pipeline) = startup::webhook_pipeline(&sources::digio::FUNCTION)
        .await
        .inspect_err(startup::log_config_error)
    else {
        std::process::exit(2)
    };
    lambda::serve(pipeline).await
}
