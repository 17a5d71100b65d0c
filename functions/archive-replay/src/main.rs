//! `archive-replay`: invoked with a replay request (a source and range, or archive keys), it
//! replays what the archive attests and nothing else. See `kyc_intake::replay`.
#![forbid(unsafe_code)]
// The SDK futures nested in its handler are deeper than rustc's default layout limit.
#![recursion_limit = "256"]

// One thread: it serves one invocation at a time, and its work is waiting on AWS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), kyc_intake::runtime::Error> {
    kyc_intake::runtime::archive_replay(env!("CARGO_CRATE_NAME")).await
}
