//! The docs' tables that list what the registry holds (sources and routes, provider settings,
//! stall limits, personal-data pointers) and the JSON Schema's enumerations, written from it.

use super::view::Registry;
use super::{GenerateError, Output};
use kyc_intake::sources::registry;
use std::fmt::Write;
use std::path::Path;

fn code(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let listed: Vec<String> = items
        .into_iter()
        .map(|i| format!("`{}`", i.as_ref()))
        .collect();
    listed.join(", ")
}

/// | source | route (POST) | authentication | function |
fn sources(r: &Registry) -> String {
    let mut t =
        String::from("| source | route (POST) | authentication | function |\n|---|---|---|---|\n");
    for (f, s) in r.sources() {
        let query = s.url_query.map(|q| format!("?{q}")).unwrap_or_default();
        let _ = writeln!(
            t,
            "| `{}` | `{}{query}` | {} | `{}` |",
            s.name, s.route, s.spec.authentication, f.binary
        );
    }
    t
}

/// | variable | function | parameter | meaning | default | `make run` |
fn settings(r: &Registry) -> String {
    let mut t = String::from(
        "| variable | read by | template parameter | meaning | default | `make run` |\n|---|---|---|---|---|---|\n",
    );
    let local = |v: &str| {
        registry::local(v)
            .map(|l| format!("`{l}`"))
            .unwrap_or_else(|| "default".to_owned())
    };
    let default = |s: &super::view::SettingView| match (s.secret, s.default.as_str()) {
        (true, _) => "none ⇒ its routes answer 500 `not_configured`".to_owned(),
        (false, "") => "unset".to_owned(),
        (false, d) => format!("`{d}`"),
    };
    for f in &r.functions {
        for s in &f.settings {
            let _ = writeln!(
                t,
                "| `{}` | `{}` | `{}` | {} | {} | {} |",
                s.variable,
                f.binary,
                s.parameter,
                s.description,
                default(s),
                local(s.variable)
            );
        }
    }
    for api in &r.status_apis {
        for s in &api.settings {
            let _ = writeln!(
                t,
                "| `{}` | `journey-sweeper` | `{}` | {} | {} | unset |",
                s.variable,
                s.parameter,
                s.description,
                if s.secret {
                    "none ⇒ not reconciled".to_owned()
                } else {
                    default(s)
                }
            );
        }
    }
    t
}

fn duration(secs: u64) -> String {
    let grouped = secs
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let words = match secs {
        3_600 => " (an hour)",
        86_400 => " (a day)",
        259_200 => " (three days)",
        604_800 => " (a week)",
        _ => "",
    };
    format!("{grouped} s{words}")
}

/// | source | default limit | closed by | reconciled from |
fn stall_limits(r: &Registry) -> String {
    let mut t = String::from(
        "| source | default limit | closed by | reconciled from |\n|---|---|---|---|\n",
    );
    for (_, s) in r.sources() {
        let spec = s.spec;
        let rules = spec.journey;
        let closed = code(
            rules
                .terminal
                .iter()
                .map(|k| format!("kyc.{}.{k}", spec.product)),
        );
        let api = r.status_apis.iter().find(|a| a.provider == spec.provider);
        let reconciled = match (rules.reconcile, api) {
            (Some(rec), Some(api)) => format!("`{}` (`{}`)", rec.path, api.spec.scheme.as_str()),
            _ => "detection only".to_owned(),
        };
        let _ = writeln!(
            t,
            "| `{}` | {} | {} | {reconciled} |",
            s.name,
            duration(rules.stall_after_secs),
            if closed.is_empty() {
                "-".to_owned()
            } else {
                closed
            }
        );
    }
    t
}

/// | source | in its webhook bodies | in its status API's answers |
fn personal_data(r: &Registry) -> String {
    let mut t = String::from(
        "| source | in its webhook bodies | in its status API's answers |\n|---|---|---|\n",
    );
    for (_, s) in r.sources() {
        let spec = s.spec;
        let body = if spec.personal_data.is_empty() {
            "none".to_owned()
        } else {
            code(spec.personal_data)
        };
        let api = match spec.journey.reconcile {
            None => "no status API".to_owned(),
            Some(rec) if rec.personal_data.is_empty() => "none".to_owned(),
            Some(rec) => code(rec.personal_data),
        };
        let _ = writeln!(t, "| `{}` | {body} | {api} |", s.name);
    }
    t
}

/// | alarm | fires when | what to do |, for every function's own two alarms.
fn function_alarms(r: &Registry) -> String {
    let webhooks: Vec<String> = r.functions.iter().map(|f| f.id.clone()).collect();
    let all: Vec<String> = webhooks
        .iter()
        .cloned()
        .chain([
            "JourneyWorker".to_owned(),
            "JourneySweeper".to_owned(),
            "ArchiveReplay".to_owned(),
        ])
        .collect();
    let alarms =
        |names: &[String], metric: &str| code(names.iter().map(|n| format!("{n}{metric}Alarm")));
    format!(
        "| alarm | fires when | what to do |\n|---|---|---|\n\
         | {} | a function crashed, failed to start (bad configuration: its log's one error line names the variable) or timed out; for `archive-replay` also a request it refused or an archive it could not list (kycctl printed why) | fix the configuration or report the crash; a worker's batch is redelivered, a sweep goes on at the next run, a replay is run again (the same request is the same replay) |\n\
         | {} | Lambda refused an invocation (account or reserved concurrency; `archive-replay` runs at most two at once) | raise the reserved concurrency (`<Name>ReservedConcurrency`) or the account limit; a refused webhook is answered 5xx and retried by its provider, a sweep is skipped until the next run, a replay is run again once the others finish |\n",
        alarms(&all, "Errors"),
        alarms(&all, "Throttles"),
    )
}

/// | type | made by |: every event type the sources make of what their providers send.
fn event_types(r: &Registry) -> String {
    let mut t = String::from("| type | made by |\n|---|---|\n");
    for event_type in registry::event_types() {
        if event_type.ends_with(".unrecognized") {
            continue;
        }
        let makers: Vec<&str> = r
            .sources()
            .map(|(_, s)| s.spec)
            .filter(|spec| {
                spec.events
                    .iter()
                    .any(|(_, kind)| match kind.split_once('.') {
                        Some(_) => format!("kyc.{kind}") == event_type,
                        None => format!("kyc.{}.{kind}", spec.product) == event_type,
                    })
            })
            .map(|spec| spec.name)
            .collect();
        let _ = writeln!(t, "| `{event_type}` | {} |", code(makers));
    }
    t
}

/// | `data.auth_scheme` | what it means |: every scheme an event can carry.
fn schemes(r: &Registry) -> String {
    let mut t = String::from("| `data.auth_scheme` | what authenticated the event |\n|---|---|\n");
    for scheme in &r.schemes {
        let name = scheme.as_str();
        let by_function = r
            .functions
            .iter()
            .find(|f| f.spec.schemes.iter().any(|s| s.as_str() == name));
        let by_api = r
            .status_apis
            .iter()
            .find(|a| a.spec.scheme.as_str() == name);
        let meaning = match (by_function, by_api) {
            (Some(f), _) => format!(
                "a delivery to `{}`, authenticated as its source's row of the sources table says ({})",
                f.binary,
                code(f.sources.iter().map(|s| s.name))
            ),
            (None, Some(api)) => format!(
                "`kyc.journey.reconciled`: the journey sweeper read it from {}'s status API (`{}`)",
                api.title, api.provider
            ),
            (None, None) => {
                "`kyc.journey.started`: sent by the application (or the operator)".to_owned()
            }
        };
        let _ = writeln!(t, "| `{name}` | {meaning} |");
    }
    t
}

/// The Markdown files with generated tables, and their regions.
pub fn regions(r: &Registry) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    vec![
        ("README.md", vec![("sources", sources(r))]),
        (
            "docs/design.md",
            vec![
                ("sources", sources(r)),
                ("event types", event_types(r)),
                ("schemes", schemes(r)),
            ],
        ),
        (
            "docs/configuration.md",
            vec![("provider settings", settings(r))],
        ),
        (
            "docs/completeness.md",
            vec![("stall limits", stall_limits(r))],
        ),
        (
            "docs/consuming.md",
            vec![("personal data", personal_data(r))],
        ),
        (
            "docs/operations.md",
            vec![("function alarms", function_alarms(r))],
        ),
    ]
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| super::quoted(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// `text` with the list after the first `"enum": ` that follows `"<key>": {` replaced by `items`.
fn replace_enum(text: &str, key: &str, items: &[String]) -> Result<String, String> {
    let at = text
        .find(&format!("\"{key}\": {{"))
        .ok_or_else(|| format!("no \"{key}\" object"))?;
    let start = text[at..]
        .find("\"enum\": [")
        .map(|i| at + i + "\"enum\": ".len())
        .ok_or_else(|| format!("\"{key}\" has no enum"))?;
    let end = text[start..]
        .find(']')
        .map(|i| start + i + 1)
        .ok_or_else(|| format!("\"{key}\"'s enum is not closed"))?;
    Ok(format!(
        "{}{}{}",
        &text[..start],
        json_list(items),
        &text[end..]
    ))
}

/// The JSON Schema with the registry's sources, providers, products and schemes as its
/// enumerations, and the products in the event type's pattern. JSON has no comments, so the
/// generated parts are these lists, found by their keys.
pub fn schema(root: &Path, r: &Registry) -> Result<Output, GenerateError> {
    let path = "schema/kyc-event.schema.json";
    let before = std::fs::read_to_string(root.join(path)).map_err(|source| GenerateError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut sources: Vec<String> = r.sources().map(|(_, s)| s.name.to_owned()).collect();
    sources.sort();
    let mut providers: Vec<String> = r.functions.iter().map(|f| f.provider.to_owned()).collect();
    providers.sort();
    providers.dedup();
    let mut products: Vec<String> = Vec::new();
    for (_, s) in r.sources() {
        let product = s.spec.product.to_owned();
        if !products.contains(&product) {
            products.push(product);
        }
    }
    let schemes: Vec<String> = r.schemes.iter().map(|s| s.as_str().to_owned()).collect();
    let refuse = |problem: String| GenerateError::Markers {
        path: path.to_owned(),
        problem,
    };
    let mut after = before.clone();
    for (key, items) in [
        ("source", &sources),
        ("provider", &providers),
        ("product", &products),
        ("auth_scheme", &schemes),
    ] {
        after = replace_enum(&after, key, items).map_err(refuse)?;
    }
    let pattern_at = after
        .find("\"pattern\": \"^kyc\\\\.(")
        .ok_or_else(|| refuse("the event type's pattern is not ^kyc\\\\.(...)".to_owned()))?;
    let open = pattern_at + "\"pattern\": \"^kyc\\\\.(".len();
    let close = after[open..]
        .find(')')
        .map(|i| open + i)
        .ok_or_else(|| refuse("the event type's pattern is not closed".to_owned()))?;
    let alternatives: Vec<&str> = products
        .iter()
        .map(String::as_str)
        .chain(["journey"])
        .collect();
    after = format!(
        "{}{}{}",
        &after[..open],
        alternatives.join("|"),
        &after[close..]
    );
    Ok(Output {
        path: path.into(),
        before: Some(before),
        after,
    })
}
