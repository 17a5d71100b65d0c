//! What `hyperverge-webhook` reads beyond the common settings, and each source's authentication,
//! built from it.

use crate::config::{err, ConfigError, Env};
use crate::intake::auth::ip::{allowlist, IpAllowlist};
use crate::intake::auth::{token::HeaderToken, url_token::IpAndUrlToken, AuthScheme, Authenticate};
use crate::intake::settings::Common;
use crate::secrets::secret::SecretList;

/// DigiLocker: the source IP in the allowlist and the secret `token` of the URL.
pub const IP_URL_TOKEN: AuthScheme = AuthScheme::named("hyperverge_ip_url_token");
/// Results: the static token header of the subscription.
pub const HEADER_TOKEN: AuthScheme = AuthScheme::named("hyperverge_header_token");

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

/// DigiLocker URL tokens: besides the length every secret has (`secrets::secret::MIN_SECRET_CHARS`: the
/// token is the only secret between another HyperVerge customer and our DigiLocker route), made
/// only of characters that travel in a URL as they are (RFC 3986 unreserved), so the registered
/// URL is exactly `...?token=<value>`. The message never repeats a value.
fn url_tokens(env: &dyn Env) -> Result<SecretList, ConfigError> {
    let var = var::DIGILOCKER_URL_TOKENS;
    let tokens = env.secrets(var)?;
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
pub fn digilocker_auth(
    env: &dyn Env,
    _common: &Common,
) -> Result<Box<dyn Authenticate>, ConfigError> {
    let digilocker_ips = match allowlist(env, var::ALLOWED_IPS)? {
        Some(list) => list,
        None => IpAllowlist::parse(DEFAULT_ALLOWED_IPS)
            .map_err(|reason| err(var::ALLOWED_IPS, reason))?,
    };
    Ok(Box::new(IpAndUrlToken::new(
        IP_URL_TOKEN,
        digilocker_ips,
        url_tokens(env)?,
    )))
}

/// Results: the token header, and the caller's address when a list is set.
pub fn results_auth(env: &dyn Env, _common: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
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
        HEADER_TOKEN,
        header,
        env.secrets(var::RESULTS_AUTH_TOKENS)?,
        allowlist(env, var::RESULTS_ALLOWED_IPS)?,
    )))
}
