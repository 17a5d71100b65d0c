//! The journey sweeper: finds open journeys past their due time (the journey table's sparse
//! `due` index, never a scan), reconciles Cashfree ones from its status API, and reports the rest
//! as stalled, by sending `kyc.journey.reconciled` / `kyc.journey.stalled` to the events queue.
//!
//! A run is bounded by its deadline like every other function: a slow provider API, a DynamoDB or
//! SQS outage ends it cleanly, and the next run picks up where it left off (a journey stays due
//! until the worker applies what the sweeper sent about it). The events' ids are deterministic, so
//! a retried or overlapping run sends nothing the queue and the worker do not recognize. A status
//! API that fails (401, 429, 5xx, a timeout, an answer that is not JSON) leaves the journey for
//! the next run: nothing is invented, nothing lost.

use crate::completeness::{self, OpenJourney};
use crate::config::{self, err, ConfigError, Env};
use crate::journey;
use crate::metrics::{self, MetricsSink};
use crate::normalize::Normalized;
use crate::ports::{EventSink, PortError};
use crate::secret::SecretList;
use crate::sources::Reconcile;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The function's and binary's name.
pub const SWEEPER_NAME: &str = "journey-sweeper";
/// What a run keeps back at its end: it stops starting journeys when less is left.
const RESERVE: Duration = Duration::from_millis(2_000);
/// The longest a status API call may take.
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// The variables the sweeper reads.
pub mod var {
    pub const CASHFREE_API_CLIENT_ID: &str = "CASHFREE_API_CLIENT_ID";
    pub const CASHFREE_API_CLIENT_SECRET: &str = "CASHFREE_API_CLIENT_SECRET";
    pub const CASHFREE_API_BASE: &str = "CASHFREE_API_BASE";
    pub const CASHFREE_API_VERSION: &str = "CASHFREE_API_VERSION";
    pub const ALL: &[&str] = &[
        crate::journey::var::JOURNEY_TABLE,
        crate::config::var::EVENTS_QUEUE_URL,
        CASHFREE_API_CLIENT_ID,
        CASHFREE_API_CLIENT_SECRET,
        CASHFREE_API_BASE,
        CASHFREE_API_VERSION,
    ];
    /// Those that hold secrets (each may come from Secrets Manager, `<X>_SECRET_ID`).
    pub const SECRETS: &[&str] = &[CASHFREE_API_CLIENT_SECRET];
}

/// Cashfree's production API.
pub const DEFAULT_CASHFREE_API_BASE: &str = "https://api.cashfree.com";
/// The `x-api-version` sent to Cashfree's Secure ID API unless `CASHFREE_API_VERSION` says
/// otherwise (a dated version string; Cashfree's API reference names the current one).
pub const DEFAULT_CASHFREE_API_VERSION: &str = "2024-12-01";

/// How to reach Cashfree's status API.
#[derive(Debug, Clone)]
pub struct CashfreeApi {
    pub base: String,
    pub client_id: String,
    pub client_secret: SecretList,
    pub api_version: String,
}

/// The sweeper's configuration.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub journey_table: String,
    pub queue_url: String,
    /// `None`: detection only.
    pub cashfree: Option<CashfreeApi>,
}

impl SweeperConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let required = |var: &'static str| {
            env.get(var)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| err(var, "required but not set"))
        };
        let journey_table = required(journey::var::JOURNEY_TABLE)?;
        let queue_url = required(config::var::EVENTS_QUEUE_URL)?;
        let client_id = env.get(var::CASHFREE_API_CLIENT_ID);
        let secret = config::secrets(env, var::CASHFREE_API_CLIENT_SECRET)?;
        let cashfree = match (client_id, secret.is_empty()) {
            (None, true) => None,
            (Some(_), true) => {
                return Err(err(
                    var::CASHFREE_API_CLIENT_SECRET,
                    "CASHFREE_API_CLIENT_ID is set but the secret is not (or its _SECRET_ID)",
                ))
            }
            (None, false) => {
                return Err(err(
                    var::CASHFREE_API_CLIENT_ID,
                    "the client secret is set but CASHFREE_API_CLIENT_ID is not",
                ))
            }
            (Some(id), false) => {
                let base = env
                    .get(var::CASHFREE_API_BASE)
                    .unwrap_or_else(|| DEFAULT_CASHFREE_API_BASE.to_owned());
                let base = base.trim().trim_end_matches('/').to_owned();
                let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                    .iter()
                    .any(|p| base.starts_with(p));
                if !base.starts_with("https://") && !loopback {
                    return Err(err(
                        var::CASHFREE_API_BASE,
                        format!("`{base}` is not HTTPS (plain HTTP only to loopback, for tests)"),
                    ));
                }
                Some(CashfreeApi {
                    base,
                    client_id: id.trim().to_owned(),
                    client_secret: secret,
                    api_version: env
                        .get(var::CASHFREE_API_VERSION)
                        .map(|v| v.trim().to_owned())
                        .unwrap_or_else(|| DEFAULT_CASHFREE_API_VERSION.to_owned()),
                })
            }
        };
        Ok(Self {
            journey_table,
            queue_url,
            cashfree,
        })
    }
}

/// One page of the due index.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub journeys: Vec<OpenJourney>,
    /// Items the query read (its `ScannedCount`): what a run costs.
    pub scanned: usize,
    /// Where the next page starts: the last item's `pk` and `due_at`.
    pub next: Option<(String, i64)>,
}

/// The journey table's due index.
pub trait DueJourneys: Send + Sync {
    /// Open journeys due at `now_ms` or earlier, oldest due first, from `after` on.
    fn due(
        &self,
        now_ms: i64,
        after: Option<(String, i64)>,
    ) -> impl Future<Output = Result<Page, PortError>> + Send;
}

/// A journey's state as the provider's API tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderState {
    pub status: String,
    pub sub_status: Option<String>,
    /// The API's whole answer.
    pub answer: Value,
}

/// Why the status API gave no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The provider does not know the journey: it knows no more than we do.
    #[error("not found")]
    NotFound,
    /// Our credentials were refused: no call of this run will do better.
    #[error("credentials refused ({0})")]
    Unauthorized(u16),
    /// Asked to slow down: no more calls this run.
    #[error("throttled (429)")]
    Throttled,
    #[error("no answer in time")]
    Timeout,
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An answer we cannot read (not JSON, no status).
    #[error("unreadable answer: {0}")]
    Invalid(String),
}

/// A provider's status API.
pub trait StatusApi: Send + Sync {
    fn status(
        &self,
        reconcile: &Reconcile,
        subject: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<ProviderState, ApiError>> + Send;
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Due journeys read from the index.
    pub read: usize,
    /// Index items the queries read (equal to `read`: the index holds only open journeys).
    pub scanned: usize,
    pub reconciled: usize,
    pub stalled: usize,
    /// Left for the next run (the status API or the queue failed).
    pub left: usize,
    /// The run reached the end of what was due (not stopped by its deadline or a fault).
    pub complete: bool,
}

/// The sweeper over its ports.
pub struct Sweeper<D, A, Q> {
    journeys: D,
    api: Option<A>,
    sink: Q,
    metrics: Arc<dyn MetricsSink>,
}

impl<D: DueJourneys, A: StatusApi, Q: EventSink> Sweeper<D, A, Q> {
    /// `api`: Cashfree's status API, when reconciliation is configured.
    pub fn new(journeys: D, api: Option<A>, sink: Q) -> Self {
        Self {
            journeys,
            api,
            sink,
            metrics: Arc::new(metrics::Stdout),
        }
    }

    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSink>) -> Self {
        self.metrics = metrics;
        self
    }

    /// One run: every journey due at `now`, until the end of the list or until `budget` (the
    /// invocation's remaining time) is spent.
    pub async fn run(&self, now: DateTime<Utc>, budget: Duration) -> SweepReport {
        let end = Instant::now() + budget;
        let mut report = SweepReport::default();
        let mut per_source: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        let mut api_usable = self.api.is_some();
        let mut after = None;
        'pages: while let Some(budget) = end
            .checked_duration_since(Instant::now())
            .and_then(|d| d.checked_sub(RESERVE))
        {
            let page = match tokio::time::timeout(
                budget,
                self.journeys.due(now.timestamp_millis(), after.take()),
            )
            .await
            {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => {
                    lambda_idempotency::log_fault(
                        &e,
                        "reading the due journeys failed; the next run goes on",
                    );
                    break;
                }
                Err(_) => break,
            };
            report.read += page.journeys.len();
            report.scanned += page.scanned;
            for journey in &page.journeys {
                let Some(budget) = end
                    .checked_duration_since(Instant::now())
                    .and_then(|d| d.checked_sub(RESERVE))
                else {
                    break 'pages;
                };
                let Some((source, subject)) = journey.split() else {
                    tracing::warn!(pk = journey.pk, "a due journey of no known source");
                    report.left += 1;
                    continue;
                };
                let reconcile = source.journey.reconcile.filter(|_| api_usable);
                let event = match (reconcile, &self.api) {
                    (Some(reconcile), Some(api)) => {
                        let timeout = budget.min(API_TIMEOUT);
                        match api.status(&reconcile, subject, timeout).await {
                            Ok(state)
                                if Some(&state.status) != journey.provider_status.as_ref()
                                    || state.sub_status != journey.provider_sub_status =>
                            {
                                completeness::reconciled(
                                    source,
                                    subject,
                                    &state.status,
                                    state.sub_status.as_deref(),
                                    &state.answer,
                                    now,
                                )
                            }
                            Ok(_) | Err(ApiError::NotFound) => completeness::stalled(journey, now),
                            Err(e) => {
                                if matches!(e, ApiError::Unauthorized(_) | ApiError::Throttled) {
                                    api_usable = false;
                                }
                                tracing::warn!(source = source.name, error = %e, "status API: journey left for the next run");
                                report.left += 1;
                                continue;
                            }
                        }
                    }
                    _ => completeness::stalled(journey, now),
                };
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::error!(source = source.name, error = %e, "the event could not be made");
                        report.left += 1;
                        continue;
                    }
                };
                if let Err(e) = self.send(&event).await {
                    lambda_idempotency::log_fault(
                        &e,
                        "sending to the queue failed; the next run goes on",
                    );
                    report.left += 1;
                    break 'pages;
                }
                let counts = per_source.entry(source.name).or_default();
                if event.event_type == completeness::RECONCILED {
                    report.reconciled += 1;
                    counts.1 += 1;
                } else {
                    report.stalled += 1;
                    counts.0 += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => {
                    report.complete = true;
                    break;
                }
            }
        }
        for (source, (stalled, reconciled)) in per_source {
            self.metrics.emit(&metrics::sweep(
                source,
                stalled,
                reconciled,
                now.timestamp_millis(),
            ));
        }
        tracing::info!(
            read = report.read,
            scanned = report.scanned,
            reconciled = report.reconciled,
            stalled = report.stalled,
            left = report.left,
            complete = report.complete,
            "sweep"
        );
        report
    }

    async fn send(&self, event: &Normalized) -> Result<String, PortError> {
        self.sink.send(&event.message()).await
    }
}

/// A sweeper with no status API (detection only).
pub struct NoApi;

impl StatusApi for NoApi {
    async fn status(&self, _: &Reconcile, _: &str, _: Duration) -> Result<ProviderState, ApiError> {
        Err(ApiError::Unavailable("no status API configured".into()))
    }
}
