//! The persistence port: claim a key, complete it, release it. `DynamoDbStore` implements it on
//! DynamoDB, `MemoryStore` in memory (for unit tests).

use crate::Fault;
use std::future::Future;

/// The status of a claimed key whose operation has not completed.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
/// The status of a key whose operation completed.
pub const COMPLETED: &str = "COMPLETED";

/// An `IN_PROGRESS` claim on an idempotency key, as `Idempotency` makes it for a store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The idempotency key, e.g. `orders#42`.
    pub key: String,
    /// Random, one per delivery attempt: completes and releases are conditioned on it, so a late
    /// invocation never touches a claim another delivery took over, and a claim found carrying it
    /// is our own earlier attempt (an SDK retry of a put that did succeed).
    pub owner: String,
    /// Epoch ms after which another delivery may take the claim over.
    pub lease_expires_at_ms: i64,
    /// Epoch seconds: the record's TTL.
    pub expires_at_s: i64,
    /// The attempt's fingerprint of its request (`Attempt::fingerprint`).
    pub payload_hash: String,
    /// The claimant's clock, epoch ms: decides whether an existing record has expired.
    pub now_ms: i64,
}

impl Claim {
    /// A claim as `Idempotency::run` makes one: for testing a store, or for driving a store
    /// without the state machine.
    pub fn new(
        key: impl Into<String>,
        owner: impl Into<String>,
        lease_expires_at_ms: i64,
        expires_at_s: i64,
        payload_hash: impl Into<String>,
        now_ms: i64,
    ) -> Self {
        Self {
            key: key.into(),
            owner: owner.into(),
            lease_expires_at_ms,
            expires_at_s,
            payload_hash: payload_hash.into(),
            now_ms,
        }
    }

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
#[non_exhaustive]
pub enum ClaimOutcome {
    /// The key is ours: go on and run the operation.
    Claimed,
    /// Already done. `payload_hash` is the fingerprint stored with it, to spot a key reused for
    /// another request; `kept` what the operation kept (`Completion::Keep`).
    Completed {
        /// The fingerprint stored with the record, when it has one.
        payload_hash: Option<String>,
        /// What the operation kept.
        kept: Option<String>,
    },
    /// Another attempt holds a live claim.
    InProgress,
}

/// What a conditional complete or release found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settled {
    /// The record was still our claim and is now updated (or deleted).
    Done,
    /// The record is no longer our claim (its lease ran out and another delivery took it over,
    /// or it is gone): left untouched.
    NotOurs,
}

impl<T: IdempotencyStore> IdempotencyStore for std::sync::Arc<T> {
    fn claim(&self, claim: &Claim) -> impl Future<Output = Result<ClaimOutcome, Fault>> + Send {
        (**self).claim(claim)
    }
    fn complete(
        &self,
        claim: &Claim,
        kept: &str,
    ) -> impl Future<Output = Result<Settled, Fault>> + Send {
        (**self).complete(claim, kept)
    }
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<Settled, Fault>> + Send {
        (**self).release(claim)
    }
}

/// Where the records live: claim a key, complete it, release it, each conditioned on the claim
/// still being this attempt's. `DynamoDbStore` in production; `MemoryStore` (feature
/// `test-util`) in unit tests.
pub trait IdempotencyStore: Send + Sync {
    /// Conditionally create the `IN_PROGRESS` record: succeed when there is no record, its TTL
    /// has passed, or it is `IN_PROGRESS` with an expired lease. A record carrying this claim's
    /// owner is our own earlier attempt and counts as claimed.
    fn claim(&self, claim: &Claim) -> impl Future<Output = Result<ClaimOutcome, Fault>> + Send;
    /// Mark the claim `COMPLETED`, keeping `kept` (what the operation asked to keep, e.g. a
    /// queue's message id or a receipt), only while it is still ours.
    fn complete(
        &self,
        claim: &Claim,
        kept: &str,
    ) -> impl Future<Output = Result<Settled, Fault>> + Send;
    /// Delete our own `IN_PROGRESS` claim (after a failed operation), so a retry is not held off.
    fn release(&self, claim: &Claim) -> impl Future<Output = Result<Settled, Fault>> + Send;
}
