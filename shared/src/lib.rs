//! KYC webhook intake and journeys: authenticate each provider's webhooks, normalize them to one
//! CloudEvents schema, claim an idempotency key in DynamoDB, archive the raw delivery in S3 and
//! forward each event to SQS; keep each journey's state from those events; reconcile or report
//! the journeys a missing webhook left hanging.
//!
//! A concern is a folder:
//! - `intake/`: one delivery, from the request to the queue (authentication, normalization, the
//!   archive, the pipeline and its settings).
//! - `sources/`: the providers, one folder each, and the registry of the functions that serve
//!   them.
//! - `journeys/`: what happens after the queue (the worker, the timeline, the senders it
//!   believes, completeness and the sweeper).
//! - `secrets/`: secret settings' refresh from Secrets Manager.
//! - `aws/`: the adapters of the ports on the AWS SDK, and the archive's reader.
//! - `replay/`: replay from the archive (the `archive-replay` function's request and answer).
//!
//! - `runtime/`: running a function: `startup` builds it from its environment, `lambda` serves
//!   it, `telemetry` sets up its logs; one entry per kind of function (`webhook`,
//!   `journey_worker`, `journey_sweeper`, `archive_replay`).
//!
//! Beside them: `config` (the environment and secret values), `event` (the schema), `fault`
//! (what every port reports), `metrics`, `trace`.
//! Lambda's own types stay in `runtime/`, and each room's in-memory fakes for tests beside the
//! ports they fake (`intake::memory`, `journeys::memory`). No module imports one that imports it
//! back (tests hold these).
#![forbid(unsafe_code)]

pub mod aws;
pub mod config;
pub mod event;
pub mod fault;
pub mod intake;
pub mod journeys;
pub mod metrics;
pub mod replay;
pub mod runtime;
pub mod secrets;
pub mod sources;
pub mod trace;

pub use event::KycEvent;
pub use intake::inbound::Inbound;
pub use intake::outcome::{Outcome, Refusal};
pub use intake::pipeline::Pipeline;
pub use intake::settings::Settings;
