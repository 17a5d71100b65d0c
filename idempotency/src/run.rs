//! `Idempotency`: the state machine around an operation, over any `IdempotencyStore`.

use crate::{Claim, ClaimOutcome, Fault, IdempotencyStore, Settled};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// How long after the invocation's deadline a claim stays protected by default: covers clock
/// skew between Lambda hosts and the time DynamoDB takes to see the claim.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// Lambda's longest possible timeout (15 minutes): no invocation's deadline is further away, so
/// a deadline further off is cut to this, and no lease is longer than this plus the lease margin.
pub const MAX_INVOCATION: Duration = Duration::from_secs(900);

/// How `Idempotency` runs: how long records are remembered, how long a claim outlives its
/// invocation, how the invocation's time is shared out, and what a reused key with another
/// request is. `Config::new(ttl)` and the `with_*` methods; the fields are public to read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long after its claim a record is remembered (the table's TTL attribute).
    pub ttl: Duration,
    /// How long after the invocation's deadline a claim stays protected.
    pub lease_margin: Duration,
    /// Kept back at the end of the invocation to build and return the answer.
    pub answer_reserve: Duration,
    /// Kept back for each protocol step that must still follow the current one (after the claim:
    /// the operation and the complete or release; after the operation: the complete or release).
    pub step_reserve: Duration,
    /// A completed key met again with another fingerprint is `RunError::PayloadMismatch` instead of
    /// `Run::AlreadyDone { same_request: false, .. }` (Powertools' payload validation).
    pub reject_payload_mismatch: bool,
}

impl Config {
    /// Records remembered for `ttl`; a 10 s lease margin, 300 ms for the answer, 1 s per step.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            lease_margin: LEASE_MARGIN,
            answer_reserve: Duration::from_millis(300),
            step_reserve: Duration::from_millis(1_000),
            reject_payload_mismatch: false,
        }
    }

    /// How long a claim outlives the invocation's deadline (default `LEASE_MARGIN`): another
    /// attempt may take the key over once the lease has run out.
    pub fn with_lease_margin(mut self, margin: Duration) -> Self {
        self.lease_margin = margin;
        self
    }

    /// The time kept back from the deadline for the function's own answer (default 300 ms).
    pub fn with_answer_reserve(mut self, reserve: Duration) -> Self {
        self.answer_reserve = reserve;
        self
    }

    /// The time kept back, while the operation runs, for completing or releasing the record
    /// afterwards (default 1 s).
    pub fn with_step_reserve(mut self, reserve: Duration) -> Self {
        self.step_reserve = reserve;
        self
    }

    /// Whether an attempt whose fingerprint differs from the completed record's fails with
    /// `RunError::PayloadMismatch` (`true`) or gets `Run::AlreadyDone { same_request: false, .. }`
    /// (`false`, the default).
    pub fn rejecting_payload_mismatch(mut self, reject: bool) -> Self {
        self.reject_payload_mismatch = reject;
        self
    }
}

/// The SHA-256 of a request's bytes, hex: a fingerprint for `Attempt::new`.
pub fn fingerprint(request: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(request))
}

/// One attempt to run an operation under a key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attempt<'a> {
    /// The idempotency key, e.g. `orders#42`.
    pub key: &'a str,
    /// A hash of the request (`fingerprint`): stored with the record, so a later attempt under
    /// the same key with another request can be told apart.
    pub fingerprint: String,
    /// The attempt's clock.
    pub now: SystemTime,
    /// When the invocation ends: the lease and every call's time budget derive from it.
    pub deadline: SystemTime,
}

impl<'a> Attempt<'a> {
    /// An attempt under `key` of the request whose `fingerprint` is given, at `now`, in an
    /// invocation that ends at `deadline`.
    pub fn new(
        key: &'a str,
        fingerprint: impl Into<String>,
        now: SystemTime,
        deadline: SystemTime,
    ) -> Self {
        Self {
            key,
            fingerprint: fingerprint.into(),
            now,
            deadline,
        }
    }

    /// An attempt now (the system clock) in an invocation that ends at `deadline`: with
    /// `lambda_runtime`, `context.deadline()`.
    pub fn before(
        key: &'a str,
        fingerprint: impl Into<String>,
        deadline: std::time::SystemTime,
    ) -> Self {
        Self::new(key, fingerprint, SystemTime::now(), deadline)
    }
}

/// A time as the store's records keep it: milliseconds since the Unix epoch (0 before it).
fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in whole milliseconds, as an epoch-ms sum takes it.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// What an attempt found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Run<T> {
    /// This attempt ran the operation; here is its value.
    Ran(T),
    /// An earlier attempt completed the operation: `kept` is what it kept
    /// (`Completion::Keep`; `None` for `Completion::Done` without one). `same_request` is false
    /// when that attempt's fingerprint differs from this one's.
    AlreadyDone {
        /// Whether that attempt's fingerprint is this one's.
        same_request: bool,
        /// What it kept.
        kept: Option<String>,
    },
    /// Another attempt holds a live claim on the key: try again later.
    InProgress,
}

/// How the record of a successful operation becomes `COMPLETED`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// The utility marks it, keeping this short text (e.g. the queue's message id, a receipt):
    /// every later attempt gets it back in `Run::AlreadyDone`.
    Keep(String),
    /// The utility marks it, keeping nothing (an operation whose result needs no remembering):
    /// later attempts get `Run::AlreadyDone` with `kept: Some("")`.
    Mark,
    /// The operation already did, atomically with its own write, so no crash can leave the
    /// effect without the mark. Only the store's completing write gives the proof
    /// ([`crate::DynamoDbStore::complete_with`], or `MemoryStore::complete_with` in tests): an
    /// operation cannot say `Done` without having completed the record.
    #[cfg_attr(
        not(feature = "dynamodb"),
        doc = "",
        doc = "[`crate::DynamoDbStore::complete_with`]: https://docs.rs/lambda-idempotency/latest/lambda_idempotency/struct.DynamoDbStore.html#method.complete_with"
    )]
    Done(Completed),
}

/// Proof that a claim's record was marked `COMPLETED`: made only by a store's completing write
/// (`DynamoDbStore::complete_with`, `MemoryStore::complete_with`), returned in
/// [`Completion::Done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    owner: String,
}

impl Completed {
    /// The proof for `claim`, once the store has marked it completed.
    #[cfg(any(feature = "dynamodb", feature = "test-util", test))]
    pub(crate) fn of(claim: &Claim) -> Self {
        Self {
            owner: claim.owner.clone(),
        }
    }
}

/// Why a write that completes a claim (with the operation's own items) did not commit: nothing
/// of it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotCommitted {
    /// The claim is no longer this attempt's (its lease ran out and another attempt took it over).
    #[error("the idempotency claim is no longer ours: nothing was written")]
    NotOurs,
    /// The conditions of these of the operation's own items failed (their positions, from 0, in
    /// the order they were added).
    #[error("the conditions of items {0:?} failed: nothing was written")]
    ConditionFailed(Vec<usize>),
    /// The store failed or refused the write.
    #[error(transparent)]
    Store(Fault),
}

/// Why an attempt failed. Whatever the reason, nothing is left claimed by this attempt (best
/// effort: a release that fails leaves the claim to its lease).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError<E> {
    /// Claiming the key failed (or ran out of time): the operation did not run.
    #[error("the idempotency claim failed: {0}")]
    Store(Fault),
    /// The operation failed: the claim was released so a retry runs it.
    #[error("the operation failed: {0}")]
    Operation(E),
    /// The operation did not finish in the time the invocation had left for it: it was
    /// stopped and the claim released.
    #[error("the operation did not finish in the invocation's time")]
    TimedOut,
    /// The key was completed for another request (`Config::rejecting_payload_mismatch`).
    #[error("the key was completed for another request")]
    PayloadMismatch,
}

/// The time the invocation has left, shared out over the protocol's steps.
#[derive(Debug, Clone, Copy)]
struct Budget {
    end: Instant,
    step_reserve: Duration,
}

impl Budget {
    fn new(now_ms: i64, deadline_ms: i64, config: &Config) -> Self {
        let reserve = i64::try_from(config.answer_reserve.as_millis()).unwrap_or(i64::MAX);
        let left = deadline_ms
            .saturating_sub(now_ms.saturating_add(reserve))
            .max(0);
        let left = Duration::from_millis(u64::try_from(left).unwrap_or_default());
        Self {
            end: Instant::now() + left,
            step_reserve: config.step_reserve,
        }
    }

    /// Run a call that still has `steps_after` steps to follow; `None` when it would eat into
    /// their share (it is stopped).
    async fn run<T>(self, steps_after: u32, call: impl Future<Output = T>) -> Option<T> {
        let until = self
            .end
            .checked_sub(self.step_reserve * steps_after)
            .unwrap_or_else(Instant::now);
        tokio::time::timeout_at(until, call).await.ok()
    }
}

/// The state machine around an operation, over any `IdempotencyStore`.
#[derive(Debug)]
pub struct Idempotency<S> {
    store: S,
    config: Config,
}

impl<S: IdempotencyStore> Idempotency<S> {
    /// Records are remembered `ttl` after their claim; everything else as `Config::new`.
    pub fn new(store: S, ttl: Duration) -> Self {
        Self::with_config(store, Config::new(ttl))
    }

    /// Runs on `store` with `config`.
    pub fn with_config(store: S, config: Config) -> Self {
        Self { store, config }
    }

    /// The store it runs on.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Run `operation` unless an attempt under the same key has completed it or is running it.
    /// The operation gets this attempt's claim and returns its value and how the record is to be
    /// completed.
    pub async fn run<T, E, F, Fut>(
        &self,
        attempt: &Attempt<'_>,
        operation: F,
    ) -> Result<Run<T>, RunError<E>>
    where
        F: FnOnce(&Claim) -> Fut,
        Fut: Future<Output = Result<(T, Completion), E>>,
    {
        let now_ms = epoch_ms(attempt.now);
        let deadline_ms =
            epoch_ms(attempt.deadline).min(now_ms.saturating_add(millis(MAX_INVOCATION)));
        let ttl = i64::try_from(self.config.ttl.as_secs()).unwrap_or(i64::MAX / 2000);
        let claim = Claim {
            key: attempt.key.to_owned(),
            owner: Claim::new_owner(),
            lease_expires_at_ms: deadline_ms.saturating_add(millis(self.config.lease_margin)),
            expires_at_s: now_ms.div_euclid(1000).saturating_add(ttl),
            payload_hash: attempt.fingerprint.clone(),
            now_ms,
        };
        let budget = Budget::new(now_ms, deadline_ms, &self.config);

        let claimed = budget
            .run(2, self.store.claim(&claim))
            .await
            .unwrap_or_else(|| Err(Fault::out_of_time("idempotency claim")));
        match claimed {
            Ok(ClaimOutcome::Claimed) => {}
            Ok(ClaimOutcome::Completed { payload_hash, kept }) => {
                let same_request = payload_hash.is_none_or(|h| h == claim.payload_hash);
                if !same_request && self.config.reject_payload_mismatch {
                    return Err(RunError::PayloadMismatch);
                }
                return Ok(Run::AlreadyDone { same_request, kept });
            }
            Ok(_) => return Ok(Run::InProgress),
            Err(e) => return Err(RunError::Store(e)),
        }

        let failed = match budget.run(1, operation(&claim)).await {
            Some(Ok((value, completion))) => {
                self.complete(&claim, &budget, completion).await;
                return Ok(Run::Ran(value));
            }
            Some(Err(e)) => RunError::Operation(e),
            None => RunError::TimedOut,
        };
        let released = budget
            .run(0, self.store.release(&claim))
            .await
            .unwrap_or_else(|| Err(Fault::out_of_time("idempotency release")));
        match released {
            Ok(Settled::NotOurs) => tracing::warn!(
                "the claim was taken over by another attempt before it could be released"
            ),
            Ok(_) => {}
            Err(e) => log_fault(&e, "releasing the claim failed; it expires with its lease"),
        }
        Err(failed)
    }

    /// Mark the claim completed after the operation's success (unless it did so itself). The
    /// operation's effect stands whatever happens here.
    async fn complete(&self, claim: &Claim, budget: &Budget, completion: Completion) {
        let kept = match completion {
            Completion::Keep(kept) => kept,
            Completion::Mark => String::new(),
            Completion::Done(completed) if completed.owner == claim.owner => return,
            // The proof of another claim: this one is still to be marked.
            Completion::Done(_) => {
                tracing::error!("the operation completed another claim: marking this one");
                String::new()
            }
        };
        let completed = budget
            .run(0, self.store.complete(claim, &kept))
            .await
            .unwrap_or_else(|| Err(Fault::out_of_time("idempotency complete")));
        match completed {
            // Another attempt took the claim over after our lease ran out: it runs the operation
            // too.
            Ok(Settled::NotOurs) => tracing::warn!(
                kept,
                "done, but the claim had been taken over by another attempt: left as it is"
            ),
            Ok(_) => {}
            // The record stays IN_PROGRESS until its lease ends; a later attempt then runs the
            // operation again.
            Err(e) => log_fault(&e, "done, but marking the claim completed failed"),
        }
    }
}

/// One error line for a store fault: the operation, the kind, the source error.
pub(crate) fn log_fault(e: &Fault, what: &str) {
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
        Attempt::new(key, "f", at(now_ms), at(now_ms + 3_000))
    }

    /// The time `ms` after the epoch.
    fn at(ms: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
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
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::Ran(1))
        );
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::AlreadyDone {
                same_request: true,
                kept: Some("result-1".into())
            })
        );
        let mut other = attempt("k", t);
        other.fingerprint = "g".into();
        assert_eq!(
            idem.run(&other, counted(&runs, false)).await,
            Ok(Run::AlreadyDone {
                same_request: false,
                kept: Some("result-1".into())
            })
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let record = &idem.store().records()["k"];
        assert_eq!(
            (record.status, record.kept.as_deref()),
            ("COMPLETED", Some("result-1"))
        );
        assert_eq!(record.expires_at_s, t / 1000 + 60);
    }

    #[tokio::test]
    async fn a_unit_result_is_marked_completed_and_an_attempt_reads_the_system_clock() {
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
        let deadline = std::time::SystemTime::now() + Duration::from_secs(10);
        let first = Attempt::before("u", "f", deadline);
        let wall = epoch_ms(SystemTime::now());
        let (now_ms, deadline_ms) = (epoch_ms(first.now), epoch_ms(first.deadline));
        assert!((wall - now_ms).abs() < 1_000, "{now_ms}");
        assert!((deadline_ms - now_ms - 10_000).abs() < 1_000);
        let ran = idem
            .run(&first, |_| async { Ok::<_, Fault>(((), Completion::Mark)) })
            .await;
        assert_eq!(ran, Ok(Run::Ran(())));
        assert_eq!(idem.store().records()["u"].status, crate::COMPLETED);
        let again = idem
            .run(&Attempt::before("u", "f", deadline), |_| async {
                Ok::<_, Fault>(((), Completion::Mark))
            })
            .await;
        assert_eq!(
            again,
            Ok(Run::AlreadyDone {
                same_request: true,
                kept: Some(String::new())
            })
        );
    }

    #[tokio::test]
    async fn a_failed_operation_frees_the_key() {
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        assert!(matches!(
            idem.run(&attempt("k", t), counted(&runs, true)).await,
            Err(RunError::Operation(_))
        ));
        assert!(idem.store().records().is_empty(), "released");
        assert_eq!(
            idem.run(&attempt("k", t), counted(&runs, false)).await,
            Ok(Run::Ran(2))
        );
    }

    #[tokio::test]
    async fn a_live_claim_holds_and_a_lapsed_one_is_taken_over() {
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
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
                kept: None,
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
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
        idem.store().set_failing(true);
        let runs = Arc::new(AtomicUsize::new(0));
        assert!(matches!(
            idem.run(&attempt("k", now()), counted(&runs, false)).await,
            Err(RunError::Store(_))
        ));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    // On tokio's paused clock: the deadline is checked, not this machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_operation_is_stopped_in_time_to_release_the_claim() {
        let idem = Idempotency::new(MemoryStore::default(), Duration::from_secs(60));
        let started = Instant::now();
        let out = idem
            .run(&attempt("k", now()), |_| {
                std::future::pending::<Result<((), Completion), Fault>>()
            })
            .await;
        assert!(matches!(out, Err(RunError::TimedOut)));
        assert!(
            started.elapsed() < Duration::from_millis(3_000),
            "inside the deadline"
        );
        assert!(idem.store().records().is_empty(), "released");
    }

    #[tokio::test]
    async fn a_mismatched_request_is_refused_when_configured() {
        let config = Config::new(Duration::from_secs(60)).rejecting_payload_mismatch(true);
        let idem = Idempotency::with_config(MemoryStore::default(), config);
        let runs = Arc::new(AtomicUsize::new(0));
        let t = now();
        let first = Attempt::new("k", fingerprint(b"{\"amount\":1}"), at(t), at(t + 3_000));
        assert_eq!(
            idem.run(&first, counted(&runs, false)).await,
            Ok(Run::Ran(1))
        );
        let same = Attempt::new("k", fingerprint(b"{\"amount\":1}"), at(t), at(t + 3_000));
        assert!(matches!(
            idem.run(&same, counted(&runs, false)).await,
            Ok(Run::AlreadyDone {
                same_request: true,
                ..
            })
        ));
        let other = Attempt::new("k", fingerprint(b"{\"amount\":2}"), at(t), at(t + 3_000));
        assert_eq!(
            idem.run(&other, counted(&runs, false)).await,
            Err(RunError::PayloadMismatch)
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_fingerprint_is_the_requests_sha256() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn done_is_the_stores_own_completion_and_is_not_marked_again() {
        let store = Arc::new(MemoryStore::default());
        let idem = Idempotency::new(store.clone(), Duration::from_secs(60));
        let t = now();
        let out = idem
            .run(&attempt("k", t), |claim: &Claim| {
                let (store, claim) = (store.clone(), claim.clone());
                async move {
                    let done = store.complete_with(&claim, "kept by the operation").await?;
                    Ok::<_, NotCommitted>((claim.key.clone(), Completion::Done(done)))
                }
            })
            .await;
        assert_eq!(out, Ok(Run::Ran("k".to_owned())));
        let record = &store.records()["k"];
        assert_eq!(
            (record.status, record.kept.as_deref()),
            (crate::COMPLETED, Some("kept by the operation"))
        );
        // Two store calls: the claim and the operation's completion; the utility added none.
        assert_eq!(store.calls(), 2);
    }

    #[tokio::test]
    async fn the_proof_of_another_claim_does_not_complete_this_one() {
        let store = Arc::new(MemoryStore::default());
        let idem = Idempotency::new(store.clone(), Duration::from_secs(60));
        let t = now();
        let other = Claim::new("other", "someone", t + 60_000, t / 1000 + 60, "f", t);
        assert_eq!(store.claim(&other).await, Ok(ClaimOutcome::Claimed));
        let proof = store.complete_with(&other, "").await.expect("completed");
        let out = idem
            .run(&attempt("k", t), |_| async move {
                Ok::<_, Fault>(((), Completion::Done(proof)))
            })
            .await;
        assert_eq!(out, Ok(Run::Ran(())));
        assert_eq!(store.records()["k"].status, crate::COMPLETED);
    }
}
