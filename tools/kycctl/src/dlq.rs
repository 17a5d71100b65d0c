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

use crate::record::Reader;
use crate::report::Failure;
use crate::report::Report;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_sdk_sqs::Client;
use clap::{Args, Subcommand};
use kyc_intake::aws::SqsSink;
use kyc_intake::intake::archive;
use kyc_intake::journeys::senders::Senders;
use kyc_intake::journeys::{completeness, timeline};
use kyc_intake::ports::{EventSink, OutgoingMessage};
use kyc_intake::KycEvent;
use serde_json::json;
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
        /// The audit archive (the stack's `ArchiveBucketName` output).
        #[arg(long, env = "ARCHIVE_BUCKET")]
        bucket: Option<String>,
        /// The archive signing key, whose public half checks what is replayed (the stack's
        /// `ArchiveSigningKeyArn` output).
        #[arg(long, env = "ARCHIVE_SIGNING_KEY_ID")]
        key: Option<String>,
        /// Who may send what (the journey worker's `JOURNEY_SENDERS`): a message whose original
        /// sender may not send it is left. Unset: every sender is believed (local use).
        #[arg(long, env = "JOURNEY_SENDERS")]
        senders: Option<String>,
    },
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

pub async fn dlq(args: DlqArgs) -> Result<Report, Failure> {
    let dlq_url = Failure::required(
        args.dlq_url,
        "no dead-letter queue: give --dlq-url or set EVENTS_DLQ_URL (the stack's EventsDeadLetterQueueUrl output)",
    )?;
    let sdk = kyc_intake::aws::load_config().await;
    let sqs = Client::new(&sdk);
    match args.command {
        DlqCommand::List { body, limit } => {
            let mut seen = BTreeSet::new();
            let mut messages = Vec::new();
            // Received with no visibility timeout, so nothing is taken away; a round that brings
            // nothing new ends the listing.
            loop {
                let round = receive(&sqs, &dlq_url, 0).await?;
                let before = seen.len();
                for m in round {
                    if seen.insert(m.message_id().unwrap_or_default().to_owned()) {
                        messages.push(m);
                    }
                }
                if seen.len() == before || messages.len() >= limit {
                    break;
                }
            }
            messages.truncate(limit);
            // No receive count: every message here was received maxReceiveCount times by the
            // worker, and SQS counts each look (this one included) as one more.
            let mut text = vec![format!(
                "{:<38}  {:<18}  {:<30}  {}",
                "MESSAGE ID", "JOURNEY", "TYPE", "SENT (UTC)"
            )];
            let mut items = Vec::new();
            for m in &messages {
                let id = m.message_id().unwrap_or("-");
                let journey = system(m, MessageSystemAttributeName::MessageGroupId)
                    .map(|g| kyc_intake::journeys::worker::journey_hash(&g))
                    .unwrap_or_else(|| "-".to_owned());
                let sent = system(m, MessageSystemAttributeName::SentTimestamp)
                    .and_then(|t| t.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "-".to_owned());
                let event_type = attribute(m, "type");
                text.push(format!(
                    "{id:<38}  {journey:<18}  {:<30}  {sent}",
                    event_type.as_deref().unwrap_or("-"),
                ));
                if body {
                    text.push(format!("  {}", m.body().unwrap_or_default()));
                }
                let mut item = json!({
                    "message_id": id, "journey": journey, "type": event_type,
                    "sent": sent,
                    "body_bytes": m.body().map_or(0, str::len),
                });
                if body {
                    item["body"] = m.body().unwrap_or_default().into();
                }
                items.push(item);
            }
            text.push(format!(
                "{} in the dead-letter queue",
                crate::report::counted(messages.len(), "message", "messages")
            ));
            Ok(Report::ok(text, json!({ "messages": items })))
        }
        DlqCommand::Redrive {
            queue_url,
            bucket,
            key,
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
                None => None,
            };
            let reader = bucket
                .filter(|b| !b.trim().is_empty())
                .map(|bucket| Reader::with(sdk.clone(), bucket).with_signing_key(key));
            let redrive = Redrive {
                sqs: &sqs,
                dlq_url: &dlq_url,
                sink: SqsSink::new(sqs.clone(), queue_url),
                reader,
                senders,
                replay_id: crate::replay::replay_id(),
                trace: kyc_intake::trace::TraceHeader::new_root(true),
            };
            redrive.run().await
        }
    }
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
    reader: Option<Reader>,
    senders: Option<Senders>,
    replay_id: String,
    /// The trace the replayed events carry (a new one per redrive).
    trace: kyc_intake::trace::TraceHeader,
}

impl Redrive<'_> {
    async fn run(&self) -> Result<Report, Failure> {
        let mut text = Vec::new();
        let mut items = Vec::new();
        let (mut replayed, mut deleted, mut resent, mut left) = (0, 0, 0, 0);
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
                    Origin::Sweeper => {
                        deleted += 1;
                        Ok("deleted: a sweeper event (its journey is still due: the next sweep does it again)".to_owned())
                    }
                    Origin::Start(event) => self.resend(&event, &id).await.map(|()| {
                        resent += 1;
                        "sent again: a kyc.journey.started".to_owned()
                    }),
                    Origin::Webhook { key } => self.replay(&key).await.map(|()| {
                        replayed += 1;
                        format!("replayed from the archive ({key})")
                    }),
                    Origin::Left(why) => Err(why),
                };
                let outcome = match recovered {
                    Ok(outcome) => outcome,
                    Err(why) => {
                        left += 1;
                        text.push(format!("{id}  left: {why}"));
                        items.push(json!({"message_id": id, "outcome": "left", "reason": why}));
                        held.extend(m.receipt_handle().map(str::to_owned));
                        continue;
                    }
                };
                self.sqs
                    .delete_message()
                    .queue_url(self.dlq_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| {
                        sqs_error("DeleteMessage", aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
                text.push(format!("{id}  {outcome}"));
                items.push(json!({"message_id": id, "outcome": outcome}));
            }
        }
        // What was left is visible again at once, for `dlq list` and the next redrive.
        for receipt in held {
            self.sqs
                .change_message_visibility()
                .queue_url(self.dlq_url)
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
        text.push(format!(
            "redrive {} (trace {}): {replayed} replayed from the archive, {} deleted, {} sent again, {left} left in the dead-letter queue",
            self.replay_id,
            self.trace.trace_id(),
            crate::report::counted(deleted, "sweeper event", "sweeper events"),
            crate::report::counted(resent, "start", "starts"),
        ));
        Ok(Report {
            drift: left > 0,
            json: json!({
                "replay_id": self.replay_id, "replayed": replayed, "deleted": deleted,
                "resent": resent, "left": left, "messages": items,
            }),
            text,
        })
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

    /// Replay the archived delivery at `key`, verified as `kycctl replay` verifies it.
    async fn replay(&self, key: &str) -> Result<(), String> {
        let Some(reader) = &self.reader else {
            return Err(
                "a webhook event, and no archive to replay it from (give --bucket or set ARCHIVE_BUCKET)"
                    .to_owned(),
            );
        };
        let (delivery, verdict) = reader
            .delivery(key)
            .await
            .map_err(|e| format!("no archived delivery to replay ({})", e.message))?;
        if !verdict.sendable() {
            return Err(format!("its archived delivery is not replayed: {verdict}"));
        }
        let source =
            crate::record::source_of(key).ok_or("the archived delivery's key names no source")?;
        let replayed = archive::replay(&delivery, source, &self.replay_id, Some(&self.trace))?;
        self.sink
            .send(&replayed.message)
            .await
            .map(|_| ())
            .map_err(|e| format!("sending the replay failed: {e}"))
    }
}
