//! The console's actions: start a journey, replay a range (a dry run, then a confirm that sends
//! exactly the dry run's deliveries), with the same code as `kycctl journey start` and
//! `kycctl replay`.

use super::pages::{delivery_link, failed, html, Shared};
use super::Console;
use crate::report::Failure;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::Utc;
use kyc_intake::replay::request::MAX_DAYS as MAX_REPLAY_DAYS;
use kyc_intake::sources::registry;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "actions.html")]
struct ActionsPage {
    csrf: String,
    sources: Vec<&'static str>,
    today: String,
    notice: Option<String>,
    replay: Option<ReplayView>,
}

/// A replay's rows, and the form that confirms a dry run.
pub(crate) struct ReplayView {
    dry_run: bool,
    source: String,
    from: String,
    to: String,
    summary: String,
    rows: Vec<ReplayRow>,
    /// The dry run's sendable deliveries (space-separated keys), what a confirm sends, and
    /// the console's seal on them.
    keys: String,
    seal: String,
}

pub(crate) struct ReplayRow {
    link: String,
    event_id: String,
    type_then: String,
    type_now: String,
    changed: bool,
    verdict: String,
    sendable: bool,
    outcome: String,
}

fn actions_page(c: &Console, notice: Option<String>, replay: Option<ReplayView>) -> Response {
    html(ActionsPage {
        csrf: c.csrf.clone(),
        sources: registry::sources().map(|s| s.name).collect(),
        today: Utc::now().format("%Y-%m-%d").to_string(),
        notice,
        replay,
    })
}

pub(crate) async fn actions(State(c): Shared) -> Response {
    actions_page(&c, None, None)
}

fn forged() -> Response {
    (
        StatusCode::FORBIDDEN,
        "refused: the form's CSRF token is missing or not this console's\n",
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    source: String,
    subject: String,
    #[serde(default)]
    expect_within: String,
}

pub(crate) async fn start(State(c): Shared, Form(f): Form<StartForm>) -> Response {
    if !c.csrf_ok(&f.csrf) {
        return forged();
    }
    let expect_within = match f.expect_within.trim() {
        "" => None,
        v => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return failed(
                    "Start a journey",
                    &Failure::usage("expect within: a number of seconds".to_owned()),
                )
            }
        },
    };
    match crate::journey::start(
        &c.sdk,
        &f.source,
        f.subject.trim(),
        expect_within,
        c.queue_url.clone(),
    )
    .await
    {
        Ok((spec, event)) => actions_page(
            &c,
            Some(format!(
                "started {}#{} (event {})",
                spec.name,
                f.subject.trim(),
                event.id
            )),
            None,
        ),
        Err(f) => failed("Start a journey", &f),
    }
}

#[derive(Deserialize)]
pub(crate) struct ReplayForm {
    #[serde(default)]
    csrf: String,
    source: String,
    from: String,
    to: String,
    /// `1`: send; else a dry run.
    #[serde(default)]
    confirm: Option<String>,
    /// A confirm's: the dry run's keys and the console's seal on them.
    #[serde(default)]
    keys: String,
    #[serde(default)]
    seal: String,
}

/// The most deliveries a console replay reads and sends in one run.
pub(crate) const MAX_REPLAY_DELIVERIES: usize = 500;

pub(crate) async fn replay(State(c): Shared, Form(f): Form<ReplayForm>) -> Response {
    if !c.csrf_ok(&f.csrf) {
        return forged();
    }
    let confirm = f.confirm.as_deref() == Some("1");
    let request = match replay_request(&c, &f, confirm).await {
        Ok(request) => request,
        Err(e) => return failed("Replay", &e),
    };
    let run = match &c.replay {
        Ok(replayer) => replayer.replay(&request).await,
        Err(e) => return failed("Replay", e),
    };
    let run = match run {
        Ok(run) => run,
        Err(e) => return failed("Replay", &e),
    };
    let keys = run
        .deliveries
        .iter()
        .filter(|d| d.outcome == kyc_intake::replay::Outcome::DryRun)
        .map(|d| d.key.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let seal = c.seal(&keys);
    let rows = run
        .deliveries
        .iter()
        .map(|d| ReplayRow {
            link: delivery_link(&d.key),
            event_id: d.event_id.clone().unwrap_or_else(|| d.key.clone()),
            type_then: d.type_then.clone().unwrap_or_else(|| "-".to_owned()),
            changed: d.type_now.is_some() && d.type_now != d.type_then,
            type_now: d.type_now.clone().unwrap_or_else(|| "-".to_owned()),
            sendable: d.outcome.sendable(),
            verdict: d.verdict.clone(),
            outcome: d.outcome.to_string(),
        })
        .collect();
    let summary = format!(
        "replay {}: read {}, sent {}, refused {}, failed {}, erased {}",
        run.replay_id, run.read, run.sent, run.refused, run.failed, run.erased
    );
    actions_page(
        &c,
        None,
        Some(ReplayView {
            dry_run: !confirm,
            source: f.source,
            from: f.from,
            to: f.to,
            summary,
            rows,
            keys,
            seal,
        }),
    )
}

/// What the form asks the replay function: the dry run of a range (a source or every source,
/// at most `MAX_REPLAY_DAYS` days and `MAX_REPLAY_DELIVERIES` deliveries), or, confirmed,
/// exactly the deliveries the dry run showed, as the console sealed them (nothing archived
/// since is sent).
async fn replay_request(
    c: &Console,
    f: &ReplayForm,
    confirm: bool,
) -> Result<kyc_intake::replay::Request, Failure> {
    let specs: Vec<_> = if f.source.is_empty() {
        registry::sources().collect()
    } else {
        vec![crate::report::source_spec(&f.source)?]
    };
    let from = crate::report::instant("from", &f.from, false)?;
    let to = crate::report::instant("to", &f.to, true)?;
    if to - from >= chrono::Duration::days(MAX_REPLAY_DAYS) {
        return Err(Failure::usage(format!(
            "a replay covers at most {MAX_REPLAY_DAYS} days: narrow the range, or replay it in parts"
        )));
    }
    if confirm {
        if !c.sealed(&f.keys, &f.seal) {
            return Err(Failure::usage(
                "this confirm does not carry the dry run's deliveries as the console sealed them: run the dry run again",
            ));
        }
        return Ok(kyc_intake::replay::Request {
            archive_keys: Some(f.keys.split_whitespace().map(str::to_owned).collect()),
            ..kyc_intake::replay::Request::default()
        });
    }
    let mut listed = 0;
    for spec in &specs {
        listed += c
            .archive
            .keys_in_range(spec.name, Some(from), Some(to))
            .await?
            .len();
    }
    if listed > MAX_REPLAY_DELIVERIES {
        return Err(Failure::usage(format!(
            "{listed} deliveries in the range; the console replays at most {MAX_REPLAY_DELIVERIES} at once: narrow the range or the source, or use kycctl replay"
        )));
    }
    Ok(kyc_intake::replay::Request {
        source: (!f.source.is_empty()).then(|| f.source.clone()),
        from: Some(f.from.trim().to_owned()),
        to: Some(f.to.trim().to_owned()),
        dry_run: true,
        ..kyc_intake::replay::Request::default()
    })
}
