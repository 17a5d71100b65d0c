//! `journey-worker`: the events queue (SQS event source mapping with `ReportBatchItemFailures`) in,
//! `JOURNEY_TABLE` and the journey stream out. See `kyc_intake::journeys::worker`.
#![forbid(unsafe_code)]
// The SDK futures nested in its handler are deeper than rustc's default layout limit.
#![recursion_limit = "256"]

// One thread: a Lambda environment serves one request at a time (or, on Managed Instances, a
// few that mostly wait on AWS), and one thread spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kyc_intake::runtime::Error> {
    kyc_intake::runtime::journey_worker(env!("CARGO_CRATE_NAME")).await
}
