//! Cashfree webhook signatures, as Cashfree's Secure ID webhook pages define them (known answers in
//! docs/providers.md and the tests below).
//!
//! Header scheme: `x-webhook-signature` = Base64(HMAC-SHA256(secret, `x-webhook-timestamp` ‖ raw body)),
//! the timestamp in epoch milliseconds. Legacy scheme (older Secure ID bodies): a top-level
//! `"signature"` over the `data` object rendered as Cashfree's Java reference does (top-level keys
//! sorted, values concatenated as Java prints them). The legacy scheme signs neither the event type
//! nor the time, so whoever holds one signed body can re-send it as another event: it is off unless
//! enabled (`CASHFREE_LEGACY_SIGNATURE=on`), and then used only when both headers are absent.

use crate::intake::auth::{single_header, AuthError, AuthScheme, Authenticate};
use crate::intake::inbound::Inbound;
use crate::secrets::secret::SecretList;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

pub use crate::intake::auth::MAX_FUTURE_SKEW_MS;

use crate::intake::auth::hmac_sha256 as mac;

/// `x-webhook-signature` over `x-webhook-timestamp` and the raw body.
pub const HEADER_HMAC: AuthScheme = AuthScheme::named("cashfree_header_hmac");
/// The legacy in-body `signature`: it covers only `data`, so the event type and time of such an
/// event were not signed (accepted only with `CASHFREE_LEGACY_SIGNATURE=on`).
pub const LEGACY_BODY_HMAC: AuthScheme = AuthScheme::named("cashfree_legacy_body_hmac");

/// The header-scheme signature of `body` sent at `timestamp` (as it appears in the header).
/// Public so that tests, the local tools and users can make valid requests.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(timestamp.as_bytes());
    m.update(body);
    BASE64.encode(m.finalize().into_bytes())
}

/// The legacy in-body signature of a `data` value; `None` when `data` is not an object.
pub fn sign_legacy(secret: &[u8], data: &Value) -> Option<String> {
    let message = legacy_message(data)?;
    let mut m = mac(secret);
    m.update(message.as_bytes());
    Some(BASE64.encode(m.finalize().into_bytes()))
}

/// The text the legacy scheme signs: `data`'s top-level keys in alphabetical order, their values
/// rendered as Java's string concatenation would, with no separator.
pub fn legacy_message(data: &Value) -> Option<String> {
    let obj = data.as_object()?;
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    let mut out = String::new();
    for k in keys {
        render_java(&obj[k.as_str()], &mut out);
    }
    Some(out)
}

/// `String.valueOf` of a Jackson-decoded value: maps as `{k=v, k2=v2}` in their original order,
/// lists as `[a, b]`, strings unquoted, `null` as `null`.
fn render_java(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_java(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_java(item, out);
            }
            out.push('}');
        }
    }
}

/// Whether the legacy in-body signature is accepted (`CASHFREE_LEGACY_SIGNATURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legacy {
    /// A delivery without signature headers is refused (`missing_signature`).
    #[default]
    Off,
    /// A delivery without either signature header is checked by the in-body signature.
    On,
}

/// Cashfree's authentication for one source: the accepted client secrets, the replay window and
/// whether the legacy in-body signature is accepted.
#[derive(Debug, Clone)]
pub struct CashfreeAuth {
    secrets: SecretList,
    tolerance_ms: i64,
    legacy: Legacy,
}

impl CashfreeAuth {
    pub fn new(secrets: SecretList, tolerance_secs: u64, legacy: Legacy) -> Self {
        let tolerance_ms = i64::try_from(tolerance_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        Self {
            secrets,
            tolerance_ms,
            legacy,
        }
    }

    /// Verify a request by the header scheme, or, when enabled, by the legacy in-body scheme
    /// when both signature headers are absent. `Ok` names the scheme that verified it.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<AuthScheme, AuthError> {
        if self.secrets.is_empty() {
            return Err(AuthError::NotConfigured);
        }
        let signature =
            single_header(headers, SIGNATURE_HEADER).map_err(|()| AuthError::InvalidSignature)?;
        let timestamp =
            single_header(headers, TIMESTAMP_HEADER).map_err(|()| AuthError::InvalidTimestamp)?;
        match (signature, timestamp) {
            (None, None) => match self.legacy {
                Legacy::On => self.verify_legacy(body).map(|()| LEGACY_BODY_HMAC),
                Legacy::Off => Err(AuthError::MissingSignature),
            },
            (None, Some(_)) => Err(AuthError::MissingSignature),
            (Some(_), None) => Err(AuthError::MissingTimestamp),
            (Some(sig), Some(ts)) => {
                self.check_timestamp(ts, now)?;
                let presented = decode_signature(sig)?;
                self.any_secret(|secret| {
                    let mut m = mac(secret);
                    m.update(ts.as_bytes());
                    m.update(body);
                    m.verify_slice(&presented).is_ok()
                })
                .map(|()| HEADER_HMAC)
            }
        }
    }

    fn check_timestamp(&self, ts: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::InvalidTimestamp);
        }
        let sent: i64 = ts.parse().map_err(|_| AuthError::InvalidTimestamp)?;
        let now = now.timestamp_millis();
        let age = now.saturating_sub(sent);
        if age > self.tolerance_ms || age < -MAX_FUTURE_SKEW_MS {
            return Err(AuthError::StaleTimestamp);
        }
        Ok(())
    }

    fn verify_legacy(&self, body: &[u8]) -> Result<(), AuthError> {
        let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) else {
            return Err(AuthError::MissingSignature);
        };
        let Some(sig) = root.get("signature") else {
            return Err(AuthError::MissingSignature);
        };
        let sig = sig.as_str().ok_or(AuthError::InvalidSignature)?;
        let presented = decode_signature(sig)?;
        let message = root
            .get("data")
            .and_then(legacy_message)
            .ok_or(AuthError::InvalidSignature)?;
        self.any_secret(|secret| {
            let mut m = mac(secret);
            m.update(message.as_bytes());
            m.verify_slice(&presented).is_ok()
        })
    }

    /// Try every secret (no early exit, so timing does not tell which one matched).
    fn any_secret(&self, check: impl Fn(&[u8]) -> bool) -> Result<(), AuthError> {
        if crate::intake::auth::any_secret(&self.secrets, check) {
            Ok(())
        } else {
            Err(AuthError::InvalidSignature)
        }
    }
}

fn decode_signature(sig: &str) -> Result<Vec<u8>, AuthError> {
    match BASE64.decode(sig) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(AuthError::InvalidSignature),
    }
}

impl Authenticate for CashfreeAuth {
    fn authenticate(&self, req: &Inbound<'_>, now: DateTime<Utc>) -> Result<AuthScheme, AuthError> {
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

    const SECRET: &str = "test_client_secret";
    const TS: &str = "1746427759733";
    const BODY: &str = r#"{"event_type":"VKYC_USER_LINK_GENERATED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"test333","reference_id":10449,"status":"RECEIVED","sub_status":"LINK_GENERATED"}}"#;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().expect("valid")
    }

    fn signed_at() -> DateTime<Utc> {
        at(1_746_427_759_733)
    }

    fn auth_with(secrets: &[&str], legacy: Legacy) -> CashfreeAuth {
        CashfreeAuth::new(
            SecretList::new(secrets.iter().map(|s| Secret::new(*s)).collect()),
            86_400,
            legacy,
        )
    }

    fn auth(secrets: &[&str]) -> CashfreeAuth {
        auth_with(secrets, Legacy::Off)
    }

    const HEADER: Result<AuthScheme, AuthError> = Ok(HEADER_HMAC);
    const LEGACY: Result<AuthScheme, AuthError> = Ok(LEGACY_BODY_HMAC);

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn header_scheme_known_answer() {
        assert_eq!(
            sign(SECRET.as_bytes(), TS, BODY.as_bytes()),
            "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE="
        );
    }

    #[test]
    fn legacy_scheme_known_answer() {
        let body: Value = serde_json::from_str(BODY).expect("json");
        assert_eq!(
            legacy_message(&body["data"]).as_deref(),
            Some("10449RECEIVEDLINK_GENERATEDtest333")
        );
        assert_eq!(
            sign_legacy(SECRET.as_bytes(), &body["data"]).as_deref(),
            Some("cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw=")
        );
    }

    #[test]
    fn legacy_renders_nested_values_as_java_does() {
        let data: Value = serde_json::from_str(
            r#"{"verification_id":"ABC00123","user_details":{"name":"John Doe","dob":"02-02-1995"},
                "status":"AUTHENTICATED","document_consent":null,"document_requested":["AADHAAR","PAN"],
                "reference_id":12345,"flag":true,"empty":{},"none":[]}"#,
        )
        .expect("json");
        assert_eq!(
            legacy_message(&data).as_deref(),
            Some("null[AADHAAR, PAN]{}true[]12345AUTHENTICATED{name=John Doe, dob=02-02-1995}ABC00123")
        );
        assert_eq!(legacy_message(&Value::Null), None);
    }

    #[test]
    fn accepts_the_vector_within_the_window() {
        let h = headers(&[
            (
                SIGNATURE_HEADER,
                "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=",
            ),
            (TIMESTAMP_HEADER, TS),
        ]);
        assert_eq!(
            auth(&[SECRET]).verify(&h, BODY.as_bytes(), signed_at()),
            HEADER
        );
    }

    #[test]
    fn accepts_any_of_several_secrets() {
        let h = headers(&[
            (
                SIGNATURE_HEADER,
                "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=",
            ),
            (TIMESTAMP_HEADER, TS),
        ]);
        let a = auth(&["new_secret", SECRET]);
        assert_eq!(a.verify(&h, BODY.as_bytes(), signed_at()), HEADER);
        let a = auth(&["new_secret", "other"]);
        assert_eq!(
            a.verify(&h, BODY.as_bytes(), signed_at()),
            Err(AuthError::InvalidSignature)
        );
    }

    /// Headers, body, expected refusal.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [u8], AuthError);

    #[test]
    fn refuses_every_negative_case() {
        let good = sign(SECRET.as_bytes(), TS, BODY.as_bytes());
        let other_body = sign(SECRET.as_bytes(), TS, b"{}");
        let a = auth(&[SECRET]);
        let now = signed_at();
        let cases: Vec<Case> = vec![
            (
                vec![(TIMESTAMP_HEADER, TS)],
                BODY.as_bytes(),
                AuthError::MissingSignature,
            ),
            (
                vec![(SIGNATURE_HEADER, &good)],
                BODY.as_bytes(),
                AuthError::MissingTimestamp,
            ),
            (
                vec![
                    (SIGNATURE_HEADER, &good),
                    (SIGNATURE_HEADER, &good),
                    (TIMESTAMP_HEADER, TS),
                ],
                BODY.as_bytes(),
                AuthError::InvalidSignature,
            ),
            (
                vec![
                    (SIGNATURE_HEADER, &good),
                    (TIMESTAMP_HEADER, TS),
                    (TIMESTAMP_HEADER, TS),
                ],
                BODY.as_bytes(),
                AuthError::InvalidTimestamp,
            ),
            (
                vec![(SIGNATURE_HEADER, "garbage!"), (TIMESTAMP_HEADER, TS)],
                BODY.as_bytes(),
                AuthError::InvalidSignature,
            ),
            (
                vec![(SIGNATURE_HEADER, "AAAA"), (TIMESTAMP_HEADER, TS)],
                BODY.as_bytes(),
                AuthError::InvalidSignature,
            ),
            (
                vec![(SIGNATURE_HEADER, &other_body), (TIMESTAMP_HEADER, TS)],
                BODY.as_bytes(),
                AuthError::InvalidSignature,
            ),
            (
                vec![(SIGNATURE_HEADER, &good), (TIMESTAMP_HEADER, TS)],
                b"{\"tampered\":1}",
                AuthError::InvalidSignature,
            ),
            (
                vec![(SIGNATURE_HEADER, &good), (TIMESTAMP_HEADER, "abc")],
                BODY.as_bytes(),
                AuthError::InvalidTimestamp,
            ),
            (
                vec![(SIGNATURE_HEADER, &good), (TIMESTAMP_HEADER, "-1")],
                BODY.as_bytes(),
                AuthError::InvalidTimestamp,
            ),
            (
                vec![(SIGNATURE_HEADER, &good), (TIMESTAMP_HEADER, "")],
                BODY.as_bytes(),
                AuthError::InvalidTimestamp,
            ),
            (
                vec![
                    (SIGNATURE_HEADER, &good),
                    (TIMESTAMP_HEADER, "99999999999999999999999999"),
                ],
                BODY.as_bytes(),
                AuthError::InvalidTimestamp,
            ),
            (vec![], b"not json", AuthError::MissingSignature),
            (vec![], BODY.as_bytes(), AuthError::MissingSignature),
        ];
        for (i, (h, body, want)) in cases.into_iter().enumerate() {
            assert_eq!(a.verify(&headers(&h), body, now), Err(want), "case {i}");
        }
    }

    #[test]
    fn replay_window_both_ways() {
        let a = auth(&[SECRET]);
        let h = headers(&[
            (
                SIGNATURE_HEADER,
                "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=",
            ),
            (TIMESTAMP_HEADER, TS),
        ]);
        let sent = 1_746_427_759_733_i64;
        let day = 86_400_000;
        assert_eq!(a.verify(&h, BODY.as_bytes(), at(sent + day)), HEADER);
        assert_eq!(
            a.verify(&h, BODY.as_bytes(), at(sent + day + 1)),
            Err(AuthError::StaleTimestamp)
        );
        assert_eq!(
            a.verify(&h, BODY.as_bytes(), at(sent - MAX_FUTURE_SKEW_MS)),
            HEADER
        );
        assert_eq!(
            a.verify(&h, BODY.as_bytes(), at(sent - MAX_FUTURE_SKEW_MS - 1)),
            Err(AuthError::StaleTimestamp)
        );
    }

    #[test]
    fn no_secret_fails_closed() {
        let a = CashfreeAuth::new(SecretList::default(), 60, Legacy::On);
        assert!(!a.is_configured());
        let h = headers(&[
            (
                SIGNATURE_HEADER,
                "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=",
            ),
            (TIMESTAMP_HEADER, TS),
        ]);
        assert_eq!(
            a.verify(&h, BODY.as_bytes(), signed_at()),
            Err(AuthError::NotConfigured)
        );
    }

    #[test]
    fn legacy_in_body_signature() {
        let a = auth_with(&[SECRET], Legacy::On);
        let mut body: Value = serde_json::from_str(BODY).expect("json");
        body["signature"] = Value::from("cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw=");
        let raw = serde_json::to_vec(&body).expect("ser");
        assert_eq!(a.verify(&headers(&[]), &raw, signed_at()), LEGACY);

        body["data"]["status"] = Value::from("REJECTED");
        let raw = serde_json::to_vec(&body).expect("ser");
        assert_eq!(
            a.verify(&headers(&[]), &raw, signed_at()),
            Err(AuthError::InvalidSignature)
        );
        body["signature"] = Value::from(12);
        let raw = serde_json::to_vec(&body).expect("ser");
        assert_eq!(
            a.verify(&headers(&[]), &raw, signed_at()),
            Err(AuthError::InvalidSignature)
        );
    }

    #[test]
    fn legacy_signature_over_nested_digilocker_data() {
        // A DigiLocker success: nested user_details, arrays, integers, a null.
        let raw_data = r#"{"user_details":{"name":"John Doe","dob":"02-02-1995","gender":"M","eaadhaar":"Y","mobile":"9999999999"},"status":"AUTHENTICATED","document_requested":["AADHAAR","PAN","DRIVING_LICENSE"],"document_consent":["AADHAAR","PAN","DRIVING_LICENSE"],"document_consent_validity":null,"verification_id":"ABC00123","reference_id":12345}"#;
        let data: Value = serde_json::from_str(raw_data).expect("json");
        assert_eq!(
            legacy_message(&data).as_deref(),
            Some("[AADHAAR, PAN, DRIVING_LICENSE]null[AADHAAR, PAN, DRIVING_LICENSE]12345AUTHENTICATED{name=John Doe, dob=02-02-1995, gender=M, eaadhaar=Y, mobile=9999999999}ABC00123")
        );
        let sig = sign_legacy(SECRET.as_bytes(), &data).expect("object");
        let body = format!(
            r#"{{"signature":"{sig}","event_type":"DIGILOCKER_VERIFICATION_SUCCESS","event_time":"2006-01-02T15:04:05Z","version":"v1","data":{raw_data}}}"#
        );
        let a = auth_with(&[SECRET], Legacy::On);
        assert_eq!(
            a.verify(&headers(&[]), body.as_bytes(), signed_at()),
            LEGACY
        );
        // Reordering a nested object changes the Java rendering, so it must fail.
        let swapped = body.replace(
            r#""name":"John Doe","dob":"02-02-1995""#,
            r#""dob":"02-02-1995","name":"John Doe""#,
        );
        assert_eq!(
            a.verify(&headers(&[]), swapped.as_bytes(), signed_at()),
            Err(AuthError::InvalidSignature)
        );
    }

    /// A body carrying a valid in-body signature: the attack the legacy scheme allows.
    fn legacy_signed(event_type: &str, event_time: &str) -> Vec<u8> {
        let mut body: Value = serde_json::from_str(BODY).expect("json");
        body["event_type"] = Value::from(event_type);
        body["event_time"] = Value::from(event_time);
        body["signature"] = Value::from("cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw=");
        serde_json::to_vec(&body).expect("ser")
    }

    #[test]
    fn legacy_signature_is_refused_unless_enabled() {
        let raw = legacy_signed("VKYC_USER_LINK_GENERATED", "2025-05-22T03:51:14Z");
        assert_eq!(
            auth(&[SECRET]).verify(&headers(&[]), &raw, signed_at()),
            Err(AuthError::MissingSignature)
        );
        assert_eq!(
            auth_with(&[SECRET], Legacy::On).verify(&headers(&[]), &raw, signed_at()),
            LEGACY
        );
    }

    #[test]
    fn legacy_signature_does_not_cover_type_or_time_so_it_is_marked() {
        // The forgery: the same signed `data` as another event at another time still verifies,
        // which is why the scheme is off by default and events accepted by it say so.
        let forged = legacy_signed("VKYC_AUDITOR_REVIEW_COMPLETED", "2031-01-01T00:00:00Z");
        let on = auth_with(&[SECRET], Legacy::On);
        assert_eq!(on.verify(&headers(&[]), &forged, signed_at()), LEGACY);
        assert_eq!(
            auth(&[SECRET]).verify(&headers(&[]), &forged, signed_at()),
            Err(AuthError::MissingSignature)
        );
    }

    #[test]
    fn with_legacy_on_one_header_present_still_requires_the_header_scheme() {
        let raw = legacy_signed("VKYC_USER_LINK_GENERATED", "2025-05-22T03:51:14Z");
        let on = auth_with(&[SECRET], Legacy::On);
        assert_eq!(
            on.verify(&headers(&[(TIMESTAMP_HEADER, TS)]), &raw, signed_at()),
            Err(AuthError::MissingSignature)
        );
        assert_eq!(
            on.verify(
                &headers(&[(
                    SIGNATURE_HEADER,
                    "cGXihZF2gNRSPTso5UIQJFkN+mQ8BFobD8nwNbKhiaw="
                )]),
                &raw,
                signed_at()
            ),
            Err(AuthError::MissingTimestamp)
        );
    }
}
