//! Replay from the audit archive, which only the `archive-replay` function does: `request` is
//! what it is asked and how one call answers it, `run` what it did with each delivery. It reads
//! through `aws::archive_reader` and sends with the replay marker (`intake::archive::replay`).

pub mod request;
pub mod run;

pub use request::{Limits, Plan, Refused, Replayer, Request};
pub use run::{Outcome, ReplayRun, Replayed};

/// What the `archive-replay` function calls, by resource (the drift test holds its role to
/// exactly these, and `aws::SQS_ACTIONS` on the events queue): the bucket listed (versions
/// counted), the deliveries read, the archive key's decrypt, the signing key's public half, the
/// archive keys table read.
pub const BUCKET_ACTIONS: &[&str] = &["s3:ListBucket", "s3:ListBucketVersions"];
pub const DELIVERY_ACTIONS: &[&str] = &["s3:GetObject"];
pub const ARCHIVE_KEY_ACTIONS: &[&str] = &["kms:Decrypt"];
pub const SIGNING_KEY_ACTIONS: &[&str] = &["kms:GetPublicKey"];
pub const KEYS_TABLE_ACTIONS: &[&str] = &["dynamodb:GetItem", "dynamodb:Query"];
