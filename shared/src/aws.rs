//! The ports' real adapters: DynamoDB for the idempotency record, SQS for the events queue.

use crate::journey::{Applied, JourneyStore, JourneyUpdate};
use crate::ports::{
    Claim, ClaimOutcome, EventSink, FaultKind, IdempotencyStore, OutgoingMessage, PortError,
    Settled, ATTRIBUTE_DATA_TYPE,
};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_sqs::types::MessageAttributeValue;
use std::time::Duration;

/// Attribute names of the idempotency record (docs/design.md).
pub mod attr {
    pub const PK: &str = "pk";
    pub const STATUS: &str = "status";
    pub const LEASE_EXPIRES_AT: &str = "lease_expires_at";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const PAYLOAD_HASH: &str = "payload_hash";
    pub const MESSAGE_ID: &str = "message_id";
    /// The claiming attempt's random id: completes and releases are conditioned on it.
    pub const OWNER: &str = "owner";
}

/// The DynamoDB item actions `DynamoStore` calls: the functions' IAM policy grants exactly these.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];
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

pub const IN_PROGRESS: &str = "IN_PROGRESS";
pub const COMPLETED: &str = "COMPLETED";

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Error codes by which AWS asks the caller to slow down.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "KMS.ThrottlingException",
];
/// Error codes by which a service refuses the request itself: retrying cannot help.
const REFUSAL_CODES: &[&str] = &[
    "InvalidMessageContents",
    "InvalidParameterValue",
    "MessageTooLong",
    "InvalidAttributeValue",
    "InvalidAttributeName",
    "ValidationException",
];

/// Turn an SDK error into a port fault of the right kind, with the SDK's whole error chain as
/// detail (the SDK never puts request bodies into its errors).
fn fault<E, R>(operation: &'static str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let kind = match &e {
        SdkError::TimeoutError(_) => FaultKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => FaultKind::Timeout,
        _ => match e.code() {
            Some(c) if THROTTLING_CODES.contains(&c) => FaultKind::Throttled,
            Some(c) if REFUSAL_CODES.contains(&c) => FaultKind::Refused,
            _ => FaultKind::Unavailable,
        },
    };
    PortError::new(operation, kind, DisplayErrorContext(e).to_string())
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
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// A write conditioned on the claim still being ours: `NotOurs` when the condition failed.
fn settled<O, E, R>(
    operation: &'static str,
    result: Result<O, SdkError<E, R>>,
    condition_failed: impl Fn(&E) -> bool,
) -> Result<Settled, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(Settled::Done),
        Err(e) if e.as_service_error().is_some_and(&condition_failed) => Ok(Settled::NotOurs),
        Err(e) => Err(fault(operation, e)),
    }
}

/// Marks a claim `COMPLETED`, keeping `:mid` (the message id, or what an operation keeps).
const COMPLETE: &str = "SET #status = :completed, #mid = :mid";
/// The record is still the claim this attempt made.
const STILL_OURS: &str = "#status = :in_progress AND #owner = :owner";

/// The names and values of `COMPLETE` under `STILL_OURS`.
fn completing(
    claim: &Claim,
    kept: &str,
) -> (
    std::collections::HashMap<String, String>,
    std::collections::HashMap<String, AttributeValue>,
) {
    let names = [
        ("#status", attr::STATUS),
        ("#owner", attr::OWNER),
        ("#mid", attr::MESSAGE_ID),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let values = [
        (":completed", s(COMPLETED)),
        (":in_progress", s(IN_PROGRESS)),
        (":owner", s(&claim.owner)),
        (":mid", s(kept)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    (names, values)
}

/// An update as an item of a `TransactWriteItems` call.
fn transaction_item(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, PortError> {
    let update = update.build().map_err(|e| {
        PortError::new(
            "DynamoDB TransactWriteItems",
            FaultKind::Refused,
            e.to_string(),
        )
    })?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
}

impl DynamoStore {
    /// The write that marks `claim` `COMPLETED` (keeping `kept`) on condition that it is still
    /// ours, as a transaction item: an operation that writes to DynamoDB puts it in the same
    /// transaction as its own write (`idempotency::Completion::Done`).
    pub fn completion(
        &self,
        claim: &Claim,
        kept: &str,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, PortError> {
        let (names, values) = completing(claim, kept);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(attr::PK, s(&claim.key))
            .update_expression(COMPLETE)
            .condition_expression(STILL_OURS)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        transaction_item(update)
    }
}

impl IdempotencyStore for DynamoStore {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(&claim.key))
            .item(attr::STATUS, s(IN_PROGRESS))
            .item(attr::LEASE_EXPIRES_AT, n(claim.lease_expires_at_ms))
            .item(attr::EXPIRES_AT, n(claim.expires_at_s))
            .item(attr::PAYLOAD_HASH, s(&claim.payload_hash))
            .item(attr::OWNER, s(&claim.owner))
            .condition_expression(
                "attribute_not_exists(#pk) OR #exp < :now_s OR (#status = :in_progress AND #lease < :now_ms)",
            )
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#lease", attr::LEASE_EXPIRES_AT)
            .expression_attribute_values(":now_s", n(claim.now_ms.div_euclid(1000)))
            .expression_attribute_values(":now_ms", n(claim.now_ms))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(ClaimOutcome::Claimed),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(c)) = e.as_service_error() else {
            return Err(fault("DynamoDB PutItem", e));
        };
        let old = c.item();
        let text = |name: &str| {
            old.and_then(|i| i.get(name))
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        Ok(match text(attr::STATUS) {
            Some(COMPLETED) => ClaimOutcome::Completed {
                payload_hash: text(attr::PAYLOAD_HASH).map(str::to_owned),
            },
            // Our own claim: an SDK retry of a put that had already succeeded.
            Some(IN_PROGRESS) if text(attr::OWNER) == Some(claim.owner.as_str()) => {
                ClaimOutcome::Claimed
            }
            // A live IN_PROGRESS claim (or, should the old item be missing, the safe answer:
            // 409 makes the provider retry).
            _ => ClaimOutcome::InProgress,
        })
    }

    async fn complete(&self, claim: &Claim, message_id: &str) -> Result<Settled, PortError> {
        let (names, values) = completing(claim, message_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(&claim.key))
            .update_expression(COMPLETE)
            .condition_expression(STILL_OURS)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        settled("DynamoDB UpdateItem", result, |e| {
            e.is_conditional_check_failed_exception()
        })
    }

    async fn release(&self, claim: &Claim) -> Result<Settled, PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, s(&claim.key))
            .condition_expression(STILL_OURS)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#owner", attr::OWNER)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":owner", s(&claim.owner))
            .send()
            .await;
        settled("DynamoDB DeleteItem", result, |e| {
            e.is_conditional_check_failed_exception()
        })
    }
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
    claims: DynamoStore,
}

impl DynamoJourneys {
    /// `claims` is the idempotency table the worker's claims live in.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        claims: DynamoStore,
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
