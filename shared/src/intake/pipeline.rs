//! The intake pipeline, provider-agnostic: route → authenticate → normalize → claim → send and
//! archive (attested, sealed) → complete. Expected cases (duplicates, refusals) are outcomes, not
//! errors; a fault of DynamoDB, SQS, the archive, its keys, KMS or normalizing becomes 503.

use super::source::Source;
use crate::fault::log_fault;
use crate::fault::{Fault, FaultKind};
use crate::intake::archive::{self, Archive, ArchivedDelivery};
use crate::intake::attest::Attestor;
use crate::intake::auth::AuthError;
use crate::intake::inbound::Inbound;
use crate::intake::normalize::{normalize_shaped, Normalized, Shaping};
use crate::intake::outcome::{Outcome, Refusal};
use crate::intake::queue::{EventSink, OutgoingMessage};
use crate::intake::seal::{self, KeyVault};
use crate::intake::settings::Settings;
use crate::intake::withhold::PersonalData;
use crate::metrics::{MetricsSink, RequestMetrics, Stdout, NO_SOURCE};
use crate::secrets::manager::{Refresh, Staleness};
use crate::trace::TraceHeader;
use chrono::{DateTime, Utc};
use http::Method;
use lambda_idempotency::IdempotencyStore;
use lambda_idempotency::{fingerprint, Attempt, Completion, Idempotency, Run, RunError};
use std::sync::Arc;
use tracing::Instrument;

/// The functions' timeout in the template (`Globals.Function.Timeout`): room for the three AWS
/// calls of a new event at their full SDK timeout, and the answer.
pub const FUNCTION_TIMEOUT_SECS: u64 = 20;
/// The deadline assumed when the request carries no Lambda context (local use, tests).
pub const DEFAULT_DEADLINE_MS: i64 = FUNCTION_TIMEOUT_SECS as i64 * 1000;
/// What a secrets refresh leaves of the request's time for the protocol's three calls and the
/// answer (the idempotency utility keeps 1 s for each step still to come).
const AFTER_SECRETS_RESERVE_MS: i64 = 3_500;
pub struct Pipeline<S> {
    sources: Vec<Source>,
    idempotency: Idempotency<S>,
    sink: Arc<dyn EventSink>,
    settings: Settings,
    /// What its events carry of a payload's personal data.
    personal_data: PersonalData,
    /// Secrets from Secrets Manager: re-read before authenticating once past their max age, and
    /// after a failed authentication once a minute old (see `secrets::manager`).
    secrets: Option<Arc<dyn Refresh>>,
    /// The audit archive: each new event's delivery is written there with the send, attested.
    archive: Option<(Arc<dyn Archive>, Arc<Attestor>)>,
    /// Each archived delivery's data key (erasure by journey): none, the archive is sealed by
    /// the bucket's key alone.
    vault: Option<Arc<dyn KeyVault>>,
    metrics: Arc<dyn MetricsSink>,
}

/// What processing learned beyond the outcome, for the request's metrics.
#[derive(Debug, Default)]
struct Report {
    event_type: Option<String>,
    provider_time_ms: Option<i64>,
    forward_rejected: bool,
    archived: bool,
}

impl<S: IdempotencyStore> Pipeline<S> {
    /// The pipeline of `sources`: the idempotency crate's store is generic (the crate's port is), every
    /// port of this library's own is an `Arc<dyn …>`, the events queue first.
    pub fn new(
        sources: Vec<Source>,
        store: S,
        sink: Arc<dyn EventSink>,
        settings: Settings,
    ) -> Self {
        for s in &sources {
            if !s.auth.is_configured() {
                tracing::error!(
                    source = s.spec.name,
                    "no authentication configured: every request to {} is refused with 500 not_configured",
                    s.spec.route
                );
            }
        }
        Self {
            sources,
            idempotency: Idempotency::new(store, std::time::Duration::from_secs(settings.ttl_secs)),
            sink,
            settings,
            personal_data: PersonalData::default(),
            secrets: None,
            archive: None,
            vault: None,
            metrics: Arc::new(Stdout),
        }
    }

    /// Events carry the declared personal data as `personal_data` says (`withhold` unless told).
    pub fn with_personal_data(mut self, personal_data: PersonalData) -> Self {
        self.personal_data = personal_data;
        self
    }

    /// Send the EMF documents elsewhere than stdout (tests).
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSink>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Keep `secrets` fresh: past their max age before authenticating, and after a failed
    /// authentication (see `secrets::manager`).
    pub fn with_secrets(mut self, secrets: Arc<dyn Refresh>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Archive every new event's delivery in `archive` before answering 200, attested by
    /// `attestor` (see `archive`, `attest`).
    pub fn with_archive(mut self, archive: Arc<dyn Archive>, attestor: Arc<Attestor>) -> Self {
        self.archive = Some((archive, attestor));
        self
    }

    /// Seal each archived delivery's body and event under a data key of its own from `vault`,
    /// kept there before the object is written (see `seal`).
    pub fn with_sealing(mut self, vault: Arc<dyn KeyVault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Certify this environment's archive key now, when deliveries are archived: start-up calls
    /// it so that the one KMS call is not made while a provider waits. A failure is logged; the
    /// first delivery to archive tries again.
    pub async fn certify_archive_key(&self) {
        if let Some((_, attestor)) = &self.archive {
            if let Err(e) = attestor.certify().await {
                log_fault(
                    &e,
                    "the archive key could not be certified; the first new event will try again",
                );
            }
        }
    }

    pub fn store(&self) -> &S {
        self.idempotency.store()
    }

    /// The source serving this path, if any.
    pub fn route(&self, path: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.spec.matches(path))
    }

    /// Handle one delivery and log one line about it (never its body, query or headers).
    pub async fn process(&self, req: &Inbound<'_>, now: DateTime<Utc>) -> Outcome {
        let started = std::time::Instant::now();
        let source = self.route(req.path);
        let trace = req.trace.and_then(TraceHeader::parse);
        let span = tracing::info_span!(
            "webhook",
            source = source.map_or("-", |s| s.spec.name),
            trace_id = trace.as_ref().map(TraceHeader::trace_id),
            event_id = tracing::field::Empty
        );
        let mut report = Report::default();
        let outcome = self
            .run(source, req, trace, now, started, &mut report)
            .instrument(span.clone())
            .await;
        let _enter = span.enter();
        self.record(source, &outcome, &report, started, now, req.body.len());
        outcome
    }

    /// Log and count a request the pipeline never saw: one that could not be read, or whose
    /// handling panicked. `path` routes it for the `Source` dimension.
    pub fn record_unhandled(&self, path: &str, outcome: Outcome) -> Outcome {
        let source = self.route(path);
        let span = tracing::info_span!("webhook", source = source.map_or("-", |s| s.spec.name));
        let _enter = span.enter();
        if outcome == Outcome::Unavailable {
            tracing::error!("handling the request panicked; answered as unavailable");
        }
        let now = Utc::now();
        self.record(
            source,
            &outcome,
            &Report::default(),
            std::time::Instant::now(),
            now,
            0,
        );
        outcome
    }

    /// The request's metric document and its one log line (never its body, query or headers).
    fn record(
        &self,
        source: Option<&Source>,
        outcome: &Outcome,
        report: &Report,
        started: std::time::Instant,
        now: DateTime<Utc>,
        body_bytes: usize,
    ) {
        let elapsed = started.elapsed();
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let now_ms = now.timestamp_millis();
        let metrics = RequestMetrics {
            source: source.map_or(NO_SOURCE, |s| s.spec.name),
            outcome: outcome.label(),
            forwarded: match outcome {
                Outcome::Accepted { .. } => report.event_type.as_deref(),
                _ => None,
            },
            forward_rejected: report.forward_rejected,
            archived: report.archived,
            auth_refused: matches!(
                outcome,
                Outcome::Refused(Refusal::Auth(e)) if *e != AuthError::NotConfigured
            ),
            latency_ms: elapsed.as_secs_f64() * 1e3,
            provider_delay_ms: report
                .provider_time_ms
                .map(|t| now_ms.saturating_sub(t) as f64),
            timestamp_ms: now_ms,
        };
        self.metrics.emit(&metrics.to_emf());
        let status = outcome.status().as_u16();
        match outcome {
            Outcome::Refused(_) => tracing::warn!(
                outcome = outcome.label(),
                status,
                latency_us,
                body_bytes,
                "request refused"
            ),
            Outcome::Unavailable => {
                tracing::error!(
                    outcome = outcome.label(),
                    status,
                    latency_us,
                    "not forwarded"
                )
            }
            _ => tracing::info!(
                outcome = outcome.label(),
                status,
                latency_us,
                "webhook handled"
            ),
        }
    }

    async fn run(
        &self,
        source: Option<&Source>,
        req: &Inbound<'_>,
        trace: Option<TraceHeader>,
        now: DateTime<Utc>,
        started: std::time::Instant,
        report: &mut Report,
    ) -> Outcome {
        let Some(source) = source else {
            return Outcome::Refused(Refusal::UnknownRoute);
        };
        if req.method != Method::POST {
            return Outcome::Refused(Refusal::MethodNotAllowed);
        }
        if req.body.len() > self.settings.max_body_bytes {
            return Outcome::Refused(Refusal::PayloadTooLarge);
        }
        let deadline_ms = invocation_deadline_ms(req.deadline_ms, now.timestamp_millis());
        self.refresh_secrets(Staleness::MaxAge, now, deadline_ms)
            .await;
        let scheme = match source.auth.authenticate(req, now) {
            Ok(scheme) => scheme,
            Err(e)
                if Self::worth_a_refresh(e)
                    && self
                        .refresh_secrets(Staleness::FailedAuth, now, deadline_ms)
                        .await =>
            {
                match source.auth.authenticate(req, now) {
                    Ok(scheme) => scheme,
                    Err(e) => return Outcome::Refused(Refusal::Auth(e)),
                }
            }
            Err(e) => return Outcome::Refused(Refusal::Auth(e)),
        };
        // A refresh may have taken a while: the protocol's budget starts from here.
        let now = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();

        let shaping = Shaping {
            personal_data: self.personal_data,
            archive_key: self.archive.as_ref().map(|_| archive::key as _),
            trace,
        };
        let event = match normalize_shaped(source.spec, req.body, now, scheme.clone(), shaping) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(error = %e, "not forwarded: the event could not be made");
                return Outcome::Unavailable;
            }
        };
        report.event_type = Some(event.event_type.clone());
        report.provider_time_ms = event.provider_time_ms;
        tracing::Span::current().record("event_id", event.id.as_str());
        let key = format!("{}#{}", source.spec.name, event.id);
        let deadline = DateTime::from_timestamp_millis(deadline_ms).unwrap_or(now);
        let attempt = Attempt::new(&key, fingerprint(req.body), now.into(), deadline.into());
        // The archive's record is built before the claim: a record that cannot be built fails
        // the request (503) with nothing claimed or sent.
        let archived = match &self.archive {
            None => None,
            Some((_, attestor)) => {
                let key = archive::key(source.spec.name, now, &event.id);
                let record = async {
                    let mut record = ArchivedDelivery::of(
                        req,
                        &source.auth.secret_headers(),
                        scheme,
                        &event,
                        now,
                    )?;
                    record.attestation = Some(attestor.attest(&record.attested(&key)).await?);
                    Ok::<_, Fault>(record)
                };
                match record.await {
                    Ok(record) => Some((key, record)),
                    Err(e) => {
                        log_fault(&e, "the archive record could not be built or attested");
                        return Outcome::Unavailable;
                    }
                }
            }
        };
        self.forward(&event, archived, &attempt, report).await
    }

    /// A refusal a newer secret could turn around (a secret rotated on the provider's side, or
    /// filled in after deploy).
    fn worth_a_refresh(e: AuthError) -> bool {
        matches!(
            e,
            AuthError::InvalidSignature | AuthError::InvalidToken | AuthError::NotConfigured
        )
    }

    /// Ask the secrets from Secrets Manager, if any, to be read again when too old for `why`,
    /// within what the request can spare. `true` when new values were installed.
    async fn refresh_secrets(&self, why: Staleness, now: DateTime<Utc>, deadline_ms: i64) -> bool {
        let Some(secrets) = &self.secrets else {
            return false;
        };
        let spare = deadline_ms - now.timestamp_millis() - AFTER_SECRETS_RESERVE_MS;
        let budget = std::time::Duration::from_millis(u64::try_from(spare).unwrap_or_default());
        secrets.refresh(why, budget, self.metrics.as_ref()).await
    }

    /// Write one delivery's object at `key`: sealed first when deliveries are, its data key kept
    /// before the object (an object whose key was never kept could not be read).
    async fn archive_one(
        &self,
        archive: &dyn Archive,
        key: &str,
        record: &ArchivedDelivery,
        event: &Normalized,
    ) -> Result<(), Fault> {
        let bytes = match &self.vault {
            None => record.to_json()?,
            Some(vault) => {
                let journey = seal::journey(event.source, event.subject.as_deref(), &event.id);
                let data_key = vault.generate(&journey).await?;
                let mut sealed = record.clone();
                sealed.seal(key, &journey, &data_key.plaintext)?;
                let partition = seal::partition(event.source, &journey);
                vault.keep(&partition, &event.id, &data_key.wrapped).await?;
                sealed.to_json()?
            }
        };
        archive.put_new(key, bytes).await
    }

    /// Send the event to the queue at most once per event id (the protocol of docs/design.md).
    async fn forward(
        &self,
        event: &Normalized,
        archived: Option<(String, ArchivedDelivery)>,
        attempt: &Attempt<'_>,
        report: &mut Report,
    ) -> Outcome {
        let id = event.id.clone();
        let message = event.message();
        // The send and the archive write, concurrently; both must succeed before the claim
        // completes, or it is released and the provider retries.
        let send = |_: &_| async {
            let archive = async {
                match (&self.archive, &archived) {
                    (Some((archive, _)), Some((key, record))) => self
                        .archive_one(archive.as_ref(), key, record, event)
                        .await
                        .map_err(ForwardError::Archive),
                    _ => Ok(()),
                }
            };
            let (sent, archived) = tokio::join!(self.sink.send(&message), archive);
            let message_id = sent.map_err(ForwardError::Send)?;
            archived?;
            Ok::<_, ForwardError>(((), Completion::Keep(message_id)))
        };
        match self.idempotency.run(attempt, send).await {
            Ok(Run::Ran(())) => {
                tracing::debug!(event_type = event.event_type, "forwarded");
                report.archived = archived.is_some();
                Outcome::Accepted { id }
            }
            Ok(Run::AlreadyDone { same_request, .. }) => {
                if !same_request {
                    tracing::warn!(
                        event_type = event.event_type,
                        "duplicate event id with a different body: identity fields equal, other fields differ"
                    );
                }
                Outcome::Duplicate { id }
            }
            // Run::InProgress: another delivery holds the claim.
            Ok(_) => Outcome::InProgress { id },
            Err(RunError::Store(e)) => {
                log_fault(&e.into(), "idempotency claim failed");
                Outcome::Unavailable
            }
            Err(RunError::Operation(ForwardError::Send(e))) => {
                report.forward_rejected = e.kind == FaultKind::Rejected;
                log_send_failure(&e, &message);
                Outcome::Unavailable
            }
            Err(RunError::Operation(ForwardError::Archive(e))) => {
                log_fault(&e, "archive write failed; the claim was released");
                Outcome::Unavailable
            }
            Err(RunError::TimedOut) => {
                tracing::error!("send and archive did not finish in time; the claim was released");
                Outcome::Unavailable
            }
            // A payload mismatch is not configured: a repeat with another body is a duplicate.
            Err(other) => {
                tracing::error!(error = %other, "forwarding failed");
                Outcome::Unavailable
            }
        }
    }
}

/// Why forwarding a new event failed: the queue or the archive.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("{0}")]
    Send(Fault),
    #[error("{0}")]
    Archive(Fault),
}

/// An invocation's deadline, epoch ms: the Lambda context's when it has one (even one already
/// past: then there is no time left, and nothing is started), else `DEFAULT_DEADLINE_MS` from
/// now (no context: local use, tests). The one rule for every function.
pub fn invocation_deadline_ms(context_deadline_ms: Option<i64>, now_ms: i64) -> i64 {
    context_deadline_ms
        .filter(|d| *d > 0)
        .unwrap_or(now_ms + DEFAULT_DEADLINE_MS)
}

/// A failed send: a permanent refusal (which normalization makes impossible) must not pass for
/// an outage.
fn log_send_failure(e: &Fault, message: &OutgoingMessage) {
    if e.kind == FaultKind::Rejected {
        tracing::error!(
            forward_rejected = true,
            operation = e.operation,
            error = %e,
            message_bytes = message.size(),
            "the queue refused the message permanently; the claim was released"
        );
    } else {
        log_fault(e, "send to queue failed; the claim was released");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::memory::MemorySink;
    use crate::secrets::secret::{Secret, SecretList};
    use crate::sources::cashfree::signature::{
        sign, CashfreeAuth, Legacy, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    };
    use crate::sources::{cashfree::vkyc, Source};
    use http::HeaderMap;
    use lambda_idempotency::LEASE_MARGIN;
    use lambda_idempotency::{Claim, ClaimOutcome, IdempotencyStore, Settled};
    use lambda_idempotency::{MemoryStore, Record};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    const SECRET: &str = "unit-secret";
    const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"v-1","reference_id":1,"status":"IN_VIDEO_CALL","sub_status":"CALL_COMPLETED"}}"#;
    const ROUTE: &str = "/prod/webhooks/cashfree/vkyc";

    /// A pipeline on memory, and the sink it sends to.
    fn pipeline() -> (Pipeline<MemoryStore>, Arc<MemorySink>) {
        let sink = Arc::new(MemorySink::default());
        let auth = CashfreeAuth::new(
            SecretList::new(vec![Secret::new(SECRET)]),
            3600,
            Legacy::Off,
        );
        let p = Pipeline::new(
            vec![Source::new(&vkyc::SOURCE, auth)],
            MemoryStore::default(),
            sink.clone(),
            Settings {
                ttl_secs: 7200,
                max_body_bytes: 4096,
            },
        );
        (p, sink)
    }

    fn signed(body: &str, now: DateTime<Utc>) -> HeaderMap {
        let ts = now.timestamp_millis().to_string();
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            sign(SECRET.as_bytes(), &ts, body.as_bytes())
                .parse()
                .expect("hv"),
        );
        h.insert(TIMESTAMP_HEADER, ts.parse().expect("hv"));
        h
    }

    async fn deliver(p: &Pipeline<MemoryStore>, body: &str, now: DateTime<Utc>) -> Outcome {
        let headers = signed(body, now);
        let req = Inbound {
            deadline_ms: Some(now.timestamp_millis() + 3000),
            ..Inbound::post(ROUTE, &headers, body.as_bytes())
        };
        p.process(&req, now).await
    }

    /// A signing key that can be told to fail (KMS unreachable).
    struct FlakySigner {
        key: crate::intake::attest::MemorySigner,
        failing: std::sync::atomic::AtomicBool,
    }

    impl crate::intake::attest::Certify for FlakySigner {
        fn sign<'a>(
            &'a self,
            message: &'a [u8],
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>>
        {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    return Err(Fault::new(
                        "KMS Sign",
                        crate::fault::FaultKind::Unavailable,
                        "unreachable",
                    ));
                }
                self.key.sign(message).await
            })
        }
    }

    #[tokio::test]
    async fn an_archived_delivery_carries_an_attestation_and_no_certificate_means_no_200() {
        use crate::intake::memory::MemoryArchive;
        use crate::intake::verdict::{self as archive, Verdict};
        let signer = Arc::new(FlakySigner {
            key: crate::intake::attest::MemorySigner::generate(),
            failing: true.into(),
        });
        let trust = signer.key.trust();
        let objects = Arc::new(MemoryArchive::default());
        let (p, sink) = pipeline();
        let p = p.with_archive(
            objects.clone(),
            Arc::new(Attestor::new(signer.clone(), "cashfree-webhook")),
        );
        let now = Utc::now();
        // KMS unreachable: the environment's key cannot be certified, nothing is claimed, sent
        // or archived, and the provider is told to retry.
        p.certify_archive_key().await;
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Unavailable);
        assert!(p.store().records().is_empty());
        assert!(sink.messages().is_empty());
        assert!(objects.objects.lock().expect("lock").is_empty());

        signer.failing.store(false, Ordering::SeqCst);
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("accepted once the key is certified")
        };
        let objects = objects.objects.lock().expect("lock").clone();
        let (key, bytes) = objects.iter().next().expect("archived");
        let delivery: ArchivedDelivery = serde_json::from_slice(bytes).expect("a delivery");
        assert_eq!(delivery.event_id, id);
        let check = |d: &ArchivedDelivery| {
            archive::verify(
                d,
                &archive::Check {
                    key,
                    versions: 1,
                    source: &vkyc::SOURCE,
                    writer: "cashfree-webhook",
                    trust: &trust,
                    now,
                },
            )
        };
        assert!(
            matches!(check(&delivery), Verdict::Attested { ref function, .. } if function == "cashfree-webhook"),
            "{}",
            check(&delivery)
        );
        let mut moved = delivery.clone();
        moved.request.path = "/prod/webhooks/cashfree/digilocker".to_owned();
        assert!(!check(&moved).sendable());
        let mut unsigned = delivery.clone();
        unsigned.attestation = None;
        assert_eq!(
            check(&unsigned).to_string(),
            "refused: no attestation (not written by a webhook function)"
        );
    }

    #[tokio::test]
    async fn a_sealed_delivery_keeps_its_key_first_and_opens_only_with_it() {
        use crate::intake::memory::MemoryArchive;
        use crate::intake::memory::MemoryVault;
        use crate::intake::verdict::{self as archive, Verdict};
        let signer = crate::intake::attest::MemorySigner::generate();
        let trust = signer.trust();
        let objects = Arc::new(MemoryArchive::default());
        let vault = Arc::new(MemoryVault::default());
        let (p, _) = pipeline();
        let p = p
            .with_archive(
                objects.clone(),
                Arc::new(Attestor::new(Arc::new(signer), "cashfree-webhook")),
            )
            .with_sealing(vault.clone());
        let now = Utc::now();
        // No data key: nothing is claimed for good, sent or archived.
        vault.fail.store(true, Ordering::SeqCst);
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Unavailable);
        assert!(objects.objects.lock().expect("lock").is_empty());
        assert!(vault.kept.lock().expect("lock").is_empty());
        vault.fail.store(false, Ordering::SeqCst);
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("accepted")
        };
        let (key, bytes) = objects
            .objects
            .lock()
            .expect("lock")
            .iter()
            .next()
            .map(|(k, b)| (k.clone(), b.clone()))
            .expect("archived");
        let text = String::from_utf8_lossy(&bytes);
        for clear in ["verification_id", "CALL_COMPLETED", "v-1"] {
            assert!(!text.contains(clear), "{clear} in clear: {text}");
        }
        let mut delivery: ArchivedDelivery = serde_json::from_slice(&bytes).expect("a delivery");
        let journey = delivery.journey.clone().expect("filed under its journey");
        let kept = vault.kept.lock().expect("lock").clone();
        let partition = seal::partition(&delivery.source, &journey);
        assert!(partition.starts_with("cashfree/vkyc#"), "under its source");
        let wrapped = kept.get(&(partition, id.clone())).expect("its key kept");
        let check = |d: &ArchivedDelivery| {
            archive::verify(
                d,
                &archive::Check {
                    key: &key,
                    versions: 1,
                    source: &vkyc::SOURCE,
                    writer: "cashfree-webhook",
                    trust: &trust,
                    now,
                },
            )
        };
        assert_eq!(
            check(&delivery).to_string(),
            "refused: sealed, and its data key could not be read"
        );
        let mut erased = delivery.clone();
        erased.erased = Some("2026-12-05T10:00:00.000Z".to_owned());
        assert!(
            matches!(check(&erased), Verdict::Erased { .. }),
            "the attestation holds without the body: {}",
            check(&erased)
        );
        assert!(delivery.unseal(&key, &[0u8; 32]).is_err(), "another key");
        let data_key: [u8; 32] = wrapped[0].clone().try_into().expect("32 bytes");
        delivery.unseal(&key, &data_key).expect("opens");
        assert!(
            matches!(check(&delivery), Verdict::Attested { .. }),
            "{}",
            check(&delivery)
        );
        assert_eq!(delivery.body().expect("body"), BODY.as_bytes());
    }

    /// The one delivery an archiving pipeline keeps of `BODY`: its key and object.
    async fn archived_once(
        sealing: bool,
    ) -> (String, ArchivedDelivery, crate::intake::attest::Trust) {
        use crate::intake::memory::{MemoryArchive, MemoryVault};
        let signer = crate::intake::attest::MemorySigner::generate();
        let trust = signer.trust();
        let objects = Arc::new(MemoryArchive::default());
        let (p, _) = pipeline();
        let p = p.with_archive(
            objects.clone(),
            Arc::new(Attestor::new(Arc::new(signer), "cashfree-webhook")),
        );
        let p = if sealing {
            p.with_sealing(Arc::new(MemoryVault::default()))
        } else {
            p
        };
        let Outcome::Accepted { .. } = deliver(&p, BODY, Utc::now()).await else {
            panic!("accepted")
        };
        let objects = objects.objects.lock().expect("lock").clone();
        let (key, bytes) = objects.into_iter().next().expect("archived");
        (
            key,
            serde_json::from_slice(&bytes).expect("a delivery"),
            trust,
        )
    }

    fn verdict(
        key: &str,
        d: &ArchivedDelivery,
        trust: &crate::intake::attest::Trust,
        writer: &str,
    ) -> crate::intake::verdict::Verdict {
        crate::intake::verdict::verify(
            d,
            &crate::intake::verdict::Check {
                key,
                versions: 1,
                source: &vkyc::SOURCE,
                writer,
                trust,
                now: Utc::now(),
            },
        )
    }

    #[tokio::test]
    async fn version_2_salts_its_digests_and_names_the_function_that_serves_the_source() {
        use crate::intake::attest::{sha256_hex, CURRENT};
        let (key, delivery, trust) = archived_once(false).await;
        assert_eq!(delivery.version(), CURRENT);
        assert_ne!(
            delivery.body_sha256,
            sha256_hex(BODY.as_bytes()),
            "a guessed body cannot be confirmed against the digest alone"
        );
        assert!(
            delivery.salt.is_some(),
            "an unsealed object keeps its salt in clear"
        );
        let v = verdict(&key, &delivery, &trust, "cashfree-webhook");
        assert!(
            matches!(
                v,
                crate::intake::verdict::Verdict::Attested { version: 2, .. }
            ),
            "{v}"
        );
        assert_eq!(
            v.to_string().split(" (").next(),
            Some("attested by cashfree-webhook")
        );
        assert_eq!(
            verdict(&key, &delivery, &trust, "digio-webhook").to_string(),
            "refused: certified for cashfree-webhook, but cashfree/vkyc is written by digio-webhook"
        );
        let mut no_salt = delivery.clone();
        no_salt.salt = None;
        assert_eq!(
            verdict(&key, &no_salt, &trust, "cashfree-webhook").to_string(),
            "refused: a version 2 object without its salt"
        );
        let mut other_salt = delivery.clone();
        other_salt.salt = Some(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [7u8; 32],
        ));
        assert!(!verdict(&key, &other_salt, &trust, "cashfree-webhook").sendable());
        // Read as version 1, its fields are other bytes: no signature holds.
        let mut downgraded = delivery.clone();
        if let Some(a) = downgraded.attestation.as_mut() {
            a.version = 1;
        }
        assert!(!verdict(&key, &downgraded, &trust, "cashfree-webhook").attested());
    }

    #[tokio::test]
    async fn a_sealed_object_keeps_its_salt_inside_the_seal() {
        let (key, delivery, trust) = archived_once(true).await;
        assert!(delivery.salt.is_none(), "no salt in clear");
        let text = String::from_utf8(delivery.to_json().expect("json")).expect("utf-8");
        assert!(!text.contains("\"salt\""), "{text}");
        // Erased: the body, the event and the salt are gone; the attestation still holds.
        let mut erased = delivery.clone();
        erased.erased = Some("2026-12-05T10:00:00.000Z".to_owned());
        let v = verdict(&key, &erased, &trust, "cashfree-webhook");
        assert!(
            matches!(
                v,
                crate::intake::verdict::Verdict::Erased { version: 2, .. }
            ),
            "{v}"
        );
    }

    /// An object an environment archived before attestation v2 (written by that version's code,
    /// kept as it was): it still verifies, and its verdict says which version attested it.
    #[test]
    fn an_object_attested_in_version_1_still_verifies_and_says_so() {
        let object = include_bytes!("../../tests/fixtures/archive-v1/object.json");
        let key = include_str!("../../tests/fixtures/archive-v1/key").trim();
        let der = include_bytes!("../../tests/fixtures/archive-v1/public_key.der");
        let trust = crate::intake::attest::Trust::from_spki(der, "fixture").expect("P-256");
        let delivery: ArchivedDelivery = serde_json::from_slice(object).expect("a delivery");
        assert_eq!(delivery.version(), 1);
        // v1 certificates named the deployed function: no registry name to compare.
        let v = verdict(key, &delivery, &trust, "cashfree-webhook");
        assert_eq!(
            v.to_string().split(" (certified").next(),
            Some("attested by kyc-CashfreeFunction-1"),
            "{v}"
        );
        assert!(v.to_string().ends_with(", attestation v1)"), "{v}");
        assert!(v.sendable());
        let mut moved = delivery.clone();
        moved.request.source_ip = Some("203.0.113.9".to_owned());
        assert!(!verdict(key, &moved, &trust, "cashfree-webhook").attested());
        let mut relabelled = delivery.clone();
        if let Some(a) = relabelled.attestation.as_mut() {
            a.version = 2;
        }
        assert!(!verdict(key, &relabelled, &trust, "cashfree-webhook").attested());
    }

    #[test]
    fn a_deadline_already_past_leaves_no_time_and_none_known_leaves_the_default() {
        let now = 1_000_000;
        assert_eq!(invocation_deadline_ms(Some(now + 5_000), now), now + 5_000);
        assert_eq!(invocation_deadline_ms(Some(now - 1), now), now - 1);
        assert_eq!(
            invocation_deadline_ms(Some(0), now),
            now + DEFAULT_DEADLINE_MS
        );
        assert_eq!(invocation_deadline_ms(None, now), now + DEFAULT_DEADLINE_MS);
    }

    #[tokio::test]
    async fn new_then_duplicate() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("first delivery not accepted")
        };
        assert_eq!(
            deliver(&p, BODY, now + chrono::Duration::seconds(5)).await,
            Outcome::Duplicate { id: id.clone() }
        );
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].deduplication_id, id);
        assert_eq!(messages[0].group_id, "cashfree/vkyc#v-1");
        assert_eq!(messages[0].event_type, "kyc.vkyc.call_completed");
        let records = p.store().records();
        let record = &records[&format!("cashfree/vkyc#{id}")];
        assert_eq!(record.status, "COMPLETED");
        assert_eq!(record.kept.as_deref(), Some("m-1"));
        assert_eq!(
            record.lease_expires_at_ms,
            now.timestamp_millis()
                + 3000
                + i64::try_from(LEASE_MARGIN.as_millis()).unwrap_or_default()
        );
        assert_eq!(record.expires_at_s, now.timestamp() + 7200);
        let event: crate::event::KycEvent = serde_json::from_str(&messages[0].body).expect("event");
        assert_eq!(event.subject.as_deref(), Some("v-1"));
        assert_eq!(event.data.payload.get(), BODY);
    }

    /// Method, path, body, headers, status, error code.
    type Case<'a> = (&'a Method, &'a str, Vec<u8>, HeaderMap, u16, &'a str);

    #[tokio::test]
    async fn refusals_leave_nothing_behind() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        let headers = signed(BODY, now);
        let cases: Vec<Case> = vec![
            (
                &Method::POST,
                "/webhooks/unknown",
                BODY.into(),
                headers.clone(),
                404,
                "not_found",
            ),
            (
                &Method::GET,
                ROUTE,
                BODY.into(),
                headers.clone(),
                405,
                "method_not_allowed",
            ),
            (
                &Method::POST,
                ROUTE,
                vec![b' '; 4097],
                headers.clone(),
                413,
                "payload_too_large",
            ),
            (
                &Method::POST,
                ROUTE,
                b"{}".to_vec(),
                headers.clone(),
                401,
                "invalid_signature",
            ),
            (
                &Method::POST,
                ROUTE,
                BODY.into(),
                HeaderMap::new(),
                401,
                "missing_signature",
            ),
        ];
        for (method, path, body, headers, status, code) in cases {
            let req = Inbound {
                method,
                ..Inbound::post(path, &headers, &body)
            };
            let out = p.process(&req, now).await;
            assert_eq!(out.status(), status, "{code}");
            assert_eq!(out.body(), format!(r#"{{"error":"{code}"}}"#));
        }
        assert!(p.store().records().is_empty());
        assert_eq!(p.store().calls(), 0);
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn live_claim_is_409_and_expired_lease_is_taken_over() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        // Find the key the event will use, then plant a claim left by a crashed invocation.
        let first = deliver(&pipeline().0, BODY, now).await;
        let Outcome::Accepted { id } = first else {
            panic!("accepted")
        };
        let key = format!("cashfree/vkyc#{id}");
        p.store().insert(
            &key,
            Record {
                status: "IN_PROGRESS",
                lease_expires_at_ms: now.timestamp_millis() + 10_000,
                expires_at_s: now.timestamp() + 7200,
                payload_hash: String::new(),
                owner: "a crashed invocation".into(),
                kept: None,
            },
        );
        assert_eq!(
            deliver(&p, BODY, now).await,
            Outcome::InProgress { id: id.clone() }
        );
        assert_eq!(
            deliver(&p, BODY, now).await.body(),
            r#"{"error":"in_progress"}"#
        );
        let later = now + chrono::Duration::seconds(11);
        assert_eq!(deliver(&p, BODY, later).await, Outcome::Accepted { id });
        assert_eq!(sink.messages().len(), 1);
    }

    #[tokio::test]
    async fn expired_completed_record_is_treated_as_absent() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("accepted")
        };
        let key = format!("cashfree/vkyc#{id}");
        let mut record = p.store().records()[&key].clone();
        record.expires_at_s = now.timestamp() - 1;
        p.store().insert(&key, record);
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Accepted { id });
        assert_eq!(sink.messages().len(), 2);
    }

    #[tokio::test]
    async fn queue_failure_releases_the_claim_and_the_retry_succeeds() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        sink.fail.store(true, Ordering::SeqCst);
        let out = deliver(&p, BODY, now).await;
        assert_eq!(out, Outcome::Unavailable);
        assert_eq!(out.status(), 503);
        assert_eq!(out.body(), r#"{"error":"unavailable"}"#);
        assert!(p.store().records().is_empty(), "claim released");
        sink.fail.store(false, Ordering::SeqCst);
        assert!(matches!(
            deliver(&p, BODY, now).await,
            Outcome::Accepted { .. }
        ));
        assert!(matches!(
            deliver(&p, BODY, now).await,
            Outcome::Duplicate { .. }
        ));
        assert_eq!(sink.messages().len(), 1);
    }

    #[tokio::test]
    async fn store_failure_sends_nothing() {
        let (p, sink) = pipeline();
        p.store().set_failing(true);
        assert_eq!(deliver(&p, BODY, Utc::now()).await, Outcome::Unavailable);
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn unrecognized_is_forwarded_not_dropped() {
        let (p, sink) = pipeline();
        let now = Utc::now();
        for body in [
            "not json",
            "[]",
            r#"{"event_type":"VKYC_SOMETHING_NEW","data":{}}"#,
            "",
        ] {
            let out = deliver(&p, body, now).await;
            assert!(matches!(out, Outcome::Accepted { .. }), "{body:?}: {out:?}");
            assert!(
                matches!(deliver(&p, body, now).await, Outcome::Duplicate { .. }),
                "{body:?}"
            );
        }
        let messages = sink.messages();
        assert_eq!(messages.len(), 4);
        for m in &messages {
            assert_eq!(m.event_type, "kyc.vkyc.unrecognized");
            let e: crate::event::KycEvent = serde_json::from_str(&m.body).expect("event");
            assert_eq!(e.subject, None);
        }
        // Its fields are unknown: by default the payload is left out whole (the archive has it).
        for m in &messages {
            let e: crate::event::KycEvent = serde_json::from_str(&m.body).expect("event");
            assert_eq!(e.data.payload.get(), "null");
            assert_eq!(e.data.withheld, Some(vec![String::new()]));
        }
        let e: crate::event::KycEvent = serde_json::from_str(&messages[2].body).expect("event");
        assert_eq!(e.data.provider_event.as_deref(), Some("VKYC_SOMETHING_NEW"));
        // `include`: as received.
        let (p, sink) = pipeline();
        let p = p.with_personal_data(PersonalData::Include);
        deliver(&p, "not json", now).await;
        let e: crate::event::KycEvent =
            serde_json::from_str(&sink.messages()[0].body).expect("event");
        assert_eq!(e.data.payload.get(), "\"not json\"");
        assert_eq!(e.data.withheld, None);
    }

    fn claim_for(id: &str, owner: &str, now: DateTime<Utc>) -> Claim {
        Claim::new(
            format!("cashfree/vkyc#{id}"),
            owner,
            now.timestamp_millis() + 1000,
            now.timestamp() + 7200,
            "h",
            now.timestamp_millis(),
        )
    }

    #[tokio::test]
    async fn a_late_invocation_never_completes_or_releases_a_claim_taken_over() {
        let store = MemoryStore::default();
        let now = Utc::now();
        let late = claim_for("e", "late", now);
        assert_eq!(store.claim(&late).await.ok(), Some(ClaimOutcome::Claimed));
        // Its lease runs out; a retry takes the claim over.
        let later = now + chrono::Duration::seconds(5);
        let retry = claim_for("e", "retry", later);
        assert_eq!(store.claim(&retry).await.ok(), Some(ClaimOutcome::Claimed));
        // The late invocation wakes up: neither its complete nor its release touches the retry's.
        assert_eq!(
            store.complete(&late, "m-late").await.ok(),
            Some(Settled::NotOurs)
        );
        assert_eq!(store.release(&late).await.ok(), Some(Settled::NotOurs));
        let record = &store.records()[&late.key];
        assert_eq!(
            (record.status, record.owner.as_str()),
            ("IN_PROGRESS", "retry")
        );
        assert_eq!(
            store.complete(&retry, "m-retry").await.ok(),
            Some(Settled::Done)
        );
        assert_eq!(store.records()[&late.key].kept.as_deref(), Some("m-retry"));
    }

    #[tokio::test]
    async fn a_retried_put_finding_its_own_claim_counts_as_claimed() {
        let store = MemoryStore::default();
        let now = Utc::now();
        let mine = claim_for("e", "me", now);
        assert_eq!(store.claim(&mine).await.ok(), Some(ClaimOutcome::Claimed));
        assert_eq!(store.claim(&mine).await.ok(), Some(ClaimOutcome::Claimed));
        let other = claim_for("e", "other", now);
        assert_eq!(
            store.claim(&other).await.ok(),
            Some(ClaimOutcome::InProgress)
        );
    }

    // On tokio's paused clock: the deadline is checked, not this machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_store_is_answered_503_before_the_deadline() {
        let (p, sink) = pipeline();
        p.store().set_hanging(true);
        let now = Utc::now();
        let started = tokio::time::Instant::now();
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Unavailable);
        assert!(
            started.elapsed() < Duration::from_millis(3000),
            "inside the 3 s deadline"
        );
        assert!(sink.messages().is_empty());
    }

    // On tokio's paused clock: the deadline is checked, not this machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_hanging_queue_leaves_time_to_release_the_claim() {
        let (p, sink) = pipeline();
        sink.hang.store(true, Ordering::SeqCst);
        let now = Utc::now();
        let started = tokio::time::Instant::now();
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Unavailable);
        assert!(
            started.elapsed() < Duration::from_millis(3000),
            "inside the 3 s deadline"
        );
        assert!(
            p.store().records().is_empty(),
            "the claim was released in time"
        );
        sink.hang.store(false, Ordering::SeqCst);
        assert!(matches!(
            deliver(&p, BODY, now).await,
            Outcome::Accepted { .. }
        ));
    }

    #[tokio::test]
    async fn every_request_emits_one_emf_document_with_its_outcome() {
        use crate::metrics::{check_emf, Captured};
        let captured = Arc::new(Captured::default());
        let (p, sink) = pipeline();
        let p = p.with_metrics(captured.clone());
        let now = Utc::now();
        deliver(&p, BODY, now).await;
        deliver(&p, BODY, now).await;
        deliver(&p, "{}", now).await; // unrecognized, accepted
        let headers = HeaderMap::new();
        p.process(&Inbound::post(ROUTE, &headers, b"{}"), now).await;
        p.process(&Inbound::post("/nowhere", &headers, b"{}"), now)
            .await;
        sink.refuse.store(true, Ordering::SeqCst);
        deliver(&p, r#"{"x":1}"#, now).await;
        sink.refuse.store(false, Ordering::SeqCst);
        sink.fail.store(true, Ordering::SeqCst);
        deliver(&p, r#"{"x":2}"#, now).await;

        let docs = captured.documents();
        assert_eq!(docs.len(), 7, "one per request");
        let parsed: Vec<(
            serde_json::Value,
            serde_json::Map<String, serde_json::Value>,
        )> = docs
            .iter()
            .map(|d| {
                let values = check_emf(d).expect("valid EMF");
                (serde_json::from_str(d).expect("json"), values)
            })
            .collect();
        let outcomes: Vec<&str> = parsed
            .iter()
            .map(|(v, _)| v["Outcome"].as_str().expect("outcome"))
            .collect();
        assert_eq!(
            outcomes,
            [
                "accepted",
                "duplicate",
                "accepted",
                "missing_signature",
                "not_found",
                "unavailable",
                "unavailable"
            ]
        );
        assert_eq!(parsed[0].0["Type"], "kyc.vkyc.call_completed");
        assert_eq!(parsed[0].1["Forwarded"], 1);
        assert!(
            parsed[0].1["ProviderDelay"].as_f64().is_some(),
            "event time known"
        );
        assert!(
            !parsed[1].1.contains_key("Forwarded"),
            "a duplicate sends nothing"
        );
        assert!(!parsed[2].1.contains_key("ProviderDelay"), "no event time");
        assert_eq!(parsed[4].0["Source"], "none");
        assert_eq!(parsed[5].1["ForwardRejected"], 1);
        assert!(
            !parsed[6].1.contains_key("ForwardRejected"),
            "an outage is not a rejection"
        );
        for (v, _) in &parsed {
            assert!(!v.to_string().contains(SECRET));
        }
    }
}
