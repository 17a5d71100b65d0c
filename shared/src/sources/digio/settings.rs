//! What `digio-webhook` reads beyond the common settings, and its source's authentication, built
//! from it.

use super::checksum::{self, DigioAuth};
use crate::config::{err, ConfigError, Env};
use crate::intake::auth::ip::allowlist;
use crate::intake::auth::{replay_window, Authenticate};
use crate::intake::settings::Common;

/// The variables `digio-webhook` reads beyond the common ones.
pub mod var {
    pub const WEBHOOK_SECRETS: &str = "DIGIO_WEBHOOK_SECRETS";
    pub const SIGNATURE_HEADER: &str = "DIGIO_SIGNATURE_HEADER";
    pub const ALLOWED_IPS: &str = "DIGIO_ALLOWED_IPS";
    pub const TIMESTAMP_TOLERANCE_SECONDS: &str = "DIGIO_TIMESTAMP_TOLERANCE_SECONDS";
}

/// Six days: the notification's signed `created_at` may be this old (Digio retries for about a
/// day before it disables the account's webhooks, and queues what it could not send).
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 518_400;

/// The addresses Digio's support desk lists (sandbox, production): a single source, so the
/// allowlist is off unless set.
pub const PUBLISHED_IPS: &[&str] = &["35.154.20.28", "13.126.198.236"];

/// The signed notification's checksum, its header, its age and (when set) the sender's address.
pub fn auth(env: &dyn Env, common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let tolerance = replay_window(
        env,
        var::TIMESTAMP_TOLERANCE_SECONDS,
        DEFAULT_TOLERANCE_SECONDS,
        common.settings.ttl_secs,
    )?;
    let header = env
        .get(var::SIGNATURE_HEADER)
        .map(|h| h.trim().to_ascii_lowercase())
        .unwrap_or_else(|| checksum::DEFAULT_HEADER.to_owned());
    let header = http::HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        err(
            var::SIGNATURE_HEADER,
            format!("`{header}` is not a header name"),
        )
    })?;
    Ok(Box::new(DigioAuth::new(
        env.secrets(var::WEBHOOK_SECRETS)?,
        header,
        tolerance,
        allowlist(env, var::ALLOWED_IPS)?,
    )))
}
