//! Local development and test support: start the local AWS-compatible server (`server`), create
//! the tables and the queue on it (`resources`), serve the functions over HTTP on localhost
//! (`gateway`), emulate Lambda's Runtime API (`runtime_api`) and an SQS event source mapping
//! (`worker`). The sample events are the `kyc-samples` crate, which kycctl uses without these.
#![forbid(unsafe_code)]

pub mod gateway;
pub mod resources;
pub mod runtime_api;
pub mod server;
pub mod worker;

/// Local defaults shared by `make run`, `make invoke` and the README.
pub mod defaults {
    pub const REGION: &str = "ap-south-1";
    pub const TABLE: &str = "kyc-webhook-idempotency";
    pub const JOURNEY_TABLE: &str = "kyc-journeys";
    pub const GATEWAY: &str = "127.0.0.1:3000";
    pub const EMULATOR_PORT: u16 = 4566;
}
