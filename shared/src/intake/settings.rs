//! The settings every webhook function shares (table, queue, archive bucket, the pipeline's own),
//! read and validated once at start-up.

use crate::config::{
    err, positive, required, var, ConfigError, Env, DEFAULT_MAX_BODY_BYTES, DEFAULT_TTL_SECONDS,
};

/// The largest message the events queue accepts (`MaximumMessageSize` in the template and in the
/// local stack: 1 MiB, SQS's maximum).
pub const QUEUE_MAX_MESSAGE_BYTES: usize = 1_048_576;
/// Room kept in a message for everything but the payload: the envelope with every field at its
/// longest (each doubled by JSON escaping), and the message attributes. A test checks it.
pub const ENVELOPE_RESERVE_BYTES: usize = 4_096;
/// The largest `MAX_BODY_BYTES` for which every body fits the queue, even as Base64.
pub const MAX_BODY_BYTES_LIMIT: usize = (QUEUE_MAX_MESSAGE_BYTES - ENVELOPE_RESERVE_BYTES) / 4 * 3;

/// Settings the pipeline itself needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub ttl_secs: u64,
    pub max_body_bytes: usize,
}

/// Configuration every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub table: String,
    pub queue_url: String,
    /// The audit archive's bucket, when deliveries are archived.
    pub archive_bucket: Option<String>,
    /// The KMS key that certifies each environment's archive key (set whenever the bucket is).
    pub archive_signing_key: Option<String>,
    /// The archive keys table and the archive's KMS key, when each delivery is sealed under a
    /// data key of its own (erasable).
    pub archive_keys: Option<(String, String)>,
    /// What its events carry of the personal data in a payload (`EVENT_PERSONAL_DATA`).
    pub personal_data: crate::intake::withhold::PersonalData,
    pub settings: Settings,
}

/// Read and check the settings every webhook function shares.
pub fn common(env: &dyn Env) -> Result<Common, ConfigError> {
    let table = required(env, var::IDEMPOTENCY_TABLE)?;
    let queue_url = queue_url(env)?;
    let ttl_secs = positive(env, var::IDEMPOTENCY_TTL_SECONDS, DEFAULT_TTL_SECONDS)?;
    let max_body_bytes = max_body_bytes(env)?;
    let archive_bucket = archive_bucket(env)?;
    let archive_signing_key = signing_key(env, archive_bucket.is_some())?;
    let archive_keys = archive_keys(env, archive_bucket.is_some())?;
    Ok(Common {
        table,
        queue_url,
        archive_bucket,
        archive_signing_key,
        archive_keys,
        personal_data: crate::intake::withhold::PersonalData::from_env(env)?,
        settings: Settings {
            ttl_secs,
            max_body_bytes,
        },
    })
}

/// `EVENTS_QUEUE_URL`: required, an SQS queue URL.
fn queue_url(env: &dyn Env) -> Result<String, ConfigError> {
    let queue_url = required(env, var::EVENTS_QUEUE_URL)?;
    if !(queue_url.starts_with("https://") || queue_url.starts_with("http://")) {
        return Err(err(
            var::EVENTS_QUEUE_URL,
            "must be an SQS queue URL (https://...)",
        ));
    }
    Ok(queue_url)
}

/// `MAX_BODY_BYTES`: positive, and small enough that the event still fits the queue.
fn max_body_bytes(env: &dyn Env) -> Result<usize, ConfigError> {
    let max_body_bytes = positive(env, var::MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)?;
    if max_body_bytes > MAX_BODY_BYTES_LIMIT {
        return Err(err(
            var::MAX_BODY_BYTES,
            format!(
                "{max_body_bytes} is over {MAX_BODY_BYTES_LIMIT}: a body that large could not reach the queue (1 MiB per message, Base64 when needed)"
            ),
        ));
    }
    Ok(max_body_bytes)
}

/// `ARCHIVE_BUCKET`, when set: an S3 bucket name.
fn archive_bucket(env: &dyn Env) -> Result<Option<String>, ConfigError> {
    let Some(b) = env.get(var::ARCHIVE_BUCKET).map(|b| b.trim().to_owned()) else {
        return Ok(None);
    };
    let valid = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && !b.starts_with(['-', '.'])
        && !b.ends_with(['-', '.']);
    if !valid {
        return Err(err(
            var::ARCHIVE_BUCKET,
            format!("`{b}` is not an S3 bucket name (3-63 of a-z 0-9 . -)"),
        ));
    }
    Ok(Some(b))
}

/// `ARCHIVE_SIGNING_KEY_ID`: required with an archive.
fn signing_key(env: &dyn Env, archive: bool) -> Result<Option<String>, ConfigError> {
    let key = env
        .get(var::ARCHIVE_SIGNING_KEY_ID)
        .map(|k| k.trim().to_owned());
    if archive && key.is_none() {
        return Err(err(
            var::ARCHIVE_SIGNING_KEY_ID,
            format!(
                "must be set with {}: every archived delivery is attested under the archive signing key (the stack's output ArchiveSigningKeyArn)",
                var::ARCHIVE_BUCKET
            ),
        ));
    }
    Ok(key)
}

/// `ARCHIVE_KEYS_TABLE` and `ARCHIVE_KMS_KEY_ID`: both or neither, and only with an archive.
fn archive_keys(env: &dyn Env, archive: bool) -> Result<Option<(String, String)>, ConfigError> {
    let keys_table = env
        .get(var::ARCHIVE_KEYS_TABLE)
        .map(|k| k.trim().to_owned());
    let kms_key = env
        .get(var::ARCHIVE_KMS_KEY_ID)
        .map(|k| k.trim().to_owned());
    match (keys_table, kms_key) {
        (None, None) => Ok(None),
        (Some(_), _) | (_, Some(_)) if !archive => Err(err(
            var::ARCHIVE_KEYS_TABLE,
            format!(
                "sealing deliveries needs an archive: {} is not set",
                var::ARCHIVE_BUCKET
            ),
        )),
        (Some(table), Some(key)) => Ok(Some((table, key))),
        (Some(_), None) => Err(err(
            var::ARCHIVE_KMS_KEY_ID,
            format!(
                "must be set with {}: each delivery's data key is made under the archive key (the stack's ArchiveKmsKeyArn output)",
                var::ARCHIVE_KEYS_TABLE
            ),
        )),
        (None, Some(_)) => Err(err(
            var::ARCHIVE_KEYS_TABLE,
            format!(
                "must be set with {}: each delivery's data key is kept there (the stack's ArchiveKeysTableName output)",
                var::ARCHIVE_KMS_KEY_ID
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;

    #[test]
    fn defaults() {
        let c = common(&fake_env(&[])).expect("valid");
        assert_eq!(c.settings.ttl_secs, 604_800);
        assert_eq!(c.settings.max_body_bytes, 262_144);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
            (
                vec![("IDEMPOTENCY_TTL_SECONDS", "0")],
                "IDEMPOTENCY_TTL_SECONDS",
            ),
            (
                vec![("IDEMPOTENCY_TTL_SECONDS", "7d")],
                "IDEMPOTENCY_TTL_SECONDS",
            ),
            (vec![("MAX_BODY_BYTES", "-1")], "MAX_BODY_BYTES"),
            (vec![("MAX_BODY_BYTES", "783361")], "MAX_BODY_BYTES"),
            (
                vec![("EVENTS_QUEUE_URL", "events.fifo")],
                "EVENTS_QUEUE_URL",
            ),
            (vec![("IDEMPOTENCY_TABLE", "")], "IDEMPOTENCY_TABLE"),
            (vec![("ARCHIVE_BUCKET", "My_Bucket")], "ARCHIVE_BUCKET"),
            (
                vec![("ARCHIVE_BUCKET", "archive")],
                "ARCHIVE_SIGNING_KEY_ID",
            ),
            (
                vec![
                    ("ARCHIVE_BUCKET", "archive"),
                    ("ARCHIVE_SIGNING_KEY_ID", "k"),
                    ("ARCHIVE_KEYS_TABLE", "keys"),
                ],
                "ARCHIVE_KMS_KEY_ID",
            ),
            (
                vec![
                    ("ARCHIVE_BUCKET", "archive"),
                    ("ARCHIVE_SIGNING_KEY_ID", "k"),
                    ("ARCHIVE_KMS_KEY_ID", "alias/a"),
                ],
                "ARCHIVE_KEYS_TABLE",
            ),
            (vec![("ARCHIVE_KEYS_TABLE", "keys")], "ARCHIVE_KEYS_TABLE"),
        ];
        for (extra, var) in cases {
            let e = common(&fake_env(&extra)).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e
                .to_string()
                .starts_with(&format!("invalid configuration: {var}: ")));
        }
    }

    #[test]
    fn the_largest_body_that_fits_the_queue_is_accepted() {
        let c = common(&fake_env(&[("MAX_BODY_BYTES", "783360")])).expect("valid");
        assert_eq!(c.settings.max_body_bytes, MAX_BODY_BYTES_LIMIT);
    }
}
