//! The reference consumer, `journey-worker`: the events queue's SQS batches in, the current KYC
//! state of every journey out (table `JOURNEY_TABLE`, one item per `<source>#<subject>`).
//!
//! - Each record's body is a `KycEvent`. A body that is not is a poison record: it fails (and
//!   reaches the dead-letter queue after the queue's `maxReceiveCount`).
//! - Each event id is applied at most once (idempotency key `journey-worker#<event id>` in the
//!   idempotency table, through [`crate::idempotency`]); the journey write and the completion of
//!   that key are one DynamoDB transaction, so no crash between them can count an event twice.
//! - An event older (by `time`) than the journey's stored one counts in `event_count` but does not
//!   overwrite `type`, `event_id`, `time` or the statuses; equal times let the later event win.
//! - `unrecognized` events (no subject) are acknowledged and counted in the log, not stored.
//! - On a FIFO queue, once a record fails, every later record of the same message group fails
//!   too, so that journey's order is kept; records of other groups are processed as usual, so one
//!   bad journey never holds back (or dead-letters) the others. On a standard queue each record
//!   stands alone.
//! - Every AWS call is bounded by the invocation's remaining time, so an outage yields a batch
//!   response with the records failed before the deadline, not a timeout.

use crate::config::{self, positive, required, ConfigError, Env, DEFAULT_TTL_SECONDS};
use crate::event::KycEvent;
use crate::fault::log_fault;
use crate::fault::Fault;
use crate::journeys::bounds;
use crate::journeys::completeness::StallAfter;
use crate::journeys::senders::Senders;
use crate::journeys::stream::{self, Effect, JourneyStream, NoStream, Published};
pub use crate::journeys::update::{
    Applied, JourneyStore, JourneyUpdate, Seen, Sweep, UpdateKind, MAX_EXPECT_WITHIN_SECS,
    MAX_FUTURE_SKEW_MS, SWEEP_SHARD_OPEN, SWEEP_SHARD_STALLED,
};
use crate::metrics::{self, MetricsSink};
use crate::trace::TraceHeader;
use lambda_idempotency::{fingerprint, Attempt, Completion, Idempotency, Run, RunError};
use lambda_idempotency::{Claim, IdempotencyStore};
use std::sync::Arc;
use tracing::Instrument;

/// The worker's function and binary name.
pub const WORKER_NAME: &str = "journey-worker";
/// Prefix of the worker's idempotency keys: `journey-worker#<event id>`.
pub const KEY_PREFIX: &str = "journey-worker#";
/// How logs name a journey: the first 16 hex digits of SHA-256 of `<source>#<subject>` (the FIFO
/// message group of its events). The subject is a provider's reference to a person's KYC, so
/// logs never carry it; `kycctl journey show` prints the same hash, so a log line can be matched
/// to a journey by whoever may read the journey table.
pub fn journey_hash(pk: &str) -> String {
    let mut hash = crate::intake::seal::reference_hash(pk);
    hash.truncate(16);
    hash
}

/// One record of a batch as the worker reads it: what the queue says of the message. Lambda's
/// event types stay in `runtime::lambda`, which reads each record into one of these.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The queue's message id (`-` when it has none).
    pub message_id: &'a str,
    /// The message body: a `KycEvent`, when it is one.
    pub body: &'a str,
    /// Who sent it (SQS's `SenderId`): the role id and session of the sender's credentials.
    pub sender: Option<&'a str>,
    /// The X-Ray trace its sender's invocation gave it (`AWSTraceHeader`).
    pub trace: Option<TraceHeader>,
    /// Whether it carries the `replay` message attribute (an event sent again from the archive).
    pub replay: bool,
    /// How often the queue has handed it out (`ApproximateReceiveCount`, at least 1).
    pub receives: u32,
    /// Its receipt handle, by which a deferred record's visibility is changed.
    pub receipt: Option<&'a str>,
    /// Its FIFO message group (none on a standard queue).
    pub group: Option<&'a str>,
}

impl Record<'_> {
    /// The journey of its FIFO message group, by hash (`-` on a standard queue).
    fn group_hash(&self) -> String {
        self.group
            .map(journey_hash)
            .unwrap_or_else(|| "-".to_owned())
    }
}

/// The variables the worker reads.
pub mod var {
    pub const JOURNEY_TABLE: &str = "JOURNEY_TABLE";
    pub const ALL: &[&str] = &[
        JOURNEY_TABLE,
        crate::journeys::completeness::STALL_AFTER_VARIABLE,
        crate::journeys::senders::VARIABLE,
        crate::config::var::IDEMPOTENCY_TABLE,
        crate::config::var::IDEMPOTENCY_TTL_SECONDS,
        crate::journeys::stream::TOPIC_VARIABLE,
        crate::config::var::EVENTS_QUEUE_URL,
    ];
}

/// The worker's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub journey_table: String,
    pub idempotency_table: String,
    pub ttl_secs: u64,
    /// When an open journey is due (`JOURNEY_STALL_AFTER`).
    pub stall_after: StallAfter,
    /// Who may send what (`JOURNEY_SENDERS`); `None`: every sender's records are applied.
    pub senders: Option<Senders>,
    /// The journey stream's topic (`JOURNEY_STREAM_TOPIC_ARN`); `None`: nothing is published.
    pub stream_topic_arn: Option<String>,
    /// The events queue (`EVENTS_QUEUE_URL`), whose records a failing publish defers; `None`:
    /// they come back after the queue's visibility timeout.
    pub events_queue_url: Option<String>,
}

impl WorkerConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(Self {
            journey_table: required(env, var::JOURNEY_TABLE)?,
            idempotency_table: required(env, config::var::IDEMPOTENCY_TABLE)?,
            ttl_secs: positive(
                env,
                config::var::IDEMPOTENCY_TTL_SECONDS,
                DEFAULT_TTL_SECONDS,
            )?,
            stall_after: StallAfter::from_env(env)?,
            senders: Senders::from_env(env)?,
            stream_topic_arn: env.get(stream::TOPIC_VARIABLE),
            events_queue_url: env.get(config::var::EVENTS_QUEUE_URL),
        })
    }
}

/// How one record ended, for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Applied(Applied),
    /// Applied by an earlier delivery.
    Duplicate,
    /// An unrecognized event: acknowledged, not stored.
    Unrecognized,
    /// Not a `KycEvent`.
    Poison,
    /// From a sender that may not send it (`JOURNEY_SENDERS`): acknowledged, not applied.
    RefusedSender,
    /// A stored field out of bounds (`journeys::bounds`): acknowledged, not applied.
    RefusedInvalid,
    /// Another delivery of the same event is applying it now: retry later.
    InProgress,
    /// DynamoDB failed (or the time ran out).
    Fault,
    /// Applied, but the journey stream did not take it: redelivered, and published then.
    Unpublished,
}

impl RecordOutcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Applied(Applied::Newest) => "applied",
            Self::Applied(Applied::Older) => "applied_older",
            Self::Applied(Applied::Acknowledged) => "acknowledged",
            Self::Applied(Applied::Superseded) => "superseded",
            Self::Duplicate => "duplicate",
            Self::Unrecognized => "unrecognized",
            Self::Poison => "poison",
            Self::RefusedSender => "refused_sender",
            Self::RefusedInvalid => "refused_invalid",
            Self::InProgress => "in_progress",
            Self::Fault => "fault",
            Self::Unpublished => "unpublished",
        }
    }

    /// Whether the record is done with (deleted from the queue) or fails (redelivered).
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            Self::Applied(_)
                | Self::Duplicate
                | Self::Unrecognized
                | Self::RefusedSender
                | Self::RefusedInvalid
        )
    }
}

/// The worker: the idempotency utility, the journey table and the journey stream.
pub struct JourneyWorker<S, J, P = NoStream> {
    idempotency: Idempotency<S>,
    journeys: J,
    stream: P,
    stall_after: StallAfter,
    senders: Option<Senders>,
    metrics: Arc<dyn MetricsSink>,
}

impl<S: IdempotencyStore, J: JourneyStore> JourneyWorker<S, J> {
    /// A worker with each source's default stall limit, publishing nothing.
    pub fn new(store: S, journeys: J, ttl_secs: u64) -> Self {
        Self {
            idempotency: Idempotency::new(store, std::time::Duration::from_secs(ttl_secs)),
            journeys,
            stream: NoStream,
            stall_after: StallAfter::defaults(),
            senders: None,
            metrics: Arc::new(metrics::Stdout),
        }
    }
}

impl<S: IdempotencyStore, J: JourneyStore, P: JourneyStream> JourneyWorker<S, J, P> {
    /// Publish every accepted record to `stream` (`JOURNEY_STREAM_TOPIC_ARN`) instead.
    pub fn with_stream<Q: JourneyStream>(self, stream: Q) -> JourneyWorker<S, J, Q> {
        JourneyWorker {
            idempotency: self.idempotency,
            journeys: self.journeys,
            stream,
            stall_after: self.stall_after,
            senders: self.senders,
            metrics: self.metrics,
        }
    }

    /// Apply only what each record's sender may send (`JOURNEY_SENDERS`).
    pub fn with_senders(mut self, senders: Option<Senders>) -> Self {
        if senders.is_none() {
            tracing::info!(
                "JOURNEY_SENDERS is not set: records are applied whoever sent them (local use)"
            );
        }
        self.senders = senders;
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSink>) -> Self {
        self.metrics = metrics;
        self
    }

    /// When an open journey is due (`JOURNEY_STALL_AFTER`).
    pub fn with_stall_after(mut self, stall_after: StallAfter) -> Self {
        self.stall_after = stall_after;
        self
    }

    pub fn journeys(&self) -> &J {
        &self.journeys
    }

    pub fn stream(&self) -> &P {
        &self.stream
    }

    /// Process one record of a batch and log one line about it (never its body), every line of
    /// it with the trace id its sender's invocation gave it. A record that did not succeed is to
    /// be delivered again (`RecordOutcome::succeeded`).
    pub async fn process(&self, record: &Record<'_>, deadline_ms: i64) -> RecordOutcome {
        let trace = record.trace.as_ref();
        let span = tracing::info_span!("record", trace_id = trace.map(TraceHeader::trace_id));
        self.traced_record(record, trace, deadline_ms)
            .instrument(span)
            .await
    }

    /// One record: read, its sender and bounds checked, applied and published; one line.
    async fn traced_record(
        &self,
        record: &Record<'_>,
        trace: Option<&TraceHeader>,
        deadline_ms: i64,
    ) -> RecordOutcome {
        let body = record.body;
        let event = match self.admitted(record, body) {
            Ok(event) => event,
            Err(refused) => return refused,
        };
        let (mut outcome, published) = self.apply(&event, body, trace, deadline_ms).await;
        if let Some(published) = published {
            if !self.publish(record, body, &event, &published, trace).await {
                outcome = RecordOutcome::Unpublished;
            }
        }
        log_record(record, &event, outcome);
        outcome
    }

    /// The record's event, when it is one, its sender may send it and it keeps the journey
    /// table's bounds; else what became of it (acknowledged, never applied), logged and counted.
    fn admitted(&self, record: &Record<'_>, body: &str) -> Result<KycEvent, RecordOutcome> {
        let message_id = record.message_id;
        let event = serde_json::from_str::<KycEvent>(body).map_err(|e| {
            // Which journey it holds back (on FIFO, its group), by hash.
            tracing::warn!(
                message_id,
                journey = record.group_hash().as_str(),
                outcome = RecordOutcome::Poison.label(),
                body_bytes = body.len(),
                error_line = e.line(),
                error_column = e.column(),
                "not a KycEvent"
            );
            RecordOutcome::Poison
        })?;
        if let Some(senders) = &self.senders {
            let sender = record.sender;
            if let Err(why) = senders.check(sender, &event, record.replay) {
                // The message id, the sender and the type: never the payload or the subject.
                tracing::warn!(
                    message_id,
                    sender = sender.unwrap_or("-"),
                    // Bounded: a refused record's type can be anything.
                    event_type = bounds::truncated(&event.event_type),
                    outcome = RecordOutcome::RefusedSender.label(),
                    reason = %why,
                    "a record its sender may not send: acknowledged, not applied"
                );
                self.metrics.emit(&metrics::refused_sender(
                    chrono::Utc::now().timestamp_millis(),
                ));
                return Err(RecordOutcome::RefusedSender);
            }
        }
        if let Err(why) = bounds::check(&event) {
            // By journey hash and field: never a value (it may be what wedges a journey).
            tracing::warn!(
                message_id,
                journey = record.group_hash().as_str(),
                field = why.field,
                outcome = RecordOutcome::RefusedInvalid.label(),
                reason = %why,
                "a record out of the journey table's bounds: acknowledged, not applied"
            );
            self.metrics.emit(&metrics::refused_invalid(
                chrono::Utc::now().timestamp_millis(),
            ));
            return Err(RecordOutcome::RefusedInvalid);
        }
        Ok(event)
    }

    /// Publish what `published` says about `event` (the record's `body`) to the journey stream;
    /// false (the record deferred, to be delivered again) when the stream did not take it.
    async fn publish(
        &self,
        record: &Record<'_>,
        body: &str,
        event: &KycEvent,
        published: &Published,
        trace: Option<&TraceHeader>,
    ) -> bool {
        let group = crate::event::message_group(&event.source, event.subject.as_deref(), &event.id);
        let archive_key = crate::journeys::timeline::archive_key(event);
        let message = match stream::message(body, event, group, published, archive_key.as_deref()) {
            Ok(message) => stream::StreamMessage {
                trace_header: trace.map(TraceHeader::header),
                ..message
            },
            Err(e) => {
                tracing::error!(error = %e, "a record the worker parsed is not a JSON object");
                return false;
            }
        };
        match self.stream.publish(&message).await {
            Ok(()) => true,
            Err(e) => {
                log_fault(&e, "publishing to the journey stream failed");
                if let Some(receipt) = record.receipt {
                    self.stream
                        .defer(receipt, stream::backoff_secs(record.receives))
                        .await;
                }
                false
            }
        }
    }

    /// Apply `event`; the outcome, and what the journey stream is to say about it (`None`:
    /// nothing to publish).
    async fn apply(
        &self,
        event: &KycEvent,
        body: &str,
        trace: Option<&TraceHeader>,
        deadline_ms: i64,
    ) -> (RecordOutcome, Option<Published>) {
        let now = chrono::Utc::now();
        let mut update = match JourneyUpdate::from_event(event, now, &self.stall_after) {
            Ok(Some(update)) => update,
            Ok(None) => {
                let unrecognized = Published {
                    effect: Effect::Unrecognized,
                    state: None,
                    count: None,
                };
                return (RecordOutcome::Unrecognized, Some(unrecognized));
            }
            Err(problem) => {
                tracing::warn!(
                    event_id = event.id.as_str(),
                    event_type = event.event_type.as_str(),
                    problem,
                    "an event the worker cannot apply"
                );
                return (RecordOutcome::Poison, None);
            }
        };
        update.entry.trace_id = trace.map(|t| t.trace_id().to_owned());
        update.entry.trace_sampled = trace.is_some_and(TraceHeader::sampled);
        let key = format!("{KEY_PREFIX}{}", event.id);
        let deadline = chrono::DateTime::from_timestamp_millis(deadline_ms).unwrap_or(now);
        let attempt = Attempt::new(
            &key,
            fingerprint(body.as_bytes()),
            now.into(),
            deadline.into(),
        );
        let apply = |claim: &Claim| {
            let claim = claim.clone();
            let update = &update;
            async move {
                let (applied, published, completed) = self.journeys.apply(update, &claim).await?;
                Ok::<_, Fault>(((applied, published), Completion::Done(completed)))
            }
        };
        let outcome = match self.idempotency.run(&attempt, apply).await {
            Ok(Run::Ran((applied, published))) => {
                return (RecordOutcome::Applied(applied), Some(published))
            }
            Ok(Run::AlreadyDone { kept, .. }) => {
                // A claim that kept nothing was applied before the stream existed.
                let again = kept.as_deref().and_then(Published::repeat_of);
                return (RecordOutcome::Duplicate, again);
            }
            // Run::InProgress: another delivery holds the claim.
            Ok(_) => RecordOutcome::InProgress,
            Err(RunError::Store(e)) => {
                log_fault(&e.into(), "applying the event failed");
                RecordOutcome::Fault
            }
            Err(RunError::Operation(e)) => {
                log_fault(&e, "applying the event failed");
                RecordOutcome::Fault
            }
            Err(RunError::TimedOut) => {
                tracing::error!(
                    "applying the event did not finish in time; the claim was released"
                );
                RecordOutcome::Fault
            }
            Err(other) => {
                tracing::error!(error = %other, "applying the event failed");
                RecordOutcome::Fault
            }
        };
        (outcome, None)
    }
}

/// The record's one line: its message id, its journey by hash (`journey_hash`, so an operator
/// finds it without the subject), the event's id and type, and the outcome; a warning unless it
/// succeeded.
fn log_record(record: &Record<'_>, event: &KycEvent, outcome: RecordOutcome) {
    let message_id = record.message_id;
    let journey = event
        .subject
        .as_deref()
        .map(|subject| journey_hash(&format!("{}#{subject}", event.source)))
        .unwrap_or_else(|| "-".to_owned());
    let (event_id, event_type) = (event.id.as_str(), event.event_type.as_str());
    let (journey, label) = (journey.as_str(), outcome.label());
    if outcome.succeeded() {
        tracing::info!(
            message_id,
            journey,
            event_id,
            event_type,
            outcome = label,
            "record"
        );
    } else {
        tracing::warn!(
            message_id,
            journey,
            event_id,
            event_type,
            outcome = label,
            "record"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journeys::completeness;
    use crate::journeys::memory::{MemoryJourneys, MemoryStream};
    use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
    use lambda_idempotency::MemoryStore;
    use std::sync::Arc;

    fn event(subject: Option<&str>, kind: &str, time: &str, id: &str) -> String {
        let subject = subject.map_or(String::new(), |s| format!(r#""subject":"{s}","#));
        format!(
            r#"{{"specversion":"1.0","id":"{id}","source":"cashfree/vkyc","type":"kyc.vkyc.{kind}",{subject}"time":"{time}","datacontenttype":"application/json","data":{{"provider":"cashfree","product":"vkyc","provider_event":"E","provider_status":"S-{kind}","provider_sub_status":null,"provider_time":null,"received_at":"2025-05-22T03:51:14Z","auth_scheme":"cashfree_header_hmac","payload":{{}}}}}}"#
        )
    }

    /// A batch whose records all share one message group.
    async fn handle<S: lambda_idempotency::IdempotencyStore, J: JourneyStore, P: JourneyStream>(
        w: &JourneyWorker<S, J, P>,
        batch: &SqsEvent,
        deadline_ms: i64,
    ) -> SqsBatchResponse {
        crate::runtime::lambda::worker_batch(w, batch, deadline_ms).await
    }

    fn batch(bodies: &[String], fifo: bool) -> SqsEvent {
        let grouped: Vec<(&str, String)> = bodies.iter().map(|b| ("g", b.clone())).collect();
        batch_in_groups(&grouped, fifo)
    }

    fn batch_in_groups(records: &[(&str, String)], fifo: bool) -> SqsEvent {
        let arn = if fifo {
            "arn:aws:sqs:ap-south-1:000000000000:events.fifo"
        } else {
            "arn:aws:sqs:ap-south-1:000000000000:events"
        };
        let mut e = SqsEvent::default();
        e.records = records
            .iter()
            .enumerate()
            .map(|(i, (group, b))| {
                let mut m = SqsMessage::default();
                m.message_id = Some(format!("m{i}"));
                m.body = Some(b.clone());
                m.event_source_arn = Some(arn.to_owned());
                if fifo {
                    m.attributes
                        .insert("MessageGroupId".to_owned(), (*group).to_owned());
                }
                m
            })
            .collect();
        e
    }

    fn worker() -> JourneyWorker<Arc<MemoryStore>, MemoryJourneys> {
        let store = Arc::new(MemoryStore::default());
        JourneyWorker::new(store.clone(), MemoryJourneys::new(store), 3600)
    }

    fn failures(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    fn deadline() -> i64 {
        chrono::Utc::now().timestamp_millis() + 5_000
    }

    #[tokio::test]
    async fn newest_event_wins_older_ones_only_count_and_each_id_applies_once() {
        let w = worker();
        let bodies = [
            event(Some("v1"), "call_queued", "2025-05-22T03:51:14Z", "e1"),
            event(
                Some("v1"),
                "call_completed",
                "2025-05-22T09:30:00+05:30",
                "e2",
            ),
            // Older than e2 (04:00Z), delivered after it.
            event(Some("v1"), "call_started", "2025-05-22T03:55:00Z", "e3"),
            event(
                Some("v1"),
                "call_completed",
                "2025-05-22T09:30:00+05:30",
                "e2",
            ),
        ];
        let r = handle(&w, &batch(&bodies, true), deadline()).await;
        assert!(failures(&r).is_empty(), "{r:?}");
        let j = &w.journeys().items()["cashfree/vkyc#v1"];
        assert_eq!(j.state.event_type, "kyc.vkyc.call_completed");
        assert_eq!(j.state.event_id, "e2");
        assert_eq!(j.state.provider_status.as_deref(), Some("S-call_completed"));
        assert_eq!(j.event_count, 3, "e1, e2, e3; the second e2 is a duplicate");
        // The same batch again changes nothing.
        let r = handle(&w, &batch(&bodies, true), deadline()).await;
        assert!(failures(&r).is_empty());
        assert_eq!(w.journeys().items()["cashfree/vkyc#v1"].event_count, 3);
    }

    #[tokio::test]
    async fn on_fifo_a_poison_record_fails_the_later_records_of_its_group_only() {
        let w = worker();
        let records = [
            (
                "a",
                event(Some("a"), "call_queued", "2025-05-22T03:51:14Z", "e1"),
            ),
            ("a", "not json".to_owned()),
            (
                "b",
                event(Some("b"), "call_queued", "2025-05-22T03:51:14Z", "e2"),
            ),
            (
                "a",
                event(Some("a"), "call_started", "2025-05-22T03:52:14Z", "e3"),
            ),
            (
                "b",
                event(Some("b"), "call_started", "2025-05-22T03:52:14Z", "e4"),
            ),
        ];
        let r = handle(&w, &batch_in_groups(&records, true), deadline()).await;
        assert_eq!(failures(&r), ["m1", "m3"]);
        let items = w.journeys().items();
        assert_eq!(
            items["cashfree/vkyc#a"].state.event_id, "e1",
            "the group's earlier record applied, its later one held back"
        );
        assert_eq!(items["cashfree/vkyc#b"].state.event_id, "e4");
        assert_eq!(
            items["cashfree/vkyc#b"].event_count, 2,
            "another group goes on"
        );
        // On a standard queue each record stands alone.
        let w = worker();
        let r = handle(&w, &batch_in_groups(&records, false), deadline()).await;
        assert_eq!(failures(&r), ["m1"]);
        assert_eq!(w.journeys().items()["cashfree/vkyc#a"].event_count, 2);
    }

    #[tokio::test]
    async fn a_stall_report_that_names_no_event_fails_and_changes_nothing() {
        let w = worker();
        let opened = event(Some("v9"), "call_queued", "2025-05-22T03:51:14Z", "e1");
        let stalled = |payload: &str| {
            event(Some("v9"), "x", "2025-05-22T05:00:00Z", "s1")
                .replace("kyc.vkyc.x", completeness::STALLED)
                .replace(r#""payload":{}"#, &format!(r#""payload":{payload}"#))
        };
        let r = handle(
            &w,
            &batch(
                &[opened, stalled("{}"), stalled(r#"{"last_event_id":""}"#)],
                false,
            ),
            deadline(),
        )
        .await;
        assert_eq!(failures(&r), ["m1", "m2"], "{r:?}");
        let j = &w.journeys().items()["cashfree/vkyc#v9"];
        assert_eq!(j.state.event_id, "e1", "the journey is as it was");
        assert_eq!(j.event_count, 1);
    }

    #[test]
    fn a_source_this_build_does_not_know_gets_the_documented_stall_limit() {
        let limits = StallAfter::defaults();
        assert_eq!(
            limits.secs("not-a-provider/kyc"),
            completeness::UNKNOWN_SOURCE_STALL_SECS
        );
    }

    #[tokio::test]
    async fn unrecognized_events_are_acknowledged_not_stored() {
        let w = worker();
        let r = handle(
            &w,
            &batch(
                &[event(None, "unrecognized", "2025-05-22T03:51:14Z", "u")],
                true,
            ),
            deadline(),
        )
        .await;
        assert!(failures(&r).is_empty());
        assert!(w.journeys().items().is_empty());
    }

    #[tokio::test]
    async fn a_store_fault_fails_every_record_and_applies_nothing() {
        let w = worker();
        w.journeys().store().set_failing(true);
        let bodies = [
            event(Some("a"), "call_queued", "2025-05-22T03:51:14Z", "e1"),
            event(Some("b"), "call_queued", "2025-05-22T03:51:14Z", "e2"),
        ];
        let r = handle(&w, &batch(&bodies, false), deadline()).await;
        assert_eq!(failures(&r), ["m0", "m1"]);
        assert!(w.journeys().items().is_empty());
    }

    #[tokio::test]
    async fn each_accepted_record_is_published_and_a_redelivery_again_from_what_was_kept() {
        let store = Arc::new(MemoryStore::default());
        let w = JourneyWorker::new(store.clone(), MemoryJourneys::new(store), 3600)
            .with_stream(MemoryStream::default());
        let bodies = [
            event(Some("v1"), "call_queued", "2025-05-22T03:51:14Z", "e1"),
            event(
                Some("v1"),
                "auditor_review_completed",
                "2025-05-22T04:00:00Z",
                "e2",
            ),
            event(Some("v1"), "call_started", "2025-05-22T03:55:00Z", "e3"),
            event(None, "unrecognized", "2025-05-22T03:51:14Z", "u1"),
            "not json".to_owned(),
        ];
        let r = handle(&w, &batch(&bodies, false), deadline()).await;
        assert_eq!(failures(&r), ["m4"], "the poison record only");
        let said = |m: &stream::StreamMessage| {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
            (
                v["id"].as_str().unwrap_or_default().to_owned(),
                v[stream::EFFECT_EXTENSION]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v[stream::STATE_EXTENSION].as_str().map(str::to_owned),
                v[stream::COUNT_EXTENSION].as_u64(),
            )
        };
        let published: Vec<_> = w.stream().messages().iter().map(said).collect();
        let s = |x: &str| x.to_owned();
        assert_eq!(
            published,
            [
                (s("e1"), s("applied"), Some(s("open")), Some(1)),
                (s("e2"), s("applied"), Some(s("closed")), Some(2)),
                (s("e3"), s("older"), Some(s("closed")), Some(3)),
                (s("u1"), s("unrecognized"), None, None),
            ]
        );
        // A redelivery (the publish had failed, say) publishes the same again, as a repeat.
        let r = handle(&w, &batch(&bodies[1..2], false), deadline()).await;
        assert!(failures(&r).is_empty());
        assert_eq!(
            said(&w.stream().messages()[4]),
            (s("e2"), s("repeat"), Some(s("closed")), Some(2))
        );
        assert_eq!(w.journeys().items()["cashfree/vkyc#v1"].event_count, 3);
    }

    #[tokio::test]
    async fn a_record_the_stream_does_not_take_fails_and_is_deferred() {
        let store = Arc::new(MemoryStore::default());
        let w = JourneyWorker::new(store.clone(), MemoryJourneys::new(store), 3600)
            .with_stream(MemoryStream::default());
        w.stream().set_failing(true);
        let mut b = batch(
            &[event(
                Some("v1"),
                "call_queued",
                "2025-05-22T03:51:14Z",
                "e1",
            )],
            true,
        );
        b.records[0].receipt_handle = Some("r1".to_owned());
        b.records[0]
            .attributes
            .insert("ApproximateReceiveCount".to_owned(), "2".to_owned());
        let r = handle(&w, &b, deadline()).await;
        assert_eq!(failures(&r), ["m0"]);
        assert_eq!(w.stream().deferred(), [("r1".to_owned(), 60)]);
        assert_eq!(w.journeys().items()["cashfree/vkyc#v1"].event_count, 1);
        w.stream().set_failing(false);
        let r = handle(&w, &b, deadline()).await;
        assert!(failures(&r).is_empty());
        assert_eq!(w.stream().messages().len(), 1);
        assert_eq!(w.journeys().items()["cashfree/vkyc#v1"].event_count, 1);
    }
}
