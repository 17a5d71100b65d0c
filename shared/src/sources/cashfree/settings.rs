//! What `cashfree-webhook` reads beyond the common settings, and the authentication both Cashfree
//! sources share, built from it.

use super::signature::{CashfreeAuth, Legacy};
use crate::config::{err, ConfigError, Env};
use crate::intake::auth::{replay_window, Authenticate};
use crate::intake::settings::Common;

/// The variables `cashfree-webhook` reads beyond the common ones.
pub mod var {
    pub const CLIENT_SECRETS: &str = "CASHFREE_CLIENT_SECRETS";
    pub const TIMESTAMP_TOLERANCE_SECONDS: &str = "CASHFREE_TIMESTAMP_TOLERANCE_SECONDS";
    pub const LEGACY_SIGNATURE: &str = "CASHFREE_LEGACY_SIGNATURE";
}

pub const DEFAULT_TOLERANCE_SECONDS: u64 = 86_400;

/// `on` or `off` (default).
fn legacy(env: &dyn Env) -> Result<Legacy, ConfigError> {
    match env.get(var::LEGACY_SIGNATURE).as_deref().map(str::trim) {
        None => Ok(Legacy::default()),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(Legacy::Off),
        Some(v) if v.eq_ignore_ascii_case("on") => Ok(Legacy::On),
        Some(v) => Err(err(
            var::LEGACY_SIGNATURE,
            format!("`{v}` is neither `on` nor `off`"),
        )),
    }
}

/// How every Cashfree source authenticates, as the docs' tables say it.
pub const AUTHENTICATION: &str = "HMAC-SHA256 header signature (the legacy in-body signature only with `CASHFREE_LEGACY_SIGNATURE=on`)";

/// Every Cashfree source's authentication: one set of client secrets, one replay window and the
/// legacy switch.
pub fn auth(env: &dyn Env, common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let tolerance = replay_window(
        env,
        var::TIMESTAMP_TOLERANCE_SECONDS,
        DEFAULT_TOLERANCE_SECONDS,
        common.settings.ttl_secs,
    )?;
    Ok(Box::new(CashfreeAuth::new(
        env.secrets(var::CLIENT_SECRETS)?,
        tolerance,
        legacy(env)?,
    )))
}
