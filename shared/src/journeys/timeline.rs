//! A journey's timeline: the events the journey worker applied to it, newest last, kept on the
//! journey item (`history`) for the operator console and `kycctl journey show`. The item keeps
//! at least [`SHOWN`] (between `SHOWN` and [`CAP`]: the worker trims back to `SHOWN` once the
//! list reaches `CAP`, so a trim is one extra write per `CAP - SHOWN` events), dropping the
//! project's own events before a provider's ([`trim_order`]); `event_count` counts every event
//! ever applied.

use crate::event::KycEvent;
use serde::{Deserialize, Serialize};

/// The journey item's list attribute.
pub const HISTORY: &str = "history";
/// How many of the latest events a timeline shows.
pub const SHOWN: usize = 100;
/// The list's length at which the worker trims it back to [`SHOWN`] before appending.
pub const CAP: usize = 120;

/// The order a timeline's entries go in when it is trimmed, given whether each (oldest first) is
/// one the project made (a start, a sweeper's report): the oldest of those first, then the oldest
/// of the providers'. So no run of the project's own events pushes a provider's event off the
/// timeline while one of its own is left.
pub fn trim_order(made_here: &[bool]) -> Vec<usize> {
    let len = made_here.len();
    (0..len)
        .filter(|&i| made_here[i])
        .chain((0..len).filter(|&i| !made_here[i]))
        .collect()
}

/// At most [`SHOWN`] of `entries` (oldest first), the rest left out in [`trim_order`], in the
/// order applied.
pub fn shown(entries: Vec<Entry>) -> Vec<Entry> {
    let extra = entries.len().saturating_sub(SHOWN);
    let made_here: Vec<bool> = entries.iter().map(|e| e.origin.made_here()).collect();
    let mut dropped: Vec<usize> = trim_order(&made_here).into_iter().take(extra).collect();
    dropped.sort_unstable();
    entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| dropped.binary_search(i).is_err())
        .map(|(_, e)| e)
        .collect()
}

/// Where an applied event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A provider's webhook, authenticated and archived by the intake.
    Webhook,
    /// The journey sweeper: a status read from the provider's API, or a stall report.
    Sweeper,
    /// The application announced the journey (`kyc.journey.started`).
    Application,
    /// `kycctl replay` (or the console) sent it again from the archive.
    Replay,
}

impl Origin {
    /// Whether the project made the event (a start or a sweeper's), not a provider.
    pub fn made_here(self) -> bool {
        matches!(self, Self::Application | Self::Sweeper)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Sweeper => "sweeper",
            Self::Application => "application",
            Self::Replay => "replay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Webhook,
            Self::Sweeper,
            Self::Application,
            Self::Replay,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl Origin {
    /// Where `event` came from: a replay marker, else its type says.
    pub fn of(event: &KycEvent) -> Self {
        if event.kycreplay.is_some() {
            return Self::Replay;
        }
        match event.event_type.as_str() {
            crate::journeys::completeness::STARTED => Self::Application,
            crate::journeys::completeness::RECONCILED | crate::journeys::completeness::STALLED => {
                Self::Sweeper
            }
            _ => Self::Webhook,
        }
    }
}

/// The archived delivery `event` came from: a webhook's (or a replay of one) has one, keyed by
/// its source, receipt day and id; the sweeper's and the application's events have none.
pub fn archive_key(event: &KycEvent) -> Option<String> {
    match Origin::of(event) {
        Origin::Webhook | Origin::Replay => {
            chrono::DateTime::parse_from_rfc3339(&event.data.received_at)
                .ok()
                .map(|t| crate::intake::archive::key(&event.source, t.to_utc(), &event.id))
        }
        Origin::Sweeper | Origin::Application => None,
    }
}

/// One applied event, as the timeline keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's time as the worker applied it (RFC 3339).
    pub time: String,
    pub provider_status: Option<String>,
    pub provider_sub_status: Option<String>,
    pub origin: Origin,
    /// The archived delivery the event came from (webhooks and replays of them).
    pub archive_key: Option<String>,
    /// When the worker applied it (RFC 3339).
    pub applied_at: String,
    /// The X-Ray trace id of the invocation that sent it (the record's `AWSTraceHeader`), when
    /// it had one: its log lines carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Whether that trace was sampled (X-Ray has it to show).
    #[serde(default)]
    pub trace_sampled: bool,
}

impl Entry {
    /// The entry of `event`, applied at `applied_at`, its time as the worker holds it (`time`).
    pub fn of(event: &KycEvent, time: &str, applied_at: &str) -> Self {
        let origin = Origin::of(event);
        let archive_key = archive_key(event);
        Self {
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
            time: time.to_owned(),
            provider_status: event.data.provider_status.clone(),
            provider_sub_status: event.data.provider_sub_status.clone(),
            origin,
            archive_key,
            applied_at: applied_at.to_owned(),
            trace_id: None,
            trace_sampled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, replay: Option<&str>) -> KycEvent {
        let mut e: KycEvent = serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": "ab12", "source": "cashfree/vkyc", "type": event_type,
            "subject": "v1", "time": "2025-05-22T03:51:14Z", "datacontenttype": "application/json",
            "data": {"provider": "cashfree", "product": "vkyc", "provider_event": null,
                     "provider_status": "S", "provider_sub_status": null, "provider_time": null,
                     "received_at": "2025-05-22T03:51:15Z", "auth_scheme": "cashfree_header_hmac",
                     "payload": {}}
        }))
        .expect("an event");
        e.kycreplay = replay.map(str::to_owned);
        e
    }

    #[test]
    fn each_event_names_its_origin_and_a_delivery_only_when_one_was_archived() {
        let t = "2025-05-22T03:51:14Z";
        let webhook = Entry::of(&event("kyc.vkyc.call_completed", None), t, t);
        assert_eq!(webhook.origin, Origin::Webhook);
        assert_eq!(
            webhook.archive_key.as_deref(),
            Some("deliveries/cashfree/vkyc/2025/05/22/ab12.json")
        );
        let replayed = Entry::of(&event("kyc.vkyc.call_completed", Some("r1")), t, t);
        assert_eq!(replayed.origin, Origin::Replay);
        assert_eq!(replayed.archive_key, webhook.archive_key);
        for (kind, origin) in [
            (crate::journeys::completeness::STARTED, Origin::Application),
            (crate::journeys::completeness::RECONCILED, Origin::Sweeper),
            (crate::journeys::completeness::STALLED, Origin::Sweeper),
        ] {
            let e = Entry::of(&event(kind, None), t, t);
            assert_eq!(e.origin, origin);
            assert_eq!(e.archive_key, None, "{kind} was never a delivery");
        }
        for o in [
            Origin::Webhook,
            Origin::Sweeper,
            Origin::Application,
            Origin::Replay,
        ] {
            assert_eq!(Origin::parse(o.as_str()), Some(o));
        }
    }
}
