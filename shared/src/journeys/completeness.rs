//! Journey completeness: the events the project makes itself about journeys, and the limits that
//! say when an open journey is stalled.
//!
//! - `kyc.journey.started`: the application announces a journey the providers have not called
//!   back about yet (DigiLocker journeys can only be watched this way: their first webhook is
//!   already their last). Optional `data.expect_within_s` replaces the source's limit.
//! - `kyc.journey.reconciled`: the sweeper read the journey's status from the provider's API and
//!   it differs from the journey's: the worker applies it as a newer state.
//! - `kyc.journey.stalled`: the sweeper found the journey open past its limit and the provider
//!   knows no more; it is for the application, and the worker takes the journey off the sweeper's
//!   list until a new event moves it.
//!
//! Their ids are deterministic (source, subject, kind and the state they refer to), so a retried
//! or overlapping sweeper run, or an application announcing a journey twice, sends nothing the
//! queue and the worker do not recognize as the same event.

use crate::config::{err, ConfigError, Env};
use crate::event::{timestamp, EventData, KycEvent};
use crate::intake::auth::AuthScheme;
use crate::intake::normalize::{event_id, shaped_message, Normalized};
use crate::intake::withhold::PersonalData;
use crate::sources::registry::{self, source};
use crate::sources::SourceSpec;
use chrono::{DateTime, Utc};
use serde_json::{json, value::RawValue, Value};
use std::collections::HashMap;

pub const STARTED: &str = "kyc.journey.started";
pub const RECONCILED: &str = "kyc.journey.reconciled";
pub const STALLED: &str = "kyc.journey.stalled";
/// The stall limit of an event's source that this build does not know (an intake newer than its
/// worker): its journey is kept, and due a day after its last event.
pub const UNKNOWN_SOURCE_STALL_SECS: u64 = 86_400;

/// The variable of the stall limits: `<source>=<seconds>,...`.
pub const STALL_AFTER_VARIABLE: &str = "JOURNEY_STALL_AFTER";

/// How long an open journey of each source may go without an event: `JOURNEY_STALL_AFTER`
/// (`<source>=<seconds>,...`) over each source's own default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StallAfter(HashMap<&'static str, u64>);

impl StallAfter {
    /// Each source's own limit.
    pub fn defaults() -> Self {
        Self(
            registry::sources()
                .map(|s| (s.name, s.journey.stall_after_secs))
                .collect(),
        )
    }

    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let Self(mut limits) = Self::defaults();
        let var = STALL_AFTER_VARIABLE;
        for pair in env
            .get(var)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (name, secs) = pair
                .split_once('=')
                .ok_or_else(|| err(var, format!("`{pair}` is not <source>=<seconds>")))?;
            let spec = source(name.trim())
                .ok_or_else(|| err(var, format!("`{}` is not a source", name.trim())))?;
            let secs: u64 = secs.trim().parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                err(
                    var,
                    format!("`{}` is not a positive number of seconds", secs.trim()),
                )
            })?;
            limits.insert(spec.name, secs);
        }
        Ok(Self(limits))
    }

    /// The limit of `source`, in seconds; `UNKNOWN_SOURCE_STALL_SECS` for a source this build
    /// does not know (the worker says so in its log).
    pub fn secs(&self, source: &str) -> u64 {
        self.0
            .get(source)
            .copied()
            .unwrap_or(UNKNOWN_SOURCE_STALL_SECS)
    }
}

/// An event about a journey that no provider sent.
#[allow(clippy::too_many_arguments)]
fn project_event(
    source: &'static SourceSpec,
    subject: &str,
    event_type: &str,
    id: String,
    time: DateTime<Utc>,
    auth_scheme: AuthScheme,
    statuses: (Option<String>, Option<String>),
    extra: (Option<u64>, Option<String>),
    payload: (&Value, &[&str], PersonalData),
) -> Result<Normalized, String> {
    let mut event = KycEvent::new(
        id.clone(),
        source.name,
        event_type.into(),
        Some(subject.to_owned()),
        timestamp(time),
        EventData {
            provider: source.provider.into(),
            product: source.product.into(),
            provider_event: None,
            provider_status: statuses.0,
            provider_sub_status: statuses.1,
            provider_time: None,
            received_at: timestamp(time),
            auth_scheme,
            // Set by the intake's rule: as JSON, or as Base64 when SQS would refuse it (a status API
            // may echo back a user's text with any character in it).
            payload_encoding: None,
            expect_within_s: extra.0,
            fetched_at: extra.1,
            payload: RawValue::NULL.to_owned(),
            withheld: None,
            archive_key: None,
        },
    );
    let (value, declared, personal_data) = payload;
    // The parsed answer is needed only to withhold from it.
    let parsed = (personal_data == PersonalData::Withhold).then(|| value.clone());
    let body = shaped_message(
        &mut event,
        value.to_string().as_bytes(),
        parsed,
        declared,
        personal_data,
    )
    .map_err(|e| e.to_string())?;
    Ok(Normalized {
        id,
        event_type: event_type.to_owned(),
        source: source.name,
        subject: Some(subject.to_owned()),
        body,
        provider_time_ms: None,
        trace_header: None,
    })
}

fn check_subject(subject: &str) -> Result<(), String> {
    let ok = !subject.trim().is_empty()
        && subject.len() <= 256
        && !subject.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err("the subject must be 1-256 characters with no control characters".to_owned())
    }
}

/// The id of `kyc.journey.started` for a journey: hex SHA-256 of the source, a zero byte and the
/// JSON array `["journey.started","<subject>"]` (compact, as a Python application computes it
/// with `json.dumps([...], separators=(",", ":"), ensure_ascii=False)`).
pub fn started_id(source: &str, subject: &str) -> String {
    event_id(source, &[json!("journey.started"), json!(subject)])
}

/// `kyc.journey.started`: the application announces a journey of `source` for `subject`.
pub fn started(
    source: &'static SourceSpec,
    subject: &str,
    expect_within_s: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Normalized, String> {
    check_subject(subject)?;
    if expect_within_s == Some(0) {
        return Err("expect_within_s must be positive".to_owned());
    }
    project_event(
        source,
        subject,
        STARTED,
        started_id(source.name, subject),
        now,
        AuthScheme::APPLICATION,
        (None, None),
        (expect_within_s, None),
        (&json!({}), &[], PersonalData::Include),
    )
}

/// `kyc.journey.reconciled`: the provider's API says the journey is at `status`/`sub_status`;
/// `answer` is what it answered, its `declared` personal data withheld or not as
/// `personal_data` says.
pub fn reconciled(
    source: &'static SourceSpec,
    subject: &str,
    (status, sub_status): (&str, Option<&str>),
    (answer, declared, personal_data): (&Value, &[&str], PersonalData),
    scheme: AuthScheme,
    fetched_at: DateTime<Utc>,
) -> Result<Normalized, String> {
    check_subject(subject)?;
    let id = event_id(
        source.name,
        &[
            json!("journey.reconciled"),
            json!(subject),
            json!(status),
            json!(sub_status),
        ],
    );
    project_event(
        source,
        subject,
        RECONCILED,
        id,
        fetched_at,
        scheme,
        (Some(status.to_owned()), sub_status.map(str::to_owned)),
        (None, Some(timestamp(fetched_at))),
        (answer, declared, personal_data),
    )
}

/// An open journey as the sweeper finds it in the journey table's due index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenJourney {
    /// `<source>#<subject>`.
    pub pk: String,
    pub event_type: String,
    pub event_id: String,
    pub time: String,
    pub provider_status: Option<String>,
    pub provider_sub_status: Option<String>,
    /// When it became due, epoch ms.
    pub due_at_ms: i64,
    /// When it was opened, RFC 3339.
    pub opened_at: Option<String>,
}

impl OpenJourney {
    /// Its source and subject.
    pub fn split(&self) -> Option<(&'static SourceSpec, &str)> {
        let (name, subject) = self.pk.split_once('#')?;
        Some((source(name)?, subject))
    }
}

/// `kyc.journey.stalled`: the journey is open past its limit and the provider knows no more. Its
/// id refers to the journey's last event, so one stall is reported once.
pub fn stalled(journey: &OpenJourney, now: DateTime<Utc>) -> Result<Normalized, String> {
    let (source, subject) = journey
        .split()
        .ok_or_else(|| format!("`{}` is not <source>#<subject>", journey.pk))?;
    let id = event_id(
        source.name,
        &[
            json!("journey.stalled"),
            json!(subject),
            json!(journey.event_id),
        ],
    );
    let open_for_s = journey
        .opened_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds());
    let payload = json!({
        "last_type": journey.event_type,
        "last_event_id": journey.event_id,
        "last_event_time": journey.time,
        "opened_at": journey.opened_at,
        "open_for_s": open_for_s,
        "due_at": DateTime::from_timestamp_millis(journey.due_at_ms).map(timestamp),
    });
    project_event(
        source,
        subject,
        STALLED,
        id,
        now,
        AuthScheme::APPLICATION,
        (
            journey.provider_status.clone(),
            journey.provider_sub_status.clone(),
        ),
        (None, None),
        (&payload, &[], PersonalData::Include),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;
    use crate::sources::cashfree::vkyc;

    #[test]
    fn stall_limits_default_per_source_and_the_variable_overrides_them() {
        let limits = StallAfter::from_env(&fake_env(&[])).expect("defaults");
        assert_eq!(limits.secs("cashfree/vkyc"), 86_400);
        assert_eq!(limits.secs("hyperverge/results"), 259_200);
        assert_eq!(limits.secs("cashfree/digilocker"), 3_600);
        assert_eq!(limits.secs("hyperverge/digilocker"), 3_600);
        let limits = StallAfter::from_env(&fake_env(&[(
            "JOURNEY_STALL_AFTER",
            "cashfree/vkyc=60, hyperverge/results=120",
        )]))
        .expect("valid");
        assert_eq!(limits.secs("cashfree/vkyc"), 60);
        assert_eq!(limits.secs("hyperverge/results"), 120);
        for bad in [
            "nobody/kyc=60",
            "cashfree/vkyc=0",
            "cashfree/vkyc",
            "cashfree/vkyc=1h",
        ] {
            let e =
                StallAfter::from_env(&fake_env(&[("JOURNEY_STALL_AFTER", bad)])).expect_err(bad);
            assert_eq!(e.var, "JOURNEY_STALL_AFTER");
        }
    }

    #[test]
    fn project_events_are_valid_events_with_deterministic_ids() {
        let now: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().expect("time");
        let a = started(&vkyc::SOURCE, "v-1", Some(600), now).expect("started");
        let b =
            started(&vkyc::SOURCE, "v-1", None, now + chrono::Duration::hours(1)).expect("again");
        assert_eq!(a.id, b.id, "one journey, one start");
        assert_eq!(a.id, started_id("cashfree/vkyc", "v-1"));
        let event: KycEvent = serde_json::from_str(&a.body).expect("a KycEvent");
        assert_eq!(event.event_type, STARTED);
        assert_eq!(event.data.expect_within_s, Some(600));
        assert_eq!(event.data.auth_scheme, AuthScheme::APPLICATION);
        assert!(started(&vkyc::SOURCE, "", None, now).is_err());
        let r1 = reconciled(
            &vkyc::SOURCE,
            "v-1",
            ("EXPIRED", None),
            (&json!({"status": "EXPIRED"}), &[], PersonalData::Include),
            crate::sources::cashfree::STATUS_API_SCHEME,
            now,
        )
        .expect("reconciled");
        let r2 = reconciled(
            &vkyc::SOURCE,
            "v-1",
            ("EXPIRED", None),
            (&json!({}), &[], PersonalData::Include),
            crate::sources::cashfree::STATUS_API_SCHEME,
            now + chrono::Duration::minutes(15),
        )
        .expect("reconciled");
        assert_eq!(r1.id, r2.id, "the same state, the same event");
        let r3 = reconciled(
            &vkyc::SOURCE,
            "v-1",
            ("REJECTED", None),
            (&json!({}), &[], PersonalData::Include),
            crate::sources::cashfree::STATUS_API_SCHEME,
            now,
        )
        .expect("other");
        assert_ne!(r1.id, r3.id);
        let journey = OpenJourney {
            pk: "cashfree/vkyc#v-1".into(),
            event_type: "kyc.vkyc.call_queued".into(),
            event_id: "e1".into(),
            time: "2026-11-29T10:00:00Z".into(),
            provider_status: Some("PRE_VIDEO_CALL".into()),
            provider_sub_status: None,
            due_at_ms: now.timestamp_millis(),
            opened_at: Some("2026-11-29T09:00:00.000Z".into()),
        };
        let s1 = stalled(&journey, now).expect("stalled");
        let s2 = stalled(&journey, now + chrono::Duration::minutes(15)).expect("stalled");
        assert_eq!(s1.id, s2.id, "one stall, one report");
        let moved = OpenJourney {
            event_id: "e2".into(),
            ..journey
        };
        assert_ne!(stalled(&moved, now).expect("stalled").id, s1.id);
        let event: Value = serde_json::from_str(&s1.body).expect("json");
        assert_eq!(event["data"]["payload"]["open_for_s"], 90_000);
        assert_eq!(event["data"]["provider_status"], "PRE_VIDEO_CALL");
    }
}
