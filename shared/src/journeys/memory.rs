//! In-memory ports of the journey worker for its unit tests: a journey store that completes its
//! claims on the `lambda_idempotency::MemoryStore` it shares with the worker, and a journey
//! stream. The real adapters are tested against a real DynamoDB/SNS-compatible server in
//! `tests/`.

use crate::fault::{Fault, FaultKind};
use lambda_idempotency::Claim;
use lambda_idempotency::MemoryStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// In-memory journey stream: what was published, what was deferred, and a switch that makes
/// every publish fail (the topic unreachable).
#[derive(Debug, Default)]
pub struct MemoryStream {
    published: Mutex<Vec<crate::journeys::stream::StreamMessage>>,
    deferred: Mutex<Vec<(String, i32)>>,
    fail: AtomicBool,
}

impl MemoryStream {
    pub fn messages(&self) -> Vec<crate::journeys::stream::StreamMessage> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Each deferred record's receipt handle and wait, in seconds.
    pub fn deferred(&self) -> Vec<(String, i32)> {
        self.deferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_failing(&self, failing: bool) {
        self.fail.store(failing, Ordering::SeqCst);
    }
}

impl crate::journeys::stream::JourneyStream for MemoryStream {
    async fn publish(&self, message: &crate::journeys::stream::StreamMessage) -> Result<(), Fault> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Fault::new(
                "memory stream",
                FaultKind::Unavailable,
                "unreachable",
            ));
        }
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.clone());
        Ok(())
    }

    async fn defer(&self, receipt_handle: &str, secs: i32) {
        self.deferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((receipt_handle.to_owned(), secs));
    }
}

/// A journey item as the in-memory journey store keeps it: the newest event's update, and the
/// number of events applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyItem {
    pub state: crate::journeys::worker::JourneyUpdate,
    pub event_count: u64,
    /// On the sweeper's list until then, epoch ms; `None` when closed.
    pub due_at_ms: Option<i64>,
    /// Reported stalled (until an event moves it).
    pub stalled: bool,
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
    ) -> Result<
        (
            crate::journeys::worker::Applied,
            crate::journeys::stream::Published,
            lambda_idempotency::Completed,
        ),
        Fault,
    > {
        use crate::journeys::worker::{Applied, Seen, Sweep};
        let seen = {
            let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            items.get(&update.pk).map(|item| Seen {
                event_type: Some(item.state.event_type.clone()),
                event_id: Some(item.state.event_id.clone()),
                time_ms: Some(item.state.time_ms),
                event_count: item.event_count,
                shard: match (item.stalled, item.due_at_ms) {
                    (true, _) => Some(crate::journeys::worker::SWEEP_SHARD_STALLED.to_owned()),
                    (false, Some(_)) => Some(crate::journeys::worker::SWEEP_SHARD_OPEN.to_owned()),
                    (false, None) => None,
                },
                due: item.due_at_ms.is_some(),
                closed: item.due_at_ms.is_none() && !item.stalled,
            })
        };
        let seen = seen.unwrap_or_default();
        let (applied, state, count) = seen.decide(update);
        let published = applied.published(state, count);
        let completed = match self.store.complete_with(claim, &published.kept()).await {
            Ok(completed) => completed,
            Err(lambda_idempotency::NotCommitted::Store(e)) => return Err(e.into()),
            Err(_) => {
                return Err(Fault::new(
                    "memory journeys",
                    FaultKind::Conflict,
                    "the claim is no longer ours",
                ))
            }
        };
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        match applied {
            Applied::Superseded => {}
            Applied::Acknowledged => {
                if let Some(item) = items.get_mut(&update.pk) {
                    item.stalled = true;
                }
            }
            Applied::Older => {
                if let Some(item) = items.get_mut(&update.pk) {
                    item.event_count = count;
                    item.state.updated_at.clone_from(&update.updated_at);
                }
            }
            Applied::Newest => {
                let due_at_ms = match update.sweep {
                    Sweep::Due(ms) => Some(ms),
                    Sweep::Close => None,
                };
                items.insert(
                    update.pk.clone(),
                    JourneyItem {
                        state: update.clone(),
                        event_count: count,
                        due_at_ms,
                        stalled: false,
                    },
                );
            }
        }
        Ok((applied, published, completed))
    }
}
