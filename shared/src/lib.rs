//! KYC webhook intake: authenticate HyperVerge and Cashfree Secure ID webhooks, normalize them to
//! one CloudEvents schema, claim an idempotency key in DynamoDB and forward each event to SQS
//! exactly once.
//!
//! The domain (authentication, sources, normalization, the pipeline and its ports) knows nothing
//! of Lambda; `lambda` turns a `lambda_http::Request` into the pipeline's input and back.
#![forbid(unsafe_code)]

pub mod archive;
pub mod auth;
pub mod aws;
pub mod completeness;
pub mod config;
pub mod event;
pub mod journey;
pub mod lambda;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod metrics;
pub mod normalize;
pub mod pipeline;
pub mod ports;
pub mod registry;
pub mod secret;
pub mod secrets_manager;
pub mod senders;
pub mod sources;
pub mod startup;
pub mod sweeper;
pub mod telemetry;
pub mod timeline;

pub use event::KycEvent;
pub use pipeline::{Inbound, Outcome, Pipeline, Refusal, Settings};
