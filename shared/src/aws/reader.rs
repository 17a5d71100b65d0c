//! `JourneyReader`: an operator's reading of the journey table (`kycctl`, the console).

use super::due::DUE_PAGE;
use super::fault::fault;
use super::item::{entries, s};
use crate::fault::Fault;
use crate::journeys::worker::{SWEEP_SHARD_OPEN, SWEEP_SHARD_STALLED};
use aws_sdk_dynamodb::types::AttributeValue;

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
    /// Absent from a list (the index does not carry it): left out of the JSON then, never `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// When an open journey is due (or a stalled one was), epoch ms and RFC 3339.
    pub due_at_ms: Option<i64>,
    pub due_at: Option<String>,
    /// The latest events applied (at most `timeline::SHOWN`), in the order applied; empty (and
    /// left out of the JSON) on a list, where the index does not carry it, and on items written
    /// before the timeline was kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<crate::journeys::timeline::Entry>,
}

impl JourneyView {
    /// Whether its timeline holds the sweeper's stall reports, which `event_count` leaves out.
    pub fn has_stall_reports(&self) -> bool {
        self.history
            .iter()
            .any(|e| e.event_type == crate::journeys::completeness::STALLED)
    }

    fn of(item: &std::collections::HashMap<String, AttributeValue>) -> Option<Self> {
        use crate::aws::journey_table::attr as j;
        let text = |k: &str| super::item::text(item, k);
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
                .map(crate::event::timestamp),
            due_at_ms,
            history: crate::journeys::timeline::shown(entries(item)),
            hash: crate::journeys::worker::journey_hash(&pk),
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
    pub async fn get(&self, source: &str, subject: &str) -> Result<Option<JourneyView>, Fault> {
        use crate::aws::journey_table::attr as j;
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
    pub async fn find(&self, subject: &str) -> Result<Vec<JourneyView>, Fault> {
        let mut found = Vec::new();
        for source in crate::sources::registry::sources() {
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
    ) -> Result<Vec<JourneyView>, Fault> {
        use crate::aws::journey_table::{attr as j, DUE_INDEX};
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

impl JourneyReader {
    /// Drop the archive links of `<source>#<subject>`'s timeline (its erased deliveries), keeping
    /// every status: how many were dropped (none when the journey is unknown). The write is
    /// conditioned on the timeline it read, and read again when the worker moved it meanwhile.
    pub async fn drop_archive_links(&self, source: &str, subject: &str) -> Result<usize, Fault> {
        use crate::aws::journey_table::attr as j;
        use crate::journeys::timeline::HISTORY;
        let pk = format!("{source}#{subject}");
        for _ in 0..5 {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(j::PK, s(&pk))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| fault("DynamoDB GetItem", e))?;
            let Some(item) = out.item() else {
                return Ok(0);
            };
            let Some(AttributeValue::L(history)) = item.get(HISTORY) else {
                return Ok(0);
            };
            let linked: Vec<usize> = history
                .iter()
                .enumerate()
                .filter(|(_, e)| e.as_m().is_ok_and(|m| m.contains_key("archive_key")))
                .map(|(i, _)| i)
                .collect();
            if linked.is_empty() {
                return Ok(0);
            }
            let removes: Vec<String> = linked.iter().map(|i| format!("#h[{i}].#a")).collect();
            let event_id = item.get(j::EVENT_ID).cloned().unwrap_or(s(""));
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(j::PK, s(&pk))
                .update_expression(format!("REMOVE {}", removes.join(", ")))
                .condition_expression("size(#h) = :n AND #e = :e")
                .expression_attribute_names("#h", HISTORY)
                .expression_attribute_names("#a", "archive_key")
                .expression_attribute_names("#e", j::EVENT_ID)
                .expression_attribute_values(":n", AttributeValue::N(history.len().to_string()))
                .expression_attribute_values(":e", event_id)
                .send()
                .await;
            match result {
                Ok(_) => return Ok(linked.len()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(fault("DynamoDB UpdateItem", e)),
            }
        }
        Err(Fault::new(
            "DynamoDB UpdateItem",
            crate::fault::FaultKind::Unavailable,
            "the journey kept moving: run the erasure again",
        ))
    }
}
