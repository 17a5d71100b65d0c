//! The console's pages: each reads with the same code as the matching command (`journey`,
//! `archive`, `replay`) and renders a compile-checked template.

use super::Console;
use crate::report::Failure;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use kyc_intake::aws::JourneyView;
use kyc_intake::journeys::worker::{SWEEP_SHARD_OPEN, SWEEP_SHARD_STALLED};
use kyc_intake::sources::registry;
use serde::Deserialize;
use std::sync::Arc;

/// How many journeys of each list a page shows.
const LIST_LIMIT: usize = 200;
/// Deliveries per archive page.
const ARCHIVE_PAGE: i32 = 50;

pub(super) type Shared = State<Arc<Console>>;

pub(super) fn html(t: impl Template) -> Response {
    match t.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be drawn: {e}\n"),
        )
            .into_response(),
    }
}

/// A failed read, as a page that says what failed (never a credential: the SDK's messages name
/// the call and the error code).
pub(super) fn failed(what: &str, f: &Failure) -> Response {
    let status = if f.usage {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::BAD_GATEWAY
    };
    (
        status,
        html(ErrorPage {
            title: what.to_owned(),
            message: f.message.clone(),
        }),
    )
        .into_response()
}

/// A time as UTC and in the operator's zone.
#[derive(Debug, Clone, Default)]
pub(crate) struct When {
    utc: String,
    local: String,
}

fn when(t: Option<&str>) -> When {
    let Some(parsed) = t.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
        return When {
            utc: t.unwrap_or("-").to_owned(),
            local: String::new(),
        };
    };
    let utc = parsed.with_timezone(&Utc);
    let local = utc.with_timezone(&chrono::Local);
    When {
        utc: utc.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        local: local.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn journey_link(source: &str, subject: &str) -> String {
    format!(
        "/journey?{}",
        query(&[("source", source), ("subject", subject)])
    )
}

pub(super) fn delivery_link(key: &str) -> String {
    format!("/delivery?{}", query(&[("key", key)]))
}

/// A provider status and sub-status, as one text.
fn status(status: &Option<String>, sub_status: &Option<String>) -> String {
    [status.as_deref(), sub_status.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ")
}

/// One journey of a list.
pub(crate) struct Row {
    link: String,
    source: String,
    subject: String,
    state: &'static str,
    due: When,
    event_type: String,
    status: String,
}

impl Row {
    fn of(j: &JourneyView) -> Self {
        Self {
            link: journey_link(&j.source, &j.subject),
            source: j.source.clone(),
            subject: j.subject.clone(),
            state: j.state,
            due: when(j.due_at.as_deref()),
            event_type: j.event_type.clone().unwrap_or_else(|| "-".to_owned()),
            status: status(&j.provider_status, &j.provider_sub_status),
        }
    }
}

pub(crate) struct Count {
    source: &'static str,
    open: usize,
    stalled: usize,
}

#[derive(Template)]
#[template(path = "journeys.html")]
struct JourneysPage {
    counts: Vec<Count>,
    stalled: Vec<Row>,
    open: Vec<Row>,
    limit: usize,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

pub(crate) async fn journeys(State(c): Shared) -> Response {
    let read = |shard: &'static str| c.journeys.list(shard, None, LIST_LIMIT);
    let (stalled, open) = match tokio::try_join!(read(SWEEP_SHARD_STALLED), read(SWEEP_SHARD_OPEN))
    {
        Ok(both) => both,
        Err(e) => return failed("Reading the journey table", &Failure::failed(e.to_string())),
    };
    let counts = registry::sources()
        .map(|s| Count {
            source: s.name,
            open: open.iter().filter(|j| j.source == s.name).count(),
            stalled: stalled.iter().filter(|j| j.source == s.name).count(),
        })
        .collect();
    html(JourneysPage {
        counts,
        stalled: stalled.iter().map(Row::of).collect(),
        open: open.iter().map(Row::of).collect(),
        limit: LIST_LIMIT,
    })
}

#[derive(Deserialize)]
pub(crate) struct FindQuery {
    subject: String,
}

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    subject: String,
    found: Vec<Row>,
}

pub(crate) async fn find(State(c): Shared, Query(q): Query<FindQuery>) -> Response {
    let subject = q.subject.trim().to_owned();
    let found = match c.journeys.find(&subject).await {
        Ok(found) => found,
        Err(e) => return failed("Reading the journey table", &Failure::failed(e.to_string())),
    };
    if let [only] = found.as_slice() {
        return Redirect::to(&journey_link(&only.source, &only.subject)).into_response();
    }
    html(FindPage {
        subject,
        found: found.iter().map(Row::of).collect(),
    })
}

#[derive(Deserialize)]
pub(crate) struct JourneyQuery {
    source: String,
    subject: String,
}

pub(crate) struct Step {
    when: When,
    event_type: String,
    status: String,
    origin: &'static str,
    event_id: String,
    delivery: Option<String>,
    /// The trace id of the invocation that sent it, and its X-Ray page when sampled.
    trace: Option<(String, Option<String>)>,
}

#[derive(Template)]
#[template(path = "journey.html")]
struct JourneyPage {
    j: JourneyView,
    time: When,
    opened: When,
    due: When,
    /// Whether the timeline holds entries the count leaves out (the sweeper's stall reports).
    uncounted: bool,
    /// When it was reported stalled, reconciled and closed, as every other time is shown.
    stalled: Option<When>,
    reconciled: Option<When>,
    closed: Option<When>,
    steps: Vec<Step>,
    archive_link: String,
}

pub(crate) async fn journey(State(c): Shared, Query(q): Query<JourneyQuery>) -> Response {
    let Some(spec) = registry::sources().find(|s| s.name == q.source) else {
        return failed(
            "No such source",
            &Failure::usage(format!("{} is not a source", q.source)),
        );
    };
    let j = match c.journeys.get(spec.name, &q.subject).await {
        Ok(Some(j)) => j,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                html(ErrorPage {
                    title: "No such journey".to_owned(),
                    message: format!(
                        "no journey {}#{}: the worker has applied nothing to it",
                        spec.name, q.subject
                    ),
                }),
            )
                .into_response()
        }
        Err(e) => return failed("Reading the journey table", &Failure::failed(e.to_string())),
    };
    // Newest first by the event's time (ties: the later applied first): a timeline reads from
    // what happened last.
    let mut history: Vec<_> = j.history.iter().enumerate().collect();
    history.sort_by_key(|(applied, e)| {
        (
            DateTime::parse_from_rfc3339(&e.time)
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN),
            *applied,
        )
    });
    let steps = history
        .into_iter()
        .rev()
        .map(|(_, e)| e)
        .map(|e| Step {
            when: when(Some(&e.time)),
            event_type: e.event_type.clone(),
            status: status(&e.provider_status, &e.provider_sub_status),
            origin: e.origin.as_str(),
            event_id: e.event_id.clone(),
            delivery: e.archive_key.as_deref().map(delivery_link),
            trace: e
                .trace_id
                .as_ref()
                .map(|t| (t.clone(), crate::journey::trace_link(t, e.trace_sampled))),
        })
        .collect();
    let day = j
        .opened_at
        .as_deref()
        .and_then(|t| t.get(..10))
        .unwrap_or_default()
        .to_owned();
    html(JourneyPage {
        time: when(j.time.as_deref()),
        opened: when(j.opened_at.as_deref()),
        due: when(j.due_at.as_deref()),
        uncounted: j.has_stall_reports(),
        stalled: j.stalled_at.as_deref().map(|t| when(Some(t))),
        reconciled: j.reconciled_at.as_deref().map(|t| when(Some(t))),
        closed: j.closed_at.as_deref().map(|t| when(Some(t))),
        steps,
        archive_link: format!(
            "/archive?{}",
            query(&[("source", spec.name), ("day", &day)])
        ),
        j,
    })
}

#[derive(Deserialize)]
pub(crate) struct DeliveryQuery {
    key: String,
    /// `1`: show the raw body and the whole event (personal data).
    #[serde(default)]
    body: Option<String>,
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    key: String,
    event_id: String,
    source: String,
    received: When,
    source_ip: String,
    path: String,
    headers: Vec<(String, String)>,
    verdict: String,
    sendable: bool,
    /// When its journey was erased: the body and event can no longer be read.
    erased: Option<String>,
    summary: Vec<(&'static str, String)>,
    journey: Option<String>,
    show: bool,
    show_link: String,
    body: String,
    event: String,
}

/// Header values the page does not show: what authenticated the delivery (kept in the archive
/// for replay's check).
fn shown_header(name: &str, value: &str) -> String {
    let hidden = ["signature", "checksum", "token", "secret", "auth", "key"]
        .iter()
        .any(|w| name.contains(w));
    if hidden {
        "(kept for replay's check, not shown)".to_owned()
    } else {
        value.to_owned()
    }
}

pub(crate) async fn delivery(State(c): Shared, Query(q): Query<DeliveryQuery>) -> Response {
    if !q
        .key
        .starts_with(&format!("{}/", kyc_intake::intake::archive::PREFIX))
        || q.key.contains("..")
    {
        return failed(
            "Not a delivery",
            &Failure::usage("the key of an archived delivery starts with deliveries/".to_owned()),
        );
    }
    let (d, verdict) = match c.archive.delivery(&q.key).await {
        Ok(v) => v,
        Err(f) => return failed("Reading the archive", &f.into()),
    };
    let event: serde_json::Value = serde_json::from_str(d.event.get()).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let summary = vec![
        ("type", text(&event["type"])),
        ("subject", text(&event["subject"])),
        ("time", text(&event["time"])),
        ("provider event", text(&event["data"]["provider_event"])),
        ("provider status", text(&event["data"]["provider_status"])),
        ("sub-status", text(&event["data"]["provider_sub_status"])),
        ("authenticated by", text(&event["data"]["auth_scheme"])),
    ];
    let journey = event["subject"]
        .as_str()
        .map(|s| journey_link(&d.source, s));
    let show = q.body.as_deref() == Some("1");
    let (body, event_pretty) = if show {
        let raw = d.body().unwrap_or_default();
        let body = serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned());
        (
            body,
            serde_json::to_string_pretty(&event).unwrap_or_default(),
        )
    } else {
        (String::new(), String::new())
    };
    html(DeliveryPage {
        show_link: format!("/delivery?{}", query(&[("key", &q.key), ("body", "1")])),
        key: q.key,
        event_id: d.event_id.clone(),
        source: d.source.clone(),
        received: when(Some(&d.received_at)),
        source_ip: d
            .request
            .source_ip
            .clone()
            .unwrap_or_else(|| "-".to_owned()),
        path: d.request.path.clone(),
        headers: d
            .request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), shown_header(k, v)))
            .collect(),
        sendable: verdict.sendable(),
        verdict: verdict.to_string(),
        erased: d.erased.as_deref().map(|at| when(Some(at)).utc),
        summary,
        journey,
        show,
        body,
        event: event_pretty,
    })
}

#[derive(Deserialize)]
pub(crate) struct ArchiveQuery {
    source: Option<String>,
    day: Option<String>,
    after: Option<String>,
}

pub(crate) struct ArchiveRow {
    link: String,
    event_id: String,
    received: When,
    source: String,
    subject: String,
    event_type: String,
}

#[derive(Template)]
#[template(path = "archive.html")]
struct ArchivePage {
    sources: Vec<&'static str>,
    source: String,
    day: String,
    rows: Vec<ArchiveRow>,
    unreadable: Vec<(String, String)>,
    next: Option<String>,
}

pub(crate) async fn archive(State(c): Shared, Query(q): Query<ArchiveQuery>) -> Response {
    let sources: Vec<&'static str> = registry::sources().map(|s| s.name).collect();
    // No source (or an unknown one): every source, so the page never opens on an empty one.
    let source = q
        .source
        .filter(|s| sources.contains(&s.as_str()))
        .unwrap_or_default();
    let day = q
        .day
        .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        .unwrap_or_else(|| Utc::now().format("%Y-%m-%d").to_string());
    let at = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    let listed: Vec<&str> = if source.is_empty() {
        sources.clone()
    } else {
        vec![source.as_str()]
    };
    // A page goes on from the key it was given (`after`): its source first, then the next ones.
    let start = q
        .after
        .as_deref()
        .and_then(|after| {
            listed.iter().position(|s| {
                after.starts_with(&format!("{}/{s}/", kyc_intake::intake::archive::PREFIX))
            })
        })
        .unwrap_or(0);
    let (mut page, mut next) = (Vec::new(), None);
    for (i, s) in listed.iter().enumerate().skip(start) {
        let after = if i == start { q.after.as_deref() } else { None };
        let room = ARCHIVE_PAGE - page.len() as i32;
        let (more, rest) = match c.archive.day_page(s, at, after, room).await {
            Ok(v) => v,
            Err(f) => return failed("Reading the archive", &f.into()),
        };
        page.extend(more);
        if rest.is_some() {
            next = rest;
            break;
        }
        if page.len() as i32 >= ARCHIVE_PAGE && i + 1 < listed.len() {
            next = page.last().map(|e| match e {
                Ok(e) => e.key.clone(),
                Err((key, _)) => key.clone(),
            });
            break;
        }
    }
    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    for entry in page {
        match entry {
            Ok(e) => rows.push(ArchiveRow {
                link: delivery_link(&e.key),
                event_id: e.delivery.event_id.clone(),
                received: when(Some(&e.delivery.received_at)),
                source: e.delivery.source.clone(),
                subject: crate::record::cell(e.delivery.subject(), &e.delivery),
                event_type: crate::record::cell(e.delivery.event_type(), &e.delivery),
            }),
            Err(bad) => unreadable.push(bad),
        }
    }
    html(ArchivePage {
        next: next.map(|after| {
            format!(
                "/archive?{}",
                query(&[("source", &source), ("day", &day), ("after", &after)])
            )
        }),
        sources,
        source,
        day,
        rows,
        unreadable,
    })
}

pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../assets/console.css"),
    )
        .into_response()
}
