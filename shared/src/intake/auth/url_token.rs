//! A source-IP allowlist and a secret in the registered URL (`?token=...`), for a provider that
//! signs nothing and sends from addresses it shares with all its customers (HyperVerge
//! DigiLocker): the IP shows the request comes from the provider, the token that it was sent to
//! the URL we registered, not one another customer registered.

use super::{ip::IpAllowlist, AuthError, AuthScheme, Authenticate};
use crate::intake::inbound::Inbound;
use crate::secrets::secret::SecretList;
use chrono::{DateTime, Utc};

/// The query parameter that carries the token.
pub const PARAMETER: &str = "token";

#[derive(Debug, Clone)]
pub struct IpAndUrlToken {
    scheme: AuthScheme,
    allowed_ips: IpAllowlist,
    tokens: SecretList,
}

impl IpAndUrlToken {
    /// `scheme` is what events authenticated this way report in `data.auth_scheme`.
    pub fn new(scheme: AuthScheme, allowed_ips: IpAllowlist, tokens: SecretList) -> Self {
        Self {
            scheme,
            allowed_ips,
            tokens,
        }
    }
}

/// The single value of the `token` parameter of a raw (URL-encoded) query string.
/// `Ok(None)`: absent. `Err(())`: repeated.
fn token_of(query: Option<&str>) -> Result<Option<String>, ()> {
    let mut values = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == PARAMETER)
        .map(|(_, v)| v.into_owned());
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

impl Authenticate for IpAndUrlToken {
    /// The IP first (403), then the token (401), each in constant time where a secret is involved.
    fn authenticate(&self, req: &Inbound<'_>, _: DateTime<Utc>) -> Result<AuthScheme, AuthError> {
        if !self.is_configured() {
            return Err(AuthError::NotConfigured);
        }
        self.allowed_ips.check(req.source_ip)?;
        match token_of(req.query) {
            Ok(None) => Err(AuthError::MissingToken),
            Ok(Some(t)) if self.tokens.any_matches(t.as_bytes()) => Ok(self.scheme.clone()),
            _ => Err(AuthError::InvalidToken),
        }
    }

    fn is_configured(&self) -> bool {
        !self.tokens.is_empty() && !self.allowed_ips.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_SCHEME: AuthScheme = AuthScheme::named("acme_test_scheme");
    use crate::secrets::secret::Secret;
    use http::HeaderMap;

    fn auth(tokens: &[&str]) -> IpAndUrlToken {
        IpAndUrlToken::new(
            TEST_SCHEME,
            IpAllowlist::parse("3.7.90.248").expect("ips"),
            SecretList::new(tokens.iter().map(|t| Secret::new(*t)).collect()),
        )
    }

    fn check(auth: &IpAndUrlToken, ip: &str, query: Option<&str>) -> Result<AuthScheme, AuthError> {
        let headers = HeaderMap::new();
        let req = Inbound {
            source_ip: ip.parse().ok(),
            query,
            ..Inbound::post("/webhooks/hyperverge/digilocker", &headers, b"{}")
        };
        auth.authenticate(&req, Utc::now())
    }

    #[test]
    fn ip_then_token_with_rotation() {
        let a = auth(&["tok-old-0123456789", "tok-new-0123456789"]);
        let ok = Ok(TEST_SCHEME);
        assert_eq!(
            check(&a, "3.7.90.248", Some("token=tok-new-0123456789")),
            ok
        );
        assert_eq!(
            check(&a, "3.7.90.248", Some("a=1&token=tok-old-0123456789")),
            ok
        );
        // Percent-encoding is decoded as API Gateway and browsers do.
        assert_eq!(
            check(&a, "3.7.90.248", Some("token=tok%2Dnew%2D0123456789")),
            ok
        );
    }

    #[test]
    fn every_negative_case() {
        let a = auth(&["tok-new-0123456789"]);
        let cases = [
            // A wrong IP is refused before the token is looked at, even with the right token.
            (
                "3.7.90.249",
                Some("token=tok-new-0123456789"),
                AuthError::SourceIpNotAllowed,
            ),
            (
                "none",
                Some("token=tok-new-0123456789"),
                AuthError::SourceIpNotAllowed,
            ),
            ("3.7.90.248", None, AuthError::MissingToken),
            ("3.7.90.248", Some(""), AuthError::MissingToken),
            (
                "3.7.90.248",
                Some("tokens=tok-new-0123456789"),
                AuthError::MissingToken,
            ),
            ("3.7.90.248", Some("token="), AuthError::InvalidToken),
            (
                "3.7.90.248",
                Some("token=tok-new-012345678"),
                AuthError::InvalidToken,
            ),
            (
                "3.7.90.248",
                Some("token=TOK-NEW-0123456789"),
                AuthError::InvalidToken,
            ),
            (
                "3.7.90.248",
                Some("token=tok-new-0123456789&token=tok-new-0123456789"),
                AuthError::InvalidToken,
            ),
            (
                "3.7.90.248",
                Some("token=tok-new-0123456789,x"),
                AuthError::InvalidToken,
            ),
        ];
        for (ip, query, want) in cases {
            assert_eq!(check(&a, ip, query), Err(want), "{ip} {query:?}");
        }
    }

    #[test]
    fn no_token_configured_fails_closed() {
        let a = auth(&[]);
        assert!(!a.is_configured());
        assert_eq!(
            check(&a, "3.7.90.248", Some("token=anything")),
            Err(AuthError::NotConfigured)
        );
    }
}
