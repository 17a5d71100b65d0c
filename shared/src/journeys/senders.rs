//! Who may send what to the events queue: the journey worker's check of every record's sender.
//!
//! The queue policy lets only the webhook functions' roles, the sweeper's, the operator role and
//! the application's principals send at all; this check narrows each of them to what it may send,
//! so a compromised HyperVerge function cannot make a Cashfree decision, and the sweeper cannot
//! send a provider's webhook event. `JOURNEY_SENDERS` (the template fills it from each role's
//! `RoleId`) is a `;`-separated list of `<sender id>=<what it may send>`, where what it may send
//! is a comma-separated list of:
//!
//! - a source (`hyperverge/results`) or every source of a provider (`cashfree/*`): events of it;
//! - `kyc.journey.reconciled`, `kyc.journey.stalled`, `kyc.journey.started`: those events, of any
//!   source;
//! - `replay`: any event carrying the replay marker (`kycreplay`, message attribute `replay`).
//!
//! SQS sets a record's `SenderId`: for a role's session it is `<role id>:<session name>`, for a
//! user the user's id. An entry matches the whole id or its part before the `:`.

use crate::config::{err, ConfigError, Env};
use crate::event::KycEvent;
use crate::journeys::completeness;
use crate::sources::registry;

/// The variable.
pub const VARIABLE: &str = "JOURNEY_SENDERS";
/// What a sender of replayed events is allowed.
pub const REPLAY: &str = "replay";
/// The event types the project makes itself, each allowed by name.
pub const JOURNEY_TYPES: [&str; 3] = [
    completeness::STARTED,
    completeness::RECONCILED,
    completeness::STALLED,
];

/// One thing a sender may send.
#[derive(Debug, Clone, PartialEq, Eq)]
enum May {
    /// Events of this source.
    Source(&'static str),
    /// Events of every source of this provider.
    Provider(&'static str),
    /// Events of this (journey) type, any source.
    Type(&'static str),
    /// Replayed events.
    Replay,
}

/// The senders and what each may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Senders(Vec<(String, Vec<May>)>);

/// Why a record was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the record has no SenderId")]
    NoSender,
    #[error("the sender is not in JOURNEY_SENDERS")]
    UnknownSender,
    #[error("the sender may not send {0}")]
    NotAllowed(String),
}

impl Senders {
    /// `JOURNEY_SENDERS`; `Ok(None)` when unset (no check). A list the worker cannot read stops
    /// the start: a check that silently allowed everything would be worse than none announced.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        env.get(VARIABLE).map(|v| Self::parse(&v)).transpose()
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut senders = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, list) = entry.split_once('=').ok_or_else(|| {
                err(
                    VARIABLE,
                    format!("`{entry}` is not <sender id>=<what it may send>"),
                )
            })?;
            let id = id.trim();
            if id.is_empty() || id.contains(':') || id.chars().any(char::is_whitespace) {
                return Err(err(VARIABLE, format!("`{id}` is not a role or user id")));
            }
            let may = list
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(may)
                .collect::<Result<Vec<_>, _>>()?;
            if may.is_empty() {
                return Err(err(VARIABLE, format!("`{id}` may send nothing")));
            }
            senders.push((id.to_owned(), may));
        }
        if senders.is_empty() {
            return Err(err(VARIABLE, "set but lists no sender"));
        }
        Ok(Self(senders))
    }

    /// Whether the record's sender may send `event` (`replay`: the record carries the replay
    /// marker, in the event or as a message attribute).
    pub fn check(
        &self,
        sender_id: Option<&str>,
        event: &KycEvent,
        replay: bool,
    ) -> Result<(), Refused> {
        let sender = sender_id
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(Refused::NoSender)?;
        let role = sender.split(':').next().unwrap_or(sender);
        let (_, may) = self
            .0
            .iter()
            .find(|(id, _)| id == sender || id == role)
            .ok_or(Refused::UnknownSender)?;
        let replay = replay || event.kycreplay.is_some();
        let allowed = may.iter().any(|m| match m {
            May::Replay => replay,
            _ if replay => false,
            May::Type(t) => *t == event.event_type,
            _ if JOURNEY_TYPES.contains(&event.event_type.as_str()) => false,
            May::Source(s) => *s == event.source,
            May::Provider(p) => event.source.split('/').next() == Some(*p),
        });
        if allowed {
            Ok(())
        } else if replay {
            Err(Refused::NotAllowed(REPLAY.to_owned()))
        } else {
            Err(Refused::NotAllowed(format!(
                "{} of {}",
                event.event_type, event.source
            )))
        }
    }
}

fn may(item: &str) -> Result<May, ConfigError> {
    if item == REPLAY {
        return Ok(May::Replay);
    }
    if let Some(t) = JOURNEY_TYPES.iter().find(|t| **t == item) {
        return Ok(May::Type(t));
    }
    if let Some(provider) = item.strip_suffix("/*") {
        if let Some(s) = registry::sources().find(|s| s.provider == provider) {
            return Ok(May::Provider(s.provider));
        }
    }
    if let Some(s) = registry::source(item) {
        return Ok(May::Source(s.name));
    }
    Err(err(
        VARIABLE,
        format!("`{item}` is neither a source, `<provider>/*`, a kyc.journey.* type nor `replay`"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: &str, event_type: &str, replay: bool) -> KycEvent {
        let replay = if replay { r#""kycreplay":"r1","# } else { "" };
        serde_json::from_str(&format!(
            r#"{{"specversion":"1.0","id":"e","source":"{source}","type":"{event_type}","subject":"s","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json",{replay}"data":{{"provider":"p","product":"q","provider_event":null,"provider_status":null,"provider_sub_status":null,"provider_time":null,"received_at":"2026-01-01T00:00:00Z","auth_scheme":"application","payload":{{}}}}}}"#
        ))
        .expect("event")
    }

    fn senders() -> Senders {
        Senders::parse(
            "AROAHV=hyperverge/*; AROACF=cashfree/*;AROASW=kyc.journey.reconciled,kyc.journey.stalled;AROAOP=kyc.journey.started,replay",
        )
        .expect("valid")
    }

    #[test]
    fn each_sender_may_send_only_its_own_sources_and_types() {
        let s = senders();
        let approved = event("cashfree/vkyc", "kyc.vkyc.auditor_review_completed", false);
        assert_eq!(
            s.check(Some("AROACF:cashfree-webhook"), &approved, false),
            Ok(())
        );
        assert!(matches!(
            s.check(Some("AROAHV:hyperverge-webhook"), &approved, false),
            Err(Refused::NotAllowed(_))
        ));
        assert!(s.check(Some("AROASW:s"), &approved, false).is_err());
        assert!(s.check(Some("AROAOP:s"), &approved, false).is_err());
        let results = event("hyperverge/results", "kyc.results.approved", false);
        assert_eq!(s.check(Some("AROAHV:x"), &results, false), Ok(()));
        // A webhook role may not send the project's own events, even of its own source.
        let reconciled = event("hyperverge/results", completeness::RECONCILED, false);
        assert!(s.check(Some("AROAHV:x"), &reconciled, false).is_err());
        assert_eq!(s.check(Some("AROASW:x"), &reconciled, false), Ok(()));
        let started = event("cashfree/vkyc", completeness::STARTED, false);
        assert!(s.check(Some("AROASW:x"), &started, false).is_err());
        assert_eq!(s.check(Some("AROAOP:x"), &started, false), Ok(()));
    }

    #[test]
    fn replayed_events_need_replay_and_replay_allows_nothing_else() {
        let s = senders();
        let replayed = event("cashfree/vkyc", "kyc.vkyc.auditor_review_completed", true);
        assert_eq!(s.check(Some("AROAOP:ops"), &replayed, false), Ok(()));
        assert_eq!(
            s.check(Some("AROACF:x"), &replayed, false),
            Err(Refused::NotAllowed("replay".into())),
            "a webhook role may not send a replayed event, even of its own source"
        );
        let plain = event("cashfree/vkyc", "kyc.vkyc.auditor_review_completed", false);
        assert_eq!(
            s.check(Some("AROAOP:ops"), &plain, true),
            Ok(()),
            "the message attribute marks a replay too"
        );
        assert!(s.check(Some("AROAOP:ops"), &plain, false).is_err());
    }

    #[test]
    fn unknown_or_missing_senders_are_refused_and_ids_match_whole() {
        let s = senders();
        let e = event("cashfree/vkyc", "kyc.vkyc.call_queued", false);
        assert_eq!(s.check(None, &e, false), Err(Refused::NoSender));
        assert_eq!(
            s.check(Some("AIDAIT2UOQQY3AUEKVGXU"), &e, false),
            Err(Refused::UnknownSender)
        );
        assert_eq!(
            s.check(Some("AROACFX:x"), &e, false),
            Err(Refused::UnknownSender),
            "a prefix of another id is not the id"
        );
        assert_eq!(s.check(Some("AROACF"), &e, false), Ok(()));
    }

    #[test]
    fn a_list_it_cannot_read_names_the_variable() {
        for bad in [
            "",
            "AROA",
            "AROA=",
            "AROA=nobody/*",
            "AROA=kyc.vkyc.call_queued",
            "AROA:s=cashfree/*",
            "=cashfree/*",
        ] {
            let e = Senders::parse(bad).expect_err(bad);
            assert_eq!(e.var, VARIABLE, "{bad}");
        }
    }
}
