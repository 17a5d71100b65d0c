//! `DynamoJourneys`: the journey worker's table.

use super::fault::fault;
use super::item::{entry_value, item_bytes, n, s, value_bytes};
use crate::fault::{Fault, FaultKind};
use crate::journeys::stream::Published;
use crate::journeys::worker::{
    Applied, JourneyStore, JourneyUpdate, Seen, Sweep, UpdateKind, SWEEP_SHARD_OPEN,
    SWEEP_SHARD_STALLED,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_idempotency::Claim;
use lambda_idempotency::{Completed, DynamoDbStore, NotCommitted};

/// How one apply transaction ended.
enum Transacted {
    Done(Completed),
    /// The journey changed since it was read (another worker wrote it): read it again.
    Changed,
}

/// An `Update` as an item of a `TransactWriteItems`.
fn transaction_item(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, Fault> {
    let update = update.build().map_err(|e| {
        Fault::new(
            "DynamoDB TransactWriteItems",
            FaultKind::Rejected,
            e.to_string(),
        )
    })?;
    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
        .update(update)
        .build())
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

/// A journey item's size as read: each timeline entry's (oldest first, with whether the project
/// made it: a start or a sweeper's report) and the rest's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sizes {
    entries: Vec<(usize, bool)>,
    rest: usize,
}

impl Sizes {
    /// Which entries to trim before appending one of `entry` bytes (their indexes, ascending):
    /// back to `SHOWN` entries once there are `CAP`, and back under `TRIMMED_ITEM_BYTES` once the
    /// item would pass `MAX_ITEM_BYTES` (whatever is left of the rest and the entry: the fields a
    /// writer stores are bounded, `journeys::bounds`). The oldest of the events the project made
    /// go first, then the oldest of the providers', so no run of starts or stall reports pushes
    /// a provider's event off the timeline while one of the project's own is left. `None`: no
    /// trim needed.
    fn to_trim(&self, entry: usize) -> Option<Vec<usize>> {
        use crate::journeys::bounds::{MAX_ITEM_BYTES, TRIMMED_ITEM_BYTES};
        use crate::journeys::timeline::{CAP, SHOWN};
        let len = self.entries.len();
        let mut left = self.rest + self.entries.iter().map(|(b, _)| b).sum::<usize>() + entry;
        let by_count = if len >= CAP { len - SHOWN } else { 0 };
        let over = left > MAX_ITEM_BYTES;
        let made_here: Vec<bool> = self.entries.iter().map(|(_, m)| *m).collect();
        let order = crate::journeys::timeline::trim_order(&made_here);
        let mut chosen = Vec::new();
        for i in order {
            let enough_count = chosen.len() >= by_count;
            let enough_size = !over || left <= TRIMMED_ITEM_BYTES;
            if enough_count && enough_size {
                break;
            }
            left -= self.entries[i].0;
            chosen.push(i);
        }
        chosen.sort_unstable();
        (!chosen.is_empty()).then_some(chosen)
    }
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

    /// The journey as it is now: what decides an apply, the write's guard, and its timeline's
    /// entries' sizes (oldest first) and the rest of the item's size.
    async fn seen(&self, pk: &str) -> Result<(Seen, Guard, Sizes), Fault> {
        use crate::aws::journey_table::attr as j;
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
            return Ok((Seen::default(), Guard::Absent, Sizes::default()));
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
        use crate::journeys::timeline::Origin;
        let made_here = |e: &AttributeValue| {
            let origin = e
                .as_m()
                .ok()
                .and_then(|m| m.get("origin"))
                .and_then(|o| o.as_s().ok());
            origin
                .and_then(|o| Origin::parse(o))
                .is_some_and(Origin::made_here)
        };
        let entries: Vec<(usize, bool)> = item
            .get(crate::journeys::timeline::HISTORY)
            .and_then(|h| h.as_l().ok())
            .map(|h| {
                h.iter()
                    .map(|e| (1 + value_bytes(e), made_here(e)))
                    .collect()
            })
            .unwrap_or_default();
        let sizes = Sizes {
            rest: item_bytes(item) - entries.iter().map(|(b, _)| b).sum::<usize>(),
            entries,
        };
        Ok((seen, guard, sizes))
    }

    /// The condition that the journey is as `guard` saw it, and the version's names and value.
    fn guarded(
        b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        guard: Guard,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        use crate::aws::journey_table::attr as j;
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
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, Fault> {
        use crate::aws::journey_table::attr as j;
        let builder = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(j::PK, s(&update.pk));
        let mut e = Expression {
            set: vec![
                "#updated_at = :updated_at",
                "#history = list_append(if_not_exists(#history, :empty), :entry)",
            ],
            remove: Vec::new(),
            b: Self::guarded(builder, guard),
        };
        e.name("#updated_at", j::UPDATED_AT)
            .name("#count", j::EVENT_COUNT)
            .name("#history", crate::journeys::timeline::HISTORY)
            .value(":updated_at", s(&update.updated_at))
            .value(":empty", AttributeValue::L(Vec::new()))
            .value(":entry", entry_value(&update.entry));
        if newest {
            e.newest_state(update);
        }
        let mut expression = format!("SET {} ADD #count :one, #version :one", e.set.join(", "));
        if !e.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", e.remove.join(", ")));
        }
        transaction_item(e.b.update_expression(expression))
    }

    /// A stall report that holds: the journey moves from the sweeper's list to the stalled ones
    /// (the same index, another partition), its timeline gains the report.
    fn stall_update(
        &self,
        update: &JourneyUpdate,
        guard: Guard,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, Fault> {
        use crate::aws::journey_table::attr as j;
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

    /// One transaction: the journey write (none for a stall report the journey has moved past)
    /// and the claim's completion keeping `kept`.
    async fn transact(
        &self,
        journey: Option<aws_sdk_dynamodb::types::TransactWriteItem>,
        claim: &Claim,
        kept: &str,
    ) -> Result<Transacted, Fault> {
        let transaction = self
            .client
            .transact_write_items()
            .set_transact_items(journey.map(|j| vec![j]));
        match self.claims.complete_with(claim, kept, transaction).await {
            Ok(completed) => Ok(Transacted::Done(completed)),
            Err(NotCommitted::NotOurs) => Err(not_ours()),
            Err(NotCommitted::ConditionFailed(_)) => Ok(Transacted::Changed),
            Err(NotCommitted::Store(e)) => Err(e.into()),
            Err(other) => Err(Fault::new(
                "DynamoDB TransactWriteItems",
                FaultKind::Unavailable,
                other.to_string(),
            )),
        }
    }

    /// Trim the oldest `count` entries off the timeline, if it still has `len` of them (a
    /// concurrent write or trim that got there first makes this one a no-op: the apply reads
    /// again).
    /// Remove the timeline entries at `indexes` (each index as the list is now: DynamoDB reads
    /// every path of one update against the item before it), if the list still has `len`.
    async fn trim(&self, pk: &str, indexes: &[usize], len: usize) -> Result<(), Fault> {
        use crate::journeys::timeline::HISTORY;
        let paths: Vec<String> = indexes.iter().map(|i| format!("#history[{i}]")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(crate::aws::journey_table::attr::PK, s(pk))
            .update_expression(format!("REMOVE {}", paths.join(", ")))
            .condition_expression("size(#history) = :len")
            .expression_attribute_names("#history", HISTORY)
            .expression_attribute_values(":len", n(i64::try_from(len).unwrap_or(i64::MAX)))
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

fn not_ours() -> Fault {
    Fault::new(
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
    ) -> Result<(Applied, Published, Completed), Fault> {
        for _ in 0..ATTEMPTS {
            let (seen, guard, sizes) = self.seen(&update.pk).await?;
            // A full timeline is trimmed first (one extra write per `CAP - SHOWN` events), and
            // one that would take the item over its bound too.
            let entry = value_bytes(&entry_value(&update.entry));
            if let Some(indexes) = sizes.to_trim(entry) {
                self.trim(&update.pk, &indexes, sizes.entries.len()).await?;
                continue;
            }
            let (applied, state, count) = seen.decide(update);
            let published = applied.published(state, count);
            let kept = published.kept();
            let journey = match applied {
                Applied::Newest => Some(self.journey_update(update, true, guard)?),
                Applied::Older => Some(self.journey_update(update, false, guard)?),
                Applied::Acknowledged => Some(self.stall_update(update, guard)?),
                // A stall report the journey has moved past changes nothing: only the claim.
                Applied::Superseded => None,
            };
            match self.transact(journey, claim, &kept).await? {
                Transacted::Done(completed) => return Ok((applied, published, completed)),
                Transacted::Changed => continue,
            }
        }
        Err(Fault::new(
            "DynamoDB TransactWriteItems",
            FaultKind::Unavailable,
            "the journey changed under every attempt to apply the event",
        ))
    }
}

/// A journey's `UpdateItem` as it is built: its SET and REMOVE clauses, and the builder with
/// their names and values.
struct Expression {
    set: Vec<&'static str>,
    remove: Vec<&'static str>,
    b: aws_sdk_dynamodb::types::builders::UpdateBuilder,
}

impl Expression {
    fn name(&mut self, placeholder: &str, attribute: &str) -> &mut Self {
        self.b = std::mem::take(&mut self.b).expression_attribute_names(placeholder, attribute);
        self
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) -> &mut Self {
        self.b = std::mem::take(&mut self.b).expression_attribute_values(placeholder, value);
        self
    }

    /// The event is the journey's newest: its type, id and time, its place on the sweeper's
    /// list, when it was reconciled, and the provider's statuses.
    fn newest_state(&mut self, update: &JourneyUpdate) {
        use crate::aws::journey_table::attr as j;
        self.set.extend([
            "#type = :type",
            "#event_id = :event_id",
            "#time = :time",
            "#time_ms = :time_ms",
        ]);
        self.name("#type", j::TYPE)
            .name("#event_id", j::EVENT_ID)
            .name("#time", j::TIME)
            .name("#time_ms", j::TIME_MS)
            .value(":type", s(&update.event_type))
            .value(":event_id", s(&update.event_id))
            .value(":time", s(&update.time))
            .value(":time_ms", n(update.time_ms));
        self.sweep(update.sweep);
        if let UpdateKind::Reconciled { fetched_at } = &update.kind {
            self.set.push("#reconciled = :reconciled");
            self.name("#reconciled", j::RECONCILED_AT)
                .value(":reconciled", s(fetched_at));
        }
        self.name("#ps", j::PROVIDER_STATUS)
            .name("#pss", j::PROVIDER_SUB_STATUS);
        for (name, clause, placeholder, value) in [
            ("#ps", "#ps = :ps", ":ps", &update.provider_status),
            ("#pss", "#pss = :pss", ":pss", &update.provider_sub_status),
        ] {
            match value {
                Some(v) => {
                    self.set.push(clause);
                    self.value(placeholder, s(v));
                }
                None => self.remove.push(name),
            }
        }
    }

    /// The journey's place on the sweeper's list: due (open) or off it (closed).
    fn sweep(&mut self, sweep: Sweep) {
        use crate::aws::journey_table::attr as j;
        self.name("#shard", j::SWEEP_SHARD).name("#due", j::DUE_AT);
        match sweep {
            Sweep::Due(due_ms) => {
                self.set.extend([
                    "#shard = :shard",
                    "#due = :due",
                    "#opened = if_not_exists(#opened, :updated_at)",
                ]);
                self.remove.extend(["#stalled", "#closed"]);
                self.name("#opened", j::OPENED_AT)
                    .name("#stalled", j::STALLED_AT)
                    .name("#closed", j::CLOSED_AT)
                    .value(":shard", s(SWEEP_SHARD_OPEN))
                    .value(":due", n(due_ms));
            }
            Sweep::Close => {
                self.set.push("#closed = :updated_at");
                self.remove.extend(["#shard", "#due"]);
                self.name("#closed", j::CLOSED_AT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sizes;
    use crate::journeys::bounds::{MAX_ITEM_BYTES, TRIMMED_ITEM_BYTES};
    use crate::journeys::timeline::{CAP, SHOWN};

    #[test]
    fn a_timeline_is_trimmed_by_count_and_by_size() {
        let small = Sizes {
            entries: vec![(100, false); CAP - 1],
            rest: 500,
        };
        assert_eq!(small.to_trim(100), None);
        let full = Sizes {
            entries: vec![(100, false); CAP],
            rest: 500,
        };
        assert_eq!(full.to_trim(100), Some((0..CAP - SHOWN).collect()));
        // Thirty-one 2 KiB entries are over the bound: the oldest go until it is back under.
        let heavy = Sizes {
            entries: vec![(2048, false); 31],
            rest: 2048,
        };
        let count = heavy.to_trim(2048).expect("a trim").len();
        let left = 2048 + 2048 * (31 - count) + 2048;
        assert!(left <= TRIMMED_ITEM_BYTES, "{left}");
        assert!(left + 2048 > TRIMMED_ITEM_BYTES, "no more than needed");
        assert!(
            Sizes {
                entries: vec![(2048, false); 20],
                rest: 2048
            }
            .to_trim(2048)
            .is_none(),
            "under {MAX_ITEM_BYTES}: none"
        );
    }

    /// Three provider events among a full timeline of starts and stall reports: the project's
    /// own events go first, and the providers' stay as long as one of those is left.
    #[test]
    fn the_projects_own_events_are_trimmed_before_a_providers() {
        let mut entries = vec![(100, true); CAP];
        for i in [0, 1, 60] {
            entries[i] = (100, false);
        }
        let full = Sizes { entries, rest: 500 };
        let trimmed = full.to_trim(100).expect("a trim");
        assert_eq!(trimmed.len(), CAP - SHOWN);
        assert!(
            !trimmed.iter().any(|i| [0, 1, 60].contains(i)),
            "{trimmed:?}"
        );
        assert_eq!(
            trimmed,
            (2..=21).collect::<Vec<_>>(),
            "the oldest of the project's"
        );
        // Only providers' events: the oldest of them, as before.
        let providers = Sizes {
            entries: vec![(100, false); CAP],
            rest: 500,
        };
        assert_eq!(providers.to_trim(100), Some((0..CAP - SHOWN).collect()));
    }
}
