//! The journey worker run locally the way an SQS event source mapping runs it: receive a batch
//! of up to 10 messages, hand it to the worker's real handler as the typed SQS event Lambda would
//! deliver, delete the records that succeeded, and leave the failed ones on the queue to be
//! received again once their visibility timeout ends.

use crate::resources::BoxError;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use kyc_intake::journeys::stream::JourneyStream;
use kyc_intake::journeys::worker::JourneyStore;
use kyc_intake::journeys::worker::JourneyWorker;
use kyc_intake::runtime::lambda;
use lambda_idempotency::IdempotencyStore;
use std::collections::HashMap;

/// The largest batch an event source mapping on a FIFO queue hands over.
pub const MAX_BATCH: i32 = 10;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// Message ids received, in order.
    pub received: Vec<String>,
    /// Those reported as batch item failures (left on the queue).
    pub failed: Vec<String>,
}

/// The queue as an event source: its URL, ARN and client.
pub struct EventSource {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
}

impl EventSource {
    pub async fn new(sdk: &aws_config::SdkConfig, queue_url: &str) -> Result<Self, BoxError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes: {}", DisplayErrorContext(e)))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or("the queue has no ARN")?;
        Ok(Self {
            sqs,
            queue_url: queue_url.to_owned(),
            queue_arn,
            region: sdk.region().map(ToString::to_string).unwrap_or_default(),
        })
    }

    /// Receive one batch (waiting up to `wait_secs` for the first message) as the SQS event a
    /// Lambda function gets; `None` when the queue had nothing.
    pub async fn receive(&self, wait_secs: i32) -> Result<Option<SqsEvent>, BoxError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(MAX_BATCH)
            .wait_time_seconds(wait_secs)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {}", DisplayErrorContext(e)))?;
        if out.messages().is_empty() {
            return Ok(None);
        }
        let mut event = SqsEvent::default();
        event.records = out.messages().iter().map(|m| self.record(m)).collect();
        Ok(Some(event))
    }

    fn record(&self, m: &aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id().map(str::to_owned);
        r.receipt_handle = m.receipt_handle().map(str::to_owned);
        r.body = m.body().map(str::to_owned);
        r.md5_of_body = m.md5_of_body().map(str::to_owned);
        r.md5_of_message_attributes = m.md5_of_message_attributes().map(str::to_owned);
        r.attributes = m
            .attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        r.message_attributes = m
            .message_attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| {
                        let mut attribute = SqsMessageAttribute::default();
                        attribute.string_value = v.string_value().map(str::to_owned);
                        attribute.data_type = Some(v.data_type().to_owned());
                        (k.clone(), attribute)
                    })
                    .collect::<HashMap<_, _>>()
            })
            .unwrap_or_default();
        r.event_source_arn = Some(self.queue_arn.clone());
        r.event_source = Some("aws:sqs".to_owned());
        r.aws_region = Some(self.region.clone());
        r
    }

    /// Delete the records of `batch` that are not in `failed`, in one batch request, as the
    /// event source mapping does.
    pub async fn settle(&self, batch: &SqsEvent, failed: &[String]) -> Result<(), BoxError> {
        let entries: Vec<aws_sdk_sqs::types::DeleteMessageBatchRequestEntry> = batch
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let id = r.message_id.as_deref().unwrap_or_default();
                !failed.iter().any(|f| f == id)
            })
            .filter_map(|(i, r)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r.receipt_handle.as_deref()?)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let out = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| format!("DeleteMessageBatch: {}", DisplayErrorContext(e)))?;
        match out.failed().first() {
            Some(f) => Err(format!("DeleteMessageBatch: {}", f.code()).into()),
            None => Ok(()),
        }
    }

    /// One poll: receive a batch, run it through the worker's Lambda handler (the event goes
    /// through its JSON form, as Lambda delivers it), delete what succeeded.
    pub async fn poll<S: IdempotencyStore, J: JourneyStore, P: JourneyStream>(
        &self,
        worker: &JourneyWorker<S, J, P>,
        wait_secs: i32,
        timeout_ms: u64,
    ) -> Result<Polled, BoxError> {
        let Some(batch) = self.receive(wait_secs).await? else {
            return Ok(Polled::default());
        };
        let delivered: SqsEvent = serde_json::from_value(serde_json::to_value(&batch)?)?;
        let mut context = lambda_runtime::Context::default();
        context.request_id = format!("local-{}", uuid_like());
        context.deadline =
            u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default() + timeout_ms;
        let event = lambda_runtime::LambdaEvent::new(delivered, context);
        let response = match lambda::handle_batch(worker, event).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let failed: Vec<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        self.settle(&batch, &failed).await?;
        Ok(Polled {
            received: batch
                .records
                .iter()
                .filter_map(|r| r.message_id.clone())
                .collect(),
            failed,
        })
    }
}

fn uuid_like() -> String {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .to_string()
}
