//! `DynamoJourneys`: the journey worker's table.

use super::fault::fault;
use super::item::{entry_value, n, s};
use crate::journeys::worker::{
    Applied, JourneyStore, JourneyUpdate, Sweep, UpdateKind, SWEEP_SHARD_OPEN, SWEEP_SHARD_STALLED,
};
use crate::ports::{Claim, FaultKind, PortError};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_idempotency::{transaction_item, DynamoDbStore};

/// How one apply transaction ended.
enum Transacted {
    Done,
    /// The journey's condition failed: a newer event is stored (or, for a start, any state).
    Stale,
    /// The timeline reached `timeline::CAP`: trim it and try again.
    Full,
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
        use crate::journeys::worker::attr as j;
        let mut set = vec![
            "#updated_at = :updated_at",
            "#history = list_append(if_not_exists(#history, :empty), :entry)",
        ];
        let mut remove = Vec::new();
        // The timeline stays under its cap: a full one fails the condition and is trimmed first.
        let room = "(attribute_not_exists(#history) OR size(#history) < :cap)";
        let mut b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(j::PK, s(&update.pk))
            .expression_attribute_names("#updated_at", j::UPDATED_AT)
            .expression_attribute_names("#count", j::EVENT_COUNT)
            .expression_attribute_names("#history", crate::journeys::timeline::HISTORY)
            .expression_attribute_values(":updated_at", s(&update.updated_at))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", entry_value(&update.entry))
            .expression_attribute_values(
                ":cap",
                n(i64::try_from(crate::journeys::timeline::CAP).unwrap_or(i64::MAX)),
            )
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .condition_expression(room);
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
                .condition_expression(format!(
                    "{room} AND ({})",
                    match update.kind {
                        // A start is the state only of a journey that has none yet.
                        UpdateKind::Started => "attribute_not_exists(#type)",
                        // A start's state loses to any event, whatever its time.
                        _ => {
                            "attribute_not_exists(#time_ms) OR #time_ms <= :time_ms OR #type = :started"
                        }
                    }
                ));
            if update.kind != UpdateKind::Started {
                b = b.expression_attribute_values(
                    ":started",
                    s(crate::journeys::completeness::STARTED),
                );
            }
            // The journey's place on the sweeper's list.
            b = b
                .expression_attribute_names("#shard", j::SWEEP_SHARD)
                .expression_attribute_names("#due", j::DUE_AT);
            match update.sweep {
                Sweep::Due(due_ms) => {
                    set.extend([
                        "#shard = :shard",
                        "#due = :due",
                        "#opened = if_not_exists(#opened, :updated_at)",
                    ]);
                    remove.extend(["#stalled", "#closed"]);
                    b = b
                        .expression_attribute_names("#opened", j::OPENED_AT)
                        .expression_attribute_names("#stalled", j::STALLED_AT)
                        .expression_attribute_names("#closed", j::CLOSED_AT)
                        .expression_attribute_values(":shard", s(SWEEP_SHARD_OPEN))
                        .expression_attribute_values(":due", n(due_ms));
                }
                Sweep::Close => {
                    set.push("#closed = :updated_at");
                    remove.extend(["#shard", "#due"]);
                    b = b.expression_attribute_names("#closed", j::CLOSED_AT);
                }
            }
            if let UpdateKind::Reconciled { fetched_at } = &update.kind {
                set.push("#reconciled = :reconciled");
                b = b
                    .expression_attribute_names("#reconciled", j::RECONCILED_AT)
                    .expression_attribute_values(":reconciled", s(fetched_at));
            }
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
    ) -> Result<Transacted, PortError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.journey_update(update, newest)?)
            .transact_items(self.claims.completion(claim, "")?)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Transacted::Done),
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
            let full = c
                .cancellation_reasons()
                .first()
                .and_then(|r| r.item())
                .and_then(|item| item.get(crate::journeys::timeline::HISTORY))
                .and_then(|h| h.as_l().ok())
                .is_some_and(|h| h.len() >= crate::journeys::timeline::CAP);
            return Ok(if full {
                Transacted::Full
            } else {
                Transacted::Stale
            });
        }
        Err(fault("DynamoDB TransactWriteItems", e))
    }

    /// Trim a full timeline back to `timeline::SHOWN` entries (the oldest go). Only a full one:
    /// a concurrent trim that got there first makes this one a no-op.
    async fn trim(&self, pk: &str) -> Result<(), PortError> {
        use crate::journeys::timeline::{CAP, HISTORY, SHOWN};
        let paths: Vec<String> = (0..CAP - SHOWN).map(|i| format!("#history[{i}]")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(crate::journeys::worker::attr::PK, s(pk))
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .condition_expression("size(#history) >= :cap")
            .expression_attribute_names("#history", HISTORY)
            .expression_attribute_values(":cap", n(i64::try_from(CAP).unwrap_or(i64::MAX)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(fault("DynamoDB UpdateItem", e)),
        }
    }
}

impl DynamoJourneys {
    /// A stall report: move the journey from the sweeper's list to the stalled ones (the same
    /// index, another partition) if it is still open at the event the report refers to, and
    /// complete the claim, in one transaction.
    async fn acknowledge_stall(
        &self,
        update: &JourneyUpdate,
        refers_to: &str,
        claim: &Claim,
    ) -> Result<Applied, PortError> {
        use crate::journeys::worker::attr as j;
        let off_the_list = transaction_item(
            aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key(j::PK, s(&update.pk))
                .update_expression(
                    "SET #stalled = :now, #shard = :stalled_shard, \
                     #history = list_append(if_not_exists(#history, :empty), :entry)",
                )
                .expression_attribute_names("#history", crate::journeys::timeline::HISTORY)
                .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":entry", entry_value(&update.entry))
                .condition_expression(
                    "#event_id = :refers AND #shard = :open AND attribute_exists(#due)",
                )
                .expression_attribute_names("#stalled", j::STALLED_AT)
                .expression_attribute_names("#shard", j::SWEEP_SHARD)
                .expression_attribute_names("#due", j::DUE_AT)
                .expression_attribute_names("#event_id", j::EVENT_ID)
                .expression_attribute_values(":now", s(&update.updated_at))
                .expression_attribute_values(":refers", s(refers_to))
                .expression_attribute_values(":stalled_shard", s(SWEEP_SHARD_STALLED))
                .expression_attribute_values(":open", s(SWEEP_SHARD_OPEN)),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(off_the_list)
            .transact_items(self.claims.completion(claim, "")?)
            .send()
            .await;
        if result.is_ok() {
            return Ok(Applied::Acknowledged);
        }
        // The journey moved since (or was taken off already): only complete the claim.
        match lambda_idempotency::IdempotencyStore::complete(&self.claims, claim, "").await? {
            lambda_idempotency::Settled::Done => Ok(Applied::Acknowledged),
            _ => Err(PortError::new(
                "DynamoDB UpdateItem",
                FaultKind::Conflict,
                "the idempotency claim is no longer ours: nothing applied",
            )),
        }
    }
}

impl JourneyStore for DynamoJourneys {
    async fn apply(&self, update: &JourneyUpdate, claim: &Claim) -> Result<Applied, PortError> {
        if let UpdateKind::Stalled { refers_to } = &update.kind {
            return self.acknowledge_stall(update, refers_to, claim).await;
        }
        // A full timeline is trimmed and the apply tried again; twice is plenty (a trim makes
        // room for `CAP - SHOWN` events), a third time means something else is wrong.
        for _ in 0..3 {
            match self.transact(update, claim, true).await? {
                Transacted::Done => return Ok(Applied::Newest),
                Transacted::Full => {
                    self.trim(&update.pk).await?;
                    continue;
                }
                Transacted::Stale => {}
            }
            // A newer event is stored: count this one only (and keep it on the timeline). Its
            // one condition is the timeline's room.
            match self.transact(update, claim, false).await? {
                Transacted::Done => return Ok(Applied::Older),
                Transacted::Full => self.trim(&update.pk).await?,
                Transacted::Stale => break,
            }
        }
        Err(PortError::new(
            "DynamoDB TransactWriteItems",
            FaultKind::Unavailable,
            "the journey refused an update whose only condition is its timeline's room",
        ))
    }
}
