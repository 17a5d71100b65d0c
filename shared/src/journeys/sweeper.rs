//! The journey sweeper: finds open journeys past their due time (the journey table's sparse
//! `due` index, never a scan), reconciles those whose provider has a status API configured
//! (Cashfree's, Digio's: `sources::status`) from it, and reports the rest
//! as stalled, by sending `kyc.journey.reconciled` / `kyc.journey.stalled` to the events queue.
//!
//! A run is bounded by its deadline like every other function: a slow provider API, a DynamoDB or
//! SQS outage ends it cleanly, and the next run picks up where it left off (a journey stays due
//! until the worker applies what the sweeper sent about it). The events' ids are deterministic, so
//! a retried or overlapping run sends nothing the queue and the worker do not recognize. A status
//! API that fails (401, 429, 5xx, a timeout, an answer that is not JSON) leaves the journey for
//! the next run: nothing is invented, nothing lost.

use crate::config::setting;
use crate::config::{self, ConfigError, Env};
use crate::fault::{Fault, FaultKind};
use crate::intake::normalize::Normalized;
use crate::intake::queue::EventSink;
use crate::intake::withhold::PersonalData;
use crate::journeys::completeness::{self, OpenJourney};
use crate::journeys::worker;
use crate::metrics::{self, MetricsSink};
use crate::sources::registry;
#[cfg(test)]
use crate::sources::status::ProviderState;
use crate::sources::status::{ApiError, StatusApi, StatusApiSpec};
#[cfg(test)]
use crate::sources::Reconcile;
use crate::trace::TraceHeader;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
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

/// The sweeper's configuration.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    pub journey_table: String,
    pub queue_url: String,
    /// Each provider's status API whose credentials are set; the others' journeys are only
    /// reported.
    pub apis: StatusApis,
    /// What its reconciled events carry of an answer's personal data (`EVENT_PERSONAL_DATA`).
    pub personal_data: PersonalData,
}

impl SweeperConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let journey_table = config::required(env, worker::var::JOURNEY_TABLE)?;
        let queue_url = config::required(env, config::var::EVENTS_QUEUE_URL)?;
        let mut apis = StatusApis::none();
        for spec in status_apis() {
            if let Some(api) = (spec.build)(env)? {
                apis = apis.with(spec.provider, api);
            }
        }
        Ok(Self {
            journey_table,
            queue_url,
            apis,
            personal_data: PersonalData::from_env(env)?,
        })
    }
}

/// Every provider's status API (`sources::registry::STATUS_APIS`).
pub fn status_apis() -> &'static [&'static StatusApiSpec] {
    registry::STATUS_APIS
}

/// The variables the sweeper reads: its table, the queue, and each status API's.
pub fn variables() -> Vec<&'static str> {
    let mut vars = vec![
        worker::var::JOURNEY_TABLE,
        config::var::EVENTS_QUEUE_URL,
        crate::intake::withhold::VARIABLE,
    ];
    vars.extend(
        status_apis()
            .iter()
            .flat_map(|s| setting::variables(s.settings)),
    );
    vars
}

/// Those that hold secrets (each may come from Secrets Manager, `<X>_SECRET_ID`).
pub fn secret_variables() -> Vec<&'static str> {
    status_apis()
        .iter()
        .flat_map(|s| setting::secret_variables(s.settings))
        .collect()
}

/// The status APIs the sweeper may ask, by provider.
#[derive(Clone, Default)]
pub struct StatusApis(BTreeMap<&'static str, Arc<dyn StatusApi>>);

impl StatusApis {
    /// None: every due journey is reported (detection only).
    pub fn none() -> Self {
        Self::default()
    }

    /// `api` answers for `provider`'s sources.
    pub fn with(mut self, provider: &'static str, api: Arc<dyn StatusApi>) -> Self {
        self.0.insert(provider, api);
        self
    }

    fn get(&self, provider: &str) -> Option<&Arc<dyn StatusApi>> {
        self.0.get(provider)
    }

    /// The status APIs some source could be reconciled from but that are not configured here:
    /// those providers' journeys are only reported.
    pub fn off(&self) -> Vec<&'static StatusApiSpec> {
        status_apis()
            .iter()
            .copied()
            .filter(|spec| !self.0.contains_key(spec.provider))
            .filter(|spec| {
                registry::sources()
                    .any(|s| s.provider == spec.provider && s.journey.reconcile.is_some())
            })
            .collect()
    }
}

impl std::fmt::Debug for StatusApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
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
    /// Items of the page that are not a due journey (an attribute missing or of the wrong type):
    /// logged by the reader, counted with the invalid ones, never given to the sweeper.
    pub corrupt: usize,
}

/// The journey table's due index.
pub trait DueJourneys: Send + Sync {
    /// Open journeys due at `now_ms` or earlier, oldest due first, from `after` on.
    fn due(
        &self,
        now_ms: i64,
        after: Option<(String, i64)>,
    ) -> impl Future<Output = Result<Page, Fault>> + Send;
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
    /// Left for the next run, for whatever reason (the counts below, a queue outage, the end of
    /// the run's time).
    pub left: usize,
    /// Left because the status API could not be asked (refused, throttled, timed out, failed):
    /// `ReconcileUnavailable`.
    pub unavailable: usize,
    /// Left because the status API's answer was not believed (too large, not JSON, another
    /// journey's, a status that is not a status word): `ReconcileInvalid`.
    pub invalid: usize,
    /// Skipped because the queue refused the event for good (too large, characters it refuses):
    /// `SweepSendRefused`. The journey stays due.
    pub send_refused: usize,
    /// Journeys this run found due and left due (`DueJourneys`); when the run is incomplete, a
    /// lower bound (the pages it did not read are not counted).
    pub due: usize,
    /// The run reached the end of what was due (not stopped by its deadline or a fault);
    /// `SweepIncomplete` otherwise.
    pub complete: bool,
}

impl SweepReport {
    /// The run's EMF counts: `SweepIncomplete` is 0 or 1 on every run, so an alarm on its minimum
    /// over an hour fires when every run of that hour was incomplete.
    pub fn counts(&self) -> [(&'static str, usize); 5] {
        [
            ("DueJourneys", self.due),
            ("SweepIncomplete", usize::from(!self.complete)),
            ("ReconcileUnavailable", self.unavailable),
            ("ReconcileInvalid", self.invalid),
            ("SweepSendRefused", self.send_refused),
        ]
    }
}

/// The sweeper over its ports.
pub struct Sweeper<D, Q> {
    journeys: D,
    apis: StatusApis,
    sink: Q,
    personal_data: PersonalData,
    metrics: Arc<dyn MetricsSink>,
}

/// What became of one due journey.
enum Step {
    Sent(Normalized),
    /// Left due, counted in `left` and in the named count.
    Left(fn(&mut SweepReport) -> &mut usize),
}

/// One run as it goes: its report, each source's stalled and reconciled counts (for the
/// metrics), and the providers no call of this run will reach (after a 401, 403 or 429 no call
/// of this run to that provider will do better: the journeys it would have asked about are left
/// for the next run without asking).
#[derive(Default)]
struct Run {
    report: SweepReport,
    per_source: BTreeMap<&'static str, (usize, usize)>,
    unusable: BTreeSet<&'static str>,
}

impl Run {
    /// `event` was sent: counted as reconciled or stalled, in all and for its source.
    fn sent(&mut self, event: &Normalized) {
        let counts = self.per_source.entry(event.source).or_default();
        if event.event_type == completeness::RECONCILED {
            self.report.reconciled += 1;
            counts.1 += 1;
        } else {
            self.report.stalled += 1;
            counts.0 += 1;
        }
    }
}

/// What is left of the run's time until `end`, less what finishing it needs; `None` once spent.
fn left_of(end: Instant) -> Option<Duration> {
    end.checked_duration_since(Instant::now())
        .and_then(|d| d.checked_sub(RESERVE))
}

impl<D: DueJourneys, Q: EventSink> Sweeper<D, Q> {
    /// `apis`: the providers' status APIs that are configured.
    pub fn new(journeys: D, apis: StatusApis, sink: Q) -> Self {
        Self {
            journeys,
            apis,
            sink,
            personal_data: PersonalData::default(),
            metrics: Arc::new(metrics::Stdout),
        }
    }

    /// Reconciled events carry the answers' declared personal data as `personal_data` says
    /// (`withhold` unless told): withheld, it is kept nowhere.
    pub fn with_personal_data(mut self, personal_data: PersonalData) -> Self {
        self.personal_data = personal_data;
        self
    }

    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSink>) -> Self {
        self.metrics = metrics;
        self
    }

    /// One run: every journey due at `now`, until the end of the list or until `budget` (the
    /// invocation's remaining time) is spent. Nothing is reported stalled because the status API
    /// could not be asked, and no one journey can stop the run from reaching the ones behind it.
    pub async fn run(&self, now: DateTime<Utc>, budget: Duration) -> SweepReport {
        self.run_traced(now, budget, None).await
    }

    /// `run`, its events carrying the invocation's `trace` (`traceparent`, `AWSTraceHeader`):
    /// page after page of due journeys while the budget lasts, each journey reconciled or
    /// reported, then the run's metrics and its one line.
    pub async fn run_traced(
        &self,
        now: DateTime<Utc>,
        budget: Duration,
        trace: Option<TraceHeader>,
    ) -> SweepReport {
        let end = Instant::now() + budget;
        self.say_what_is_only_reported();
        let mut run = Run::default();
        let mut after = None;
        while let Some(budget) = left_of(end) {
            let Some(page) = self.page(now, budget, after.take()).await else {
                break;
            };
            run.report.read += page.journeys.len() + page.corrupt;
            run.report.scanned += page.scanned;
            run.report.invalid += page.corrupt;
            run.report.left += page.corrupt;
            if !self
                .sweep_page(&page, now, end, trace.as_ref(), &mut run)
                .await
            {
                break;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => {
                    run.report.complete = true;
                    break;
                }
            }
        }
        self.finish(run, now)
    }

    /// Said once a run, never as a failure: reconciliation is a choice of the deployment.
    fn say_what_is_only_reported(&self) {
        for spec in self.apis.off() {
            tracing::info!(
                provider = spec.provider,
                "{} journeys are only reported (no status API): {}",
                spec.provider,
                spec.when_off
            );
        }
    }

    /// The next page of due journeys, within `budget`; `None` (logged) when it cannot be read.
    async fn page(
        &self,
        now: DateTime<Utc>,
        budget: Duration,
        after: Option<(String, i64)>,
    ) -> Option<Page> {
        match tokio::time::timeout(budget, self.journeys.due(now.timestamp_millis(), after)).await {
            Ok(Ok(page)) => Some(page),
            Ok(Err(e)) => {
                crate::fault::log_fault(
                    &e,
                    "reading the due journeys failed; the next run goes on",
                );
                None
            }
            Err(_) => None,
        }
    }

    /// Every journey of `page`, each reconciled or reported while the budget lasts; `false` when
    /// the run stops here (the budget spent, the queue unreachable): the rest are left.
    async fn sweep_page(
        &self,
        page: &Page,
        now: DateTime<Utc>,
        end: Instant,
        trace: Option<&TraceHeader>,
        run: &mut Run,
    ) -> bool {
        for (i, journey) in page.journeys.iter().enumerate() {
            let Some(budget) = left_of(end) else {
                run.report.left += page.journeys.len() - i;
                return false;
            };
            let mut event = match self.step(journey, now, budget, &mut run.unusable).await {
                Step::Sent(event) => event,
                Step::Left(count) => {
                    *count(&mut run.report) += 1;
                    run.report.left += 1;
                    continue;
                }
            };
            if let Some(trace) = trace {
                // A body that cannot be written again goes untraced, not unsent.
                let _ = event.trace(trace);
            }
            match self.send(&event).await {
                Ok(_) => run.sent(&event),
                Err(e) if e.kind == FaultKind::Rejected => {
                    crate::fault::log_fault(
                        &e,
                        "the queue refused the event for good; the journey is skipped and stays due",
                    );
                    tracing::warn!(
                        event_id = journey.event_id,
                        event_type = event.event_type,
                        "skipped: the queue refused the sweeper's event"
                    );
                    run.report.send_refused += 1;
                    run.report.left += 1;
                }
                Err(e) => {
                    crate::fault::log_fault(
                        &e,
                        "sending to the queue failed; the next run starts here",
                    );
                    run.report.left += page.journeys.len() - i;
                    return false;
                }
            }
        }
        true
    }

    /// The run's metrics (per source, and its counts) and its one line (debug when there was
    /// nothing to do).
    fn finish(&self, run: Run, now: DateTime<Utc>) -> SweepReport {
        let Run {
            mut report,
            per_source,
            ..
        } = run;
        report.due = report.read - report.reconciled - report.stalled;
        let at = now.timestamp_millis();
        for (source, (stalled, reconciled)) in per_source {
            self.metrics
                .emit(&metrics::sweep(source, stalled, reconciled, at));
        }
        self.metrics.emit(&metrics::counts(&report.counts(), at));
        let quiet = report.read == 0 && report.complete;
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    read = report.read,
                    scanned = report.scanned,
                    reconciled = report.reconciled,
                    stalled = report.stalled,
                    left = report.left,
                    unavailable = report.unavailable,
                    invalid = report.invalid,
                    send_refused = report.send_refused,
                    due = report.due,
                    complete = report.complete,
                    "sweep"
                )
            };
        }
        if quiet {
            line!(debug);
        } else {
            line!(info);
        }
        report
    }

    /// What to send about one due journey, or why it is left. Logs name the journey by its last
    /// event's id, never by the customer reference.
    async fn step(
        &self,
        journey: &OpenJourney,
        now: DateTime<Utc>,
        budget: Duration,
        unusable: &mut BTreeSet<&'static str>,
    ) -> Step {
        let event_id = journey.event_id.as_str();
        // Logs name the journey by hash, never by the customer reference.
        let journey_ref = crate::journeys::worker::journey_hash(&journey.pk);
        let journey_ref = journey_ref.as_str();
        let Some((source, subject)) = journey.split() else {
            tracing::warn!(
                event_id,
                journey = journey_ref,
                "a due journey of no known source: left"
            );
            return Step::Left(|r| &mut r.invalid);
        };
        let api = self
            .apis
            .get(source.provider)
            .zip(registry::status_api(source.provider));
        let made = match (source.journey.reconcile, api) {
            (Some(reconcile), Some((api, spec))) => {
                if unusable.contains(source.provider) {
                    return Step::Left(|r| &mut r.unavailable);
                }
                match api
                    .status(&reconcile, subject, budget.min(API_TIMEOUT))
                    .await
                {
                    Ok(state)
                        if Some(&state.status) != journey.provider_status.as_ref()
                            || state.sub_status != journey.provider_sub_status =>
                    {
                        completeness::reconciled(
                            source,
                            subject,
                            (&state.status, state.sub_status.as_deref()),
                            (&state.answer, reconcile.personal_data, self.personal_data),
                            spec.scheme.clone(),
                            now,
                        )
                    }
                    // The provider knows no more than we do: the journey is stalled.
                    Ok(_) | Err(ApiError::NotFound) => completeness::stalled(journey, now),
                    Err(ApiError::Invalid(problem)) => {
                        tracing::warn!(
                            source = source.name,
                            journey = journey_ref,
                            event_id,
                            problem,
                            "status API: the answer is not believed; journey left for the next run"
                        );
                        return Step::Left(|r| &mut r.invalid);
                    }
                    Err(e) => {
                        if matches!(e, ApiError::Unauthorized(_) | ApiError::Throttled) {
                            unusable.insert(source.provider);
                        }
                        tracing::warn!(
                            source = source.name,
                            journey = journey_ref,
                            event_id,
                            error = %e,
                            "status API: journey left for the next run"
                        );
                        return Step::Left(|r| &mut r.unavailable);
                    }
                }
            }
            _ => completeness::stalled(journey, now),
        };
        match made {
            Ok(event) => Step::Sent(event),
            Err(e) => {
                tracing::error!(source = source.name, event_id, error = %e, "the event could not be made: left");
                Step::Left(|r| &mut r.send_refused)
            }
        }
    }

    async fn send(&self, event: &Normalized) -> Result<String, Fault> {
        self.sink.send(&event.message()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::queue::OutgoingMessage;
    use crate::metrics::Captured;
    use futures_util::future::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Due journeys, one page.
    struct Due(Vec<OpenJourney>);

    impl DueJourneys for Due {
        async fn due(&self, _: i64, after: Option<(String, i64)>) -> Result<Page, Fault> {
            let journeys = if after.is_some() {
                Vec::new()
            } else {
                self.0.clone()
            };
            Ok(Page {
                scanned: journeys.len(),
                journeys,
                next: None,
                corrupt: 0,
            })
        }
    }

    /// A status API answering from a script, then `EXPIRED` for whatever it is asked.
    #[derive(Default)]
    struct Api {
        script: Mutex<Vec<Result<ProviderState, ApiError>>>,
        calls: AtomicUsize,
    }

    impl StatusApi for Api {
        fn status<'a>(
            &'a self,
            reconcile: &'a Reconcile,
            subject: &'a str,
            timeout: Duration,
        ) -> crate::sources::status::ApiFuture<'a> {
            Box::pin(self.answer(reconcile, subject, timeout))
        }
    }

    impl Api {
        async fn answer(
            &self,
            _: &Reconcile,
            subject: &str,
            _: Duration,
        ) -> Result<ProviderState, ApiError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut script = self.script.lock().unwrap_or_else(|e| e.into_inner());
            if !script.is_empty() {
                return script.remove(0);
            }
            Ok(ProviderState {
                status: "EXPIRED".into(),
                sub_status: None,
                answer: serde_json::json!({"verification_id": subject, "status": "EXPIRED"}),
            })
        }
    }

    /// A queue that refuses for good every event about `refused` and can be down.
    #[derive(Default)]
    struct Queue {
        refused: Option<String>,
        down: bool,
        sent: Mutex<Vec<OutgoingMessage>>,
    }

    impl EventSink for &Queue {
        fn send<'a>(
            &'a self,
            message: &'a OutgoingMessage,
        ) -> BoxFuture<'a, Result<String, Fault>> {
            Box::pin(async move {
                if self.down {
                    return Err(Fault::new("q", FaultKind::Unavailable, "down"));
                }
                if self
                    .refused
                    .as_deref()
                    .is_some_and(|s| message.group_id.ends_with(&format!("#{s}")))
                {
                    return Err(Fault::new("q", FaultKind::Rejected, "MessageTooLong"));
                }
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                sent.push(message.clone());
                Ok(format!("m{}", sent.len()))
            })
        }
    }

    fn journey(pk: &str) -> OpenJourney {
        OpenJourney {
            pk: pk.to_owned(),
            event_type: "kyc.vkyc.call_queued".into(),
            event_id: format!("e-{pk}"),
            time: "2026-01-01T00:00:00Z".into(),
            provider_status: Some("PRE_VIDEO_CALL".into()),
            provider_sub_status: None,
            due_at_ms: 0,
            opened_at: None,
        }
    }

    fn three_vkyc() -> Due {
        Due(["a", "b", "c"]
            .iter()
            .map(|s| journey(&format!("cashfree/vkyc#{s}")))
            .collect())
    }

    const BUDGET: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn after_a_refusal_or_throttling_no_journey_is_reported_stalled_and_the_next_run_reconciles(
    ) {
        for refusal in [
            ApiError::Throttled,
            ApiError::Unauthorized(401),
            ApiError::Unauthorized(403),
        ] {
            let api = Arc::new(Api::default());
            api.script
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Err(refusal.clone()));
            let queue = Queue::default();
            let metrics = Arc::new(Captured::default());
            let mut due = three_vkyc();
            // A HyperVerge journey among them: detection only, reported as usual.
            due.0.push(journey("hyperverge/results#h"));
            let sweeper = Sweeper::new(
                due,
                StatusApis::none().with("cashfree", api.clone()),
                &queue,
            )
            .with_metrics(metrics.clone());
            let report = sweeper.run(Utc::now(), BUDGET).await;
            assert_eq!(
                (
                    report.stalled,
                    report.reconciled,
                    report.left,
                    report.unavailable
                ),
                (1, 0, 3, 3),
                "{refusal:?}: only the HyperVerge journey is reported"
            );
            assert_eq!(
                api.calls.load(Ordering::SeqCst),
                1,
                "no call after the refusal"
            );
            assert!(report.complete);
            assert_eq!(report.due, 3);
            let documents = metrics.documents().join("\n");
            assert!(
                documents.contains(r#""ReconcileUnavailable":3"#)
                    && documents.contains(r#""DueJourneys":3"#),
                "{documents}"
            );
            let report = sweeper.run(Utc::now(), BUDGET).await;
            assert_eq!((report.reconciled, report.left), (3, 0), "{refusal:?}");
        }
    }

    #[tokio::test]
    async fn timeouts_failures_and_answers_not_believed_leave_only_that_journey() {
        let api = Arc::new(Api::default());
        api.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend([
                Err(ApiError::Timeout),
                Err(ApiError::Invalid(
                    "its verification_id is not the journey's".into(),
                )),
            ]);
        let queue = Queue::default();
        let sweeper = Sweeper::new(
            three_vkyc(),
            StatusApis::none().with("cashfree", api.clone()),
            &queue,
        );
        let report = sweeper.run(Utc::now(), BUDGET).await;
        assert_eq!(
            (
                report.reconciled,
                report.stalled,
                report.unavailable,
                report.invalid
            ),
            (1, 0, 1, 1),
            "the journey behind them is reconciled"
        );
        assert_eq!(
            api.calls.load(Ordering::SeqCst),
            3,
            "a timeout is not a refusal"
        );
    }

    #[tokio::test]
    async fn an_event_the_queue_refuses_for_good_is_skipped_and_the_run_goes_on() {
        let api = Arc::new(Api::default());
        let queue = Queue {
            refused: Some("a".into()),
            ..Queue::default()
        };
        let metrics = Arc::new(Captured::default());
        let sweeper = Sweeper::new(
            three_vkyc(),
            StatusApis::none().with("cashfree", api.clone()),
            &queue,
        )
        .with_metrics(metrics.clone());
        for _ in 0..3 {
            let report = sweeper.run(Utc::now(), BUDGET).await;
            assert_eq!(
                (report.reconciled, report.send_refused, report.due),
                (2, 1, 1)
            );
            assert!(report.complete, "not pinned: every run reaches b and c");
        }
        let documents = metrics.documents().join("\n");
        assert!(
            documents.contains(r#""SweepSendRefused":1"#)
                && documents.contains(r#""SweepIncomplete":0"#),
            "{documents}"
        );
    }

    #[tokio::test]
    async fn a_queue_outage_ends_the_run_incomplete_and_says_so() {
        let api = Arc::new(Api::default());
        let queue = Queue {
            down: true,
            ..Queue::default()
        };
        let metrics = Arc::new(Captured::default());
        let sweeper = Sweeper::new(
            three_vkyc(),
            StatusApis::none().with("cashfree", api.clone()),
            &queue,
        )
        .with_metrics(metrics.clone());
        let report = sweeper.run(Utc::now(), BUDGET).await;
        assert!(!report.complete);
        assert_eq!((report.left, report.due), (3, 3));
        assert_eq!(
            api.calls.load(Ordering::SeqCst),
            1,
            "the run stopped at the outage"
        );
        let documents = metrics.documents().join("\n");
        assert!(documents.contains(r#""SweepIncomplete":1"#), "{documents}");
    }

    #[test]
    fn every_provider_without_its_status_api_is_named_once_with_how_to_turn_it_on() {
        let off =
            |apis: &StatusApis| -> Vec<&str> { apis.off().iter().map(|s| s.provider).collect() };
        assert_eq!(
            off(&StatusApis::none()),
            ["cashfree", "digio", "hyperverge"]
        );
        let apis = StatusApis::none().with("hyperverge", Arc::new(Api::default()));
        assert_eq!(off(&apis), ["cashfree", "digio"]);
        let hyperverge = &crate::sources::hyperverge::output_api::STATUS_API;
        assert!(hyperverge.fixed_address && hyperverge.when_off.contains("SweeperSubnetIds"));
    }
}
