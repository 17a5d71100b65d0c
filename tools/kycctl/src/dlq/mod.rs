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
use kyc_intake::journeys::senders::Senders;
use serde::Serialize;
use std::collections::BTreeSet;

mod redrive;
use redrive::Redrive;

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
