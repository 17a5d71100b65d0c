//! `journey-sweeper`: run on a schedule, it finds open journeys past their due time and
//! reconciles or reports them. See `kyc_intake::journeys::sweeper`.
#![forbid(unsafe_code)]
// The SDK futures nested in its handler are deeper than rustc's default layout limit.
#![recursion_limit = "256"]

// One thread: a Lambda environment serves one request at a time (or, on Managed Instances, a
// few that mostly wait on AWS), and one thread spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kyc_intake::runtime::Error> {
    kyc_intake::runtime::journey_sweeper(env!("CARGO_CRATE_NAME")).await
}
