//! In-memory ports for unit tests and property tests: an event sink and a journey store (the
//! in-memory idempotency store is `lambda_idempotency::MemoryStore`). The real adapters are
//! tested against a real DynamoDB/SQS-compatible server in `tests/`.

use crate::ports::{
    Claim, EventSink, FaultKind, IdempotencyStore, OutgoingMessage, PortError, Settled,
};
use lambda_idempotency::MemoryStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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
                FaultKind::Rejected,
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
    pub state: crate::journeys::worker::JourneyUpdate,
    pub event_count: u64,
    /// On the sweeper's list until then, epoch ms; `None` when closed or reported stalled.
    pub due_at_ms: Option<i64>,
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

impl crate::journeys::worker::JourneyStore for MemoryJourneys {
    async fn apply(
        &self,
        update: &crate::journeys::worker::JourneyUpdate,
        claim: &Claim,
    ) -> Result<crate::journeys::worker::Applied, PortError> {
        use crate::journeys::worker::{Applied, Sweep, UpdateKind};
        if self.store.complete(claim, "").await? == Settled::NotOurs {
            return Err(PortError::new(
                "memory journeys",
                FaultKind::Conflict,
                "the claim is no longer ours",
            ));
        }
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if let UpdateKind::Stalled { refers_to } = &update.kind {
            if let Some(item) = items.get_mut(&update.pk) {
                if item.state.event_id == *refers_to {
                    item.due_at_ms = None;
                }
            }
            return Ok(Applied::Acknowledged);
        }
        let fresh = !items.contains_key(&update.pk);
        let item = items.entry(update.pk.clone()).or_insert(JourneyItem {
            state: update.clone(),
            event_count: 0,
            due_at_ms: None,
        });
        item.event_count += 1;
        item.state.updated_at.clone_from(&update.updated_at);
        let newest = match update.kind {
            UpdateKind::Started => fresh,
            // A start's state loses to any event, whatever its time.
            _ => {
                matches!(item.state.kind, UpdateKind::Started)
                    || item.state.time_ms <= update.time_ms
            }
        };
        if !newest {
            return Ok(Applied::Older);
        }
        item.state = update.clone();
        item.due_at_ms = match update.sweep {
            Sweep::Due(ms) => Some(ms),
            Sweep::Close => None,
        };
        Ok(Applied::Newest)
    }
}
