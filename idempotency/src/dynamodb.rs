//! `DynamoDbStore`: the idempotency records in a DynamoDB table with partition key `pk` (S) and
//! TTL on `expires_at` (N, epoch seconds).
//!
//! | attribute | meaning |
//! |---|---|
//! | `pk` | the key |
//! | `status` | `IN_PROGRESS` or `COMPLETED` |
//! | `owner` | a random 128-bit id of the attempt holding the claim |
//! | `lease_expires_at` | N, epoch ms: when an `IN_PROGRESS` claim may be taken over |
//! | `expires_at` | N, epoch seconds: the TTL |
//! | `payload_hash` | the attempt's fingerprint |
//! | `kept` | what the operation kept, once `COMPLETED` (returned to every later attempt) |
//!
//! The IAM actions it needs are `DYNAMODB_ACTIONS` on the table; scope them to your keys with a
//! `dynamodb:LeadingKeys` condition.

use crate::error::classify as fault;
use crate::{Claim, ClaimOutcome, Completed, Fault, FaultKind, IdempotencyStore, NotCommitted};
use crate::{Settled, COMPLETED, IN_PROGRESS};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

/// Attribute names of an idempotency record.
pub(crate) mod attr {
    /// The table's partition key (a string): the idempotency key.
    pub const PK: &str = "pk";
    /// `IN_PROGRESS` or `COMPLETED`.
    pub const STATUS: &str = "status";
    /// When an `IN_PROGRESS` claim's lease runs out, epoch ms: another attempt may then take over.
    pub const LEASE_EXPIRES_AT: &str = "lease_expires_at";
    /// When the record is forgotten, epoch seconds: make it the table's TTL attribute.
    pub const EXPIRES_AT: &str = "expires_at";
    /// The fingerprint of the request that claimed the key.
    pub const PAYLOAD_HASH: &str = "payload_hash";
    /// What the operation kept (`Completion::Keep`), once `COMPLETED`.
    pub const KEPT: &str = "kept";
    /// The claiming attempt's random id: completes and releases are conditioned on it.
    pub const OWNER: &str = "owner";
}

/// The DynamoDB item actions `DynamoDbStore` calls: grant exactly these, on the table.
pub const DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The records in a DynamoDB table whose partition key is `pk` (a string), with TTL on
/// `expires_at`: the production `IdempotencyStore`.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbStore {
    /// The store on `table`, through `client`.
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
) -> Result<Settled, Fault>
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

/// Marks a claim `COMPLETED`, keeping `:kept`.
const COMPLETE: &str = "SET #status = :completed, #kept = :kept";
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
        ("#kept", attr::KEPT),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let values = [
        (":completed", s(COMPLETED)),
        (":in_progress", s(IN_PROGRESS)),
        (":owner", s(&claim.owner)),
        (":kept", s(kept)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    (names, values)
}

impl DynamoDbStore {
    /// The table's partition key (a string): create the table with it.
    pub const PARTITION_KEY: &'static str = attr::PK;
    /// The attribute holding when a record is forgotten (epoch seconds): make it the table's TTL.
    pub const TTL_ATTRIBUTE: &'static str = attr::EXPIRES_AT;

    /// Send `transaction` (the operation's own writes, on any tables of this account) with one
    /// more item that marks `claim` `COMPLETED`, keeping `kept`, on condition that it is still
    /// ours: the effect and its record commit together or not at all. The proof it returns is
    /// what the operation gives back in `Completion::Done`. Up to 99 items of your own (DynamoDB
    /// takes 100 in a transaction).
    pub async fn complete_with(
        &self,
        claim: &Claim,
        kept: &str,
        transaction: aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder,
    ) -> Result<Completed, NotCommitted> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        const OPERATION: &str = "DynamoDB TransactWriteItems";
        let own = transaction
            .get_transact_items()
            .as_ref()
            .map_or(0, Vec::len);
        let (names, values) = completing(claim, kept);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(attr::PK, s(&claim.key))
            .update_expression(COMPLETE)
            .condition_expression(STILL_OURS)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| {
                NotCommitted::Store(Fault::new(OPERATION, FaultKind::Rejected, e.to_string()))
            })?;
        let item = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update)
            .build();
        let e = match transaction.transact_items(item).send().await {
            Ok(_) => return Ok(Completed::of(claim)),
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        else {
            return Err(NotCommitted::Store(fault(OPERATION, e)));
        };
        let failed: Vec<usize> = c
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            .map(|(i, _)| i)
            .collect();
        if failed.contains(&own) {
            Err(NotCommitted::NotOurs)
        } else if failed.is_empty() {
            Err(NotCommitted::Store(fault(OPERATION, e)))
        } else {
            Err(NotCommitted::ConditionFailed(failed))
        }
    }
}

impl IdempotencyStore for DynamoDbStore {
    async fn claim(&self, claim: &Claim) -> Result<ClaimOutcome, Fault> {
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
                kept: text(attr::KEPT).map(str::to_owned),
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

    async fn complete(&self, claim: &Claim, kept: &str) -> Result<Settled, Fault> {
        let (names, values) = completing(claim, kept);
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

    async fn release(&self, claim: &Claim) -> Result<Settled, Fault> {
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
