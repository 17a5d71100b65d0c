//! `MemoryStore`: the idempotency records in memory, following DynamoDB's conditions, for unit
//! tests of code that uses `Idempotency`. It can be told to fail or hang.

use crate::{Claim, ClaimOutcome, Fault, FaultKind, IdempotencyStore, Settled};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// One record, as DynamoDB would hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub status: &'static str,
    pub lease_expires_at_ms: i64,
    pub expires_at_s: i64,
    pub payload_hash: String,
    pub owner: String,
    pub message_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    /// When set, every call fails (the store is down).
    pub fail: AtomicBool,
    /// When set, claims never answer (the store hangs).
    pub hang: AtomicBool,
    pub calls: AtomicUsize,
}

impl MemoryStore {
    pub fn records(&self) -> HashMap<String, Record> {
        self.lock().clone()
    }

    pub fn insert(&self, key: &str, record: Record) {
        self.lock().insert(key.to_owned(), record);
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
            let expired = old.expires_at_s * 1000 < claim.now_ms;
            let lease_over = old.status == "IN_PROGRESS" && old.lease_expires_at_ms < claim.now_ms;
            let ours = old.status == "IN_PROGRESS" && old.owner == claim.owner;
            if ours {
                return Ok(ClaimOutcome::Claimed);
            }
            if !expired && !lease_over {
                return Ok(if old.status == "COMPLETED" {
                    ClaimOutcome::Completed {
                        payload_hash: Some(old.payload_hash.clone()),
                    }
                } else {
                    ClaimOutcome::InProgress
                });
            }
        }
        records.insert(
            claim.key.clone(),
            Record {
                status: "IN_PROGRESS",
                lease_expires_at_ms: claim.lease_expires_at_ms,
                expires_at_s: claim.expires_at_s,
                payload_hash: claim.payload_hash.clone(),
                owner: claim.owner.clone(),
                message_id: None,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete(&self, claim: &Claim, message_id: &str) -> Result<Settled, Fault> {
        self.enter()?;
        let mut records = self.lock();
        match records.get_mut(&claim.key) {
            Some(r) if is_ours(r, claim) => {
                r.status = "COMPLETED";
                r.message_id = Some(message_id.to_owned());
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
    r.status == "IN_PROGRESS" && r.owner == claim.owner
}
