//! HyperVerge: DigiLocker consent and application Results, served by `hyperverge-webhook`.
//! DigiLocker is unsigned and sent from addresses shared by all HyperVerge customers, so it is
//! checked by IP and by a secret in the URL we register (`auth::url_token`); Results carries the
//! static header its subscription is configured with (`auth::token`). This module holds the
//! function's description and its settings. HyperVerge's pages behind it ("DigiLocker Webhook",
//! "Results Webhook") are summarised, with where each fact is used, in docs/providers.md.

pub mod digilocker;
pub mod output_api;
pub mod results;
pub mod settings;

use crate::config::setting::Setting;
use crate::sources::FunctionSpec;
use settings::var;

pub use settings::{HEADER_TOKEN, IP_URL_TOKEN};

pub static FUNCTION: FunctionSpec = FunctionSpec {
    name: "hyperverge-webhook",
    sources: &[&digilocker::SOURCE, &results::SOURCE],
    title: "HyperVerge",
    description: "HyperVerge webhooks (DigiLocker consent, application results).",
    optional: false,
    settings: &[
        Setting::secrets(
            var::DIGILOCKER_URL_TOKENS,
            "HyperVergeDigilockerUrlTokens",
            "Comma-separated secret tokens for the HyperVerge DigiLocker URL (register \
             HypervergeDigilockerWebhookUrl with ?token=<one of them>; at least 16 characters of \
             A-Z a-z 0-9 - . _ ~, e.g. openssl rand -hex 32).",
        ),
        Setting::text(
            var::ALLOWED_IPS,
            "HyperVergeAllowedIps",
            settings::DEFAULT_ALLOWED_IPS,
            "Comma-separated IPs/CIDRs allowed on the HyperVerge DigiLocker route.",
        ),
        Setting::text(
            var::RESULTS_ALLOWED_IPS,
            "HyperVergeResultsAllowedIps",
            "",
            "Comma-separated IPs/CIDRs allowed on the HyperVerge Results route; empty = no IP check.",
        ),
        Setting::matching(
            var::RESULTS_AUTH_HEADER,
            "HyperVergeResultsAuthHeader",
            settings::DEFAULT_RESULTS_AUTH_HEADER,
            "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
            "Header name the HyperVerge Results subscription sends the token in.",
        ),
        Setting::secrets(
            var::RESULTS_AUTH_TOKENS,
            "HyperVergeResultsAuthTokens",
            "Comma-separated values accepted in the HyperVerge Results header (the `headers` you \
             set on the subscription), 16+ characters each.",
        ),
    ],
    local: &[
        (var::DIGILOCKER_URL_TOKENS, "local-digilocker-url-token"),
        (var::RESULTS_AUTH_TOKENS, "local-results-token"),
        // HyperVerge's addresses (the samples carry them) and the local gateway's.
        (
            var::ALLOWED_IPS,
            "65.0.82.147,3.7.90.248,3.6.33.64,127.0.0.1",
        ),
    ],
    schemes: &[IP_URL_TOKEN, HEADER_TOKEN],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;
    use crate::config::ConfigError;
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
