//! The journey item's attribute values, as the worker writes them and the readers read them.

use crate::journeys::timeline::{Entry, Origin, HISTORY};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The string attribute `k` of `item`, when it holds one.
pub(super) fn text(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// What DynamoDB counts of a value toward an item's size, at most: a string's UTF-8 bytes, a
/// number's digits, a list's or map's 3 bytes plus 1 per element (and each map key's bytes).
pub(super) fn value_bytes(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_bytes(v))
                .sum::<usize>()
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(items) | AttributeValue::Ns(items) => {
            items.iter().map(String::len).sum()
        }
        _ => 1,
    }
}

/// An item's size as DynamoDB counts it, at most: each attribute's name and value.
pub(super) fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_bytes(v)).sum()
}

/// A timeline entry as the journey item keeps it (a map in the `history` list).
pub(super) fn entry_value(e: &Entry) -> AttributeValue {
    let mut m = HashMap::from([
        ("event_id".to_owned(), s(&e.event_id)),
        ("type".to_owned(), s(&e.event_type)),
        ("time".to_owned(), s(&e.time)),
        ("origin".to_owned(), s(e.origin.as_str())),
        ("applied_at".to_owned(), s(&e.applied_at)),
    ]);
    for (k, v) in [
        ("provider_status", &e.provider_status),
        ("provider_sub_status", &e.provider_sub_status),
        ("archive_key", &e.archive_key),
        ("trace_id", &e.trace_id),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), s(v));
        }
    }
    if e.trace_sampled {
        m.insert("trace_sampled".to_owned(), AttributeValue::Bool(true));
    }
    AttributeValue::L(vec![AttributeValue::M(m)])
}

/// The timeline entries of a journey item, oldest first (an entry it cannot read is left out).
pub(super) fn entries(item: &HashMap<String, AttributeValue>) -> Vec<Entry> {
    let Some(AttributeValue::L(list)) = item.get(HISTORY) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| {
            let m = v.as_m().ok()?;
            let text = |k: &str| text(m, k);
            Some(Entry {
                event_id: text("event_id")?,
                event_type: text("type")?,
                time: text("time")?,
                provider_status: text("provider_status"),
                provider_sub_status: text("provider_sub_status"),
                origin: Origin::parse(&text("origin")?)?,
                archive_key: text("archive_key"),
                applied_at: text("applied_at")?,
                trace_id: text("trace_id"),
                trace_sampled: m
                    .get("trace_sampled")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            })
        })
        .collect()
}
