//! Digio (India): KYC requests (`KID…`) with a DigiLocker step, served by `digio-webhook`, each
//! webhook signed with the secret set in Digio's dashboard (`checksum`). This module holds the
//! function's description and its settings; `kyc` the source, `status_api` the sweeper's client.
//! Digio's own reference pages were not available: every fact here rests on its support desk or
//! on integrations that agree, and each one that rests on a single source is configurable. The
//! facts, their sources and their confidence are summarised in docs/providers.md.

pub mod checksum;
pub mod kyc;
pub mod status_api;

use crate::auth::Authenticate;
use crate::config::{allowlist, err, positive, secrets, Common, ConfigError, Env};
use crate::registry::FunctionSpec;
use checksum::DigioAuth;

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

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "digio-webhook",
    sources: &[&kyc::SOURCE],
    variables: &[
        var::WEBHOOK_SECRETS,
        var::SIGNATURE_HEADER,
        var::ALLOWED_IPS,
        var::TIMESTAMP_TOLERANCE_SECONDS,
    ],
    secret_variables: &[var::WEBHOOK_SECRETS],
    local: &[(var::WEBHOOK_SECRETS, "local-digio-webhook-secret")],
};

fn auth(env: &dyn Env, common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let tolerance = positive(
        env,
        var::TIMESTAMP_TOLERANCE_SECONDS,
        DEFAULT_TOLERANCE_SECONDS,
    )?;
    crate::auth::check_replay_window(var::TIMESTAMP_TOLERANCE_SECONDS, tolerance, common)?;
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
        secrets(env, var::WEBHOOK_SECRETS)?,
        header,
        tolerance,
        allowlist(env, var::ALLOWED_IPS)?,
    )))
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
        assert!(!s[0].auth.is_configured());
    }

    #[test]
    fn the_window_is_held_to_the_idempotency_record_and_bad_values_name_their_variable() {
        let e = sources(&[("IDEMPOTENCY_TTL_SECONDS", "86400")]).expect_err("6 days > 1 day");
        assert_eq!(e.var, var::TIMESTAMP_TOLERANCE_SECONDS);
        for (extra, var) in [
            ((var::SIGNATURE_HEADER, "x digio"), var::SIGNATURE_HEADER),
            ((var::ALLOWED_IPS, "not-an-ip"), var::ALLOWED_IPS),
            (
                (var::TIMESTAMP_TOLERANCE_SECONDS, "0"),
                var::TIMESTAMP_TOLERANCE_SECONDS,
            ),
            ((var::WEBHOOK_SECRETS, "short"), var::WEBHOOK_SECRETS),
        ] {
            assert_eq!(sources(&[extra]).expect_err(var).var, var);
        }
    }

    #[test]
    fn the_header_is_configurable_and_the_allowlist_applies_only_when_set() {
        let secret = "a-digio-secret-0123456789";
        let body = format!(
            r#"{{"created_at":{},"id":"WHN1","event":"kyc.request.created"}}"#,
            chrono::Utc::now().timestamp_millis()
        );
        let checksum = checksum::sign(secret.as_bytes(), body.as_bytes());
        let mut headers = http::HeaderMap::new();
        headers.insert("X-Digio-Signature", checksum.parse().expect("value"));
        let ip = Some("203.0.113.7".parse().expect("ip"));
        let req = Inbound {
            source_ip: ip,
            ..Inbound::post(kyc::SOURCE.route, &headers, body.as_bytes())
        };
        let now = chrono::Utc::now();
        let s = sources(&[(var::WEBHOOK_SECRETS, secret)]).expect("valid");
        assert_eq!(
            s[0].auth.authenticate(&req, now),
            Err(AuthError::MissingSignature),
            "x-digio-checksum by default"
        );
        let s = sources(&[
            (var::WEBHOOK_SECRETS, secret),
            (var::SIGNATURE_HEADER, "X-Digio-Signature"),
        ])
        .expect("valid");
        assert_eq!(
            s[0].auth.authenticate(&req, now),
            Ok(AuthScheme::DigioChecksum)
        );
        let s = sources(&[
            (var::WEBHOOK_SECRETS, secret),
            (var::SIGNATURE_HEADER, "X-Digio-Signature"),
            (var::ALLOWED_IPS, &PUBLISHED_IPS.join(",")),
        ])
        .expect("valid");
        assert_eq!(
            s[0].auth.authenticate(&req, now),
            Err(AuthError::SourceIpNotAllowed)
        );
    }
}
