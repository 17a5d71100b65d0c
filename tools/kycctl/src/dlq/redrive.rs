//! `kycctl dlq redrive`: each dead-lettered message recovered by where it came from (a webhook's
//! event replayed from its archived delivery by the `archive-replay` function, a sweeper's event
//! deleted, a start sent again) and deleted once it is; what cannot be is left, and says why.

use super::{attribute, delete_received, receive, release, system};
use crate::report::{counted, Failure, Finding};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use kyc_intake::aws::SqsSink;
use kyc_intake::intake::archive;
use kyc_intake::intake::queue::{EventSink, OutgoingMessage};
use kyc_intake::journeys::senders::Senders;
use kyc_intake::journeys::{completeness, timeline};
use kyc_intake::replay::Outcome;
use kyc_intake::KycEvent;
use serde::Serialize;

/// How a dead-lettered message is recovered.
#[derive(Debug, Clone)]
enum Origin {
    /// A webhook's event: replayed from its archived delivery.
    Webhook { key: String },
    /// The sweeper's `kyc.journey.reconciled` or `stalled`: deleted; the next sweep does it again.
    Sweeper,
    /// An application's (or the operator's) `kyc.journey.started`: sent again as it was.
    Start(Box<KycEvent>),
    /// Left in the dead-letter queue: why it cannot be recovered.
    Left(String),
}

/// Where `m` came from, as far as its body, its sender and `senders` say.
fn origin(m: &aws_sdk_sqs::types::Message, senders: Option<&Senders>) -> Origin {
    let Ok(mut event) = serde_json::from_str::<KycEvent>(m.body().unwrap_or_default()) else {
        return Origin::Left("not an event: fix what dead-lettered it, then delete it".to_owned());
    };
    if let Some(senders) = senders {
        let sender = system(m, MessageSystemAttributeName::SenderId);
        let replay = attribute(m, archive::REPLAY_ATTRIBUTE).is_some();
        if let Err(why) = senders.check(sender.as_deref(), &event, replay) {
            return Origin::Left(format!("its sender may not send it ({why})"));
        }
    }
    match event.event_type.as_str() {
        completeness::RECONCILED | completeness::STALLED => Origin::Sweeper,
        completeness::STARTED => {
            // Sent again as the start it was, never as a replay.
            event.kycreplay = None;
            Origin::Start(Box::new(event))
        }
        _ => match timeline::archive_key(&event) {
            Some(key) => Origin::Webhook { key },
            None => Origin::Left("no archived delivery: it did not come from a webhook".to_owned()),
        },
    }
}

/// One `dlq redrive`.
pub(super) struct Redrive<'a> {
    pub(super) sqs: &'a Client,
    pub(super) dlq_url: &'a str,
    pub(super) sink: SqsSink,
    /// The `archive-replay` function, or why there is none.
    pub(super) replayer: Result<crate::replay::Invoker, Failure>,
    pub(super) senders: Option<Senders>,
}

/// What became of one dead-lettered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovered {
    /// A webhook's event, replayed from its archived delivery: its key, and the replay's id and
    /// trace.
    Replayed {
        key: String,
        replay_id: String,
        trace_id: String,
    },
    /// The sweeper's event, deleted: its journey is still due, the next sweep does it again.
    Deleted,
    /// A `kyc.journey.started`, sent again.
    Resent,
    /// Left in the dead-letter queue, and why.
    Left(String),
}

impl Recovered {
    /// What the CLI says of it.
    fn outcome(&self) -> String {
        match self {
            Self::Replayed {
                key,
                replay_id,
                trace_id,
            } => format!("replayed from the archive ({key}; replay {replay_id}, trace {trace_id})"),
            Self::Deleted => {
                "deleted: a sweeper event (its journey is still due: the next sweep does it again)"
                    .to_owned()
            }
            Self::Resent => "sent again: a kyc.journey.started".to_owned(),
            Self::Left(why) => format!("left: {why}"),
        }
    }
}

/// One redrive's result: each message and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct RedriveRun {
    pub(crate) messages: Vec<(String, Recovered)>,
}

impl RedriveRun {
    fn count(&self, which: fn(&Recovered) -> bool) -> usize {
        self.messages.iter().filter(|(_, r)| which(r)).count()
    }

    /// How many were replayed, deleted, sent again and left.
    fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.count(|r| matches!(r, Recovered::Replayed { .. })),
            self.count(|r| *r == Recovered::Deleted),
            self.count(|r| *r == Recovered::Resent),
            self.count(|r| matches!(r, Recovered::Left(_))),
        )
    }
}

/// `kycctl dlq redrive` in JSON: the counts, and each message's outcome (a message left says why).
impl Serialize for RedriveRun {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Item<'a> {
            message_id: &'a str,
            outcome: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Form<'a> {
            replayed: usize,
            deleted: usize,
            resent: usize,
            left: usize,
            messages: Vec<Item<'a>>,
        }
        let (replayed, deleted, resent, left) = self.counts();
        let messages = self
            .messages
            .iter()
            .map(|(id, r)| match r {
                Recovered::Left(why) => Item {
                    message_id: id,
                    outcome: "left".to_owned(),
                    reason: Some(why),
                },
                _ => Item {
                    message_id: id,
                    outcome: r.outcome(),
                    reason: None,
                },
            })
            .collect();
        Form {
            replayed,
            deleted,
            resent,
            left,
            messages,
        }
        .serialize(serializer)
    }
}

/// `kycctl dlq redrive` in text: a line per message and the counts; a message left is a
/// difference.
impl Finding for RedriveRun {
    fn lines(&self) -> Vec<String> {
        let (replayed, deleted, resent, left) = self.counts();
        let mut text: Vec<String> = self
            .messages
            .iter()
            .map(|(id, r)| format!("{id}  {}", r.outcome()))
            .collect();
        text.push(format!(
            "redrive: {replayed} replayed from the archive, {} deleted, {} sent again, {left} left in the dead-letter queue",
            counted(deleted, "sweeper event", "sweeper events"),
            counted(resent, "start", "starts"),
        ));
        text
    }

    fn drift(&self) -> bool {
        self.counts().3 > 0
    }
}

impl Redrive<'_> {
    pub(super) async fn run(&self) -> Result<RedriveRun, Failure> {
        let mut messages = Vec::new();
        // Each message is held (a minute) while it is recovered and deleted only once it is; one
        // left stays held until the run ends, so the run sees each once, then is let go.
        let mut held = Vec::new();
        loop {
            let round = receive(self.sqs, self.dlq_url, 60).await?;
            if round.is_empty() {
                break;
            }
            for m in round {
                let id = m.message_id().unwrap_or_default().to_owned();
                let recovered = match origin(&m, self.senders.as_ref()) {
                    Origin::Sweeper => Ok(Recovered::Deleted),
                    Origin::Start(event) => {
                        self.resend(&event, &id).await.map(|()| Recovered::Resent)
                    }
                    Origin::Webhook { key } => self.replay(&key).await,
                    Origin::Left(why) => Err(why),
                };
                let recovered = match recovered {
                    Ok(recovered) => recovered,
                    Err(why) => {
                        messages.push((id, Recovered::Left(why)));
                        held.extend(m.receipt_handle().map(str::to_owned));
                        continue;
                    }
                };
                delete_received(
                    self.sqs,
                    self.dlq_url,
                    m.receipt_handle().unwrap_or_default(),
                )
                .await?;
                messages.push((id, recovered));
            }
        }
        // What was left is visible again at once, for `dlq list` and the next redrive.
        release(self.sqs, self.dlq_url, held).await?;
        Ok(RedriveRun { messages })
    }

    /// Send a start again, in its journey's group, under a deduplication id of its own (the
    /// original's may still be remembered by the queue, which would drop the copy).
    async fn resend(&self, event: &KycEvent, message_id: &str) -> Result<(), String> {
        let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
        let message = OutgoingMessage {
            body,
            group_id: kyc_intake::event::message_group(
                &event.source,
                event.subject.as_deref(),
                &event.id,
            ),
            deduplication_id: format!("{message_id}:redrive"),
            event_type: event.event_type.clone(),
            source: event.source.clone(),
            replay: None,
            trace_header: None,
        };
        self.sink
            .send(&message)
            .await
            .map(|_| ())
            .map_err(|e| format!("sending it again failed: {e}"))
    }

    /// Replay the archived delivery at `key` with the `archive-replay` function, which verifies
    /// it as every replay is verified.
    async fn replay(&self, key: &str) -> Result<Recovered, String> {
        let replayer = self.replayer.as_ref().map_err(|e| {
            format!(
                "a webhook event, and no function to replay it ({})",
                e.message
            )
        })?;
        let request = kyc_intake::replay::Request {
            archive_keys: Some(vec![key.to_owned()]),
            ..kyc_intake::replay::Request::default()
        };
        let run = replayer
            .replay(&request)
            .await
            .map_err(|e| format!("the replay failed ({})", e.message))?;
        let Some(one) = run.deliveries.first() else {
            return Err("the replay function answered nothing for it".to_owned());
        };
        match &one.outcome {
            Outcome::Sent => Ok(Recovered::Replayed {
                key: key.to_owned(),
                replay_id: run.replay_id.clone(),
                trace_id: run.trace_id.clone(),
            }),
            Outcome::Failed(why) if one.event_id.is_none() => {
                Err(format!("no archived delivery to replay ({why})"))
            }
            Outcome::Refused | Outcome::Erased => Err(format!(
                "its archived delivery is not replayed: {}",
                one.verdict
            )),
            other => Err(format!("the replay failed: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Recovered, RedriveRun};
    use crate::report::Report;

    #[test]
    fn a_redrive_counts_what_it_lists_and_a_message_left_says_why_and_is_a_difference() {
        let run = RedriveRun {
            messages: vec![
                ("m1".into(), Recovered::Resent),
                ("m2".into(), Recovered::Left("no archived delivery".into())),
            ],
        };
        let report = Report::of(&run);
        assert!(report.drift());
        let json = report.json();
        assert_eq!(
            (json["resent"].as_u64(), json["left"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(json["messages"][1]["outcome"], "left");
        assert_eq!(json["messages"][1]["reason"], "no archived delivery");
        assert!(json["messages"][0].get("reason").is_none());
        assert_eq!(report.text()[1], "m2  left: no archived delivery");
        assert!(
            report.text()[2].ends_with("1 left in the dead-letter queue"),
            "{:?}",
            report.text()
        );
        let clean = Report::of(&RedriveRun {
            messages: vec![("m1".into(), Recovered::Deleted)],
        });
        assert!(!clean.drift());
    }
}
