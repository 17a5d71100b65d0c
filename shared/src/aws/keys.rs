//! `ArchiveKeyTable`: each archived delivery's data key (KMS, under the archive key, bound to its
//! journey by the encryption context) kept wrapped in the archive keys table, and the erasures
//! that deleted them (see `intake::seal`).
//!
//! The table: `pk` the journey's partition, `<source>#<journey hash>` (`seal::partition`; items
//! written before have the hash alone, and are still read and erased), `sk` the event id (a key
//! item: `keys`, the wrapped data keys of that delivery, one per attempt that sealed it; or, once
//! erased, its tombstone: `erased_at` and no key) or `#erasure#<time>` (an erasure record:
//! `erased_at`, `by`, `reason`, `event_ids`). Never a customer reference. A webhook keeps a key
//! only where no tombstone is, so a provider's retry after an erasure never keys it again.

use super::fault::fault;
use super::item::s;
use crate::fault::{Fault, FaultKind};
use crate::intake::archive::ArchivedDelivery;
use crate::intake::seal::{DataKey, KeyVault, CONTEXT_KEY, ERASURE_PREFIX};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The attribute names of the archive keys table.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const KEYS: &str = "keys";
    pub const KEPT_AT: &str = "kept_at";
    pub const ERASED_AT: &str = "erased_at";
    pub const BY: &str = "by";
    pub const REASON: &str = "reason";
    pub const EVENT_IDS: &str = "event_ids";
}

/// What a webhook function calls on the archive keys table (keep a delivery's wrapped key).
pub const KEEP_ACTIONS: &[&str] = &["dynamodb:UpdateItem"];
/// What the operator's commands call on the archive keys table (read a data key, erase, reapply).
pub const OPERATOR_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
];
/// The attributes a webhook function's write of a key item names (`KEEP_ACTIONS` is held to
/// them): it writes the first four, and reads `erased_at` in its condition (no tombstone).
pub const KEPT_ATTRIBUTES: &[&str] = &[
    attr::PK,
    attr::SK,
    attr::KEYS,
    attr::KEPT_AT,
    attr::ERASED_AT,
];
/// The journey item's attributes an erasure touches (it drops the history's archive links,
/// conditioned on the history's length and the last event).
pub const JOURNEY_ERASURE_ATTRIBUTES: &[&str] = &[
    crate::aws::journey_table::attr::PK,
    crate::journeys::timeline::HISTORY,
    crate::aws::journey_table::attr::EVENT_ID,
];

/// What it calls on the archive key for a delivery's data key (the key policy binds it to the
/// `journey` encryption context).
pub const DATA_KEY_ACTIONS: &[&str] = &["kms:GenerateDataKey"];

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// The journey's keys are deleted, and this record says so.
    Now(Erasure),
    /// An earlier erasure deleted them and nothing was archived since: nothing written.
    Already,
    /// The table holds neither a key nor an erasure record of the journey (a reference mistyped,
    /// or one that was never archived): nothing written, nothing erased.
    NothingFound,
}

/// An erasure record: a journey's keys deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub journey: String,
    /// RFC 3339.
    pub erased_at: String,
    /// The caller's identity (its ARN).
    pub by: String,
    pub reason: String,
    /// The deliveries whose keys it deleted.
    pub event_ids: Vec<String>,
}

/// A delivery's data key as a reader finds it.
#[derive(Debug)]
pub enum Found {
    /// The candidate keys (one per attempt that sealed it; the seal opens with one).
    Keys(Vec<[u8; 32]>),
    /// Deleted by this erasure.
    Erased(Erasure),
    /// Neither a key nor an erasure that names the delivery.
    Missing,
}

/// The archive keys table and the archive key, as the webhook functions (`KeyVault`) and the
/// operator's commands use them.
#[derive(Debug, Clone)]
pub struct ArchiveKeyTable {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    /// The archive key (`ARCHIVE_KMS_KEY_ID`): needed to make data keys, not to read them.
    kms_key_id: Option<String>,
}

/// The string attribute `k` of `item`, or empty.
fn text(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    super::item::text(item, k).unwrap_or_default()
}

impl ArchiveKeyTable {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self {
            ddb: aws_sdk_dynamodb::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            table: table.into(),
            kms_key_id: None,
        }
    }

    /// Make data keys under `key_id` (a webhook function).
    pub fn generating_under(mut self, key_id: impl Into<String>) -> Self {
        self.kms_key_id = Some(key_id.into());
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item, read consistently.
    async fn item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, String> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(pk))
            .key(attr::SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading its data key: {}", fault("DynamoDB GetItem", e)))?;
        Ok(out.item().cloned())
    }

    /// The data key of delivery `event_id` of `journey` (of `source`), each wrapped key
    /// decrypted by KMS with the journey's context; or the erasure that deleted it (its
    /// tombstone, or an erasure record of an item in the old form).
    pub async fn find(&self, source: &str, journey: &str, event_id: &str) -> Result<Found, String> {
        let partition = crate::intake::seal::partition(source, journey);
        let item = match self.item(&partition, event_id).await? {
            Some(item) => Some(item),
            None => self.item(journey, event_id).await?,
        };
        let wrapped: Vec<Vec<u8>> = item
            .as_ref()
            .and_then(|i| i.get(attr::KEYS))
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_b().ok().map(|b| b.as_ref().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        if wrapped.is_empty() {
            if let Some(erased_at) = item
                .as_ref()
                .and_then(|i| super::item::text(i, attr::ERASED_AT))
            {
                return Ok(Found::Erased(Erasure {
                    journey: partition,
                    erased_at,
                    event_ids: vec![event_id.to_owned()],
                    ..Erasure::default()
                }));
            }
            let mut erasures = self.erasures(&partition).await?;
            erasures.extend(self.erasures(journey).await?);
            return Ok(
                match erasures
                    .into_iter()
                    .find(|e| e.event_ids.iter().any(|id| id == event_id))
                {
                    Some(e) => Found::Erased(e),
                    None => Found::Missing,
                },
            );
        }
        let mut keys = Vec::new();
        for w in wrapped {
            let out = self
                .kms
                .decrypt()
                .ciphertext_blob(Blob::new(w))
                .encryption_context(CONTEXT_KEY, journey)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "decrypting its data key (kms:Decrypt): {}",
                        aws_sdk_kms::error::DisplayErrorContext(&e)
                    )
                })?;
            if let Some(k) = out
                .plaintext()
                .and_then(|p| <[u8; 32]>::try_from(p.as_ref()).ok())
            {
                keys.push(k);
            }
        }
        Ok(Found::Keys(keys))
    }

    /// Open the sealed `delivery` (the object at `object_key`) with its data key; or mark it
    /// erased (`erased`: the erasure's time); or say why it stays sealed (`unopened`).
    pub async fn open(&self, object_key: &str, delivery: &mut ArchivedDelivery) {
        let Some(journey) = delivery.journey.clone() else {
            delivery.unopened = Some("it names no journey".to_owned());
            return;
        };
        match self
            .find(&delivery.source, &journey, &delivery.event_id)
            .await
        {
            Ok(Found::Keys(candidates)) => {
                let mut why = "no data key".to_owned();
                for k in &candidates {
                    match delivery.unseal(object_key, k) {
                        Ok(()) => return,
                        Err(e) => why = e,
                    }
                }
                delivery.unopened = Some(why);
            }
            Ok(Found::Erased(e)) => delivery.erased = Some(e.erased_at),
            Ok(Found::Missing) => delivery.unopened = Some(
                "its data key is missing and no erasure names it (deleted outside kycctl erase?)"
                    .to_owned(),
            ),
            Err(why) => delivery.unopened = Some(why),
        }
    }

    /// Every item of `journey` (key items and erasure records).
    async fn items(&self, journey: &str) -> Result<Vec<HashMap<String, AttributeValue>>, String> {
        self.ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(journey))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| format!("{}", fault("DynamoDB Query", e)))
    }

    /// The erasure records of `journey`, oldest first.
    pub async fn erasures(&self, journey: &str) -> Result<Vec<Erasure>, String> {
        Ok(self
            .items(journey)
            .await?
            .iter()
            .filter(|i| text(i, attr::SK).starts_with(ERASURE_PREFIX))
            .map(|i| erasure_of(journey, i))
            .collect())
    }

    /// Erase `journey` of `source`: an erasure record naming every delivery whose key is kept,
    /// written first (a half-done erasure is finished by `reapply`), then each key replaced by
    /// its tombstone (an item of the old form deleted, its tombstone written under the
    /// partition). `Already` when there was nothing to erase and an earlier erasure stands
    /// (erasing twice changes nothing); `NothingFound` when the table knows no such journey.
    pub async fn erase(
        &self,
        source: &str,
        journey: &str,
        by: &str,
        reason: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Erased, String> {
        let partition = crate::intake::seal::partition(source, journey);
        let mut items = self.items(&partition).await?;
        let old = self.items(journey).await?;
        let old_keys: Vec<String> = keyed(&old);
        items.extend(old);
        let mut event_ids = keyed(&items);
        event_ids.sort();
        event_ids.dedup();
        let earlier = items.iter().any(|i| {
            text(i, attr::SK).starts_with(ERASURE_PREFIX) || i.contains_key(attr::ERASED_AT)
        });
        match (event_ids.is_empty(), earlier) {
            (true, true) => return Ok(Erased::Already),
            (true, false) => return Ok(Erased::NothingFound),
            _ => {}
        }
        let erased_at = crate::event::timestamp(now);
        let mut record = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(&partition))
            .item(attr::SK, s(&format!("{ERASURE_PREFIX}{erased_at}")))
            .item(attr::ERASED_AT, s(&erased_at))
            .item(attr::BY, s(by))
            .item(attr::REASON, s(reason));
        if !event_ids.is_empty() {
            record = record.item(attr::EVENT_IDS, AttributeValue::Ss(event_ids.clone()));
        }
        record.send().await.map_err(|e| {
            format!(
                "writing the erasure record: {}",
                fault("DynamoDB PutItem", e)
            )
        })?;
        for id in &event_ids {
            self.tombstone(&partition, id, &erased_at).await?;
            if old_keys.contains(id) {
                self.delete(journey, id).await?;
            }
        }
        Ok(Erased::Now(Erasure {
            journey: partition,
            erased_at,
            by: by.to_owned(),
            reason: reason.to_owned(),
            event_ids,
        }))
    }

    /// Put `event_id`'s tombstone in `partition` in place of its key item; whether a key was
    /// there.
    async fn tombstone(
        &self,
        partition: &str,
        event_id: &str,
        erased_at: &str,
    ) -> Result<bool, String> {
        let out = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(partition))
            .item(attr::SK, s(event_id))
            .item(attr::ERASED_AT, s(erased_at))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| format!("erasing a data key: {}", fault("DynamoDB PutItem", e)))?;
        Ok(out.attributes().is_some_and(|a| a.contains_key(attr::KEYS)))
    }

    /// Delete one key item; whether there was one.
    async fn delete(&self, journey: &str, event_id: &str) -> Result<bool, String> {
        let out = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, s(journey))
            .key(attr::SK, s(event_id))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| format!("deleting a data key: {}", fault("DynamoDB DeleteItem", e)))?;
        Ok(out.attributes().is_some())
    }

    /// Delete again every key an erasure record names (after a restore brought some back): each
    /// record and how many keys it deleted again.
    pub async fn reapply(&self) -> Result<Vec<(Erasure, usize)>, String> {
        let mut done = Vec::new();
        let records = self
            .ddb
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(#sk, :erasure)")
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":erasure", s(ERASURE_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| format!("{}", fault("DynamoDB Scan", e)))?;
        for item in &records {
            let erasure = erasure_of(&text(item, attr::PK), item);
            // A record under a partition (`<source>#<hash>`) leaves tombstones; one of the old
            // form, under the hash alone, deleted its keys.
            let partitioned = erasure.journey.contains('#');
            let mut deleted = 0;
            for id in &erasure.event_ids {
                let again = if partitioned {
                    self.tombstone(&erasure.journey, id, &erasure.erased_at)
                        .await?
                } else {
                    self.delete(&erasure.journey, id).await?
                };
                if again {
                    deleted += 1;
                }
            }
            done.push((erasure, deleted));
        }
        Ok(done)
    }
}

/// The event ids of `items` whose key is kept (no erasure record, no tombstone).
fn keyed(items: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i.contains_key(attr::KEYS))
        .map(|i| text(i, attr::SK))
        .filter(|sk| !sk.is_empty() && !sk.starts_with(ERASURE_PREFIX))
        .collect()
}

fn erasure_of(journey: &str, item: &HashMap<String, AttributeValue>) -> Erasure {
    let mut event_ids = item
        .get(attr::EVENT_IDS)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    event_ids.sort();
    Erasure {
        journey: journey.to_owned(),
        erased_at: text(item, attr::ERASED_AT),
        by: text(item, attr::BY),
        reason: text(item, attr::REASON),
        event_ids,
    }
}

impl KeyVault for ArchiveKeyTable {
    fn generate<'a>(
        &'a self,
        journey: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<DataKey, Fault>> + Send + 'a>> {
        Box::pin(async move {
            let key_id = self.kms_key_id.as_deref().ok_or_else(|| {
                Fault::new(
                    "KMS GenerateDataKey",
                    FaultKind::Rejected,
                    "no archive key to make data keys under",
                )
            })?;
            let out = self
                .kms
                .generate_data_key()
                .key_id(key_id)
                .key_spec(DataKeySpec::Aes256)
                .encryption_context(CONTEXT_KEY, journey)
                .send()
                .await
                .map_err(|e| fault("KMS GenerateDataKey", e))?;
            let plaintext = out
                .plaintext()
                .and_then(|p| <[u8; 32]>::try_from(p.as_ref()).ok())
                .ok_or_else(|| {
                    Fault::new(
                        "KMS GenerateDataKey",
                        FaultKind::Rejected,
                        "no 256-bit data key",
                    )
                })?;
            let wrapped = out
                .ciphertext_blob()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default();
            Ok(DataKey { plaintext, wrapped })
        })
    }

    fn keep<'a>(
        &'a self,
        partition: &'a str,
        event_id: &'a str,
        wrapped: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>> {
        Box::pin(async move {
            let one = AttributeValue::L(vec![AttributeValue::B(
                aws_sdk_dynamodb::primitives::Blob::new(wrapped),
            )]);
            let kept = self
                .ddb
                .update_item()
                .table_name(&self.table)
                .key(attr::PK, s(partition))
                .key(attr::SK, s(event_id))
                // Never where an erasure left its tombstone.
                .condition_expression("attribute_not_exists(#erased)")
                .expression_attribute_names("#erased", attr::ERASED_AT)
                .update_expression(
                    "SET #keys = list_append(if_not_exists(#keys, :none), :one), #at = :at",
                )
                .expression_attribute_names("#keys", attr::KEYS)
                .expression_attribute_names("#at", attr::KEPT_AT)
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":one", one)
                .expression_attribute_values(":at", s(&crate::event::timestamp(chrono::Utc::now())))
                .send()
                .await;
            match kept {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    // A provider's retry of a delivery whose journey was erased: its new object
                    // is sealed under a key nobody keeps, so it reads as erased from the start.
                    tracing::warn!(
                        event_id,
                        "its journey was erased: the delivery's data key is not kept, its object reads as erased"
                    );
                    Ok(())
                }
                Err(e) => Err(fault("DynamoDB UpdateItem", e)),
            }
        })
    }
}
