//! In-memory ports for unit tests and property tests. They follow the DynamoDB conditions and
//! the SQS FIFO deduplication closely enough to test the pipeline's outcomes, but the real
//! adapters are tested against a real DynamoDB/SQS-compatible server in `tests/`.

use crate::ports::{Claim, ClaimOutcome, EventSink, IdempotencyStore, OutgoingMessage, PortError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub status: &'static str,
    pub lease_expires_at_ms: i64,
    pub expires_at_s: i64,
    pub payload_hash: String,
    pub message_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
    /// When set, every call fails (DynamoDB down).
    pub fail: AtomicBool,
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

    fn enter(&self) -> Result<(), PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            Err(PortError("memory store: unavailable".into()))
        } else {
            Ok(())
        }
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, PortError> {
        self.enter()?;
        let mut records = self.lock();
        if let Some(old) = records.get(&claim.key) {
            let expired = old.expires_at_s * 1000 < claim.now_ms;
            let lease_over = old.status == "IN_PROGRESS" && old.lease_expires_at_ms < claim.now_ms;
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
                message_id: None,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete(&self, claim: &Claim, message_id: &str) -> Result<(), PortError> {
        self.enter()?;
        if let Some(r) = self.lock().get_mut(&claim.key) {
            r.status = "COMPLETED";
            r.message_id = Some(message_id.to_owned());
        }
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), PortError> {
        self.enter()?;
        let mut records = self.lock();
        let ours = records.get(&claim.key).is_some_and(|r| {
            r.status == "IN_PROGRESS" && r.lease_expires_at_ms == claim.lease_expires_at_ms
        });
        if ours {
            records.remove(&claim.key);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct MemorySink {
    messages: Mutex<Vec<OutgoingMessage>>,
    /// When set, every send fails (SQS down).
    pub fail: AtomicBool,
}

impl MemorySink {
    pub fn messages(&self) -> Vec<OutgoingMessage> {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl EventSink for MemorySink {
    async fn send(&self, message: &OutgoingMessage) -> Result<String, PortError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(PortError("memory sink: unavailable".into()));
        }
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.push(message.clone());
        Ok(format!("m-{}", messages.len()))
    }
}
