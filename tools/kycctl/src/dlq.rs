//! `kycctl dlq`: the events queue's dead-letter queue, where a record lands after it failed 5
//! receives (a poison record, or a worker bug). `list` shows what is there without taking it
//! away (each message is received with no visibility timeout and left in place); `redrive` sends
//! each one back to the events queue, in its own message group, and only then deletes it from the
//! dead-letter queue. Bodies can carry personal data: `list` prints them only with `--body`.

use crate::hyperverge::Failure;
use crate::Report;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use clap::{Args, Subcommand};
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
    /// Send every message back to the events queue, then delete it from the dead-letter queue.
    Redrive {
        /// The events queue (the stack's `EventsQueueUrl` output).
        #[arg(long, env = "EVENTS_QUEUE_URL")]
        queue_url: Option<String>,
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
            let mut text = vec![format!(
                "{:<38}  {:<18}  {:<30}  {:<8}  {}",
                "MESSAGE ID", "JOURNEY", "TYPE", "RECEIVES", "SENT (UTC)"
            )];
            let mut items = Vec::new();
            for m in &messages {
                let id = m.message_id().unwrap_or("-");
                let journey = system(m, MessageSystemAttributeName::MessageGroupId)
                    .map(|g| kyc_intake::journeys::worker::journey_hash(&g))
                    .unwrap_or_else(|| "-".to_owned());
                let receives = system(m, MessageSystemAttributeName::ApproximateReceiveCount)
                    .unwrap_or_else(|| "-".to_owned());
                let sent = system(m, MessageSystemAttributeName::SentTimestamp)
                    .and_then(|t| t.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "-".to_owned());
                let event_type = attribute(m, "type").unwrap_or_else(|| "-".to_owned());
                text.push(format!(
                    "{id:<38}  {journey:<18}  {event_type:<30}  {receives:<8}  {sent}"
                ));
                if body {
                    text.push(format!("  {}", m.body().unwrap_or_default()));
                }
                let mut item = json!({
                    "message_id": id, "journey": journey, "type": event_type,
                    "receives": receives, "sent": sent,
                    "body_bytes": m.body().map_or(0, str::len),
                });
                if body {
                    item["body"] = m.body().unwrap_or_default().into();
                }
                items.push(item);
            }
            text.push(format!(
                "{} messages in the dead-letter queue",
                messages.len()
            ));
            Ok(Report::ok(text, json!({ "messages": items })))
        }
        DlqCommand::Redrive { queue_url } => {
            let queue_url = Failure::required(
                queue_url,
                "no events queue: give --queue-url or set EVENTS_QUEUE_URL (the stack's EventsQueueUrl output)",
            )?;
            let fifo = queue_url.ends_with(".fifo");
            let mut moved = 0;
            loop {
                // Held for a minute while it is sent back; deleted only once it is.
                let round = receive(&sqs, &dlq_url, 60).await?;
                if round.is_empty() {
                    break;
                }
                for m in round {
                    let id = m.message_id().unwrap_or_default();
                    let mut send = sqs
                        .send_message()
                        .queue_url(&queue_url)
                        .message_body(m.body().unwrap_or_default());
                    for (name, value) in m.message_attributes().into_iter().flatten() {
                        let copy = MessageAttributeValue::builder()
                            .data_type(value.data_type())
                            .set_string_value(value.string_value().map(str::to_owned))
                            .build()
                            .map_err(|e| Failure::failed(format!("{id}: attribute {name}: {e}")))?;
                        send = send.message_attributes(name, copy);
                    }
                    if fifo {
                        let group = system(&m, MessageSystemAttributeName::MessageGroupId)
                            .unwrap_or_else(|| "redriven".to_owned());
                        // A deduplication id of its own: the original's may still be
                        // remembered by the queue, which would drop the redriven copy.
                        send = send
                            .message_group_id(group)
                            .message_deduplication_id(format!("{id}:redrive"));
                    }
                    send.send().await.map_err(|e| {
                        sqs_error("SendMessage", aws_sdk_sqs::error::DisplayErrorContext(e))
                    })?;
                    sqs.delete_message()
                        .queue_url(&dlq_url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .map_err(|e| {
                            sqs_error("DeleteMessage", aws_sdk_sqs::error::DisplayErrorContext(e))
                        })?;
                    moved += 1;
                }
            }
            Ok(Report::ok(
                vec![format!("redrove {moved} messages to the events queue")],
                json!({ "redriven": moved }),
            ))
        }
    }
}
