//! The audit archive as kycctl reads it (`archive`, `erase`, the console): the library's reader
//! (`kyc_intake::aws::archive_reader`) on the flags every archive reader takes, each with its
//! variable. Replay is not here: only the `archive-replay` function sends replays (`replay`).

use crate::report::{given, Failure};
use kyc_intake::aws::archive_reader::{Hints, ReadError};
use kyc_intake::config::var::{ARCHIVE_KEYS_TABLE, ARCHIVE_SIGNING_KEY_ID};

pub(crate) use kyc_intake::aws::archive_reader::{cell, Entry, Reader};

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Self {
        Failure::failed(e.0)
    }
}

/// Where the archive is and what reads it: the flags of every command that reads archived
/// deliveries (`archive`, `dlq redrive`, `console`), each with its variable.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct ArchiveAccess {
    /// The archive bucket (the stack's `ArchiveBucketName` output).
    #[arg(long, env = "ARCHIVE_BUCKET", global = true)]
    pub(crate) bucket: Option<String>,
    /// The archive signing key whose public half checks attestations (the stack's
    /// `ArchiveSigningKeyArn` output; its ARN, id or alias).
    #[arg(long, env = "ARCHIVE_SIGNING_KEY_ID", global = true)]
    pub(crate) key: Option<String>,
    /// The archive keys table that opens sealed deliveries (the stack's `ArchiveKeysTableName`
    /// output; none when the stack has `ArchiveErasable=false`).
    #[arg(long, env = "ARCHIVE_KEYS_TABLE", global = true)]
    pub(crate) keys_table: Option<String>,
}

impl ArchiveAccess {
    /// A reader on `sdk`, when a bucket is given.
    pub(crate) fn reader_on(self, sdk: &aws_config::SdkConfig) -> Option<Reader> {
        let bucket = given(self.bucket)?;
        Some(Reader::new(
            sdk,
            bucket,
            given(self.key),
            given(self.keys_table),
            Hints {
                signing_key: format!("give --key or set {ARCHIVE_SIGNING_KEY_ID} (the stack's ArchiveSigningKeyArn output)"),
                keys_table: format!("give --keys-table or set {ARCHIVE_KEYS_TABLE} (the stack's ArchiveKeysTableName output)"),
            },
        ))
    }

    /// A reader on `sdk`; no bucket is a usage failure.
    pub(crate) fn reader(self, sdk: &aws_config::SdkConfig) -> Result<Reader, Failure> {
        self.reader_on(sdk).ok_or_else(|| {
            Failure::usage("no archive bucket: give --bucket or set ARCHIVE_BUCKET (the stack's ArchiveBucketName output)")
        })
    }
}
