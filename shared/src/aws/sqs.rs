//! `SqsSink`: the events queue. A `.fifo` queue gets the message group and deduplication ids.

use super::fault::fault;
use crate::fault::{Fault, FaultKind};
use crate::intake::queue::{EventSink, OutgoingMessage, ATTRIBUTE_DATA_TYPE};
use aws_sdk_sqs::types::MessageAttributeValue;
use futures_util::future::BoxFuture;

#[derive(Debug, Clone)]
pub struct SqsSink {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
}

impl SqsSink {
    /// A queue URL ending in `.fifo` gets FIFO group and deduplication ids.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        let fifo = queue_url.trim_end_matches('/').ends_with(".fifo");
        Self {
            client,
            queue_url,
            fifo,
        }
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, Fault> {
    MessageAttributeValue::builder()
        .data_type(ATTRIBUTE_DATA_TYPE)
        .string_value(value)
        .build()
        .map_err(|e| Fault::new("SQS SendMessage", FaultKind::Rejected, e.to_string()))
}

impl EventSink for SqsSink {
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<String, Fault>> {
        Box::pin(async move {
            let mut request = self
                .client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(&message.body)
                .message_attributes("type", string_attribute(&message.event_type)?)
                .message_attributes("source", string_attribute(&message.source)?);
            if let Some(replay) = &message.replay {
                request = request.message_attributes(
                    crate::intake::archive::REPLAY_ATTRIBUTE,
                    string_attribute(replay)?,
                );
            }
            if let Some(header) = &message.trace_header {
                request = request.message_system_attributes(
                    aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
                    aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                        .data_type(ATTRIBUTE_DATA_TYPE)
                        .string_value(header)
                        .build()
                        .map_err(|e| {
                            Fault::new("SQS SendMessage", FaultKind::Rejected, e.to_string())
                        })?,
                );
            }
            if self.fifo {
                request = request
                    .message_group_id(&message.group_id)
                    .message_deduplication_id(&message.deduplication_id);
            }
            let out = request
                .send()
                .await
                .map_err(|e| fault("SQS SendMessage", e))?;
            Ok(out.message_id().unwrap_or_default().to_owned())
        })
    }
}
