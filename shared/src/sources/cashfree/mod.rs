//! Cashfree Secure ID: DigiLocker and Video KYC, served by `cashfree-webhook`, both signed with the
//! account's client secret (`signature`). This module holds the function's description, its
//! settings and the payload shape both products share. Cashfree's pages behind it ("DigiLocker
//! Webhooks", "Video KYC Webhooks", "Add webhooks", the Secure ID API reference v2) are
//! summarised, with where each fact is used, in docs/providers.md.

pub mod digilocker;
pub mod signature;
pub mod status_api;
pub mod vkyc;

use super::{as_text, lookup, present, text, Recognized};
use crate::auth::Authenticate;
use crate::config::{err, positive, secrets, Common, ConfigError, Env};
use crate::registry::FunctionSpec;
use serde_json::Value;
use signature::{CashfreeAuth, Legacy};

/// The variables `cashfree-webhook` reads beyond the common ones.
pub mod var {
    pub const CLIENT_SECRETS: &str = "CASHFREE_CLIENT_SECRETS";
    pub const TIMESTAMP_TOLERANCE_SECONDS: &str = "CASHFREE_TIMESTAMP_TOLERANCE_SECONDS";
    pub const LEGACY_SIGNATURE: &str = "CASHFREE_LEGACY_SIGNATURE";
}

pub const DEFAULT_TOLERANCE_SECONDS: u64 = 86_400;

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "cashfree-webhook",
    sources: &[&digilocker::SOURCE, &vkyc::SOURCE],
    variables: &[
        var::CLIENT_SECRETS,
        var::TIMESTAMP_TOLERANCE_SECONDS,
        var::LEGACY_SIGNATURE,
    ],
    secret_variables: &[var::CLIENT_SECRETS],
    local: &[(var::CLIENT_SECRETS, "local-cashfree-client-secret")],
};

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

/// Both sources' authentication: one set of client secrets, one replay window and the legacy
/// switch.
fn auth(env: &dyn Env, common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let tolerance = positive(
        env,
        var::TIMESTAMP_TOLERANCE_SECONDS,
        DEFAULT_TOLERANCE_SECONDS,
    )?;
    crate::auth::check_replay_window(var::TIMESTAMP_TOLERANCE_SECONDS, tolerance, common)?;
    Ok(Box::new(CashfreeAuth::new(
        secrets(env, var::CLIENT_SECRETS)?,
        tolerance,
        legacy(env)?,
    )))
}

/// Cashfree's two Secure ID products share one payload shape:
/// `{event_type, event_time, version, data: {verification_id, status, sub_status?, ...}}`.
fn recognize(
    v: &Value,
    table: &[(&str, &'static str)],
    with_sub_status: bool,
) -> Option<Recognized> {
    let event = text(v, "/event_type")?;
    let kind = lookup(table, event)?;
    let verification_id = text(v, "/data/verification_id")?;
    let status = present(v, "/data/status")?;
    let time = present(v, "/event_time")?;
    let mut identity = vec![
        Value::from(verification_id),
        Value::from(event),
        status.clone(),
    ];
    let sub_status = if with_sub_status {
        let s = present(v, "/data/sub_status")?;
        identity.push(s.clone());
        as_text(&s)
    } else {
        v.pointer("/data/sub_status").and_then(as_text)
    };
    identity.push(time.clone());
    Some(Recognized {
        kind,
        provider_event: event.to_owned(),
        status: as_text(&status),
        sub_status,
        subject: verification_id.to_owned(),
        time: as_text(&time),
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AuthError, AuthScheme};
    use crate::config::fake_env;
    use crate::sources::Source;
    use crate::Inbound;

    fn sources(extra: &[(&str, &str)]) -> Result<Vec<Source>, ConfigError> {
        FUNCTION.config(&fake_env(extra)).map(|(_, s)| s)
    }

    #[test]
    fn no_secret_fails_closed() {
        let s = sources(&[]).expect("valid");
        assert!(s.iter().all(|s| !s.auth.is_configured()));
    }

    #[test]
    fn tolerance_plus_skew_plus_longest_lease_must_be_shorter_than_ttl() {
        // 3600 - 300 s of future skew - 910 s of the longest lease = 2390.
        let e = sources(&[
            ("IDEMPOTENCY_TTL_SECONDS", "3600"),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "2390"),
        ])
        .expect_err("tolerance");
        assert_eq!(e.var, "CASHFREE_TIMESTAMP_TOLERANCE_SECONDS");
        assert!(sources(&[
            ("IDEMPOTENCY_TTL_SECONDS", "3600"),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "2389"),
        ])
        .is_ok());
        // The default tolerance (1 day) against a TTL of 1 hour is refused too.
        assert!(sources(&[("IDEMPOTENCY_TTL_SECONDS", "3600")]).is_err());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (extra, var) in [
            (("CASHFREE_LEGACY_SIGNATURE", "yes"), var::LEGACY_SIGNATURE),
            (
                ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "x"),
                var::TIMESTAMP_TOLERANCE_SECONDS,
            ),
        ] {
            assert_eq!(sources(&[extra]).expect_err(var).var, var);
        }
    }

    #[test]
    fn secrets_never_in_errors_or_debug() {
        let err = sources(&[
            (
                "CASHFREE_CLIENT_SECRETS",
                "s3cr3t-a-0123456789, s3cr3t-b-0123456789",
            ),
            ("CASHFREE_TIMESTAMP_TOLERANCE_SECONDS", "x"),
        ])
        .expect_err("bad tolerance");
        assert!(!err.to_string().contains("s3cr3t"));
        let s = sources(&[(
            "CASHFREE_CLIENT_SECRETS",
            "s3cr3t-a-0123456789, s3cr3t-b-0123456789",
        )])
        .expect("valid");
        assert!(!format!("{s:?}").contains("s3cr3t"));
        assert!(s.iter().all(|s| s.auth.is_configured()));
    }

    #[test]
    fn legacy_signature_is_off_unless_on() {
        let body = br#"{"signature":"cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw=","data":{"verification_id":"test333","reference_id":10449,"status":"RECEIVED","sub_status":"LINK_GENERATED"}}"#;
        let headers = http::HeaderMap::new();
        let req = Inbound::post(vkyc::SOURCE.route, &headers, body);
        for (value, want) in [
            (None, Err(AuthError::MissingSignature)),
            (Some("off"), Err(AuthError::MissingSignature)),
            (Some("ON"), Ok(AuthScheme::CashfreeLegacyBodyHmac)),
        ] {
            let mut extra = vec![("CASHFREE_CLIENT_SECRETS", "test_client_secret")];
            if let Some(v) = value {
                extra.push(("CASHFREE_LEGACY_SIGNATURE", v));
            }
            let s = sources(&extra).expect("valid");
            assert_eq!(
                s[1].auth.authenticate(&req, chrono::Utc::now()),
                want,
                "{value:?}"
            );
        }
    }
}
