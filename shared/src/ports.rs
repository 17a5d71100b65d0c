//! Two of the pipeline's ports: the idempotency store (the `lambda-idempotency` crate's port, on
//! DynamoDB there) and the event sink (SQS in `aws`), and the fault every port reports. The
//! pipeline's other collaborators are traits of their own rooms (the archive, the key vault, the
//! attestor, the metrics sink, the secrets' refresh). `memory` has an in-memory sink and journey
//! store for unit tests; the in-memory idempotency store is the crate's.

use std::future::Future;

/// A fault of any port (DynamoDB, SQS, Secrets Manager): the idempotency crate's `Fault`, so the
/// log tells throttling, timeouts, permanent refusals and outages apart the same way everywhere.
/// Answered 503, so the provider retries; it never reaches a response body.
pub use lambda_idempotency::Fault as PortError;
pub use lambda_idempotency::{Claim, ClaimOutcome, FaultKind, IdempotencyStore, Settled};

/// One error line for a port fault: the operation, the kind, the source error (never a payload).
pub fn log_fault(e: &PortError, what: &str) {
    tracing::error!(
        operation = e.operation,
        fault = e.kind.as_str(),
        error = %e,
        "{what}"
    );
}

/// A message for the events queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// FIFO only.
    pub group_id: String,
    /// FIFO only: the event id.
    pub deduplication_id: String,
    /// Message attribute `type`.
    pub event_type: String,
    /// Message attribute `source`.
    pub source: String,
    /// Message attribute `replay`: the replay id, on an event sent again from the archive.
    pub replay: Option<String>,
    /// The X-Ray trace header of the invocation that made it: SQS's system attribute
    /// `AWSTraceHeader`, which links the consumer's invocation to that trace.
    pub trace_header: Option<String>,
}

/// The data type SQS records for our two message attributes.
pub const ATTRIBUTE_DATA_TYPE: &str = "String";

impl OutgoingMessage {
    /// The size SQS counts against `MaximumMessageSize`: the body plus each message attribute's
    /// name, data type and value.
    pub fn size(&self) -> usize {
        let replay = self
            .replay
            .as_ref()
            .map_or(0, |r| "replay".len() + r.len() + ATTRIBUTE_DATA_TYPE.len());
        attributes_size(&self.event_type, &self.source) + replay + self.body.len()
    }
}

/// The bytes the `type` and `source` message attributes add to a message's size.
pub fn attributes_size(event_type: &str, source: &str) -> usize {
    [
        "type".len() + event_type.len(),
        "source".len() + source.len(),
    ]
    .iter()
    .map(|n| n + ATTRIBUTE_DATA_TYPE.len())
    .sum()
}

pub trait EventSink: Send + Sync {
    /// Send one message; returns the queue's message id.
    fn send(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}
