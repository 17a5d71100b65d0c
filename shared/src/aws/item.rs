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
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), s(v));
        }
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
            let text = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned();
            Some(Entry {
                event_id: text("event_id")?,
                event_type: text("type")?,
                time: text("time")?,
                provider_status: text("provider_status"),
                provider_sub_status: text("provider_sub_status"),
                origin: Origin::parse(&text("origin")?)?,
                archive_key: text("archive_key"),
                applied_at: text("applied_at")?,
            })
        })
        .collect()
}
