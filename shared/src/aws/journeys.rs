//! `DynamoJourneys`: the journey worker's table.

use crate::journey::{Applied, JourneyStore, JourneyUpdate};
use crate::ports::{Claim, FaultKind, PortError};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_idempotency::{classify as fault, transaction_item, DynamoDbStore};

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
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
