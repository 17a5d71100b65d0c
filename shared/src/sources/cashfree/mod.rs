//! Cashfree Secure ID: DigiLocker, Video KYC, KYC links, e-sign, bank account verification and
//! reverse penny drop, served by `cashfree-webhook`, all signed with the account's client secret
//! (`signature`). This module holds the function's description, its settings and the payload
//! shape the products share. Cashfree's pages behind it (each product's "Webhooks" page,
//! "Payloads and Signatures", the Secure ID API reference v2) are summarised, with where each fact
//! is used, in docs/providers.md.

pub mod bav;
pub mod digilocker;
pub mod esign;
pub mod kyc_link;
pub mod payload;
pub mod rpd;
pub mod settings;
pub mod signature;
pub mod status_api;
pub mod vkyc;

use crate::config::setting::Setting;
use crate::sources::FunctionSpec;
use settings::var;

pub use signature::{HEADER_HMAC, LEGACY_BODY_HMAC};
pub use status_api::STATUS_API_SCHEME;

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "cashfree-webhook",
    sources: &[
        &digilocker::SOURCE,
        &vkyc::SOURCE,
        &kyc_link::SOURCE,
        &esign::SOURCE,
        &bav::SOURCE,
        &rpd::SOURCE,
    ],
    title: "Cashfree",
    description: "Cashfree Secure ID webhooks (DigiLocker, Video KYC, KYC links, e-sign, bank account verification, reverse penny drop).",
    optional: false,
    settings: &[
        Setting::secrets(
            var::CLIENT_SECRETS,
            "CashfreeClientSecrets",
            "Comma-separated Cashfree client secrets (several during rotation), 16+ characters each.",
        ),
        Setting::number(
            var::TIMESTAMP_TOLERANCE_SECONDS,
            "CashfreeTimestampToleranceSeconds",
            settings::DEFAULT_TOLERANCE_SECONDS,
            1,
            "Replay window for Cashfree signed timestamps; must be shorter than IdempotencyTtlSeconds.",
        ),
        Setting::choice(
            var::LEGACY_SIGNATURE,
            "CashfreeLegacySignature",
            "off",
            &["off", "on"],
            "\"on\" accepts Cashfree's legacy in-body signature when both signature headers are \
             absent. It signs neither the event type nor the time: anyone holding one signed body \
             (every queue reader) can re-send it as another event. Leave \"off\" unless your \
             account still sends it.",
        ),
    ],
    local: &[(var::CLIENT_SECRETS, "local-cashfree-client-secret")],
    schemes: &[HEADER_HMAC, LEGACY_BODY_HMAC],
};

#[cfg(test)]
mod tests {
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
            (Some("ON"), Ok(LEGACY_BODY_HMAC)),
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
