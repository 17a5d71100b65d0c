//! In-memory ports of the intake for unit tests, property tests and the in-process bench: an
//! event sink, an archive and a key vault (the in-memory idempotency store is
//! `lambda_idempotency::MemoryStore`). The real adapters are tested against a real
//! DynamoDB/SQS/S3-compatible server in `tests/`.

use crate::fault::{Fault, FaultKind};
use crate::intake::archive::Archive;
use crate::intake::queue::{EventSink, OutgoingMessage};
use crate::intake::seal::{DataKey, KeyVault};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
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
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<String, Fault>> {
        Box::pin(async move {
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(Fault::new(
                    "memory sink",
                    FaultKind::Unavailable,
                    "unavailable",
                ));
            }
            if self.refuse.load(Ordering::SeqCst) {
                return Err(Fault::new(
                    "memory sink",
                    FaultKind::Rejected,
                    "InvalidMessageContents",
                ));
            }
            let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
            messages.push(message.clone());
            Ok(format!("m-{}", messages.len()))
        })
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
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Fault::new(
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
    ) -> Pin<Box<dyn Future<Output = Result<DataKey, Fault>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Fault::new(
                    "memory vault",
                    FaultKind::Unavailable,
                    "unavailable",
                ));
            }
            let mut plaintext = [0u8; 32];
            getrandom::fill(&mut plaintext)
                .map_err(|_| Fault::new("memory vault", FaultKind::Rejected, "no random"))?;
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
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>> {
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
