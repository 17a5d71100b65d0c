//! `kycctl dlq`: the events queue's dead-letter queue, where a record lands after it failed 5
//! receives (a poison record, or a worker bug). `list` shows what is there without taking it
//! away (each message is received with no visibility timeout and left in place). `redrive`
//! recovers each message by its origin, never re-sending a webhook's or the sweeper's event under
//! the operator's name (that would launder a forged one, or lose a genuine one the worker then
//! refuses from the operator): a webhook event is replayed from the archive (verified as replay
//! verifies), a sweeper event deleted (its journey is still due: the next sweep does it again), a
//! `kyc.journey.started` sent again; anything else is left, with the reason. A message is deleted
//! only once what recovers it is done. Bodies can carry personal data: `list` prints them only
//! with `--body`.

use crate::report::Failure;
use crate::report::{counted, Finding, Report};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use clap::{Args, Subcommand};
use kyc_intake::aws::SqsSink;
use kyc_intake::intake::archive;
use kyc_intake::intake::queue::{EventSink, OutgoingMessage};
use kyc_intake::journeys::senders::Senders;
use kyc_intake::journeys::{completeness, timeline};
use kyc_intake::replay::Outcome;
use kyc_intake::KycEvent;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Args)]
pub struct DlqArgs {
    /// The dead-letter queue (the stack's `EventsDeadLetterQueueUrl` output).
    #[arg(long, env = "EVENTS_DLQ_URL", global = true)]
    dlq_url: Option<String>,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// What is in the dead-letter queue, left where it is.
    List {
        /// Print each message's body too (it can carry personal data).
        #[arg(long)]
        body: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Recover every message by its origin (a webhook's replayed from the archive, the
    /// sweeper's deleted, a start sent again), then delete it; the rest stay, with the reason.
    Redrive {
        /// The events queue (the stack's `EventsQueueUrl` output).
        #[arg(long, env = "EVENTS_QUEUE_URL")]
        queue_url: Option<String>,
        /// The function that replays webhook events from the archive (as `replay` does).
        #[command(flatten)]
        function: crate::replay::ReplayFunction,
        /// Who may send what (the journey worker's `JOURNEY_SENDERS`): a message whose original
        /// sender may not send it is left. Required, but on the local stack (a loopback queue
        /// URL), where every sender is believed.
        #[arg(long, env = "JOURNEY_SENDERS")]
        senders: Option<String>,
    },
    /// Delete messages by id once what dead-lettered them is understood (each a redrive left),
    /// so the alarm clears; the reason is logged with each id.
    Delete {
        /// The message ids (`dlq list` shows them).
        #[arg(required = true)]
        ids: Vec<String>,
        /// Why they may go (kept in the log, with who ran it).
        #[arg(long)]
        reason: String,
    },
}

/// Whether `url` is the local stack's (a loopback host): there a redrive may believe every
/// sender, as `make run`'s worker does.
fn local(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| crate::http::is_loopback(&u))
}

/// Delete one received message.
async fn delete_received(sqs: &Client, url: &str, receipt: &str) -> Result<(), Failure> {
    sqs.delete_message()
        .queue_url(url)
        .receipt_handle(receipt)
        .send()
        .await
        .map_err(|e| sqs_error("DeleteMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Make the messages `held` visible again at once (for `dlq list` and the next command).
async fn release(sqs: &Client, url: &str, held: Vec<String>) -> Result<(), Failure> {
    for receipt in held {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| {
                sqs_error(
                    "ChangeMessageVisibility",
                    aws_sdk_sqs::error::DisplayErrorContext(e),
                )
            })?;
    }
    Ok(())
}

fn sqs_error<E: std::fmt::Display>(what: &str, e: E) -> Failure {
    Failure::failed(format!(
        "{what}: {e} (check the queue URL, AWS_ENDPOINT_URL and the credentials; locally, is `make run` running?)"
    ))
}

async fn receive(
    sqs: &Client,
    url: &str,
    visibility_secs: i32,
) -> Result<Vec<aws_sdk_sqs::types::Message>, Failure> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility_secs)
        .wait_time_seconds(0)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| sqs_error("ReceiveMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    Ok(out.messages().to_vec())
}

fn system(m: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> Option<String> {
    m.attributes().and_then(|a| a.get(&name)).cloned()
}

fn attribute(m: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

/// A message in the dead-letter queue, as `list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DeadLetter {
    pub(crate) message_id: String,
    /// The hash of its message group (a journey reference is personal data).
    pub(crate) journey: Option<String>,
    #[serde(rename = "type")]
    pub(crate) event_type: Option<String>,
    /// When it was first sent, RFC 3339 (UTC).
    pub(crate) sent: Option<String>,
    pub(crate) body_bytes: usize,
    /// Only when asked for (it can carry personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
}

impl DeadLetter {
    fn of(m: &aws_sdk_sqs::types::Message, with_body: bool) -> Self {
        Self {
            message_id: m.message_id().unwrap_or("-").to_owned(),
            journey: system(m, MessageSystemAttributeName::MessageGroupId)
                .map(|g| kyc_intake::journeys::worker::journey_hash(&g)),
            event_type: attribute(m, "type"),
            sent: system(m, MessageSystemAttributeName::SentTimestamp)
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            body_bytes: m.body().map_or(0, str::len),
            body: with_body.then(|| m.body().unwrap_or_default().to_owned()),
        }
    }
}

/// Up to `limit` messages of the dead-letter queue, left where they are: received with no
/// visibility timeout, so nothing is taken away; a round that brings nothing new ends the
/// listing. No receive count: every message here was received maxReceiveCount times by the
/// worker, and SQS counts each look (this one included) as one more.
pub(crate) async fn list(
    sqs: &Client,
    dlq_url: &str,
    limit: usize,
    with_body: bool,
) -> Result<Vec<DeadLetter>, Failure> {
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    loop {
        let round = receive(sqs, dlq_url, 0).await?;
        let before = seen.len();
        for m in round {
            if seen.insert(m.message_id().unwrap_or_default().to_owned()) {
                messages.push(DeadLetter::of(&m, with_body));
            }
        }
        if seen.len() == before || messages.len() >= limit {
            break;
        }
    }
    messages.truncate(limit);
    Ok(messages)
}

/// `kycctl dlq list`: the dead-lettered messages, as `list` read them.
#[derive(Serialize)]
struct DeadLetters {
    messages: Vec<DeadLetter>,
}

impl Finding for DeadLetters {
    fn lines(&self) -> Vec<String> {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        let row = |id: &str, journey: &str, kind: &str, sent: &str| {
            format!("{id:<38}  {journey:<18}  {kind:<30}  {sent}")
        };
        let mut text = vec![row("MESSAGE ID", "JOURNEY", "TYPE", "SENT (UTC)")];
        for m in &self.messages {
            text.push(row(
                &m.message_id,
                &dash(&m.journey),
                &dash(&m.event_type),
                &dash(&m.sent),
            ));
            if let Some(body) = &m.body {
                text.push(format!("  {body}"));
            }
        }
        text.push(format!(
            "{} in the dead-letter queue",
            counted(self.messages.len(), "message", "messages")
        ));
        text
    }
}

/// `kycctl dlq delete`: the messages deleted, and why.
#[derive(Serialize)]
struct Deleted {
    deleted: Vec<String>,
    reason: String,
}

impl Finding for Deleted {
    fn lines(&self) -> Vec<String> {
        let mut text: Vec<String> = self
            .deleted
            .iter()
            .map(|id| format!("{id}  deleted"))
            .collect();
        text.push(format!(
            "{} deleted from the dead-letter queue ({})",
            counted(self.deleted.len(), "message", "messages"),
            self.reason
        ));
        text
    }
}

pub async fn dlq(args: DlqArgs) -> Result<Report, Failure> {
    let dlq_url = Failure::required(
        args.dlq_url,
        "no dead-letter queue: give --dlq-url or set EVENTS_DLQ_URL (the stack's EventsDeadLetterQueueUrl output)",
    )?;
    let sdk = kyc_intake::aws::load_config().await;
    let sqs = Client::new(&sdk);
    match args.command {
        DlqCommand::List { body, limit } => Ok(Report::of(&DeadLetters {
            messages: list(&sqs, &dlq_url, limit, body).await?,
        })),
        DlqCommand::Delete { ids, reason } => delete(&sqs, &dlq_url, ids, &reason).await,
        DlqCommand::Redrive {
            queue_url,
            function,
            senders,
        } => {
            let queue_url = Failure::required(
                queue_url,
                "no events queue: give --queue-url or set EVENTS_QUEUE_URL (the stack's EventsQueueUrl output)",
            )?;
            let senders = match senders.filter(|s| !s.trim().is_empty()) {
                Some(list) => Some(
                    Senders::parse(&list)
                        .map_err(|e| Failure::usage(format!("JOURNEY_SENDERS: {e}")))?,
                ),
                None if local(&dlq_url) => None,
                None => return Err(Failure::usage(
                    "a redrive checks each message's sender as the worker does: give --senders or set JOURNEY_SENDERS to the worker's value (aws lambda get-function-configuration --function-name <the journey worker> --query Environment.Variables.JOURNEY_SENDERS)",
                )),
            };
            let redrive = Redrive {
                sqs: &sqs,
                dlq_url: &dlq_url,
                sink: SqsSink::new(sqs.clone(), queue_url),
                replayer: function.invoker(&sdk),
                senders,
            };
            Ok(Report::of(&redrive.run().await?))
        }
    }
}

/// Delete the messages `ids` names, each once it is found; the rest are let go at once. Every
/// id must be found, or the command fails naming those it did not (the ones found are gone).
async fn delete(
    sqs: &Client,
    dlq_url: &str,
    ids: Vec<String>,
    reason: &str,
) -> Result<Report, Failure> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Failure::usage("--reason must say why"));
    }
    let mut wanted: BTreeSet<String> = ids.iter().map(|i| i.trim().to_owned()).collect();
    let mut deleted = Vec::new();
    let mut held = Vec::new();
    while !wanted.is_empty() {
        let round = receive(sqs, dlq_url, 30).await?;
        if round.is_empty() {
            break;
        }
        for m in round {
            let id = m.message_id().unwrap_or_default().to_owned();
            let receipt = m.receipt_handle().unwrap_or_default().to_owned();
            if !wanted.remove(&id) {
                held.push(receipt);
                continue;
            }
            delete_received(sqs, dlq_url, &receipt).await?;
            // The record of it on standard error (kept by whatever runs kycctl): the id and the
            // reason, never the body (it can carry personal data).
            eprintln!("kycctl dlq delete: {id} deleted from {dlq_url}: {reason}");
            deleted.push(id);
        }
    }
    release(sqs, dlq_url, held).await?;
    let done = Deleted {
        deleted,
        reason: reason.to_owned(),
    };
    if !wanted.is_empty() {
        let missing: Vec<String> = wanted.into_iter().collect();
        return Err(Failure::failed(format!(
            "{}; not in the dead-letter queue: {} (dlq list shows what is)",
            done.lines().join("\n"),
            missing.join(", ")
        )));
    }
    Ok(Report::of(&done))
}

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
struct Redrive<'a> {
    sqs: &'a Client,
    dlq_url: &'a str,
    sink: SqsSink,
    /// The `archive-replay` function, or why there is none.
    replayer: Result<crate::replay::Invoker, Failure>,
    senders: Option<Senders>,
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
    async fn run(&self) -> Result<RedriveRun, Failure> {
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
