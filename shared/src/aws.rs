//! The AWS side: the SDK's configuration (HTTPS client, timeouts), the SQS event sink, and the
//! journey table. The idempotency records are the `lambda-idempotency` crate's `DynamoDbStore`.

use crate::journey::{Applied, JourneyStore, JourneyUpdate};
use crate::ports::{Claim, EventSink, FaultKind, OutgoingMessage, PortError, ATTRIBUTE_DATA_TYPE};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageAttributeValue;
use lambda_idempotency::{classify as fault, transaction_item, DynamoDbStore};
use std::time::Duration;

/// The DynamoDB item actions `DynamoJourneys` calls on the journey table (its transactions are
/// made of `UpdateItem`s, which is what IAM checks) and the worker on the idempotency table.
pub const JOURNEY_TABLE_ACTIONS: &[&str] = &["dynamodb:UpdateItem"];
/// The SQS action `SqsSink` calls.
pub const SQS_ACTIONS: &[&str] = &["sqs:SendMessage"];
/// What the journey worker's event source mapping needs on the queue it consumes.
pub const WORKER_SQS_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Load the AWS configuration once per cold start. `AWS_ENDPOINT_URL` points it at a local
/// emulator. Timeouts keep a slow dependency from eating the whole invocation.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
        // Stalled-stream protection watches every body's throughput with its own timer; the
        // bodies here are small and every call already has a deadline (`timeouts`, and the
        // pipeline's budget), so it only costs CPU.
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
        )
        .load()
        .await
}

/// The HTTPS client every SDK client shares: rustls with ring's cryptography, the platform's root
/// certificates.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The longest one AWS call may take, retries included. The function timeout leaves room for the
/// three calls of a new event at this length; the pipeline also cuts each call short to what the
/// invocation has left.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

/// Connect 2 s, attempt 3 s, whole operation (with retries) `OPERATION_TIMEOUT`.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

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

fn string_attribute(value: &str) -> Result<MessageAttributeValue, PortError> {
    MessageAttributeValue::builder()
        .data_type(ATTRIBUTE_DATA_TYPE)
        .string_value(value)
        .build()
        .map_err(|e| PortError::new("SQS SendMessage", FaultKind::Refused, e.to_string()))
}

impl EventSink for SqsSink {
    async fn send(&self, message: &OutgoingMessage) -> Result<String, PortError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&message.body)
            .message_attributes("type", string_attribute(&message.event_type)?)
            .message_attributes("source", string_attribute(&message.source)?);
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
    }
}

/// The journey table on DynamoDB. Each apply is one transaction with the completion of the
/// worker's idempotency claim: the state update when the event is not older than the stored one,
/// else (second transaction) only the count.
#[derive(Debug, Clone)]
pub struct DynamoJourneys {
    client: aws_sdk_dynamodb::Client,
    table: String,
    claims: DynamoDbStore,
}

impl DynamoJourneys {
    /// `claims` is the idempotency table the worker's claims live in.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        claims: DynamoDbStore,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            claims,
        }
    }

    fn journey_update(
        &self,
        update: &JourneyUpdate,
        newest: bool,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, PortError> {
        use crate::journey::attr as j;
        let mut set = vec!["#updated_at = :updated_at"];
        let mut remove = Vec::new();
        let mut b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(j::PK, s(&update.pk))
            .expression_attribute_names("#updated_at", j::UPDATED_AT)
            .expression_attribute_names("#count", j::EVENT_COUNT)
            .expression_attribute_values(":updated_at", s(&update.updated_at))
            .expression_attribute_values(":one", n(1));
        if newest {
            set.extend([
                "#type = :type",
                "#event_id = :event_id",
                "#time = :time",
                "#time_ms = :time_ms",
            ]);
            b = b
                .expression_attribute_names("#type", j::TYPE)
                .expression_attribute_names("#event_id", j::EVENT_ID)
                .expression_attribute_names("#time", j::TIME)
                .expression_attribute_names("#time_ms", j::TIME_MS)
                .expression_attribute_values(":type", s(&update.event_type))
                .expression_attribute_values(":event_id", s(&update.event_id))
                .expression_attribute_values(":time", s(&update.time))
                .expression_attribute_values(":time_ms", n(update.time_ms))
                .condition_expression("attribute_not_exists(#time_ms) OR #time_ms <= :time_ms");
            for (name, attribute, value, placeholder) in [
                ("#ps", j::PROVIDER_STATUS, &update.provider_status, ":ps"),
                (
                    "#pss",
                    j::PROVIDER_SUB_STATUS,
                    &update.provider_sub_status,
                    ":pss",
                ),
            ] {
                b = b.expression_attribute_names(name, attribute);
                match value {
                    Some(v) => {
                        set.push(if name == "#ps" {
                            "#ps = :ps"
                        } else {
                            "#pss = :pss"
                        });
                        b = b.expression_attribute_values(placeholder, s(v));
                    }
                    None => remove.push(name),
                }
            }
        }
        let mut expression = format!("SET {} ADD #count :one", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        transaction_item(b.update_expression(expression))
    }

    /// One transaction: the journey write and the claim's completion. `Ok(false)` when the
    /// journey's condition (not older) failed.
    async fn transact(
        &self,
        update: &JourneyUpdate,
        claim: &Claim,
        newest: bool,
    ) -> Result<bool, PortError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.journey_update(update, newest)?)
            .transact_items(self.claims.completion(claim, "")?)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        else {
            return Err(fault("DynamoDB TransactWriteItems", e));
        };
        let failed = |i: usize| {
            c.cancellation_reasons()
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if failed(1) {
            return Err(PortError::new(
                "DynamoDB TransactWriteItems",
                FaultKind::Conflict,
                "the idempotency claim is no longer ours: nothing applied",
            ));
        }
        if failed(0) {
            return Ok(false);
        }
        Err(fault("DynamoDB TransactWriteItems", e))
    }
}

impl JourneyStore for DynamoJourneys {
    async fn apply(&self, update: &JourneyUpdate, claim: &Claim) -> Result<Applied, PortError> {
        if self.transact(update, claim, true).await? {
            return Ok(Applied::Newest);
        }
        // A newer event is stored: count this one only. The count needs no condition, so this
        // second transaction fails only if the claim was lost meanwhile.
        if self.transact(update, claim, false).await? {
            Ok(Applied::Older)
        } else {
            Err(PortError::new(
                "DynamoDB TransactWriteItems",
                FaultKind::Unavailable,
                "an unconditional count was refused",
            ))
        }
    }
}
