//! What a replay did: each archived delivery's outcome (`Replayed`) and the counts (`ReplayRun`),
//! as the `archive-replay` function answers and kycctl and the console show them.

use crate::aws::SqsSink;
use crate::intake::archive::{self, ArchivedDelivery};
use crate::intake::queue::EventSink;
use crate::intake::verdict::Verdict;
use crate::sources::SourceSpec;
use crate::trace::TraceHeader;
use serde::{Deserialize, Serialize};

/// What a replay did with one archived delivery. Shown (and in JSON) as `dry run`, `sent`,
/// `refused`, `erased`, `failed: <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
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
    pub fn sendable(&self) -> bool {
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

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "dry run" => Self::DryRun,
            "sent" => Self::Sent,
            "refused" => Self::Refused,
            "erased" => Self::Erased,
            other => match other.strip_prefix("failed: ") {
                Some(why) => Self::Failed(why.to_owned()),
                None => return Err(format!("`{other}` is not a replay outcome")),
            },
        })
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One archived delivery of a replay: what was decided about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    pub event_id: Option<String>,
    pub key: String,
    /// The id of the event normalized again (the same as `event_id` unless the code changed).
    pub replayed_id: Option<String>,
    pub type_then: Option<String>,
    pub type_now: Option<String>,
    pub verdict: String,
    pub outcome: Outcome,
}

/// What a replay did: the `archive-replay` function's answer to one call, or every call of one
/// replay added up (`absorb`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayRun {
    pub replay_id: String,
    /// The X-Ray trace the replayed events carry: the worker's invocations that apply them link
    /// to it.
    pub trace_id: String,
    pub dry_run: bool,
    pub read: usize,
    pub sent: usize,
    pub refused: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Deliveries of erased journeys: attested, unreadable, never sent.
    pub erased: usize,
    pub deliveries: Vec<Replayed>,
    /// Where the next call goes on, when a call's work or delivery limit stopped it: the caller
    /// sends the same request with this as `continue`.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_after: Option<String>,
}

impl ReplayRun {
    /// The next call's answer added to this one: its counts and deliveries, and its `continue`.
    pub fn absorb(&mut self, next: ReplayRun) {
        if self.replay_id.is_empty() {
            self.replay_id = next.replay_id;
            self.trace_id = next.trace_id;
        }
        self.dry_run = next.dry_run;
        self.read += next.read;
        self.sent += next.sent;
        self.refused += next.refused;
        self.failed += next.failed;
        self.skipped += next.skipped;
        self.erased += next.erased;
        self.deliveries.extend(next.deliveries);
        self.continue_after = next.continue_after;
    }

    /// An object that cannot be replayed at all (not a delivery, or no source): refused.
    pub(crate) fn unreadable(&mut self, key: &str, why: &str) {
        self.refused += 1;
        self.not_replayed(key, format!("refused: {why}"), Outcome::Refused);
    }

    /// A delivery that could not be read (S3 or the keys table failed): failed, never sent.
    pub(crate) fn unread(&mut self, key: &str, why: &str) {
        self.failed += 1;
        self.not_replayed(key, "not read".to_owned(), Outcome::Failed(why.to_owned()));
    }

    fn not_replayed(&mut self, key: &str, verdict: String, outcome: Outcome) {
        self.read += 1;
        self.deliveries.push(Replayed {
            event_id: None,
            key: key.to_owned(),
            replayed_id: None,
            type_then: None,
            type_now: None,
            verdict,
            outcome,
        });
    }

    /// One delivery with replay's `verdict` on it: sent to `sink` (none: a dry run) when the
    /// verdict allows, and only of `types` when some are given (as it is now or as it was).
    pub(crate) async fn decide(
        &mut self,
        one: Delivery<'_>,
        types: &[String],
        trace: Option<&TraceHeader>,
        sink: Option<&SqsSink>,
    ) {
        let Delivery {
            key,
            delivery,
            spec,
            verdict,
        } = one;
        self.read += 1;
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
        let replayed = match archive::replay(delivery, spec, &self.replay_id, trace) {
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
        if !types.is_empty()
            && !types
                .iter()
                .any(|t| Some(t) == item.type_now.as_ref() || Some(t) == item.type_then.as_ref())
        {
            self.skipped += 1;
            return;
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

/// One archived delivery as replay decides on it: its key, its contents, its source and every
/// reader's verdict.
pub(crate) struct Delivery<'a> {
    pub(crate) key: &'a str,
    pub(crate) delivery: &'a ArchivedDelivery,
    pub(crate) spec: &'a SourceSpec,
    pub(crate) verdict: &'a Verdict,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reads_back_as_it_was_written() {
        for outcome in [
            Outcome::DryRun,
            Outcome::Sent,
            Outcome::Refused,
            Outcome::Erased,
            Outcome::Failed("SQS said no".to_owned()),
        ] {
            let json = serde_json::to_string(&outcome).expect("ser");
            assert_eq!(serde_json::from_str::<Outcome>(&json).expect("de"), outcome);
        }
        assert!(serde_json::from_str::<Outcome>(r#""maybe""#).is_err());
    }

    #[test]
    fn absorbing_a_continued_answer_adds_its_counts_and_keeps_the_first_ids() {
        let mut all = ReplayRun::default();
        let first = ReplayRun {
            replay_id: "r1".into(),
            trace_id: "t1".into(),
            read: 2,
            sent: 2,
            continue_after: Some("k2".into()),
            ..ReplayRun::default()
        };
        let second = ReplayRun {
            replay_id: "r1".into(),
            trace_id: "t2".into(),
            read: 1,
            refused: 1,
            ..ReplayRun::default()
        };
        all.absorb(first);
        assert_eq!(all.continue_after.as_deref(), Some("k2"));
        all.absorb(second);
        assert_eq!((all.read, all.sent, all.refused), (3, 2, 1));
        assert_eq!(
            (all.replay_id.as_str(), all.trace_id.as_str()),
            ("r1", "t1")
        );
        assert_eq!(all.continue_after, None);
    }
}
