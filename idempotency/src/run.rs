//! `Idempotency`: the state machine around an operation, over any `IdempotencyStore`.

use crate::{Claim, ClaimOutcome, Fault, IdempotencyStore, Settled};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How long after the invocation's deadline a claim stays protected: covers clock skew between
/// Lambda hosts and the time DynamoDB takes to see the claim.
pub const LEASE_MARGIN_MS: i64 = 10_000;
/// Lambda's longest possible timeout (15 minutes): no invocation's deadline is further away, so
/// no lease is longer than this plus `LEASE_MARGIN_MS`.
pub const MAX_INVOCATION_MS: i64 = 900_000;
/// The longest lease a claim can carry, in seconds.
pub const MAX_LEASE_SECS: u64 = ((MAX_INVOCATION_MS + LEASE_MARGIN_MS) / 1000) as u64;
/// Kept back at the end of the invocation to build and return the answer.
const ANSWER_RESERVE_MS: i64 = 300;
/// Kept back for each protocol step that must still follow the current one (after the claim:
/// the operation and the complete or release; after the operation: the complete or release).
const STEP_RESERVE: Duration = Duration::from_millis(1_000);

/// One attempt to run an operation under a key.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The idempotency key, e.g. `orders#42`.
    pub key: &'a str,
    /// A hash of the request: stored with the record, so a later attempt under the same key with
    /// another request can be told apart (`Run::AlreadyDone { same_request: false }`).
    pub fingerprint: String,
    /// The attempt's clock, epoch ms.
    pub now_ms: i64,
    /// When the invocation ends, epoch ms: the lease and every call's time budget derive from it.
    pub deadline_ms: i64,
}

/// What an attempt found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run<T> {
    /// This attempt ran the operation; here is its value.
    Ran(T),
    /// An earlier attempt completed the operation. `same_request` is false when that attempt's
    /// fingerprint differs from this one's.
    AlreadyDone { same_request: bool },
    /// Another attempt holds a live claim on the key: try again later.
    InProgress,
}

/// How the record of a successful operation becomes `COMPLETED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The utility marks it, keeping this short text (e.g. the queue's message id).
    Keep(String),
    /// The operation already did, atomically with its own write (a DynamoDB transaction with
    /// [`crate::DynamoDbStore::completion`]), so no crash can leave the effect without the mark.
    Done,
}

/// Why an attempt failed. Either way, nothing is left claimed by this attempt (best effort).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure<E> {
    /// Claiming the key failed: the operation did not run.
    Store(Fault),
    /// The operation failed or ran out of time: the claim was released so a retry runs it.
    Operation(E),
}

/// The time the invocation has left, shared out over the protocol's steps.
#[derive(Debug, Clone, Copy)]
struct Budget {
    end: Instant,
}

impl Budget {
    fn new(now_ms: i64, deadline_ms: i64) -> Self {
        let left = deadline_ms
            .saturating_sub(now_ms + ANSWER_RESERVE_MS)
            .max(0);
        let left = Duration::from_millis(u64::try_from(left).unwrap_or_default());
        Self {
            end: Instant::now() + left,
        }
    }

    /// Run a call that still has `steps_after` steps to follow; when it would eat into their
    /// share, stop it and report a timeout.
    async fn run<T, E: From<Fault>>(
        self,
        steps_after: u32,
        operation: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let until = self
            .end
            .checked_sub(STEP_RESERVE * steps_after)
            .unwrap_or_else(Instant::now);
        tokio::time::timeout_at(until, call)
            .await
            .unwrap_or_else(|_| Err(Fault::out_of_time(operation).into()))
    }
}

/// The state machine around an operation, over any `IdempotencyStore`.
#[derive(Debug)]
pub struct Idempotency<S> {
    store: S,
    ttl_secs: u64,
}

impl<S: IdempotencyStore> Idempotency<S> {
    /// Records are remembered `ttl_secs` after their claim.
    pub fn new(store: S, ttl_secs: u64) -> Self {
        Self { store, ttl_secs }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Run `operation` unless an attempt under the same key has completed it or is running it.
    /// The operation gets this attempt's claim and returns its value and how the record is to be
    /// completed.
    pub async fn run<T, E, F, Fut>(
        &self,
        attempt: &Attempt<'_>,
        operation: F,
    ) -> Result<Run<T>, Failure<E>>
    where
        F: FnOnce(&Claim) -> Fut,
        Fut: Future<Output = Result<(T, Completion), E>>,
        E: From<Fault> + std::fmt::Display,
    {
        let deadline_ms = attempt
            .deadline_ms
            .min(attempt.now_ms.saturating_add(MAX_INVOCATION_MS));
        let ttl = i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2000);
        let claim = Claim {
            key: attempt.key.to_owned(),
            owner: Claim::new_owner(),
            lease_expires_at_ms: deadline_ms + LEASE_MARGIN_MS,
            expires_at_s: attempt.now_ms.div_euclid(1000).saturating_add(ttl),
            payload_hash: attempt.fingerprint.clone(),
            now_ms: attempt.now_ms,
        };
        let budget = Budget::new(attempt.now_ms, deadline_ms);

        match budget
            .run(2, "idempotency claim", self.store.claim(&claim))
            .await
        {
            Ok(ClaimOutcome::Claimed) => {}
            Ok(ClaimOutcome::Completed { payload_hash }) => {
                let same_request = payload_hash.is_none_or(|h| h == claim.payload_hash);
                return Ok(Run::AlreadyDone { same_request });
            }
            Ok(ClaimOutcome::InProgress) => return Ok(Run::InProgress),
            Err(e) => return Err(Failure::Store(e)),
        }

        let (value, completion) = match budget.run(1, "operation", operation(&claim)).await {
            Ok(done) => done,
            Err(e) => {
                match budget
                    .run(0, "idempotency release", self.store.release(&claim))
                    .await
                {
                    Ok(Settled::Done) => {}
                    Ok(Settled::NotOurs) => tracing::warn!(
                        "the claim was taken over by another attempt before it could be released"
                    ),
                    Err(e) => {
                        log_fault(&e, "releasing the claim failed; it expires with its lease")
                    }
                }
                return Err(Failure::Operation(e));
            }
        };
        let Completion::Keep(kept) = completion else {
            return Ok(Run::Ran(value));
        };
        match budget
            .run(
                0,
                "idempotency complete",
                self.store.complete(&claim, &kept),
            )
            .await
        {
            Ok(Settled::Done) => {}
            // The operation's effect stands either way. Another attempt took the claim over after
            // our lease ran out: it runs the operation too.
            Ok(Settled::NotOurs) => tracing::warn!(
                kept,
                "done, but the claim had been taken over by another attempt: left as it is"
            ),
            // The record stays IN_PROGRESS until its lease ends; a later attempt then runs the
            // operation again.
            Err(e) => log_fault(&e, "done, but marking the claim completed failed"),
        }
        Ok(Run::Ran(value))
    }
}

/// One error line for a port fault: the operation, the kind, the source error.
pub fn log_fault(e: &Fault, what: &str) {
    tracing::error!(
        operation = e.operation,
        fault = e.kind.as_str(),
        error = %e,
        "{what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryStore, Record};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn attempt(key: &str, now_ms: i64) -> Attempt<'_> {
        Attempt {
            key,
            fingerprint: "f".into(),
            now_ms,
            deadline_ms: now_ms + 3_000,
        }
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    }

    /// An operation that counts its runs and returns `Ok` unless told to fail.
    fn counted(
        runs: &Arc<AtomicUsize>,
        fail: bool,
    ) -> impl FnOnce(&Claim) -> std::future::Ready<Result<(usize, Completion), Fault>> {
        let runs = runs.clone();
        move |_| {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(if fail {
                Err(Fault::new("op", crate::FaultKind::Unavailable, "down"))
            } else {
                Ok((n, Completion::Keep(format!("result-{n}"))))
            })
        }
    }

    #[tokio::test]
    async fn runs_once_then_reports_done() {
        let idem = Idempotency::new(MemoryStore::default(), 60);
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::Ran(1))
        );
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::AlreadyDone { same_request: true })
        );
        let mut other = attempt("k", t);
        other.fingerprint = "g".into();
        assert_eq!(
            idem.run(&other, counted(&runs, false)).await,
            Ok(Run::AlreadyDone {
                same_request: false
            })
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let record = &idem.store().records()["k"];
        assert_eq!(
            (record.status, record.message_id.as_deref()),
            ("COMPLETED", Some("result-1"))
        );
        assert_eq!(record.expires_at_s, t / 1000 + 60);
    }

    #[tokio::test]
    async fn a_failed_operation_frees_the_key() {
        let idem = Idempotency::new(MemoryStore::default(), 60);
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        assert!(matches!(
            idem.run(&attempt("k", t), counted(&runs, true)).await,
            Err(Failure::Operation(_))
        ));
        assert!(idem.store().records().is_empty(), "released");
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::Ran(2))
        );
    }

    #[tokio::test]
    async fn a_live_claim_holds_and_a_lapsed_one_is_taken_over() {
        let idem = Idempotency::new(MemoryStore::default(), 60);
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        idem.store().insert(
            "k",
            Record {
                status: "IN_PROGRESS",
                lease_expires_at_ms: t + 1_000,
                expires_at_s: t / 1000 + 60,
                payload_hash: "f".into(),
                owner: "a crashed attempt".into(),
                message_id: None,
            },
        );
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::InProgress)
        );
        assert_eq!(
            idem.run(&attempt("k", t + 1_001), counted(&runs, false))
                .await,
            Ok(Run::Ran(1))
        );
    }

    #[tokio::test]
    async fn a_store_fault_runs_nothing() {
        let idem = Idempotency::new(MemoryStore::default(), 60);
        idem.store().fail.store(true, Ordering::SeqCst);
        let runs = Arc::new(AtomicUsize::new(0));
        assert!(matches!(
            idem.run(&attempt("k", now()), counted(&runs, false)).await,
            Err(Failure::Store(_))
        ));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    // On tokio's paused clock: the deadline is checked, not this machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_operation_is_stopped_in_time_to_release_the_claim() {
        let idem = Idempotency::new(MemoryStore::default(), 60);
        let started = Instant::now();
        let out = idem
            .run(&attempt("k", now()), |_| {
                std::future::pending::<Result<((), Completion), Fault>>()
            })
            .await;
        assert!(
            matches!(out, Err(Failure::Operation(ref e)) if e.kind == crate::FaultKind::Timeout)
        );
        assert!(
            started.elapsed() < Duration::from_millis(3_000),
            "inside the deadline"
        );
        assert!(idem.store().records().is_empty(), "released");
    }
}
