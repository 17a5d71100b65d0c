//! In-memory ports for unit tests and property tests. They follow the DynamoDB conditions and
//! the SQS FIFO deduplication closely enough to test the pipeline's outcomes, but the real
//! adapters are tested against a real DynamoDB/SQS-compatible server in `tests/`.

use crate::ports::{
    Claim, ClaimOutcome, EventSink, FaultKind, IdempotencyStore, OutgoingMessage, PortError,
    Settled,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// When set, every call fails (DynamoDB down).
    pub fail: AtomicBool,
    /// When set, claims never answer (DynamoDB hanging).
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

    fn enter(&self) -> Result<(), PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            Err(PortError::new(
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
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, PortError> {
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

    async fn complete(&self, claim: &Claim, message_id: &str) -> Result<Settled, PortError> {
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

    async fn release(&self, claim: &Claim) -> Result<Settled, PortError> {
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

#[derive(Debug, Default)]
pub struct MemorySink {
    messages: Mutex<Vec<OutgoingMessage>>,
    /// When set, every send fails (SQS down).
    pub fail: AtomicBool,
    /// When set, sends never answer (SQS hanging).
    pub hang: AtomicBool,
    /// When set, every send is refused as invalid (what normalization makes impossible).
    pub refuse: AtomicBool,
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
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(PortError::new(
                "memory sink",
                FaultKind::Unavailable,
                "unavailable",
            ));
        }
        if self.refuse.load(Ordering::SeqCst) {
            return Err(PortError::new(
                "memory sink",
                FaultKind::Refused,
                "InvalidMessageContents",
            ));
        }
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.push(message.clone());
        Ok(format!("m-{}", messages.len()))
    }
}

/// A journey item as the in-memory journey store keeps it: the newest event's update, and the
/// number of events applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyItem {
    pub state: crate::journey::JourneyUpdate,
    pub event_count: u64,
}

/// In-memory journey table; completes claims on the `MemoryStore` it shares with the worker.
#[derive(Debug)]
pub struct MemoryJourneys {
    items: Mutex<HashMap<String, JourneyItem>>,
    store: std::sync::Arc<MemoryStore>,
}

impl MemoryJourneys {
    pub fn new(store: std::sync::Arc<MemoryStore>) -> Self {
        Self {
            items: Mutex::default(),
            store,
        }
    }

    pub fn items(&self) -> HashMap<String, JourneyItem> {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self) -> &MemoryStore {
        &self.store
    }
}

impl crate::journey::JourneyStore for MemoryJourneys {
    async fn apply(
        &self,
        update: &crate::journey::JourneyUpdate,
        claim: &Claim,
    ) -> Result<crate::journey::Applied, PortError> {
        use crate::journey::Applied;
        if self.store.complete(claim, "").await? == Settled::NotOurs {
            return Err(PortError::new(
                "memory journeys",
                FaultKind::Conflict,
                "the claim is no longer ours",
            ));
        }
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let item = items.entry(update.pk.clone()).or_insert(JourneyItem {
            state: update.clone(),
            event_count: 0,
        });
        item.event_count += 1;
        item.state.updated_at.clone_from(&update.updated_at);
        if item.state.time_ms > update.time_ms {
            return Ok(Applied::Older);
        }
        item.state = update.clone();
        Ok(Applied::Newest)
    }
}
