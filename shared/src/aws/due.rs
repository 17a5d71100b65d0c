//! `DynamoDueJourneys`: the sweeper's reading of the journey table's due index.

use super::fault::fault;
use super::item::{n, s};
use crate::fault::Fault;
use crate::journeys::completeness::OpenJourney;
use crate::journeys::sweeper::{DueJourneys, Page};
use crate::journeys::worker::{journey_hash, SWEEP_SHARD_OPEN};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A due-index item as the sweeper reads it, or the attributes it lacks (or holds as another
/// type): a corrupt item is reported, never read as a journey `""` due at 0.
fn open_journey(item: &HashMap<String, AttributeValue>) -> Result<OpenJourney, Vec<&'static str>> {
    use crate::aws::journey_table::attr as j;
    let text = |k: &str| super::item::text(item, k);
    let due_at_ms = item
        .get(j::DUE_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let (pk, event_type, event_id, time) =
        (text(j::PK), text(j::TYPE), text(j::EVENT_ID), text(j::TIME));
    match (pk, event_type, event_id, time, due_at_ms) {
        (Some(pk), Some(event_type), Some(event_id), Some(time), Some(due_at_ms)) => {
            Ok(OpenJourney {
                pk,
                event_type,
                event_id,
                time,
                provider_status: text(j::PROVIDER_STATUS),
                provider_sub_status: text(j::PROVIDER_SUB_STATUS),
                due_at_ms,
                opened_at: text(j::OPENED_AT),
            })
        }
        (pk, event_type, event_id, time, due) => Err([
            (j::PK, pk.is_none()),
            (j::TYPE, event_type.is_none()),
            (j::EVENT_ID, event_id.is_none()),
            (j::TIME, time.is_none()),
            (j::DUE_AT, due.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
        .collect()),
    }
}

/// The journey table's sparse due index, as the sweeper queries it (never a scan).
#[derive(Debug, Clone)]
pub struct DynamoDueJourneys {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Due journeys read per query.
pub(super) const DUE_PAGE: i32 = 100;

impl DynamoDueJourneys {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl DueJourneys for DynamoDueJourneys {
    async fn due(&self, now_ms: i64, after: Option<(String, i64)>) -> Result<Page, Fault> {
        use crate::aws::journey_table::{attr as j, DUE_INDEX};
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
        let text = super::item::text;
        let mut corrupt = 0;
        let mut journeys = Vec::new();
        for item in out.items() {
            match open_journey(item) {
                Ok(journey) => journeys.push(journey),
                Err(missing) => {
                    // Named by its hash (never the customer reference), with what is wrong.
                    let journey = text(item, j::PK)
                        .map(|pk| journey_hash(&pk))
                        .unwrap_or_else(|| "(no pk)".to_owned());
                    tracing::error!(
                        journey,
                        missing = missing.join(","),
                        "a due-index item that is not a due journey: left, counted invalid"
                    );
                    corrupt += 1;
                }
            }
        }
        let next = out.last_evaluated_key().and_then(|k| {
            let pk = k.get(j::PK)?.as_s().ok()?.clone();
            let due = k.get(j::DUE_AT)?.as_n().ok()?.parse().ok()?;
            Some((pk, due))
        });
        Ok(Page {
            journeys,
            scanned: usize::try_from(out.scanned_count()).unwrap_or_default(),
            next,
            corrupt,
        })
    }
}
