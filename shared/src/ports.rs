//! The pipeline's two narrow ports. DynamoDB and SQS implement them in `aws`; `memory` has
//! in-memory versions for unit tests.

use std::future::Future;

/// A fault in DynamoDB or SQS (or whatever implements a port). Always answered 503, so the
/// provider retries. The message is for logs; it never reaches a response body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// An `IN_PROGRESS` claim on an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `<source>#<event id>`.
    pub key: String,
    /// Epoch ms after which another delivery may take the claim over.
    pub lease_expires_at_ms: i64,
    /// Epoch seconds: the record's TTL.
    pub expires_at_s: i64,
    pub payload_hash: String,
    /// The claimant's clock, epoch ms: decides whether an existing record has expired.
    pub now_ms: i64,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key is ours: go on and send.
    Claimed,
    /// Already forwarded. `payload_hash` is the hash stored with it, to spot an id collision.
    Completed { payload_hash: Option<String> },
    /// Another delivery holds a live claim.
    InProgress,
}

pub trait IdempotencyStore: Send + Sync {
    /// Conditionally create the `IN_PROGRESS` record: succeed when there is no record, its TTL
    /// has passed, or it is `IN_PROGRESS` with an expired lease.
    fn claim(&self, claim: &Claim) -> impl Future<Output = Result<ClaimOutcome, PortError>> + Send;
    /// Mark the claim `COMPLETED` with the queue's message id.
    fn complete(
        &self,
        claim: &Claim,
        message_id: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Delete our own `IN_PROGRESS` claim (after a failed send), so the retry is not held off.
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<(), PortError>> + Send;
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
}

pub trait EventSink: Send + Sync {
    /// Send one message; returns the queue's message id.
    fn send(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<String, PortError>> + Send;
}
