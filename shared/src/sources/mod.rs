//! Provider sources, one folder per provider (`cashfree/`, `digio/`, `hyperverge/`): each folder
//! holds its sources (route, payload recognition, authentication builder), its settings and the
//! description of the function that serves them, local values included. The pipeline knows none
//! of them; `registry` lists the functions. Adding a source is one module in its provider's
//! folder and one entry in that provider's `FUNCTION`; adding a provider is one folder, its
//! `pub mod` line here and one line in `registry`; then its samples, and `make generate` writes
//! the template, the docs' tables, the schema's lists and its function crate
//! (docs/development.md, "Adding a source"). The contract they fill in (`SourceSpec`,
//! `Recognized`, `FunctionSpec`) is the intake's (`intake::source`), re-exported here.

pub mod cashfree;
pub mod digio;
pub mod hyperverge;
pub mod registry;
pub mod status;

pub use crate::intake::source::{
    AuthBuilder, FunctionSpec, JourneyRules, Recognized, Reconcile, Source, SourceSpec,
};
use chrono::FixedOffset;
use serde_json::Value;

pub const UTC: FixedOffset = match FixedOffset::east_opt(0) {
    Some(z) => z,
    None => unreachable!(),
};

pub const IST: FixedOffset = match FixedOffset::east_opt(5 * 3600 + 30 * 60) {
    Some(z) => z,
    None => unreachable!(),
};

/// A non-empty string at `pointer`.
pub fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The value at `pointer`, which must be present (it may be `null`).
pub fn present(v: &Value, pointer: &str) -> Option<Value> {
    v.pointer(pointer).cloned()
}

/// The value at `pointer` as text: strings as they are, numbers printed; else `None`.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Look a provider value up in a source's table.
pub fn lookup(table: &[(&str, &'static str)], value: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == value).map(|(_, v)| *v)
}
