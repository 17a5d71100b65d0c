//! `digio-webhook`: the digio sources behind API Gateway.
#![forbid(unsafe_code)]

// One thread: a Lambda environment serves one request at a time (or, on Managed Instances, a
// few that mostly wait on AWS), and one thread spares the cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kyc_intake::runtime::Error> {
    kyc_intake::runtime::webhook(
        env!("CARGO_CRATE_NAME"),
        &kyc_intake::sources::digio::FUNCTION,
    )
    .await
}
