//! HyperVerge: DigiLocker consent and application Results, served by `hyperverge-webhook`.
//! DigiLocker is unsigned and sent from addresses shared by all HyperVerge customers, so it is
//! checked by IP and by a secret in the URL we register (`auth::url_token`); Results carries the
//! static header its subscription is configured with (`auth::token`). This module holds the
//! function's description and its settings. HyperVerge's pages behind it ("DigiLocker Webhook",
//! "Results Webhook") are summarised, with where each fact is used, in docs/providers.md.

pub mod digilocker;
pub mod results;

use crate::auth::{
    ip::IpAllowlist, token::HeaderToken, url_token::IpAndUrlToken, AuthScheme, Authenticate,
};
use crate::config::{allowlist, err, secrets, Common, ConfigError, Env};
use crate::registry::FunctionSpec;
use crate::secret::SecretList;

/// The variables `hyperverge-webhook` reads beyond the common ones.
pub mod var {
    pub const DIGILOCKER_URL_TOKENS: &str = "HYPERVERGE_DIGILOCKER_URL_TOKENS";
    pub const ALLOWED_IPS: &str = "HYPERVERGE_ALLOWED_IPS";
    pub const RESULTS_ALLOWED_IPS: &str = "HYPERVERGE_RESULTS_ALLOWED_IPS";
    pub const RESULTS_AUTH_HEADER: &str = "HYPERVERGE_RESULTS_AUTH_HEADER";
    pub const RESULTS_AUTH_TOKENS: &str = "HYPERVERGE_RESULTS_AUTH_TOKENS";
}

/// HyperVerge's sending addresses for DigiLocker webhooks, as its "DigiLocker Webhook" page lists
/// them (docs/providers.md#hyperverge).
pub const DEFAULT_ALLOWED_IPS: &str = "65.0.82.147,3.7.90.248,3.6.33.64";
pub const DEFAULT_RESULTS_AUTH_HEADER: &str = "x-webhook-token";

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "hyperverge-webhook",
    sources: &[&digilocker::SOURCE, &results::SOURCE],
    variables: &[
        var::DIGILOCKER_URL_TOKENS,
        var::ALLOWED_IPS,
        var::RESULTS_ALLOWED_IPS,
        var::RESULTS_AUTH_HEADER,
        var::RESULTS_AUTH_TOKENS,
    ],
    secret_variables: &[var::DIGILOCKER_URL_TOKENS, var::RESULTS_AUTH_TOKENS],
    local: &[
        (var::DIGILOCKER_URL_TOKENS, "local-digilocker-url-token"),
        (var::RESULTS_AUTH_TOKENS, "local-results-token"),
        // HyperVerge's addresses (the samples carry them) and the local gateway's.
        (
            var::ALLOWED_IPS,
            "65.0.82.147,3.7.90.248,3.6.33.64,127.0.0.1",
        ),
    ],
};

/// DigiLocker URL tokens: besides the length every secret has (`secrets_manager::MIN_SECRET_CHARS`: the
/// token is the only secret between another HyperVerge customer and our DigiLocker route), made
/// only of characters that travel in a URL as they are (RFC 3986 unreserved), so the registered
/// URL is exactly `...?token=<value>`. The message never repeats a value.
fn url_tokens(env: &dyn Env) -> Result<SecretList, ConfigError> {
    let var = var::DIGILOCKER_URL_TOKENS;
    let tokens = secrets(env, var)?;
    for (i, t) in tokens.current().iter().enumerate() {
        let t = t.expose();
        let unreserved = t
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b));
        if !unreserved {
            return Err(err(
                var,
                format!(
                    "token {} must be made of A-Z a-z 0-9 - . _ ~ (e.g. `openssl rand -hex 32`)",
                    i + 1
                ),
            ));
        }
    }
    Ok(tokens)
}

/// DigiLocker: the caller's address, then the URL token.
fn digilocker_auth(env: &dyn Env, _common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let digilocker_ips = match allowlist(env, var::ALLOWED_IPS)? {
        Some(list) => list,
        None => IpAllowlist::parse(DEFAULT_ALLOWED_IPS)
            .map_err(|reason| err(var::ALLOWED_IPS, reason))?,
    };
    Ok(Box::new(IpAndUrlToken::new(
        AuthScheme::HypervergeIpUrlToken,
        digilocker_ips,
        url_tokens(env)?,
    )))
}

/// Results: the token header, and the caller's address when a list is set.
fn results_auth(env: &dyn Env, _common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    let header_name = env
        .get(var::RESULTS_AUTH_HEADER)
        .unwrap_or_else(|| DEFAULT_RESULTS_AUTH_HEADER.to_owned());
    let header = http::HeaderName::from_bytes(header_name.trim().as_bytes()).map_err(|_| {
        err(
            var::RESULTS_AUTH_HEADER,
            format!("`{}` is not a valid header name", header_name.trim()),
        )
    })?;
    Ok(Box::new(HeaderToken::new(
        AuthScheme::HypervergeHeaderToken,
        header,
        secrets(env, var::RESULTS_AUTH_TOKENS)?,
        allowlist(env, var::RESULTS_ALLOWED_IPS)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;
    use crate::sources::Source;

    fn sources(extra: &[(&str, &str)]) -> Result<Vec<Source>, ConfigError> {
        FUNCTION.config(&fake_env(extra)).map(|(_, s)| s)
    }

    #[test]
    fn defaults_fail_closed_until_tokens_are_set() {
        let s = sources(&[]).expect("valid");
        assert!(!s[0].auth.is_configured(), "no URL token: fail closed");
        assert!(!s[1].auth.is_configured(), "no Results token: fail closed");
        let s = sources(&[
            ("HYPERVERGE_DIGILOCKER_URL_TOKENS", "0123456789abcdef"),
            ("HYPERVERGE_RESULTS_AUTH_TOKENS", "results-token-0123456789"),
        ])
        .expect("valid");
        assert!(s[0].auth.is_configured(), "default IPs and a token");
        assert!(s[1].auth.is_configured());
    }

    #[test]
    fn bad_values_name_the_variable_never_the_value() {
        let cases = [
            (
                ("HYPERVERGE_ALLOWED_IPS", "1.2.3.4,bogus"),
                var::ALLOWED_IPS,
            ),
            (
                ("HYPERVERGE_RESULTS_ALLOWED_IPS", "10.0.0.0/33"),
                var::RESULTS_ALLOWED_IPS,
            ),
            (
                ("HYPERVERGE_RESULTS_AUTH_HEADER", "bad header"),
                var::RESULTS_AUTH_HEADER,
            ),
        ];
        for (extra, var) in cases {
            assert_eq!(sources(&[extra]).expect_err(var).var, var);
        }
        for bad in [
            "short-token",
            "0123456789abcdef?x",
            "0123456789abcdef&x",
            "0123456789 abcdef",
        ] {
            let e = sources(&[("HYPERVERGE_DIGILOCKER_URL_TOKENS", bad)]).expect_err(bad);
            assert_eq!(e.var, var::DIGILOCKER_URL_TOKENS);
            assert!(!e.to_string().contains(bad), "the value is never echoed");
        }
    }
}
