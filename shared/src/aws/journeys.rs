//! `DynamoJourneys`: the journey worker's table.

use crate::completeness::OpenJourney;
use crate::journey::{
    Applied, JourneyStore, JourneyUpdate, Sweep, UpdateKind, SWEEP_SHARD_OPEN, SWEEP_SHARD_STALLED,
};
use crate::ports::{Claim, FaultKind, PortError};
use crate::sweeper::{DueJourneys, Page};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_idempotency::{classify as fault, transaction_item, DynamoDbStore};

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// A timeline entry as the journey item keeps it (a map in the `history` list).
fn entry_value(e: &crate::timeline::Entry) -> AttributeValue {
    let mut m = std::collections::HashMap::from([
        ("event_id".to_owned(), s(&e.event_id)),
        ("type".to_owned(), s(&e.event_type)),
        ("time".to_owned(), s(&e.time)),
        ("origin".to_owned(), s(e.origin.as_str())),
        ("applied_at".to_owned(), s(&e.applied_at)),
    ]);
    for (k, v) in [
        ("provider_status", &e.provider_status),
        ("provider_sub_status", &e.provider_sub_status),
        ("archive_key", &e.archive_key),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), s(v));
        }
    }
    AttributeValue::L(vec![AttributeValue::M(m)])
}

/// The timeline entries of a journey item, oldest first (an entry it cannot read is left out).
fn entries(
    item: &std::collections::HashMap<String, AttributeValue>,
) -> Vec<crate::timeline::Entry> {
    let Some(AttributeValue::L(list)) = item.get(crate::timeline::HISTORY) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| {
            let m = v.as_m().ok()?;
            let text = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned();
            Some(crate::timeline::Entry {
                event_id: text("event_id")?,
                event_type: text("type")?,
                time: text("time")?,
                provider_status: text("provider_status"),
                provider_sub_status: text("provider_sub_status"),
                origin: crate::timeline::Origin::parse(&text("origin")?)?,
                archive_key: text("archive_key"),
                applied_at: text("applied_at")?,
            })
        })
        .collect()
}

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
        use crate::journey::attr as j;
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
            .expression_attribute_names("#history", crate::timeline::HISTORY)
            .expression_attribute_values(":updated_at", s(&update.updated_at))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", entry_value(&update.entry))
            .expression_attribute_values(
                ":cap",
                n(i64::try_from(crate::timeline::CAP).unwrap_or(i64::MAX)),
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
                b = b.expression_attribute_values(":started", s(crate::completeness::STARTED));
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
                .and_then(|item| item.get(crate::timeline::HISTORY))
                .and_then(|h| h.as_l().ok())
                .is_some_and(|h| h.len() >= crate::timeline::CAP);
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
        use crate::timeline::{CAP, HISTORY, SHOWN};
        let paths: Vec<String> = (0..CAP - SHOWN).map(|i| format!("#history[{i}]")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(crate::journey::attr::PK, s(pk))
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
        use crate::journey::attr as j;
        let off_the_list = transaction_item(
            aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key(j::PK, s(&update.pk))
                .update_expression(
                    "SET #stalled = :now, #shard = :stalled_shard, \
                     #history = list_append(if_not_exists(#history, :empty), :entry)",
                )
                .expression_attribute_names("#history", crate::timeline::HISTORY)
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
            lambda_idempotency::Settled::NotOurs => Err(PortError::new(
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

/// The journey table's sparse due index, as the sweeper queries it (never a scan).
#[derive(Debug, Clone)]
pub struct DynamoDueJourneys {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Due journeys read per query.
const DUE_PAGE: i32 = 100;

impl DynamoDueJourneys {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl DueJourneys for DynamoDueJourneys {
    async fn due(&self, now_ms: i64, after: Option<(String, i64)>) -> Result<Page, PortError> {
        use crate::journey::{attr as j, DUE_INDEX};
        let start = after.map(|(pk, due)| {
            [
                (j::PK.to_owned(), s(&pk)),
                (j::SWEEP_SHARD.to_owned(), s(SWEEP_SHARD_OPEN)),
                (j::DUE_AT.to_owned(), n(due)),
            ]
            .into_iter()
            .collect()
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("#shard = :open AND #due <= :now")
            .expression_attribute_names("#shard", j::SWEEP_SHARD)
            .expression_attribute_names("#due", j::DUE_AT)
            .expression_attribute_values(":open", s(SWEEP_SHARD_OPEN))
            .expression_attribute_values(":now", n(now_ms))
            .set_exclusive_start_key(start)
            .limit(DUE_PAGE)
            .send()
            .await
            .map_err(|e| fault("DynamoDB Query", e))?;
        let text = |item: &std::collections::HashMap<String, AttributeValue>, k: &str| {
            item.get(k).and_then(|v| v.as_s().ok()).cloned()
        };
        let journeys: Vec<OpenJourney> = out
            .items()
            .iter()
            .map(|item| OpenJourney {
                pk: text(item, j::PK).unwrap_or_default(),
                event_type: text(item, j::TYPE).unwrap_or_default(),
                event_id: text(item, j::EVENT_ID).unwrap_or_default(),
                time: text(item, j::TIME).unwrap_or_default(),
                provider_status: text(item, j::PROVIDER_STATUS),
                provider_sub_status: text(item, j::PROVIDER_SUB_STATUS),
                due_at_ms: item
                    .get(j::DUE_AT)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_default(),
                opened_at: text(item, j::OPENED_AT),
            })
            .collect();
        let next = out.last_evaluated_key().and_then(|k| {
            let pk = k.get(j::PK)?.as_s().ok()?.clone();
            let due = k.get(j::DUE_AT)?.as_n().ok()?.parse().ok()?;
            Some((pk, due))
        });
        Ok(Page {
            journeys,
            scanned: usize::try_from(out.scanned_count()).unwrap_or_default(),
            next,
        })
    }
}

/// A journey as operators read it (`kycctl journey`): every attribute the table keeps, times
/// also as RFC 3339.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JourneyView {
    pub pk: String,
    /// How logs name it (`journey::journey_hash`).
    pub hash: String,
    pub source: String,
    pub subject: String,
    /// `open` (on the sweeper's list), `stalled` (reported, until a new event moves it), `closed`.
    pub state: &'static str,
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub time: Option<String>,
    pub provider_status: Option<String>,
    pub provider_sub_status: Option<String>,
    /// Absent from a list (the index does not carry it).
    pub event_count: Option<i64>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    pub stalled_at: Option<String>,
    pub reconciled_at: Option<String>,
    /// When an open journey is due (or a stalled one was), epoch ms and RFC 3339.
    pub due_at_ms: Option<i64>,
    pub due_at: Option<String>,
    /// The latest events applied (at most `timeline::SHOWN`), oldest first; empty on a list
    /// (the index does not carry it) and on items written before the timeline was kept.
    pub history: Vec<crate::timeline::Entry>,
}

impl JourneyView {
    fn of(item: &std::collections::HashMap<String, AttributeValue>) -> Option<Self> {
        use crate::journey::attr as j;
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let number = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let pk = text(j::PK)?;
        let (source, subject) = pk.split_once('#')?;
        let due_at_ms = number(j::DUE_AT);
        let state = match text(j::SWEEP_SHARD).as_deref() {
            Some(SWEEP_SHARD_OPEN) => "open",
            Some(SWEEP_SHARD_STALLED) => "stalled",
            _ if text(j::CLOSED_AT).is_some() => "closed",
            _ => "unknown",
        };
        Some(Self {
            source: source.to_owned(),
            subject: subject.to_owned(),
            state,
            event_type: text(j::TYPE),
            event_id: text(j::EVENT_ID),
            time: text(j::TIME),
            provider_status: text(j::PROVIDER_STATUS),
            provider_sub_status: text(j::PROVIDER_SUB_STATUS),
            event_count: number(j::EVENT_COUNT),
            opened_at: text(j::OPENED_AT),
            closed_at: text(j::CLOSED_AT),
            stalled_at: text(j::STALLED_AT),
            reconciled_at: text(j::RECONCILED_AT),
            due_at: due_at_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            due_at_ms,
            history: {
                let mut all = entries(item);
                let extra = all.len().saturating_sub(crate::timeline::SHOWN);
                all.drain(..extra);
                all
            },
            hash: crate::journey::journey_hash(&pk),
            pk,
        })
    }
}

/// The journey table as operators read it: one journey by key, the open or stalled ones from
/// the due index (a query of one partition, never a scan).
#[derive(Debug, Clone)]
pub struct JourneyReader {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl JourneyReader {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The journey `<source>#<subject>`, if the worker has applied anything to it.
    pub async fn get(&self, source: &str, subject: &str) -> Result<Option<JourneyView>, PortError> {
        use crate::journey::attr as j;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(j::PK, s(&format!("{source}#{subject}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fault("DynamoDB GetItem", e))?;
        Ok(out.item().and_then(JourneyView::of))
    }

    /// A customer's journeys across every source, by their reference (one read per source).
    pub async fn find(&self, subject: &str) -> Result<Vec<JourneyView>, PortError> {
        let mut found = Vec::new();
        for source in crate::registry::sources() {
            if let Some(j) = self.get(source.name, subject).await? {
                found.push(j);
            }
        }
        Ok(found)
    }

    /// Up to `limit` journeys of one partition of the due index (`open` or `stalled`), oldest
    /// due first, of `source` only when given (a filter: the items of other sources are read
    /// and skipped, so a query costs the partition's items up to the limit either way).
    pub async fn list(
        &self,
        shard: &str,
        source: Option<&str>,
        limit: usize,
    ) -> Result<Vec<JourneyView>, PortError> {
        use crate::journey::{attr as j, DUE_INDEX};
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("#shard = :shard")
                .expression_attribute_names("#shard", j::SWEEP_SHARD)
                .expression_attribute_values(":shard", s(shard))
                .set_exclusive_start_key(start)
                .limit(DUE_PAGE);
            if let Some(source) = source {
                query = query
                    .filter_expression("begins_with(#pk, :source)")
                    .expression_attribute_names("#pk", j::PK)
                    .expression_attribute_values(":source", s(&format!("{source}#")));
            }
            let out = query.send().await.map_err(|e| fault("DynamoDB Query", e))?;
            found.extend(out.items().iter().filter_map(JourneyView::of));
            if found.len() >= limit {
                found.truncate(limit);
                return Ok(found);
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(found),
            }
        }
    }
}
