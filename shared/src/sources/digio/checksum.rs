//! Digio's webhook checksum: the header (`x-digio-checksum` unless `DIGIO_SIGNATURE_HEADER` says
//! otherwise) carries the hex HMAC-SHA256 of the raw body with the webhook secret set in Digio's
//! dashboard. Digio's support desk documents it; integrations compare lower-case and upper-case
//! hex alike, so the hex is decoded and the bytes compared in constant time, against every secret
//! of the rotation list. The body signs no timestamp header, so the replay bound is the envelope's
//! signed `created_at` (epoch ms): older than the tolerance, more than 5 minutes ahead, or not a
//! number is `stale_timestamp`. Optional source-IP allowlist (`DIGIO_ALLOWED_IPS`).

use crate::intake::auth::ip::IpAllowlist;
use crate::intake::auth::MAX_FUTURE_SKEW_MS;
use crate::intake::auth::{single_header, AuthError, AuthScheme, Authenticate};
use crate::intake::inbound::Inbound;
use crate::secrets::secret::SecretList;
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde_json::Value;

/// The header Digio sends its checksum in.
pub const DEFAULT_HEADER: &str = "x-digio-checksum";

use crate::intake::auth::hmac_sha256 as mac;

/// The hex HMAC-SHA256 checksum header over the raw body, with the signed `created_at` as the
/// replay bound.
pub const CHECKSUM: AuthScheme = AuthScheme::named("digio_checksum");

/// The checksum of `body`, lower-case hex, as Digio sends it. Public so that tests, the samples
/// and users can make valid requests.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Digio's authentication: the accepted secrets, the header, the replay window, the allowlist.
#[derive(Debug, Clone)]
pub struct DigioAuth {
    secrets: SecretList,
    header: http::HeaderName,
    tolerance_ms: i64,
    allowed_ips: Option<IpAllowlist>,
}

impl DigioAuth {
    pub fn new(
        secrets: SecretList,
        header: http::HeaderName,
        tolerance_secs: u64,
        allowed_ips: Option<IpAllowlist>,
    ) -> Self {
        let tolerance_ms = i64::try_from(tolerance_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        Self {
            secrets,
            header,
            tolerance_ms,
            allowed_ips,
        }
    }

    /// The checksum over `body` in `headers`, then the signed `created_at` against `now`.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<AuthScheme, AuthError> {
        if self.secrets.is_empty() {
            return Err(AuthError::NotConfigured);
        }
        let presented = single_header(headers, self.header.as_str())
            .map_err(|()| AuthError::InvalidSignature)?
            .ok_or(AuthError::MissingSignature)?;
        // Lower- or upper-case hex of 32 bytes; anything else cannot match.
        let presented = hex::decode(presented)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or(AuthError::InvalidSignature)?;
        let matched = crate::intake::auth::any_secret(&self.secrets, |secret| {
            let mut m = mac(secret);
            m.update(body);
            m.verify_slice(&presented).is_ok()
        });
        if !matched {
            return Err(AuthError::InvalidSignature);
        }
        self.check_created_at(body, now)?;
        Ok(CHECKSUM)
    }

    fn check_created_at(&self, body: &[u8], now: DateTime<Utc>) -> Result<(), AuthError> {
        let created_at = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("created_at").and_then(Value::as_i64))
            .ok_or(AuthError::StaleTimestamp)?;
        let age = now.timestamp_millis().saturating_sub(created_at);
        if age > self.tolerance_ms || age < -MAX_FUTURE_SKEW_MS {
            return Err(AuthError::StaleTimestamp);
        }
        Ok(())
    }
}

impl Authenticate for DigioAuth {
    /// The IP first when an allowlist is set (403), then the checksum and its time (401).
    fn authenticate(&self, req: &Inbound<'_>, now: DateTime<Utc>) -> Result<AuthScheme, AuthError> {
        if self.secrets.is_empty() {
            return Err(AuthError::NotConfigured);
        }
        if let Some(ips) = &self.allowed_ips {
            ips.check(req.source_ip)?;
        }
        self.verify(req.headers, req.body, now)
    }

    fn is_configured(&self) -> bool {
        !self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::secret::Secret;
    use chrono::TimeZone;

    /// The notes' sample A, byte-exact, and its checksum with `test_webhook_secret`.
    const SAMPLE_A: &str = r#"{"entities":["kyc_request"],"payload":{"kyc_request":{"id":"KID240514123045123ABCDEFGHJKLMNP","status":"approved","customer_identifier":"asha@example.com","reference_id":"CUST-000123","transaction_id":"TXN-7f3a9c","created_at":1715670045000,"updated_at":1715670370000}},"created_at":1715670371000,"id":"WHN240514123610482QWERTYUPASDFGH","event":"kyc.request.approved"}"#;
    const SAMPLE_A_CHECKSUM: &str =
        "64984cfb69d7b106e7f317305a4675ca51eb42c7000254309d04afbd21391ee1";
    const SECRET: &str = "test_webhook_secret";
    /// A second after sample A was made.
    const AT_MS: i64 = 1_715_670_372_000;

    fn auth(secrets: &[&str]) -> DigioAuth {
        DigioAuth::new(
            SecretList::new(secrets.iter().map(|s| Secret::new(*s)).collect()),
            http::HeaderName::from_static(DEFAULT_HEADER),
            518_400,
            None,
        )
    }

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().expect("valid")
    }

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            "X-Digio-Checksum",
            http::HeaderValue::from_str(value).expect("value"),
        );
        h
    }

    #[test]
    fn the_known_answer_of_sample_a() {
        assert_eq!(SAMPLE_A.len(), 368, "byte-exact");
        assert_eq!(
            sign(SECRET.as_bytes(), SAMPLE_A.as_bytes()),
            SAMPLE_A_CHECKSUM
        );
        for checksum in [
            SAMPLE_A_CHECKSUM.to_owned(),
            SAMPLE_A_CHECKSUM.to_uppercase(),
        ] {
            assert_eq!(
                auth(&["another-secret-0123456", SECRET]).verify(
                    &headers(&checksum),
                    SAMPLE_A.as_bytes(),
                    at(AT_MS)
                ),
                Ok(CHECKSUM),
                "either case, any secret of the list"
            );
        }
    }

    #[test]
    fn every_wrong_checksum_is_refused() {
        let a = auth(&[SECRET]);
        let body = SAMPLE_A.as_bytes();
        let now = at(AT_MS);
        assert_eq!(
            a.verify(&http::HeaderMap::new(), body, now),
            Err(AuthError::MissingSignature)
        );
        for bad in [
            "",
            "zz",
            &SAMPLE_A_CHECKSUM[..62],
            &format!("{SAMPLE_A_CHECKSUM}00"),
            &sign(b"not-the-secret-at-all", body),
            &SAMPLE_A_CHECKSUM.replace('6', "7"),
        ] {
            assert_eq!(
                a.verify(&headers(bad), body, now),
                Err(AuthError::InvalidSignature),
                "{bad}"
            );
        }
        let mut tampered = SAMPLE_A.replace("approved", "rejected");
        tampered.truncate(SAMPLE_A.len());
        assert_eq!(
            a.verify(&headers(SAMPLE_A_CHECKSUM), tampered.as_bytes(), now),
            Err(AuthError::InvalidSignature)
        );
        let mut twice = headers(SAMPLE_A_CHECKSUM);
        twice.append(
            "x-digio-checksum",
            http::HeaderValue::from_static(SAMPLE_A_CHECKSUM),
        );
        assert_eq!(
            a.verify(&twice, body, now),
            Err(AuthError::InvalidSignature)
        );
        assert_eq!(
            auth(&[]).verify(&headers(SAMPLE_A_CHECKSUM), body, now),
            Err(AuthError::NotConfigured)
        );
    }

    #[test]
    fn the_signed_created_at_bounds_replays_both_ways() {
        let a = auth(&[SECRET]);
        let ok =
            |now_ms: i64| a.verify(&headers(SAMPLE_A_CHECKSUM), SAMPLE_A.as_bytes(), at(now_ms));
        let created = 1_715_670_371_000;
        assert!(ok(created + 518_400_000).is_ok(), "six days old");
        assert_eq!(
            ok(created + 518_400_001),
            Err(AuthError::StaleTimestamp),
            "older"
        );
        assert!(
            ok(created - MAX_FUTURE_SKEW_MS).is_ok(),
            "five minutes ahead"
        );
        assert_eq!(
            ok(created - MAX_FUTURE_SKEW_MS - 1),
            Err(AuthError::StaleTimestamp)
        );
        for body in [
            r#"{"id":"WHN1","event":"kyc.request.approved"}"#,
            r#"{"created_at":"1715670371000"}"#,
            "not json",
        ] {
            let checksum = sign(SECRET.as_bytes(), body.as_bytes());
            assert_eq!(
                a.verify(&headers(&checksum), body.as_bytes(), at(AT_MS)),
                Err(AuthError::StaleTimestamp),
                "{body}"
            );
        }
    }
}
