//! A replay run, for `kycctl replay`, `dlq redrive` and the console alike: each archived delivery
//! verified, normalized again with this build's code and sent (unless a dry run), with what was
//! decided about each.

use crate::record::{source_of, Reader};
use crate::report::Failure;
use chrono::{DateTime, Utc};
use kyc_intake::aws::SqsSink;
use kyc_intake::intake::archive::{self, ArchivedDelivery};
use kyc_intake::intake::verdict::Verdict;
use kyc_intake::ports::EventSink;
use kyc_intake::sources::SourceSpec;
use kyc_intake::trace::TraceHeader;

/// A replay id: the time it started and 8 random hex digits.
pub(crate) fn replay_id() -> String {
    let owner = kyc_intake::ports::Claim::new_owner();
    format!(
        "r{}-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        owner.get(..8).unwrap_or_default()
    )
}

/// What a replay run did with one archived delivery. Shown (and in JSON) as `dry run`, `sent`,
/// `refused`, `erased`, `failed: <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Verified and normalized again; a dry run sends nothing.
    DryRun,
    Sent,
    /// Its verdict does not allow sending it (the verdict says why).
    Refused,
    /// Its journey was erased: attested, unreadable, never sent.
    Erased,
    Failed(String),
}

impl Outcome {
    /// Whether a confirm may send it: what a dry run would send, or what was sent.
    pub(crate) fn sendable(&self) -> bool {
        matches!(self, Self::DryRun | Self::Sent)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DryRun => f.write_str("dry run"),
            Self::Sent => f.write_str("sent"),
            Self::Refused => f.write_str("refused"),
            Self::Erased => f.write_str("erased"),
            Self::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One archived delivery of a replay run: what was decided about it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Replayed {
    pub(crate) event_id: Option<String>,
    pub(crate) key: String,
    /// The id of the event normalized again (the same as `event_id` unless the code changed).
    pub(crate) replayed_id: Option<String>,
    pub(crate) type_then: Option<String>,
    pub(crate) type_now: Option<String>,
    pub(crate) verdict: String,
    pub(crate) outcome: Outcome,
}

/// What a replay run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct ReplayRun {
    pub(crate) replay_id: String,
    /// The X-Ray trace the run's events carry (a new one per run): the worker's invocations that
    /// apply them link to it.
    pub(crate) trace_id: String,
    #[serde(skip)]
    trace: Option<TraceHeader>,
    pub(crate) dry_run: bool,
    pub(crate) read: usize,
    pub(crate) sent: usize,
    pub(crate) refused: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    /// Deliveries of erased journeys: attested, unreadable, never sent.
    pub(crate) erased: usize,
    pub(crate) deliveries: Vec<Replayed>,
}

impl ReplayRun {
    /// A run with a new replay id and a new trace.
    pub(crate) fn new() -> Self {
        // Not sampled: kycctl sends nothing to X-Ray, so no trace of it exists there.
        let trace = TraceHeader::new_root(false);
        Self {
            replay_id: replay_id(),
            trace_id: trace.trace_id().to_owned(),
            trace: Some(trace),
            ..Self::default()
        }
    }

    /// An object that cannot be replayed at all (not a delivery, or no source): refused.
    fn unreadable(&mut self, key: &str, why: &str) {
        self.read += 1;
        self.refused += 1;
        self.deliveries.push(Replayed {
            event_id: None,
            key: key.to_owned(),
            replayed_id: None,
            type_then: None,
            type_now: None,
            verdict: format!("refused: {why}"),
            outcome: Outcome::Refused,
        });
    }

    /// One delivery of this run, with replay's `verdict` on it: sent to `sink` (none: a dry run)
    /// when the verdict allows, of `event_type` only when given (as it is now or as it was).
    async fn decide(
        &mut self,
        key: &str,
        delivery: &ArchivedDelivery,
        spec: &SourceSpec,
        verdict: &Verdict,
        event_type: Option<&str>,
        sink: Option<&SqsSink>,
    ) {
        let mut item = Replayed {
            event_id: Some(delivery.event_id.clone()),
            key: key.to_owned(),
            replayed_id: None,
            type_then: delivery.event_type(),
            type_now: None,
            verdict: verdict.to_string(),
            outcome: Outcome::Refused,
        };
        if let Verdict::Erased { .. } = verdict {
            self.erased += 1;
            item.outcome = Outcome::Erased;
            self.deliveries.push(item);
            return;
        }
        if !verdict.sendable() {
            self.refused += 1;
            self.deliveries.push(item);
            return;
        }
        let replayed = match archive::replay(delivery, spec, &self.replay_id, self.trace.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.failed += 1;
                item.outcome = Outcome::Failed(format!("cannot be read again: {e}"));
                self.deliveries.push(item);
                return;
            }
        };
        item.type_then = replayed.type_then.clone();
        item.type_now = Some(replayed.event.event_type.clone());
        item.replayed_id = Some(replayed.event.id.clone());
        if let Some(t) = event_type {
            if Some(t) != item.type_now.as_deref() && Some(t) != item.type_then.as_deref() {
                self.skipped += 1;
                return;
            }
        }
        item.outcome = match sink {
            None => Outcome::DryRun,
            Some(sink) => match sink.send(&replayed.message).await {
                Ok(_) => {
                    self.sent += 1;
                    Outcome::Sent
                }
                Err(e) => {
                    self.failed += 1;
                    Outcome::Failed(e.to_string())
                }
            },
        };
        self.deliveries.push(item);
    }
}

/// Send the archived deliveries at `keys` (what a confirmed dry run showed, and nothing archived
/// since), each read and verified again.
pub(crate) async fn replay_keys(
    reader: &Reader,
    keys: &[String],
    sink: &SqsSink,
) -> Result<ReplayRun, Failure> {
    let mut run = ReplayRun::new();
    for key in keys {
        let Some(spec) = source_of(key) else {
            run.unreadable(key, "the key names no source");
            continue;
        };
        run.read += 1;
        let (delivery, verdict) = reader.delivery(key).await?;
        run.decide(key, &delivery, spec, &verdict, None, Some(sink))
            .await;
    }
    Ok(run)
}

/// Replay the deliveries of `specs` received between `from` and `to`: each verified, normalized
/// again, and sent to `sink` (none: a dry run) when its verdict allows; of `event_type` only when
/// given (as it is now or as it was).
pub(crate) async fn run_replay(
    reader: &Reader,
    specs: &[&'static SourceSpec],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    event_type: Option<&str>,
    sink: Option<&SqsSink>,
) -> Result<ReplayRun, Failure> {
    let mut run = ReplayRun {
        dry_run: sink.is_none(),
        ..ReplayRun::new()
    };
    for spec in specs.iter().copied() {
        let (entries, unreadable) = reader.deliveries(spec.name, Some(from), Some(to)).await?;
        for (key, why) in &unreadable {
            run.unreadable(key, why);
        }
        for entry in &entries {
            run.read += 1;
            let verdict = reader.verdict(entry).await?;
            run.decide(
                &entry.key,
                &entry.delivery,
                spec,
                &verdict,
                event_type,
                sink,
            )
            .await;
        }
    }
    Ok(run)
}
