//! The audit archive as its readers read it (`kycctl archive`, the console, the `archive-replay`
//! function): the deliveries of a source and range, one delivery opened and with every reader's
//! verdict on it (`intake::verdict`), a day's page. What cannot be read is a `ReadError` naming
//! the object and why.

use crate::aws::{ArchiveKeyTable, S3Archive};
use crate::config::var::{ARCHIVE_KEYS_TABLE, ARCHIVE_SIGNING_KEY_ID};
use crate::intake::archive::{self, ArchivedDelivery};
use crate::intake::attest::Trust;
use crate::intake::verdict::{self, Verdict};
use crate::sources::{registry, SourceSpec};
use chrono::{DateTime, Duration, Utc};

/// Why the archive could not be read (S3 or the keys table unreachable or refusing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

fn sdk_error<E, R>(e: aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or_default()
        ),
        None => format!(
            "{e}: cannot reach S3 (check the network, AWS_ENDPOINT_URL and the credentials; locally, is `make run` running?)"
        ),
    }
}

/// The archive as kycctl reads it (the commands and the console alike), every delivery checked
/// against the archive signing key's public half (read once, on first use).
pub struct Reader {
    /// The AWS settings, loaded once for every client of the reader's user.
    pub sdk: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// The archive signing key whose public half checks attestations.
    signing_key: Option<String>,
    /// The signing key's public half once read: a failed read is not kept, so a reader that
    /// lives on (the `archive-replay` function) asks again rather than refusing every delivery.
    trust: tokio::sync::OnceCell<Trust>,
    /// The archive keys table: each sealed delivery's data key, and the erasures.
    pub keys: Option<ArchiveKeyTable>,
    /// What a missing setting is called where this reader was given its settings.
    hints: Hints,
}

/// How a reader's user gives it what it lacks: kycctl's flags, or the function's variables.
#[derive(Debug, Clone)]
pub struct Hints {
    /// Said when there is no signing key.
    pub signing_key: String,
    /// Said when a sealed delivery meets no keys table.
    pub keys_table: String,
}

impl Default for Hints {
    fn default() -> Self {
        Self {
            signing_key: format!("set {ARCHIVE_SIGNING_KEY_ID}"),
            keys_table: format!("set {ARCHIVE_KEYS_TABLE}"),
        }
    }
}

impl Reader {
    /// A reader of `bucket` on `sdk`, checking attestations with `signing_key` and opening sealed
    /// deliveries with `keys_table`; `hints` says how to give either when it is missing.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        bucket: String,
        signing_key: Option<String>,
        keys_table: Option<String>,
        hints: Hints,
    ) -> Self {
        Self {
            s3: S3Archive::client(sdk),
            keys: keys_table.map(|t| ArchiveKeyTable::new(sdk, t)),
            sdk: sdk.clone(),
            bucket,
            signing_key,
            trust: tokio::sync::OnceCell::new(),
            hints,
        }
    }

    /// What a failed listing of `prefix` says.
    fn listing_failed<E, R>(&self, prefix: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> ReadError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        ReadError(format!(
            "listing s3://{}/{prefix}: {}",
            self.bucket,
            sdk_error(e)
        ))
    }

    /// The archive signing key's public half, or why there is none.
    pub async fn trust(&self) -> Result<&Trust, String> {
        self.trust
            .get_or_try_init(|| async {
                match &self.signing_key {
                    Some(key) => crate::aws::trust(&self.sdk, key).await,
                    None => Err(format!(
                        "no archive signing key to check attestations with: {}",
                        self.hints.signing_key
                    )),
                }
            })
            .await
    }

    /// Every key under `prefix`.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, ReadError> {
        let pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.listing_failed(prefix, e))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.contents())
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }

    /// The object at `key`: `Err` (outer) when S3 cannot be read, `Ok(Err(why))` when the object
    /// is not an archived delivery.
    pub async fn read(&self, key: &str) -> Result<Result<ArchivedDelivery, String>, ReadError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                ReadError(format!(
                    "reading s3://{}/{key}: {}",
                    self.bucket,
                    sdk_error(e)
                ))
            })?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| ReadError(format!("reading s3://{}/{key}: {e}", self.bucket)))?
            .into_bytes();
        let mut delivery: ArchivedDelivery = match serde_json::from_slice(&bytes) {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("not an archived delivery ({e})"))),
        };
        if delivery.sealed.is_some() {
            self.open(key, &mut delivery).await;
        }
        Ok(Ok(delivery))
    }

    /// Open a sealed delivery with its data key; or find it erased; or say why not
    /// (`unopened`: every reader refuses it then, with the reason).
    async fn open(&self, key: &str, delivery: &mut ArchivedDelivery) {
        match &self.keys {
            Some(keys) => keys.open(key, delivery).await,
            None => {
                delivery.unopened =
                    Some(format!("no archive keys table: {}", self.hints.keys_table))
            }
        }
    }

    /// How many versions (and delete markers) `key` has: a delivery is written once.
    async fn versions(&self, key: &str) -> Result<usize, ReadError> {
        let mut count = 0;
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let out = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| {
                    ReadError(format!(
                        "listing the versions of s3://{}/{key}: {}",
                        self.bucket,
                        sdk_error(e)
                    ))
                })?;
            count += out
                .versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .count();
            count += out
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .count();
            if out.is_truncated() != Some(true) {
                return Ok(count);
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            version_marker = out.next_version_id_marker().map(str::to_owned);
        }
    }

    /// The keys of `source`'s deliveries on the days of the range (every day without one), listed
    /// only: nothing is read.
    pub async fn keys_in_range(
        &self,
        source: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, ReadError> {
        match (from, to) {
            (Some(from), Some(to)) => {
                if to < from {
                    return Ok(Vec::new());
                }
                let mut keys = Vec::new();
                let mut day = from;
                while day.date_naive() <= to.date_naive() {
                    keys.extend(self.keys(&archive::day_prefix(source, day)).await?);
                    day += Duration::days(1);
                }
                Ok(keys)
            }
            _ => self.keys(&format!("{}/{source}/", archive::PREFIX)).await,
        }
    }

    /// The deliveries of `source` received within the range, oldest first, with their keys;
    /// and the objects that are not deliveries at all (key, why).
    pub async fn deliveries(
        &self,
        source: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<(Vec<Entry>, Vec<(String, String)>), ReadError> {
        let keys = self.keys_in_range(source, from, to).await?;
        let mut deliveries = Vec::new();
        let mut unreadable = Vec::new();
        for key in keys {
            let d = match self.read(&key).await? {
                Ok(d) => d,
                Err(why) => {
                    unreadable.push((key, why));
                    continue;
                }
            };
            let at = match d.received_at() {
                Ok(at) => at,
                Err(why) => {
                    unreadable.push((key, why));
                    continue;
                }
            };
            // An object whose time is not its key's day is listed whatever its time: replay
            // refuses it with the reason, rather than a range silently leaving it out.
            let on_its_day = key.starts_with(&archive::day_prefix(source, at));
            if on_its_day && (from.is_some_and(|f| at < f) || to.is_some_and(|t| at > t)) {
                continue;
            }
            deliveries.push((at, Entry { key, delivery: d }));
        }
        deliveries
            .sort_by(|(a, x), (b, y)| (a, &x.delivery.event_id).cmp(&(b, &y.delivery.event_id)));
        Ok((deliveries.into_iter().map(|(_, e)| e).collect(), unreadable))
    }

    /// Every reader's verdict on one archived delivery (`verdict::verify`), checked as the
    /// source its key names.
    pub async fn verdict(&self, entry: &Entry) -> Result<Verdict, ReadError> {
        let Some(source) = source_of(&entry.key) else {
            return Ok(Verdict::Refused("the key names no source".to_owned()));
        };
        let Some(writer) = registry::function_of(source.name) else {
            return Ok(Verdict::Refused("no function serves its source".to_owned()));
        };
        let versions = self.versions(&entry.key).await?;
        Ok(match self.trust().await {
            Err(why) => Verdict::Refused(why),
            Ok(trust) => verdict::verify(
                &entry.delivery,
                &verdict::Check {
                    key: &entry.key,
                    versions,
                    source,
                    writer: writer.name,
                    trust,
                    now: Utc::now(),
                },
            ),
        })
    }
}

/// An archived delivery and its key.
/// A delivery's subject or type as a list shows it: the value, or `erased <date>` when its
/// journey was erased (the sealed part that held it is gone), else `-`.
pub fn cell(value: Option<String>, delivery: &ArchivedDelivery) -> String {
    match (value, &delivery.erased) {
        (Some(v), _) => v,
        (None, Some(at)) => format!("erased {}", at.get(..10).unwrap_or(at)),
        (None, None) => "-".to_owned(),
    }
}

pub struct Entry {
    pub key: String,
    pub delivery: ArchivedDelivery,
}

impl Reader {
    /// One page of a source's deliveries of one UTC day: up to `limit` keys after `after`, each
    /// read for its subject and type; and the key to continue after, when there are more.
    pub async fn day_page(
        &self,
        source: &str,
        day: DateTime<Utc>,
        after: Option<&str>,
        limit: i32,
    ) -> Result<(Vec<Result<Entry, (String, String)>>, Option<String>), ReadError> {
        let prefix = archive::day_prefix(source, day);
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .set_start_after(after.map(str::to_owned))
            .max_keys(limit)
            .send()
            .await
            .map_err(|e| self.listing_failed(&prefix, e))?;
        let keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let mut page = Vec::new();
        for key in &keys {
            page.push(match self.read(key).await? {
                Ok(delivery) => Ok(Entry {
                    key: key.clone(),
                    delivery,
                }),
                Err(why) => Err((key.clone(), why)),
            });
        }
        let next = if out.is_truncated() == Some(true) {
            keys.last().cloned()
        } else {
            None
        };
        Ok((page, next))
    }

    /// The delivery at `key` with every reader's verdict on it.
    pub async fn delivery(&self, key: &str) -> Result<(ArchivedDelivery, Verdict), ReadError> {
        let delivery = self
            .read(key)
            .await?
            .map_err(|why| ReadError(format!("s3://{}/{key}: {why}", self.bucket)))?;
        let entry = Entry {
            key: key.to_owned(),
            delivery,
        };
        let verdict = self.verdict(&entry).await?;
        Ok((entry.delivery, verdict))
    }
}

/// The source an archive key names (`deliveries/<source>/...`).
pub fn source_of(key: &str) -> Option<&'static SourceSpec> {
    let rest = key.strip_prefix(&format!("{}/", archive::PREFIX))?;
    registry::sources().find(|s| rest.starts_with(&format!("{}/", s.name)))
}
