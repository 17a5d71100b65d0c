//! The `archive-replay` function's input (`Request`) and how one call answers it (`Replayer`):
//! a range of a source's deliveries (at most `MAX_DAYS`) or a list of archive keys (at most
//! `MAX_KEYS`); each delivery read, opened and verified (`aws::archive_reader`), normalized again
//! with this build's code and sent with the replay marker (`run`). A call stops after `MAX_KEYS`
//! deliveries or about `WORK` of work and answers a `continue` token; the replay id is derived
//! from the request, so a retried call, and every continued one, is the same replay.

use crate::aws::archive_reader::{source_of, Reader};
use crate::aws::SqsSink;
use crate::intake::archive;
use crate::replay::run::{Delivery, ReplayRun};
use crate::sources::{registry, SourceSpec};
use crate::trace::TraceHeader;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The longest range one request covers.
pub const MAX_DAYS: i64 = 31;
/// The most archive keys one request names, and the most deliveries one call reads.
pub const MAX_KEYS: usize = 500;
/// About how long one call works before it answers with `continue` (an SDK's Invoke waits 60 to
/// 90 s; the function's timeout is above this).
pub const WORK: Duration = Duration::from_secs(90);

/// What the `archive-replay` function is asked: `source` (every source when left out), `from`
/// and `to` (RFC 3339 times or UTC days) and optional `types`; or `archive_keys`. `dry_run`
/// sends nothing; `continue` is the token an earlier answer to the same request gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only events of these types (as they are now, or as they were when they arrived).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_keys: Option<Vec<String>>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_after: Option<String>,
}

/// A request the function does not carry out, and why (the limit or the field it breaks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What a valid request replays, in the order it is replayed.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Each source's deliveries of the range, source by source, in key order (day by day, and
    /// by event id within a day; the worker orders each journey by event time).
    Range {
        specs: Vec<&'static SourceSpec>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// These archived deliveries, in the order given.
    Keys(Vec<String>),
}

/// One end of a range: a UTC day (its first or last instant) or an RFC 3339 time; `None` when
/// it is neither.
pub fn instant(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let time = if end_of_day {
            NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
        } else {
            NaiveTime::from_hms_opt(0, 0, 0)
        };
        return Some(day.and_time(time.unwrap_or_default()).and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Request {
    /// What it replays, or why it is refused.
    pub fn plan(&self) -> Result<Plan, Refused> {
        let refuse = |why: String| Err(Refused(why));
        if let Some(keys) = &self.archive_keys {
            if self.source.is_some() || self.from.is_some() || self.to.is_some() {
                return refuse("give either archive_keys or a source and range, not both".into());
            }
            if keys.is_empty() {
                return refuse("archive_keys is empty".into());
            }
            if keys.len() > MAX_KEYS {
                return refuse(format!(
                    "{} archive keys: a replay names at most {MAX_KEYS}; split them",
                    keys.len()
                ));
            }
            return Ok(Plan::Keys(
                keys.iter().map(|k| k.trim().to_owned()).collect(),
            ));
        }
        let specs: Vec<&'static SourceSpec> = match self.source.as_deref().map(str::trim) {
            None | Some("") => registry::sources().collect(),
            Some(name) => match registry::source(name) {
                Some(spec) => vec![spec],
                None => {
                    let known: Vec<&str> = registry::sources().map(|s| s.name).collect();
                    return refuse(format!(
                        "source `{name}` is not a source (one of {})",
                        known.join(", ")
                    ));
                }
            },
        };
        let end = |field: &str, value: Option<&str>, end_of_day: bool| match value.map(str::trim) {
            None | Some("") => Err(Refused(format!(
                "no `{field}`: give a UTC day (YYYY-MM-DD) or an RFC 3339 time"
            ))),
            Some(v) => instant(v, end_of_day).ok_or_else(|| {
                Refused(format!(
                    "`{field}` `{v}` is neither a day (YYYY-MM-DD) nor an RFC 3339 time"
                ))
            }),
        };
        let from = end("from", self.from.as_deref(), false)?;
        let to = end("to", self.to.as_deref(), true)?;
        if to < from {
            return refuse("`to` is before `from`".into());
        }
        // A range of whole days ends at 23:59:59.999 of its last: 31 such days are allowed.
        if to - from >= chrono::Duration::days(MAX_DAYS) {
            return refuse(format!(
                "a replay covers at most {MAX_DAYS} days: narrow the range, or replay it in parts"
            ));
        }
        Ok(Plan::Range { specs, from, to })
    }

    /// The replay id: the same for the same request (a retried call, a continued one), another
    /// for another request. `r` and 16 hex digits of the request's digest.
    pub fn replay_id(&self) -> String {
        let mut same = self.clone();
        same.continue_after = None;
        let digest = Sha256::digest(serde_json::to_vec(&same).unwrap_or_default());
        format!("r{}", hex::encode(&digest[..8]))
    }
}

/// How much one call does before it answers with `continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub deliveries: usize,
    pub work: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deliveries: MAX_KEYS,
            work: WORK,
        }
    }
}

/// The `archive-replay` function: the archive it reads and the queue it sends to.
pub struct Replayer {
    pub reader: Reader,
    pub sink: SqsSink,
    pub limits: Limits,
}

/// Why a call failed as a whole: a refused request, or an archive that could not be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("refused: {0}")]
    Refused(#[from] Refused),
    #[error("{0}")]
    Unreadable(#[from] crate::aws::archive_reader::ReadError),
}

impl Replayer {
    /// One call: what `request` asks, from its `continue` token on, until done or the limits
    /// stop it; the events carry `trace` (the invocation's) or a new trace.
    pub async fn answer(
        &self,
        request: &Request,
        trace: Option<TraceHeader>,
    ) -> Result<ReplayRun, CallError> {
        let plan = request.plan()?;
        let trace = trace.unwrap_or_else(|| TraceHeader::new_root(false));
        let mut run = ReplayRun {
            replay_id: request.replay_id(),
            trace_id: trace.trace_id().to_owned(),
            dry_run: request.dry_run,
            ..ReplayRun::default()
        };
        let keys = self.keys(&plan).await?;
        let start = match &request.continue_after {
            None => 0,
            Some(token) => match keys.iter().position(|k| k == token) {
                Some(i) => i + 1,
                None => {
                    return Err(Refused(format!(
                        "the continue token `{token}` names no delivery of this request"
                    ))
                    .into())
                }
            },
        };
        let sink = (!request.dry_run).then_some(&self.sink);
        let began = tokio::time::Instant::now();
        for (i, key) in keys.iter().enumerate().skip(start) {
            if i > start
                && (i - start >= self.limits.deliveries || began.elapsed() >= self.limits.work)
            {
                run.continue_after = keys.get(i - 1).cloned();
                break;
            }
            self.one(&mut run, key, &plan, &request.types, &trace, sink)
                .await;
        }
        tracing::info!(
            replay_id = %run.replay_id,
            dry_run = run.dry_run,
            read = run.read,
            sent = run.sent,
            refused = run.refused,
            failed = run.failed,
            erased = run.erased,
            skipped = run.skipped,
            more = run.continue_after.is_some(),
            "replay call"
        );
        Ok(run)
    }

    /// Every key the plan names, in order (a range's listed; nothing read yet).
    async fn keys(&self, plan: &Plan) -> Result<Vec<String>, CallError> {
        Ok(match plan {
            Plan::Keys(keys) => keys.clone(),
            Plan::Range { specs, from, to } => {
                let mut all = Vec::new();
                for spec in specs {
                    let mut keys = self
                        .reader
                        .keys_in_range(spec.name, Some(*from), Some(*to))
                        .await?;
                    keys.sort();
                    all.extend(keys);
                }
                all
            }
        })
    }

    /// One key of the plan: read, checked and decided on; an object of a range received outside
    /// it (on its key's day) is left out.
    async fn one(
        &self,
        run: &mut ReplayRun,
        key: &str,
        plan: &Plan,
        types: &[String],
        trace: &TraceHeader,
        sink: Option<&SqsSink>,
    ) {
        let Some(spec) = source_of(key) else {
            run.unreadable(key, "the key names no source");
            return;
        };
        let delivery = match self.reader.read(key).await {
            Ok(Ok(d)) => d,
            Ok(Err(why)) => return run.unreadable(key, &why),
            Err(e) => return run.unread(key, &e.0),
        };
        if let Plan::Range { from, to, .. } = plan {
            match delivery.received_at() {
                Err(why) => return run.unreadable(key, &why),
                // An object whose time is not its key's day is replayed whatever its time:
                // its verdict refuses it with the reason, rather than a range silently leaving
                // it out.
                Ok(at)
                    if key.starts_with(&archive::day_prefix(spec.name, at))
                        && (at < *from || at > *to) =>
                {
                    return
                }
                Ok(_) => {}
            }
        }
        let entry = crate::aws::archive_reader::Entry {
            key: key.to_owned(),
            delivery,
        };
        let verdict = match self.reader.verdict(&entry).await {
            Ok(v) => v,
            Err(e) => return run.unread(key, &e.0),
        };
        let one = Delivery {
            key,
            delivery: &entry.delivery,
            spec,
            verdict: &verdict,
        };
        run.decide(one, types, Some(trace), sink).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: &str, to: &str) -> Request {
        Request {
            source: Some("cashfree/vkyc".into()),
            from: Some(from.into()),
            to: Some(to.into()),
            ..Request::default()
        }
    }

    #[test]
    fn a_range_of_thirty_one_days_is_replayed_and_one_of_thirty_two_is_refused_naming_the_limit() {
        assert!(matches!(
            range("2026-01-01", "2026-01-31").plan(),
            Ok(Plan::Range { .. })
        ));
        let refused = range("2026-01-01", "2026-02-01")
            .plan()
            .expect_err("32 days");
        assert!(refused.0.contains("at most 31 days"), "{refused}");
    }

    #[test]
    fn more_than_five_hundred_keys_are_refused_naming_the_limit() {
        let keys = |n: usize| Request {
            archive_keys: Some((0..n).map(|i| format!("deliveries/x/{i}")).collect()),
            ..Request::default()
        };
        assert!(keys(500).plan().is_ok());
        let refused = keys(501).plan().expect_err("501");
        assert!(refused.0.contains("at most 500"), "{refused}");
        assert!(keys(0).plan().is_err());
    }

    #[test]
    fn a_bad_range_says_which_end_and_why() {
        let e = range("yesterday", "2026-01-01").plan().expect_err("bad");
        assert!(e.0.contains("`from` `yesterday`"), "{e}");
        let e = range("2026-01-02", "2026-01-01")
            .plan()
            .expect_err("reversed");
        assert!(e.0.contains("before"), "{e}");
        let mut unknown = range("2026-01-01", "2026-01-01");
        unknown.source = Some("nobody/else".into());
        assert!(unknown
            .plan()
            .expect_err("unknown")
            .0
            .contains("not a source"));
        let mut both = range("2026-01-01", "2026-01-01");
        both.archive_keys = Some(vec!["k".into()]);
        assert!(both.plan().expect_err("both").0.contains("not both"));
    }

    #[test]
    fn the_replay_id_is_the_requests_own_whatever_its_continue_token() {
        let first = range("2026-01-01", "2026-01-02");
        let mut continued = first.clone();
        continued.continue_after = Some("deliveries/cashfree/vkyc/2026/01/01/e.json".into());
        assert_eq!(first.replay_id(), continued.replay_id());
        assert_eq!(
            first.replay_id(),
            range("2026-01-01", "2026-01-02").replay_id()
        );
        let mut dry = first.clone();
        dry.dry_run = true;
        assert_ne!(first.replay_id(), dry.replay_id());
        assert_ne!(
            first.replay_id(),
            range("2026-01-01", "2026-01-03").replay_id()
        );
        assert!(first.replay_id().starts_with('r') && first.replay_id().len() == 17);
    }

    #[test]
    fn a_request_with_a_field_the_function_does_not_know_is_refused() {
        let parsed: Result<Request, _> =
            serde_json::from_str(r#"{"source":"cashfree/vkyc","queue":"elsewhere"}"#);
        assert!(parsed.is_err());
        let parsed: Request =
            serde_json::from_str(r#"{"archive_keys":["a"],"dry_run":true,"continue":"a"}"#)
                .expect("a valid request");
        assert_eq!(parsed.continue_after.as_deref(), Some("a"));
    }
}
