//! The pipeline's two narrow ports. DynamoDB and SQS implement them in `aws`; `memory` has
//! in-memory versions for unit tests.

use std::future::Future;

/// What kind of fault a port met: the log tells throttling, timeouts, permanent refusals and
/// outages apart, because an operator acts differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The service asked us to slow down.
    Throttled,
    /// The call did not finish in its time budget (the SDK's, or what the invocation had left).
    Timeout,
    /// The service refused the request as invalid: no retry can fix it.
    Refused,
    /// What the call was conditioned on changed (another attempt took the claim over): a later
    /// retry is right.
    Conflict,
    /// Anything else: connection failures, 5xx, unknown errors.
    Unavailable,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Refused => "refused",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A fault in DynamoDB or SQS (or whatever implements a port): the operation, its kind and the
/// source error's text. Answered 503, so the provider retries. For logs only; it never reaches a
/// response body, and it never carries a message body or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({}): {detail}", .kind.as_str())]
pub struct PortError {
    /// e.g. `DynamoDB PutItem`, `SQS SendMessage`.
    pub operation: &'static str,
    pub kind: FaultKind,
    pub detail: String,
}

impl PortError {
    pub fn new(operation: &'static str, kind: FaultKind, detail: impl Into<String>) -> Self {
        Self {
            operation,
            kind,
            detail: detail.into(),
        }
    }

    /// The call ran out of the time the invocation had left for it.
    pub fn out_of_time(operation: &'static str) -> Self {
        Self::new(
            operation,
            FaultKind::Timeout,
            "stopped so the protocol ends before the invocation's deadline",
        )
    }
}

/// An `IN_PROGRESS` claim on an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `<source>#<event id>`.
    pub key: String,
    /// Random, one per delivery attempt: completes and releases are conditioned on it, so a late
    /// invocation never touches a claim another delivery took over, and a claim found carrying it
    /// is our own earlier attempt (an SDK retry of a put that did succeed).
    pub owner: String,
    /// Epoch ms after which another delivery may take the claim over.
    pub lease_expires_at_ms: i64,
    /// Epoch seconds: the record's TTL.
    pub expires_at_s: i64,
    pub payload_hash: String,
    /// The claimant's clock, epoch ms: decides whether an existing record has expired.
    pub now_ms: i64,
}

impl Claim {
    /// A fresh random owner id (128 bits, hex).
    pub fn new_owner() -> String {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness (never seen on Lambda): fall back to the clock and a counter,
            // which is still unique per attempt within this process.
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            bytes[..8].copy_from_slice(&(t as u64).to_le_bytes());
            bytes[8..].copy_from_slice(&n.to_le_bytes());
        }
        hex::encode(bytes)
    }
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

/// What a conditional complete or release found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The record was still our claim and is now updated (or deleted).
    Done,
    /// The record is no longer our claim (its lease ran out and another delivery took it over,
    /// or it is gone): left untouched.
    NotOurs,
}

impl<T: IdempotencyStore> IdempotencyStore for std::sync::Arc<T> {
    fn claim(&self, claim: &Claim) -> impl Future<Output = Result<ClaimOutcome, PortError>> + Send {
        (**self).claim(claim)
    }
    fn complete(
        &self,
        claim: &Claim,
        message_id: &str,
    ) -> impl Future<Output = Result<Settled, PortError>> + Send {
        (**self).complete(claim, message_id)
    }
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<Settled, PortError>> + Send {
        (**self).release(claim)
    }
}

pub trait IdempotencyStore: Send + Sync {
    /// Conditionally create the `IN_PROGRESS` record: succeed when there is no record, its TTL
    /// has passed, or it is `IN_PROGRESS` with an expired lease. A record carrying this claim's
    /// owner is our own earlier attempt and counts as claimed.
    fn claim(&self, claim: &Claim) -> impl Future<Output = Result<ClaimOutcome, PortError>> + Send;
    /// Mark the claim `COMPLETED` with the queue's message id, only while it is still ours.
    fn complete(
        &self,
        claim: &Claim,
        message_id: &str,
    ) -> impl Future<Output = Result<Settled, PortError>> + Send;
    /// Delete our own `IN_PROGRESS` claim (after a failed send), so the retry is not held off.
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<Settled, PortError>> + Send;
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

/// The data type SQS records for our two message attributes.
pub const ATTRIBUTE_DATA_TYPE: &str = "String";

impl OutgoingMessage {
    /// The size SQS counts against `MaximumMessageSize`: the body plus each message attribute's
    /// name, data type and value.
    pub fn size(&self) -> usize {
        attributes_size(&self.event_type, &self.source) + self.body.len()
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
