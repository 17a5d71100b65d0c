//! The local emulators, for `make run`, the tests and the bench: start the local AWS-compatible
//! server (`server`) and create the tables, queue and bucket on it (`resources`); emulate API
//! Gateway in front of the functions (`gateway`), Lambda's Runtime API (`runtime_api`) and an SQS
//! event source mapping (`event_source`), all on one HTTP server loop (`http`); and a load on a
//! running stack, measured at the application queue (`load`). The sample events
//! are the `kyc-samples` crate and the bench is `kyc-bench`, which use these.
#![forbid(unsafe_code)]

pub mod event_source;
pub mod gateway;
pub mod http;
pub mod load;
pub mod resources;
pub mod runtime_api;
pub mod server;

/// Local defaults shared by `make run`, `make invoke` and the README.
pub mod defaults {
    pub const REGION: &str = "ap-south-1";
    pub const TABLE: &str = "kyc-webhook-idempotency";
    pub const JOURNEY_TABLE: &str = "kyc-journeys";
    pub const GATEWAY: &str = "127.0.0.1:3000";
    pub const EMULATOR_PORT: u16 = 4566;
}
