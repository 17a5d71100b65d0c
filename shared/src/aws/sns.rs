//! `SnsStream`: the journey stream on an SNS FIFO topic, and the events queue whose records a
//! failing publish defers.

use super::fault::fault;
use crate::fault::{Fault, FaultKind};
use crate::intake::queue::ATTRIBUTE_DATA_TYPE;
use crate::journeys::stream::{JourneyStream, StreamMessage, STATE_ATTRIBUTE};
use aws_sdk_sns::types::MessageAttributeValue;

#[derive(Debug, Clone)]
pub struct SnsStream {
    sns: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
    /// The events queue (client and URL), whose records' visibility a failing publish extends.
    events: Option<(aws_sdk_sqs::Client, String)>,
}

impl SnsStream {
    /// A topic ARN ending in `.fifo` gets the message group and deduplication ids.
    pub fn new(sns: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        let topic_arn = topic_arn.into();
        Self {
            fifo: topic_arn.ends_with(".fifo"),
            sns,
            topic_arn,
            events: None,
        }
    }

    /// Defer the records of `queue_url` whose publish failed.
    pub fn deferring(mut self, sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        self.events = Some((sqs, queue_url.into()));
        self
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, Fault> {
    MessageAttributeValue::builder()
        .data_type(ATTRIBUTE_DATA_TYPE)
        .string_value(value)
        .build()
        .map_err(|e| Fault::new("SNS Publish", FaultKind::Rejected, e.to_string()))
}

impl JourneyStream for SnsStream {
    async fn publish(&self, message: &StreamMessage) -> Result<(), Fault> {
        let mut request = self
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .message(&message.body)
            .message_attributes("type", attribute(&message.event_type)?)
            .message_attributes("source", attribute(&message.source)?);
        if let Some(state) = message.journey_state {
            request = request.message_attributes(STATE_ATTRIBUTE, attribute(state)?);
        }
        if self.fifo {
            request = request
                .message_group_id(&message.group_id)
                .message_deduplication_id(&message.deduplication_id);
        }
        let trace = message.trace_header.clone();
        request
            .customize()
            .mutate_request(move |http| {
                if let Some(header) = &trace {
                    http.headers_mut()
                        .insert(crate::trace::HTTP_HEADER, header.clone());
                }
            })
            .send()
            .await
            .map(|_| ())
            .map_err(|e| fault("SNS Publish", e))
    }

    async fn defer(&self, receipt_handle: &str, secs: i32) {
        let Some((sqs, queue_url)) = &self.events else {
            return;
        };
        let result = sqs
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs)
            .send()
            .await;
        if let Err(e) = result {
            // The record comes back after the queue's own visibility timeout instead.
            crate::fault::log_fault(
                &fault("SQS ChangeMessageVisibility", e),
                "deferring an unpublished record failed",
            );
        }
    }
}
