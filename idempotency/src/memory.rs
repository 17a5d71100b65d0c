//! `MemoryStore`: the idempotency records in memory, following DynamoDB's conditions and its
//! expiry rule (a record is gone once its `expires_at` second is before the claimant's second),
//! for unit tests of code that uses `Idempotency`. It can be told to fail or hang. Behind the
//! `test-util` feature.

use crate::{Claim, ClaimOutcome, Completed, Fault, FaultKind, IdempotencyStore, NotCommitted};
use crate::{Settled, COMPLETED, IN_PROGRESS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// One record, as DynamoDB would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `IN_PROGRESS` or `COMPLETED`.
    pub status: &'static str,
    /// When an `IN_PROGRESS` claim's lease runs out, epoch ms.
    pub lease_expires_at_ms: i64,
    /// When the record is forgotten (DynamoDB's TTL), epoch seconds.
    pub expires_at_s: i64,
    /// The fingerprint of the request that claimed the key.
    pub payload_hash: String,
    /// The claiming attempt's random id.
    pub owner: String,
    /// What the operation kept, once `COMPLETED`.
    pub kept: Option<String>,
}

/// The records in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    fail: AtomicBool,
    hang: AtomicBool,
    calls: AtomicUsize,
}

impl MemoryStore {
    /// From now on every call fails (`true`: the store is down) or works again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.fail.store(failing, Ordering::SeqCst);
    }

    /// From now on claims never answer (`true`: the store hangs) or answer again (`false`).
    pub fn set_hanging(&self, hanging: bool) {
        self.hang.store(hanging, Ordering::SeqCst);
    }

    /// The calls made so far, failed ones included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Every record, by key.
    pub fn records(&self) -> HashMap<String, Record> {
        self.lock().clone()
    }

    /// Put `record` under `key`, as if an attempt had left it there.
    pub fn insert(&self, key: &str, record: Record) {
        self.lock().insert(key.to_owned(), record);
    }

    /// Mark `claim` completed keeping `kept`, as an operation's own write would
    /// (`DynamoDbStore::complete_with`): the proof an operation returns in `Completion::Done`.
    pub async fn complete_with(
        &self,
        claim: &Claim,
        kept: &str,
    ) -> Result<Completed, NotCommitted> {
        match self.complete(claim, kept).await {
            Ok(Settled::Done) => Ok(Completed::of(claim)),
            Ok(_) => Err(NotCommitted::NotOurs),
            Err(e) => Err(NotCommitted::Store(e)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self) -> Result<(), Fault> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            Err(Fault::new(
                "memory store",
                FaultKind::Unavailable,
                "unavailable",
            ))
        } else {
            Ok(())
        }
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, Fault> {
        self.enter()?;
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let mut records = self.lock();
        if let Some(old) = records.get(&claim.key) {
            // DynamoDB's rule (`expires_at < now` in seconds), to the second.
            let expired = old.expires_at_s < claim.now_ms.div_euclid(1000);
            let lease_over = old.status == IN_PROGRESS && old.lease_expires_at_ms < claim.now_ms;
            let ours = old.status == IN_PROGRESS && old.owner == claim.owner;
            if ours {
                return Ok(ClaimOutcome::Claimed);
            }
            if !expired && !lease_over {
                return Ok(if old.status == COMPLETED {
                    ClaimOutcome::Completed {
                        payload_hash: Some(old.payload_hash.clone()),
                        kept: old.kept.clone(),
                    }
                } else {
                    ClaimOutcome::InProgress
                });
            }
        }
        records.insert(
            claim.key.clone(),
            Record {
                status: IN_PROGRESS,
                lease_expires_at_ms: claim.lease_expires_at_ms,
                expires_at_s: claim.expires_at_s,
                payload_hash: claim.payload_hash.clone(),
                owner: claim.owner.clone(),
                kept: None,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete(&self, claim: &Claim, kept: &str) -> Result<Settled, Fault> {
        self.enter()?;
        let mut records = self.lock();
        match records.get_mut(&claim.key) {
            Some(r) if is_ours(r, claim) => {
                r.status = COMPLETED;
                r.kept = Some(kept.to_owned());
                Ok(Settled::Done)
            }
            _ => Ok(Settled::NotOurs),
        }
    }

    async fn release(&self, claim: &Claim) -> Result<Settled, Fault> {
        self.enter()?;
        let mut records = self.lock();
        if records.get(&claim.key).is_some_and(|r| is_ours(r, claim)) {
            records.remove(&claim.key);
            Ok(Settled::Done)
        } else {
            Ok(Settled::NotOurs)
        }
    }
}

fn is_ours(r: &Record, claim: &Claim) -> bool {
    r.status == IN_PROGRESS && r.owner == claim.owner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(expires_at_s: i64) -> Record {
        Record {
            status: COMPLETED,
            lease_expires_at_ms: 0,
            expires_at_s,
            payload_hash: "h".into(),
            owner: "earlier".into(),
            kept: Some("m-1".into()),
        }
    }

    // DynamoDB's condition is `expires_at < :now_s` with `:now_s` the claimant's whole second: a
    // record is still there during its `expires_at` second and gone from the next one.
    #[tokio::test]
    async fn a_record_expires_after_its_second_as_in_dynamodb() {
        let store = MemoryStore::default();
        store.insert("k", completed(100));
        let at = |now_ms: i64| Claim::new("k", "new", now_ms + 1_000, 200, "h", now_ms);
        assert!(matches!(
            store.claim(&at(100_999)).await,
            Ok(ClaimOutcome::Completed { .. })
        ));
        assert_eq!(store.claim(&at(101_000)).await, Ok(ClaimOutcome::Claimed));
        assert_eq!(store.records()["k"].owner, "new");
    }
}
