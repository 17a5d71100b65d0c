//! `journey-sweeper`: run on a schedule, it finds open journeys past their due time and
//! reconciles or reports them. See `kyc_intake::journeys::sweeper`.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

use kyc_intake::config::ProcessEnv;
use kyc_intake::{lambda, startup, telemetry};
use lambda_runtime::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(env!("CARGO_CRATE_NAME"));
    let sdk = kyc_intake::aws::lambda_config();
    // Bad configuration: one log line naming the variable, then exit (Lambda reports an init
    // failure).
    let Ok((sweeper, secrets)) = startup::journey_sweeper(&ProcessEnv, &sdk)
        .await
        .inspect_err(startup::log_config_error)
    else {
        std::process::exit(2)
    };
    lambda::serve_sweeper(sweeper, secrets).await
}
