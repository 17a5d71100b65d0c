//! `DynamoJourneys`: the journey worker's table.

use super::fault::fault;
use super::item::{entry_value, n, s};
use crate::journeys::stream::Published;
use crate::journeys::worker::{
    Applied, JourneyStore, JourneyUpdate, Seen, Sweep, UpdateKind, SWEEP_SHARD_OPEN,
    SWEEP_SHARD_STALLED,
};
use crate::ports::{Claim, FaultKind, PortError};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_idempotency::{transaction_item, DynamoDbStore};

/// How one apply transaction ended.
enum Transacted {
    Done,
    /// The journey changed since it was read (another worker wrote it): read it again.
    Changed,
}

/// The journey as read before a write, the write conditioned on it not having changed since:
/// every worker write adds one to `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// No item yet.
    Absent,
    /// An item written before items had a version.
    Unversioned,
    Version(i64),
}

/// How many times an apply reads the journey again after another worker changed it.
const ATTEMPTS: usize = 8;

/// The journey table on DynamoDB. Each apply reads the journey (a consistent read), decides what
/// the event does to it (`Seen::decide`), and writes it in one transaction with the completion of
/// the worker's idempotency claim, which keeps what the journey stream says about the event; the
/// write holds only if no other worker wrote the journey since the read.
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

    /// The journey as it is now: what decides an apply, the write's guard, the timeline's length.
    async fn seen(&self, pk: &str) -> Result<(Seen, Guard, usize), PortError> {
        use crate::journeys::worker::attr as j;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(j::PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fault("DynamoDB GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok((Seen::default(), Guard::Absent, 0));
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let number = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
        };
        let seen = Seen {
            event_type: text(j::TYPE),
            event_id: text(j::EVENT_ID),
            time_ms: number(j::TIME_MS),
            event_count: number(j::EVENT_COUNT)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            shard: text(j::SWEEP_SHARD),
            due: item.contains_key(j::DUE_AT),
            closed: item.contains_key(j::CLOSED_AT),
        };
        let guard = number(j::VERSION).map_or(Guard::Unversioned, Guard::Version);
        let history = item
            .get(crate::journeys::timeline::HISTORY)
            .and_then(|h| h.as_l().ok())
            .map_or(0, Vec::len);
        Ok((seen, guard, history))
    }

    /// The condition that the journey is as `guard` saw it, and the version's names and value.
    fn guarded(
        b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        guard: Guard,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        use crate::journeys::worker::attr as j;
        // DynamoDB refuses a name or value the expressions do not use.
        let b = b
            .expression_attribute_names("#version", j::VERSION)
            .expression_attribute_values(":one", n(1));
        match guard {
            Guard::Absent => b
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", j::PK),
            Guard::Unversioned => b
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#version)")
                .expression_attribute_names("#pk", j::PK),
            Guard::Version(v) => b
                .condition_expression("#version = :version")
                .expression_attribute_values(":version", n(v)),
        }
    }

    fn journey_update(
        &self,
        update: &JourneyUpdate,
        newest: bool,
        guard: Guard,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, PortError> {
        use crate::journeys::worker::attr as j;
        let mut set = vec![
            "#updated_at = :updated_at",
            "#history = list_append(if_not_exists(#history, :empty), :entry)",
        ];
        let mut remove = Vec::new();
        let mut b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(j::PK, s(&update.pk))
            .expression_attribute_names("#updated_at", j::UPDATED_AT)
            .expression_attribute_names("#count", j::EVENT_COUNT)
            .expression_attribute_names("#history", crate::journeys::timeline::HISTORY)
            .expression_attribute_values(":updated_at", s(&update.updated_at))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", entry_value(&update.entry));
        b = Self::guarded(b, guard);
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
                .expression_attribute_values(":time_ms", n(update.time_ms));
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
        let mut expression = format!("SET {} ADD #count :one, #version :one", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        transaction_item(b.update_expression(expression))
    }

    /// A stall report that holds: the journey moves from the sweeper's list to the stalled ones
    /// (the same index, another partition), its timeline gains the report.
    fn stall_update(
        &self,
        update: &JourneyUpdate,
        guard: Guard,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, PortError> {
        use crate::journeys::worker::attr as j;
        let b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(j::PK, s(&update.pk))
            .update_expression(
                "SET #stalled = :now, #shard = :stalled_shard, \
                 #history = list_append(if_not_exists(#history, :empty), :entry) \
                 ADD #version :one",
            )
            .expression_attribute_names("#history", crate::journeys::timeline::HISTORY)
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", entry_value(&update.entry))
            .expression_attribute_names("#stalled", j::STALLED_AT)
            .expression_attribute_names("#shard", j::SWEEP_SHARD)
            .expression_attribute_values(":now", s(&update.updated_at))
            .expression_attribute_values(":stalled_shard", s(SWEEP_SHARD_STALLED));
        transaction_item(Self::guarded(b, guard))
    }

    /// One transaction: the journey write and the claim's completion keeping `kept`.
    async fn transact(
        &self,
        journey: aws_sdk_dynamodb::types::TransactWriteItem,
        claim: &Claim,
        kept: &str,
    ) -> Result<Transacted, PortError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let result = self
            .client
            .transact_write_items()
            .transact_items(journey)
            .transact_items(self.claims.completion(claim, kept)?)
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
            return Err(not_ours());
        }
        if failed(0) {
            return Ok(Transacted::Changed);
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

fn not_ours() -> PortError {
    PortError::new(
        "DynamoDB TransactWriteItems",
        FaultKind::Conflict,
        "the idempotency claim is no longer ours: nothing applied",
    )
}

impl JourneyStore for DynamoJourneys {
    async fn apply(
        &self,
        update: &JourneyUpdate,
        claim: &Claim,
    ) -> Result<(Applied, Published), PortError> {
        for _ in 0..ATTEMPTS {
            let (seen, guard, history) = self.seen(&update.pk).await?;
            // A full timeline is trimmed first (one extra write per `CAP - SHOWN` events).
            if history >= crate::journeys::timeline::CAP {
                self.trim(&update.pk).await?;
                continue;
            }
            let (applied, state, count) = seen.decide(update);
            let published = applied.published(state, count);
            let kept = published.kept();
            let journey = match applied {
                Applied::Newest => self.journey_update(update, true, guard)?,
                Applied::Older => self.journey_update(update, false, guard)?,
                Applied::Acknowledged => self.stall_update(update, guard)?,
                // A stall report the journey has moved past changes nothing: only the claim.
                Applied::Superseded => {
                    return match lambda_idempotency::IdempotencyStore::complete(
                        &self.claims,
                        claim,
                        &kept,
                    )
                    .await?
                    {
                        lambda_idempotency::Settled::Done => Ok((applied, published)),
                        _ => Err(not_ours()),
                    };
                }
            };
            match self.transact(journey, claim, &kept).await? {
                Transacted::Done => return Ok((applied, published)),
                Transacted::Changed => continue,
            }
        }
        Err(PortError::new(
            "DynamoDB TransactWriteItems",
            FaultKind::Unavailable,
            "the journey changed under every attempt to apply the event",
        ))
    }
}
