//! In-memory ports for unit tests and property tests: an event sink, a journey store, a journey
//! stream, an archive and a key vault (the in-memory idempotency store is `lambda_idempotency::MemoryStore`). The real adapters are
//! tested against a real DynamoDB/SQS-compatible server in `tests/`.

use crate::intake::archive::Archive;
use crate::intake::seal::{DataKey, KeyVault};
use crate::ports::{Claim, EventSink, FaultKind, OutgoingMessage, PortError};
use lambda_idempotency::MemoryStore;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
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
    async fn publish(
        &self,
        message: &crate::journeys::stream::StreamMessage,
    ) -> Result<(), PortError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(PortError::new(
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
        PortError,
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
            Err(lambda_idempotency::NotCommitted::Store(e)) => return Err(e),
            Err(_) => {
                return Err(PortError::new(
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

/// An archive in memory, for unit tests: it can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryArchive {
    pub objects: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
    pub fail: std::sync::atomic::AtomicBool,
}

impl Archive for MemoryArchive {
    fn put_new<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), PortError>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(PortError::new(
                    "memory archive",
                    FaultKind::Unavailable,
                    "unavailable",
                ));
            }
            self.objects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key.to_owned())
                .or_insert(body);
            Ok(())
        })
    }
}

/// (journey, event id) → the wrapped keys kept for it, in order.
pub type KeptKeys = std::collections::BTreeMap<(String, String), Vec<Vec<u8>>>;

/// A key vault in memory, for unit tests: the "wrapped" key is the plaintext itself.
#[derive(Debug, Default)]
pub struct MemoryVault {
    pub kept: std::sync::Mutex<KeptKeys>,
    pub fail: std::sync::atomic::AtomicBool,
}

impl KeyVault for MemoryVault {
    fn generate<'a>(
        &'a self,
        _journey: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<DataKey, PortError>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(PortError::new(
                    "memory vault",
                    FaultKind::Unavailable,
                    "unavailable",
                ));
            }
            let mut plaintext = [0u8; 32];
            getrandom::fill(&mut plaintext)
                .map_err(|_| PortError::new("memory vault", FaultKind::Rejected, "no random"))?;
            Ok(DataKey {
                plaintext,
                wrapped: plaintext.to_vec(),
            })
        })
    }

    fn keep<'a>(
        &'a self,
        partition: &'a str,
        event_id: &'a str,
        wrapped: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), PortError>> + Send + 'a>> {
        Box::pin(async move {
            self.kept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry((partition.to_owned(), event_id.to_owned()))
                .or_default()
                .push(wrapped.to_vec());
            Ok(())
        })
    }
}
