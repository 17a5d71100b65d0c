//! Digio (India): KYC requests (`KID…`) with a DigiLocker step, served by `digio-webhook`, each
//! webhook signed with the secret set in Digio's dashboard (`checksum`). This module holds the
//! function's description and its settings; `kyc` the source, `status_api` the sweeper's client.
//! Digio's own reference pages were not available: every fact here rests on its support desk or
//! on integrations that agree, and each one that rests on a single source is configurable. The
//! facts, their sources and their confidence are summarised in docs/providers.md.

pub mod checksum;
pub mod kyc;
pub mod settings;
pub mod status_api;

use crate::config::setting::Setting;
use crate::sources::FunctionSpec;
use settings::var;

pub use checksum::CHECKSUM;
pub use status_api::STATUS_API_SCHEME;

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "digio-webhook",
    sources: &[&kyc::SOURCE],
    title: "Digio",
    description: "Digio KYC request webhooks (decisions, the DigiLocker step).",
    optional: true,
    settings: &[
        Setting::secrets(
            var::WEBHOOK_SECRETS,
            "DigioWebhookSecrets",
            "Comma-separated webhook secrets set in Digio's dashboard (rotation: any one matching \
             is enough), 16+ characters each.",
        ),
        Setting::text(
            var::SIGNATURE_HEADER,
            "DigioSignatureHeader",
            checksum::DEFAULT_HEADER,
            "The header Digio sends the checksum in.",
        ),
        Setting::text(
            var::ALLOWED_IPS,
            "DigioAllowedIps",
            "",
            "Comma-separated IPs/CIDRs allowed on the Digio route; empty = no IP check (Digio's \
             support desk lists 35.154.20.28 for the sandbox and 13.126.198.236 for production).",
        ),
        Setting::number(
            var::TIMESTAMP_TOLERANCE_SECONDS,
            "DigioTimestampToleranceSeconds",
            settings::DEFAULT_TOLERANCE_SECONDS,
            1,
            "How old a Digio notification's signed created_at may be (6 days).",
        ),
    ],
    local: &[(var::WEBHOOK_SECRETS, "local-digio-webhook-secret")],
    schemes: &[CHECKSUM],
};

#[cfg(test)]
mod tests {
    use super::settings::PUBLISHED_IPS;
    use super::*;
    use crate::config::fake_env;
    use crate::config::ConfigError;
    use crate::intake::auth::AuthError;
    use crate::intake::inbound::Inbound;
    use crate::sources::Source;

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
        assert_eq!(s[0].auth.authenticate(&req, now), Ok(CHECKSUM));
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
