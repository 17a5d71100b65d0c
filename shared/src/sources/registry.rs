//! The one description of what runs where: each Lambda function (its name, which is also its
//! binary's), the sources it serves and the settings it reads (`config::setting`). `make
//! generate` writes the template's and the docs' provider parts from it; the local gateway and
//! tools, the tests and the bench read it; each function's `main` names its own provider's
//! `FUNCTION`. A path that no function serves is an error, never a fallback to some function.

use crate::config;
use crate::event::AuthScheme;
use crate::sources::status::StatusApiSpec;
use crate::sources::{cashfree, digio, hyperverge, FunctionSpec, SourceSpec};
use std::collections::BTreeMap;

/// The function that replays archived deliveries: no route, invoked by the operator role alone
/// (`replay`); its role alone may send replay-marked events.
pub const ARCHIVE_REPLAY: &str = "archive-replay";

/// The webhook functions this project ships.
pub static FUNCTIONS: &[&FunctionSpec] =
    &[&cashfree::FUNCTION, &hyperverge::FUNCTION, &digio::FUNCTION];

/// Every provider's status API, which the journey sweeper reconciles from. Listed apart from the
/// sources (which name only the API's path and statuses), so a webhook function, which never asks
/// one, does not link its HTTPS client.
pub static STATUS_APIS: &[&StatusApiSpec] = &[
    &cashfree::status_api::STATUS_API,
    &digio::status_api::STATUS_API,
    &hyperverge::output_api::STATUS_API,
];

/// The status API of `provider`'s sources, if it has one.
pub fn status_api(provider: &str) -> Option<&'static StatusApiSpec> {
    STATUS_APIS.iter().copied().find(|s| s.provider == provider)
}

/// Every `data.auth_scheme` an event can carry: each function's, each status API's, and the
/// application's. The JSON Schema lists exactly these.
pub fn auth_schemes() -> Vec<AuthScheme> {
    FUNCTIONS
        .iter()
        .flat_map(|f| f.schemes.iter().cloned())
        .chain(STATUS_APIS.iter().map(|api| api.scheme.clone()))
        .chain([AuthScheme::APPLICATION])
        .collect()
}

/// Every source of every function this project ships.
pub fn sources() -> impl Iterator<Item = &'static SourceSpec> {
    FUNCTIONS.iter().flat_map(|f| f.sources.iter().copied())
}

/// The function that serves the source named `source`.
pub fn function_of(source: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS
        .iter()
        .copied()
        .find(|f| f.sources.iter().any(|s| s.name == source))
}

/// The source named `name` (e.g. `cashfree/vkyc`).
pub fn source(name: &str) -> Option<&'static SourceSpec> {
    sources().find(|s| s.name == name)
}

/// The local values of every function in `functions` (`FunctionSpec::local`).
pub fn local_env(functions: &[&FunctionSpec]) -> BTreeMap<&'static str, &'static str> {
    functions
        .iter()
        .flat_map(|f| f.local.iter().copied())
        .collect()
}

/// Every event type the sources make of what their providers send (`kyc.<product>.<kind>`), and
/// each product's `unrecognized`.
pub fn event_types() -> std::collections::BTreeSet<String> {
    sources()
        .flat_map(|s| {
            s.events
                .iter()
                .map(|(_, kind)| match kind.split_once('.') {
                    Some(_) => format!("kyc.{kind}"),
                    None => format!("kyc.{}.{kind}", s.product),
                })
                .chain([format!("kyc.{}.unrecognized", s.product)])
        })
        .collect()
}

/// The local setting of `variable`, as a function reads it (a list stays a list).
pub fn local(variable: &str) -> Option<&'static str> {
    FUNCTIONS
        .iter()
        .flat_map(|f| f.local.iter())
        .find(|(name, _)| *name == variable)
        .map(|(_, value)| *value)
}

/// The local value of `variable`, the first of a list (what a sample is signed with).
pub fn local_value(variable: &str) -> Option<&'static str> {
    local(variable).and_then(config::first_listed)
}

/// The function named `name` among `functions`.
pub fn by_name<'a>(functions: &[&'a FunctionSpec], name: &str) -> Option<&'a FunctionSpec> {
    functions.iter().copied().find(|f| f.name == name)
}

/// The function (and its source) serving `path` among `functions`.
pub fn serving<'a>(
    functions: &[&'a FunctionSpec],
    path: &str,
) -> Option<(&'a FunctionSpec, &'static SourceSpec)> {
    functions
        .iter()
        .find_map(|f| f.source_for(path).map(|s| (*f, s)))
}

/// Every source of every function in `functions`, configured from `env` (tests, bench).
#[cfg(any(test, feature = "test-util"))]
pub fn configure_all(
    functions: &[&FunctionSpec],
    env: &dyn config::Env,
) -> Result<Vec<crate::sources::Source>, config::ConfigError> {
    let mut all = Vec::new();
    for f in functions {
        all.extend(f.config(env)?.1);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Each scheme goes on the wire as its name (`make generate` lists them in the JSON Schema),
    /// and no published name is ever renamed or dropped.
    #[test]
    fn every_published_scheme_is_still_carried_as_its_name() {
        let schemes = auth_schemes();
        let carried: BTreeSet<&str> = schemes.iter().map(AuthScheme::as_str).collect();
        // Consumers match on these: a published name is never renamed or dropped.
        for published in [
            "cashfree_header_hmac",
            "cashfree_legacy_body_hmac",
            "hyperverge_ip_url_token",
            "hyperverge_header_token",
            "cashfree_status_api",
            "digio_checksum",
            "digio_status_api",
            "application",
        ] {
            assert!(carried.contains(published), "{published} still carried");
        }
        assert_eq!(carried.len(), schemes.len(), "no name used twice");
        for s in &schemes {
            assert_eq!(serde_json::to_value(s).expect("ser"), s.as_str());
            assert!(
                s.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{s}: lowercase and underscores"
            );
        }
    }

    fn env(k: &str) -> Option<String> {
        match k {
            "IDEMPOTENCY_TABLE" => Some("t".into()),
            "EVENTS_QUEUE_URL" => Some("https://sqs/q.fifo".into()),
            _ => None,
        }
    }

    #[test]
    fn each_functions_local_values_configure_every_source_and_name_only_its_variables() {
        for f in FUNCTIONS {
            let local: BTreeMap<&str, &str> = f.local.iter().copied().collect();
            let with_local = |k: &str| local.get(k).map(|v| (*v).to_owned()).or_else(|| env(k));
            let (_, sources) = f.config(&with_local).expect("local values are valid");
            assert_eq!(sources.len(), f.sources.len());
            assert!(
                sources.iter().all(|s| s.auth.is_configured()),
                "{}: every source works locally",
                f.name
            );
            for secret in f.secret_variables() {
                assert!(local.contains_key(secret), "{}: {secret}", f.name);
            }
            for name in local.keys() {
                assert!(f.variables().contains(name), "{}: {name}", f.name);
            }
        }
    }

    #[test]
    fn names_routes_and_variables_are_unique() {
        let names: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), FUNCTIONS.len());
        let routes: Vec<&str> = FUNCTIONS
            .iter()
            .flat_map(|f| f.sources.iter().map(|s| s.route))
            .collect();
        assert_eq!(routes.iter().collect::<BTreeSet<_>>().len(), routes.len());
        let vars: Vec<&str> = FUNCTIONS
            .iter()
            .flat_map(|f| f.variables().into_iter())
            .collect();
        assert_eq!(vars.iter().collect::<BTreeSet<_>>().len(), vars.len());
    }

    /// Every function crate's logs follow the configured level: its `main` names its own crate
    /// to the telemetry, so no list of crates needs a new function added to it.
    #[test]
    fn every_main_is_one_runtime_call_naming_its_own_crate() {
        let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        for entry in std::fs::read_dir(functions).expect("functions/") {
            let main = entry.expect("entry").path().join("src/main.rs");
            let text = std::fs::read_to_string(&main).expect("a main.rs");
            let body = text
                .split_once("async fn main()")
                .and_then(|(_, rest)| rest.split_once('{'))
                .and_then(|(_, rest)| rest.rsplit_once('}'))
                .map(|(body, _)| body.split_whitespace().collect::<String>())
                .unwrap_or_default();
            assert!(
                body.starts_with("kyc_intake::runtime::")
                    && body.contains(r#"(env!("CARGO_CRATE_NAME")"#)
                    && body.ends_with(".await")
                    && body.matches(';').count() == 0,
                "{}: {body}",
                main.display()
            );
        }
        // A webhook function's main names its own provider's function.
        for f in FUNCTIONS {
            let provider = f.name.trim_end_matches("-webhook");
            let main = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../functions/{provider}/src/main.rs"));
            let text = std::fs::read_to_string(&main).expect("a main.rs");
            assert!(
                text.contains(&format!("sources::{provider}::FUNCTION")),
                "{}",
                main.display()
            );
        }
    }

    #[test]
    fn routing_finds_the_serving_function_or_nothing() {
        let (f, s) = serving(FUNCTIONS, "/prod/webhooks/hyperverge/results").expect("served");
        assert_eq!(
            (f.name, s.name),
            ("hyperverge-webhook", "hyperverge/results")
        );
        let (f, _) = serving(FUNCTIONS, "/webhooks/cashfree/vkyc/").expect("served");
        assert_eq!(f.name, "cashfree-webhook");
        assert!(
            serving(FUNCTIONS, "/webhooks/nobody/kyc").is_none(),
            "no fallback"
        );
        assert!(serving(FUNCTIONS, "/webhooks/cashfree").is_none());
        assert!(by_name(FUNCTIONS, "hyperverge-webhook").is_some());
        assert!(by_name(FUNCTIONS, "nobody-webhook").is_none());
    }
}
