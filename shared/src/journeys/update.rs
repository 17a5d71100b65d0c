//! What one event does to its journey: the update it makes (`JourneyUpdate`, from the event and
//! the worker's clock), what it does to the journey as found (`Seen::decide`: newest, older, a
//! stall that holds or one the journey moved past), and the journey table's port that applies it
//! (`JourneyStore`).

use crate::event::KycEvent;
use crate::fault::Fault;
use crate::journeys::completeness::{self, StallAfter};
use crate::journeys::stream::{Effect, JourneyState, Published};
use lambda_idempotency::Claim;
use std::future::Future;

/// How far ahead of the worker's clock an event's time may be; later times are taken as the
/// worker's clock (the intake's rule, applied again to every type).
pub use crate::event::MAX_FUTURE_SKEW_MS;
/// The longest `expect_within_s` a `kyc.journey.started` may set (30 days); longer is this.
pub const MAX_EXPECT_WITHIN_SECS: u64 = 30 * 86_400;

/// `sweep_shard` of an open journey: the partition of the due index the sweeper reads.
pub const SWEEP_SHARD_OPEN: &str = "open";
/// `sweep_shard` of a journey reported stalled (until a new event moves it): a partition of the
/// same index the sweeper never reads, so stalled journeys can be listed without a scan.
pub const SWEEP_SHARD_STALLED: &str = "stalled";

/// What a newest-state write does to the journey's place on the sweeper's list (the table's
/// sparse `due` index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Open: stalled if nothing moves it before this time, epoch ms.
    Due(i64),
    /// Closed by a terminal event or a final status: off the list.
    Close,
}

/// How an update is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// A provider's event: the state when it is not older than the stored one.
    Event,
    /// `kyc.journey.started`: the state only when the journey has none yet.
    Started,
    /// `kyc.journey.reconciled`: the provider's status as a newer state.
    Reconciled { fetched_at: String },
    /// `kyc.journey.stalled`, reported about the journey's event `refers_to`: off the sweeper's
    /// list unless the journey has moved since.
    Stalled { refers_to: String },
}

/// The change one event makes to its journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyUpdate {
    /// `<source>#<subject>`.
    pub pk: String,
    pub event_type: String,
    pub event_id: String,
    /// The event's `time`, as sent.
    pub time: String,
    /// The same instant, epoch ms: what "older" is decided on (a start's state loses to any
    /// provider event, whatever its time).
    pub time_ms: i64,
    pub provider_status: Option<String>,
    pub provider_sub_status: Option<String>,
    /// When the worker applied it, RFC 3339.
    pub updated_at: String,
    pub kind: UpdateKind,
    pub sweep: Sweep,
    /// The event as the journey's timeline keeps it.
    pub entry: crate::journeys::timeline::Entry,
}

impl JourneyUpdate {
    /// The update for `event`; `Ok(None)` for an unrecognized event (no subject, no journey);
    /// an error for an event that says less than its type needs (a stall report that names no
    /// event). `stall_after` gives the limit after which an open journey is due.
    pub fn from_event(
        event: &KycEvent,
        now: chrono::DateTime<chrono::Utc>,
        stall_after: &StallAfter,
    ) -> Result<Option<Self>, &'static str> {
        let Some(subject) = event.subject.as_deref() else {
            return Ok(None);
        };
        let source = crate::sources::registry::source(&event.source);
        if source.is_none() {
            tracing::warn!(
                source = event.source.as_str(),
                stall_after_secs = completeness::UNKNOWN_SOURCE_STALL_SECS,
                "an event of a source this worker does not know: applied, with the default stall limit"
            );
        }
        let times = Times::of(event, now, stall_after);
        let (kind, time_ms, sweep) = times.kind(event, source)?;
        let time = times.time(event, now);
        let updated_at = crate::event::timestamp(now);
        Ok(Some(Self {
            pk: format!("{}#{subject}", event.source),
            event_type: event.event_type.clone(),
            event_id: event.id.clone(),
            entry: crate::journeys::timeline::Entry::of(event, &time, &updated_at),
            time,
            time_ms,
            provider_status: event.data.provider_status.clone(),
            provider_sub_status: event.data.provider_sub_status.clone(),
            updated_at,
            kind,
            sweep,
        }))
    }
}

/// An event's times as the worker takes them, epoch ms: none later than its clock allows (a
/// far-future time would win over every later real event and keep the journey from ever being
/// due), and the stall limit of its source.
struct Times {
    /// The worker's clock plus the allowed skew: the latest any time may be.
    latest: i64,
    /// When the intake received it (the worker's clock when unreadable).
    received_ms: i64,
    /// The event's own time (its receipt when unreadable).
    time_ms: i64,
    /// How long its journey may wait for the next event.
    stall_ms: i64,
}

fn parse_ms(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn limit_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
}

impl Times {
    fn of(event: &KycEvent, now: chrono::DateTime<chrono::Utc>, stall_after: &StallAfter) -> Self {
        let latest = now.timestamp_millis().saturating_add(MAX_FUTURE_SKEW_MS);
        let received_ms = parse_ms(&event.data.received_at)
            .unwrap_or(now.timestamp_millis())
            .min(latest);
        Self {
            latest,
            received_ms,
            time_ms: parse_ms(&event.time).unwrap_or(received_ms).min(latest),
            stall_ms: limit_ms(stall_after.secs(&event.source)),
        }
    }

    /// How the update applies, the time "older" is decided on, and what it does to the
    /// journey's place on the sweeper's list: by the event's type.
    fn kind(
        &self,
        event: &KycEvent,
        source: Option<&crate::sources::SourceSpec>,
    ) -> Result<(UpdateKind, i64, Sweep), &'static str> {
        let open_until = |from: i64, within: i64| Sweep::Due(from.saturating_add(within));
        Ok(match event.event_type.as_str() {
            completeness::STARTED => {
                let within = event
                    .data
                    .expect_within_s
                    .map_or(self.stall_ms, |s| limit_ms(s.min(MAX_EXPECT_WITHIN_SECS)));
                (
                    UpdateKind::Started,
                    self.time_ms,
                    open_until(self.received_ms, within),
                )
            }
            completeness::RECONCILED => {
                let fetched_at = event
                    .data
                    .fetched_at
                    .clone()
                    .unwrap_or_else(|| event.data.received_at.clone());
                let fetched_ms = parse_ms(&fetched_at)
                    .unwrap_or(self.received_ms)
                    .min(self.latest);
                let is_final = source
                    .and_then(|s| s.journey.reconcile)
                    .zip(event.data.provider_status.as_deref())
                    .is_some_and(|(r, status)| r.final_statuses.contains(&status));
                let sweep = if is_final {
                    Sweep::Close
                } else {
                    open_until(fetched_ms, self.stall_ms)
                };
                (UpdateKind::Reconciled { fetched_at }, fetched_ms, sweep)
            }
            completeness::STALLED => {
                let refers_to = event
                    .payload_value()
                    .ok()
                    .and_then(|p| p["last_event_id"].as_str().map(str::to_owned))
                    .filter(|id| !id.is_empty())
                    .ok_or("a kyc.journey.stalled without payload.last_event_id")?;
                (
                    UpdateKind::Stalled { refers_to },
                    self.time_ms,
                    Sweep::Close,
                )
            }
            event_type => {
                let closes =
                    source.is_some_and(|s| s.journey.closes(&event.data.product, event_type));
                let sweep = if closes {
                    Sweep::Close
                } else {
                    open_until(self.received_ms, self.stall_ms)
                };
                (UpdateKind::Event, self.time_ms, sweep)
            }
        })
    }

    /// The event's `time` as kept: as sent, or the latest allowed when it is later.
    fn time(&self, event: &KycEvent, now: chrono::DateTime<chrono::Utc>) -> String {
        match parse_ms(&event.time) {
            Some(t) if t > self.latest => crate::event::timestamp(
                chrono::DateTime::from_timestamp_millis(self.latest).unwrap_or(now),
            ),
            _ => event.time.clone(),
        }
    }
}

/// What applying an event did to its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event is the journey's newest: its state now.
    Newest,
    /// An older event: counted, state unchanged.
    Older,
    /// A stall report: the journey is off the sweeper's list and reported stalled; nothing
    /// counted.
    Acknowledged,
    /// A stall report about an event the journey has moved past: nothing changed.
    Superseded,
}

impl Applied {
    /// What the journey stream says about an event that did this, leaving the journey in
    /// `state` with `count` events applied.
    pub fn published(self, state: JourneyState, count: u64) -> Published {
        Published {
            effect: match self {
                Self::Newest | Self::Acknowledged => Effect::Applied,
                Self::Older | Self::Superseded => Effect::Older,
            },
            state: Some(state),
            count: Some(count),
        }
    }
}

/// A journey as an apply found it: what decides the event's effect and the state after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The newest event's type, id and time (epoch ms), when the journey has one.
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub time_ms: Option<i64>,
    pub event_count: u64,
    /// `sweep_shard`: `open`, `stalled`, or absent (closed).
    pub shard: Option<String>,
    pub due: bool,
    pub closed: bool,
}

impl Seen {
    /// What `update` does to the journey as seen, and its state and count after.
    pub fn decide(&self, update: &JourneyUpdate) -> (Applied, JourneyState, u64) {
        let counted = self.event_count.saturating_add(1);
        if let UpdateKind::Stalled { refers_to } = &update.kind {
            let open = self.shard.as_deref() == Some(SWEEP_SHARD_OPEN) && self.due;
            return if open && self.event_id.as_deref() == Some(refers_to.as_str()) {
                (
                    Applied::Acknowledged,
                    JourneyState::Stalled,
                    self.event_count,
                )
            } else {
                (Applied::Superseded, self.state(), self.event_count)
            };
        }
        let newest = match update.kind {
            // A start is the state only of a journey that has none yet.
            UpdateKind::Started => self.event_type.is_none(),
            // A start's state loses to any event, whatever its time.
            _ => {
                self.event_type.as_deref() == Some(completeness::STARTED)
                    || self.time_ms.is_none_or(|t| t <= update.time_ms)
            }
        };
        if newest {
            let state = match update.sweep {
                Sweep::Due(_) => JourneyState::Open,
                Sweep::Close => JourneyState::Closed,
            };
            (Applied::Newest, state, counted)
        } else {
            (Applied::Older, self.state(), counted)
        }
    }

    /// The journey's state as seen: stalled while reported so, open while on the sweeper's list
    /// (or before any event), else closed.
    pub fn state(&self) -> JourneyState {
        match self.shard.as_deref() {
            Some(SWEEP_SHARD_STALLED) => JourneyState::Stalled,
            Some(_) => JourneyState::Open,
            None if self.closed => JourneyState::Closed,
            None => JourneyState::Open,
        }
    }
}

/// The journey table's port.
pub trait JourneyStore: Send + Sync {
    /// Count the event in its journey, set the journey's state to it unless a newer event is
    /// stored (`Seen::decide`), and mark `claim` completed keeping what the stream says about it
    /// (`Published::kept`): all in one atomic step, whose proof it returns. Fails with a
    /// `Conflict` fault, applying nothing, when `claim` is no longer ours.
    fn apply(
        &self,
        update: &JourneyUpdate,
        claim: &Claim,
    ) -> impl Future<Output = Result<(Applied, Published, lambda_idempotency::Completed), Fault>> + Send;
}
