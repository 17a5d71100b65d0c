//! Personal data only where it is needed: the payload fields each source declares personal
//! (`SourceSpec::personal_data`, `Reconcile::personal_data`) are removed from an event's
//! `data.payload` and named in `data.withheld`, unless the function runs with
//! `EVENT_PERSONAL_DATA=include`. The archive keeps every delivery whole; `data.archive_key`
//! names it.
//!
//! A declared field is a JSON pointer (RFC 6901) into the payload, with one extension: a segment
//! `*` matches any object member or array index (a literal `*` key too).

use crate::config::{ConfigError, Env};
use serde_json::Value;

/// The variable that chooses, per function.
pub const VARIABLE: &str = crate::config::var::EVENT_PERSONAL_DATA;
/// A `withheld` list longer than this many pointers...
pub const MAX_LISTED: usize = 32;
/// ...or than this many bytes (as JSON) is `[""]`.
pub const MAX_LISTED_BYTES: usize = 4096;
/// The pointer of the whole payload: `withheld: [""]`.
pub const WHOLE: &str = "";

/// What an event carries of the personal data in its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PersonalData {
    /// The declared fields removed and listed (the default).
    #[default]
    Withhold,
    /// The payload as received, byte for byte.
    Include,
}

impl PersonalData {
    /// `EVENT_PERSONAL_DATA`: `withhold` (also when unset) or `include`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        match env.get(VARIABLE).as_deref().map(str::trim) {
            None | Some("withhold") => Ok(Self::Withhold),
            Some("include") => Ok(Self::Include),
            Some(other) => Err(crate::config::err(
                VARIABLE,
                format!("`{other}` is neither `withhold` nor `include`"),
            )),
        }
    }
}

/// Remove from `value` every member or element a pointer of `declared` matches; the pointers of
/// what was removed, in document order (into the payload as received: an array's later indices
/// are not renumbered).
pub fn remove(value: &mut Value, declared: &[&str]) -> Vec<String> {
    let patterns: Vec<Vec<String>> = declared.iter().map(|p| segments(p)).collect();
    let mut removed = Vec::new();
    walk(value, &mut Vec::new(), &patterns, &mut removed);
    removed
}

/// A pointer's segments, unescaped (`~1` is `/`, `~0` is `~`).
fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A segment escaped for a pointer.
fn escaped(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    pattern.len() == path.len() && pattern.iter().zip(path).all(|(p, s)| p == "*" || p == s)
}

/// Whether some pattern goes deeper than `path` along it.
fn leads_below(patterns: &[Vec<String>], path: &[String]) -> bool {
    patterns
        .iter()
        .any(|p| p.len() > path.len() && matches(&p[..path.len()], path))
}

fn walk(
    value: &mut Value,
    path: &mut Vec<String>,
    patterns: &[Vec<String>],
    out: &mut Vec<String>,
) {
    let pointer =
        |path: &[String]| -> String { path.iter().map(|s| format!("/{}", escaped(s))).collect() };
    match value {
        Value::Object(map) => {
            let mut gone = Vec::new();
            for (key, child) in map.iter_mut() {
                path.push(key.clone());
                if patterns.iter().any(|p| matches(p, path)) {
                    out.push(pointer(path));
                    gone.push(key.clone());
                } else if leads_below(patterns, path) {
                    walk(child, path, patterns, out);
                }
                path.pop();
            }
            for key in gone {
                map.shift_remove(&key);
            }
        }
        Value::Array(items) => {
            let mut gone = Vec::new();
            for (i, child) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                if patterns.iter().any(|p| matches(p, path)) {
                    out.push(pointer(path));
                    gone.push(i);
                } else if leads_below(patterns, path) {
                    walk(child, path, patterns, out);
                }
                path.pop();
            }
            for i in gone.into_iter().rev() {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// `removed` as the event lists it: `[""]` when it is longer than `MAX_LISTED` pointers or
/// `MAX_LISTED_BYTES` bytes.
pub fn listed(removed: Vec<String>) -> Vec<String> {
    let bytes = serde_json::to_string(&removed).map_or(usize::MAX, |s| s.len());
    if removed.len() > MAX_LISTED || bytes > MAX_LISTED_BYTES {
        vec![WHOLE.to_owned()]
    } else {
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_fields_go_and_are_named_in_document_order() {
        let mut v = json!({
            "payload": {"kyc_request": {
                "id": "KID1",
                "customer_identifier": "asha@example.com",
                "actions": [
                    {"type": "digilocker", "details": {"aadhaar": {"name": "Asha"}}},
                    {"type": "image"},
                    {"type": "pan", "details": {"pan": {"number": "ABCDE1234F"}}}
                ],
                "customer_name": "Asha"
            }},
            "id": "WHN1"
        });
        let removed = remove(
            &mut v,
            &[
                "/payload/*/customer_name",
                "/payload/*/customer_identifier",
                "/payload/*/actions/*/details",
                "/payload/*/access_token",
            ],
        );
        assert_eq!(
            removed,
            [
                "/payload/kyc_request/customer_identifier",
                "/payload/kyc_request/actions/0/details",
                "/payload/kyc_request/actions/2/details",
                "/payload/kyc_request/customer_name",
            ]
        );
        assert_eq!(
            v,
            json!({
                "payload": {"kyc_request": {
                    "id": "KID1",
                    "actions": [{"type": "digilocker"}, {"type": "image"}, {"type": "pan"}]
                }},
                "id": "WHN1"
            })
        );
    }

    #[test]
    fn a_star_matches_any_key_and_index_and_special_keys_are_escaped() {
        let mut v = json!({"a/b": {"~x": 1, "*": 2}, "list": [1, 2, 3]});
        let removed = remove(&mut v, &["/a~1b/*", "/list/1"]);
        assert_eq!(removed, ["/a~1b/~0x", "/a~1b/*", "/list/1"]);
        assert_eq!(v, json!({"a/b": {}, "list": [1, 3]}));
        // A pointer to nothing there removes nothing; the whole document is never matched.
        let mut w = json!({"x": 1});
        assert!(remove(&mut w, &["/y", "/x/z"]).is_empty());
        assert_eq!(w, json!({"x": 1}));
    }

    #[test]
    fn a_long_list_is_the_whole_payload() {
        let few: Vec<String> = (0..MAX_LISTED).map(|i| format!("/a/{i}")).collect();
        assert_eq!(listed(few.clone()), few);
        let many: Vec<String> = (0..=MAX_LISTED).map(|i| format!("/a/{i}")).collect();
        assert_eq!(listed(many), [WHOLE]);
        let long = vec!["/".to_owned() + &"k".repeat(MAX_LISTED_BYTES)];
        assert_eq!(listed(long), [WHOLE]);
    }

    #[test]
    fn the_setting() {
        let env = crate::config::fake_env(&[]);
        assert_eq!(PersonalData::from_env(&env), Ok(PersonalData::Withhold));
        let env = crate::config::fake_env(&[(VARIABLE, "include")]);
        assert_eq!(PersonalData::from_env(&env), Ok(PersonalData::Include));
        let env = crate::config::fake_env(&[(VARIABLE, "all")]);
        assert_eq!(PersonalData::from_env(&env).expect_err("bad").var, VARIABLE);
    }
}
