//! A static token in a header (HyperVerge Results subscriptions send fixed `headers`), optionally
//! with a source-IP allowlist.

use super::{ip::IpAllowlist, single_header, AuthError, AuthScheme, Authenticate};
use crate::intake::inbound::Inbound;
use crate::secrets::secret::SecretList;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct HeaderToken {
    scheme: AuthScheme,
    header: http::HeaderName,
    tokens: SecretList,
    allowed_ips: Option<IpAllowlist>,
}

impl HeaderToken {
    /// `scheme` is what events authenticated this way report in `data.auth_scheme`.
    pub fn new(
        scheme: AuthScheme,
        header: http::HeaderName,
        tokens: SecretList,
        allowed_ips: Option<IpAllowlist>,
    ) -> Self {
        Self {
            scheme,
            header,
            tokens,
            allowed_ips,
        }
    }
}

impl Authenticate for HeaderToken {
    fn secret_headers(&self) -> Vec<http::HeaderName> {
        vec![self.header.clone()]
    }

    fn authenticate(&self, req: &Inbound<'_>, _: DateTime<Utc>) -> Result<AuthScheme, AuthError> {
        if self.tokens.is_empty() {
            return Err(AuthError::NotConfigured);
        }
        if let Some(ips) = &self.allowed_ips {
            ips.check(req.source_ip)?;
        }
        match single_header(req.headers, self.header.as_str()) {
            Ok(None) => Err(AuthError::MissingToken),
            Ok(Some(v)) if self.tokens.any_matches(v.as_bytes()) => Ok(self.scheme.clone()),
            _ => Err(AuthError::InvalidToken),
        }
    }

    fn is_configured(&self) -> bool {
        !self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_SCHEME: AuthScheme = AuthScheme::named("acme_test_scheme");
    use crate::secrets::secret::Secret;
    use http::{HeaderMap, HeaderValue};

    fn check(auth: &HeaderToken, headers: &HeaderMap, ip: &str) -> Result<(), AuthError> {
        let req = Inbound {
            source_ip: ip.parse().ok(),
            ..Inbound::post("/webhooks/hyperverge/results", headers, b"{}")
        };
        auth.authenticate(&req, Utc::now())
            .map(|scheme| assert_eq!(scheme, TEST_SCHEME))
    }

    fn tokens() -> SecretList {
        SecretList::new(vec![Secret::new("t-old"), Secret::new("t-new")])
    }

    #[test]
    fn token_rotation_and_negatives() {
        let auth = HeaderToken::new(
            TEST_SCHEME,
            http::HeaderName::from_static("x-webhook-token"),
            tokens(),
            None,
        );
        let mut h = HeaderMap::new();
        assert_eq!(check(&auth, &h, "1.1.1.1"), Err(AuthError::MissingToken));
        h.insert("X-Webhook-Token", HeaderValue::from_static("t-new"));
        assert_eq!(check(&auth, &h, "1.1.1.1"), Ok(()));
        h.insert("x-webhook-token", HeaderValue::from_static("t-old"));
        assert_eq!(check(&auth, &h, "1.1.1.1"), Ok(()));
        h.insert("x-webhook-token", HeaderValue::from_static("t-ol"));
        assert_eq!(check(&auth, &h, "1.1.1.1"), Err(AuthError::InvalidToken));
        h.append("x-webhook-token", HeaderValue::from_static("t-old"));
        assert_eq!(check(&auth, &h, "1.1.1.1"), Err(AuthError::InvalidToken));
    }

    #[test]
    fn ip_allowlist_when_configured() {
        let ips = IpAllowlist::parse("3.6.33.64").expect("valid");
        let auth = HeaderToken::new(
            TEST_SCHEME,
            http::HeaderName::from_static("x-webhook-token"),
            tokens(),
            Some(ips),
        );
        let mut h = HeaderMap::new();
        h.insert("x-webhook-token", HeaderValue::from_static("t-new"));
        assert_eq!(check(&auth, &h, "3.6.33.64"), Ok(()));
        assert_eq!(
            check(&auth, &h, "3.6.33.65"),
            Err(AuthError::SourceIpNotAllowed)
        );
        assert_eq!(check(&auth, &h, "none"), Err(AuthError::SourceIpNotAllowed));
    }

    #[test]
    fn no_token_fails_closed() {
        let auth = HeaderToken::new(
            TEST_SCHEME,
            http::HeaderName::from_static("x-webhook-token"),
            SecretList::default(),
            None,
        );
        let mut h = HeaderMap::new();
        h.insert("x-webhook-token", HeaderValue::from_static(""));
        assert_eq!(check(&auth, &h, "1.1.1.1"), Err(AuthError::NotConfigured));
        assert!(!auth.is_configured());
    }
}
