//! The intake pipeline, provider-agnostic: route → authenticate → normalize → claim → send →
//! complete. Expected cases (duplicates, refusals) are outcomes, not errors; only DynamoDB and SQS
//! faults become 503.

use crate::auth::AuthError;
use crate::normalize::{normalize, payload_hash, Normalized};
use crate::ports::{Claim, ClaimOutcome, EventSink, IdempotencyStore, OutgoingMessage};
use crate::sources::Source;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use std::net::IpAddr;
use tracing::Instrument;

/// How long after the invocation's deadline a claim stays protected: covers clock skew between
/// Lambda hosts and the time DynamoDB takes to see the claim.
pub const LEASE_MARGIN_MS: i64 = 10_000;
/// The deadline assumed when the request carries no Lambda context (local use, tests).
pub const DEFAULT_DEADLINE_MS: i64 = 30_000;

/// One HTTP delivery, as the pipeline sees it: raw bytes, headers and the gateway's source IP.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub method: &'a Method,
    /// The raw request path; only its tail is matched.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// From the API Gateway request context, never from a header.
    pub source_ip: Option<IpAddr>,
    /// The invocation's deadline, epoch ms (Lambda context), when known.
    pub deadline_ms: Option<i64>,
}

/// Settings the pipeline itself needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub ttl_secs: u64,
    pub max_body_bytes: usize,
}

/// Why a request was refused. Nothing is written anywhere for a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownRoute,
    MethodNotAllowed,
    PayloadTooLarge,
    Auth(AuthError),
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Auth(e) => e.code(),
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Self::UnknownRoute => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::Auth(e) => e.status(),
        }
    }
}

/// The result of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New event, forwarded.
    Accepted {
        id: String,
    },
    /// Already forwarded earlier.
    Duplicate {
        id: String,
    },
    /// A concurrent delivery of the same event holds the claim.
    InProgress {
        id: String,
    },
    Refused(Refusal),
    /// DynamoDB or SQS failed; the provider should retry.
    Unavailable,
}

impl Outcome {
    pub fn status(&self) -> u16 {
        match self {
            Self::Accepted { .. } | Self::Duplicate { .. } => 200,
            Self::InProgress { .. } => 409,
            Self::Refused(r) => r.status(),
            Self::Unavailable => 503,
        }
    }

    /// The JSON response body.
    pub fn body(&self) -> String {
        match self {
            Self::Accepted { id } => format!(r#"{{"status":"accepted","id":"{id}"}}"#),
            Self::Duplicate { id } => format!(r#"{{"status":"duplicate","id":"{id}"}}"#),
            Self::InProgress { .. } => r#"{"error":"in_progress"}"#.to_owned(),
            Self::Refused(r) => format!(r#"{{"error":"{}"}}"#, r.code()),
            Self::Unavailable => r#"{"error":"unavailable"}"#.to_owned(),
        }
    }

    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Duplicate { .. } => "duplicate",
            Self::InProgress { .. } => "in_progress",
            Self::Refused(r) => r.code(),
            Self::Unavailable => "unavailable",
        }
    }
}

pub struct Pipeline<S, Q> {
    sources: Vec<Source>,
    store: S,
    sink: Q,
    settings: Settings,
}

impl<S: IdempotencyStore, Q: EventSink> Pipeline<S, Q> {
    pub fn new(sources: Vec<Source>, store: S, sink: Q, settings: Settings) -> Self {
        for s in &sources {
            if !s.auth.is_configured() {
                tracing::error!(
                    source = s.name,
                    "no authentication configured: every request to {} is refused with 500 not_configured",
                    s.route
                );
            }
        }
        Self {
            sources,
            store,
            sink,
            settings,
        }
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn sink(&self) -> &Q {
        &self.sink
    }

    /// The source serving this path, if any.
    pub fn route(&self, path: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.matches(path))
    }

    /// Handle one delivery and log one line about it (never its body).
    pub async fn process(&self, req: &Inbound<'_>, now: DateTime<Utc>) -> Outcome {
        let started = std::time::Instant::now();
        let source = self.route(req.path);
        let span = tracing::info_span!(
            "webhook",
            source = source.map_or("-", |s| s.name),
            event_id = tracing::field::Empty
        );
        let outcome = self.run(source, req, now).instrument(span.clone()).await;
        let _enter = span.enter();
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let status = outcome.status();
        match &outcome {
            Outcome::Refused(_) => tracing::warn!(
                outcome = outcome.label(),
                status,
                latency_us,
                body_bytes = req.body.len(),
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
        outcome
    }

    async fn run(&self, source: Option<&Source>, req: &Inbound<'_>, now: DateTime<Utc>) -> Outcome {
        let Some(source) = source else {
            return Outcome::Refused(Refusal::UnknownRoute);
        };
        if req.method != Method::POST {
            return Outcome::Refused(Refusal::MethodNotAllowed);
        }
        if req.body.len() > self.settings.max_body_bytes {
            return Outcome::Refused(Refusal::PayloadTooLarge);
        }
        if let Err(e) = source.auth.authenticate(req, now) {
            return Outcome::Refused(Refusal::Auth(e));
        }

        let event = normalize(source, req.body, now);
        tracing::Span::current().record("event_id", event.id.as_str());
        let now_ms = now.timestamp_millis();
        let deadline_ms = req
            .deadline_ms
            .filter(|d| *d > now_ms)
            .unwrap_or(now_ms + DEFAULT_DEADLINE_MS);
        let ttl = i64::try_from(self.settings.ttl_secs).unwrap_or(i64::MAX / 2000);
        let claim = Claim {
            key: format!("{}#{}", source.name, event.id),
            lease_expires_at_ms: deadline_ms + LEASE_MARGIN_MS,
            expires_at_s: now.timestamp().saturating_add(ttl),
            payload_hash: payload_hash(req.body),
            now_ms,
        };
        self.forward(&event, &claim).await
    }

    async fn forward(&self, event: &Normalized, claim: &Claim) -> Outcome {
        let id = event.id.clone();
        match self.store.claim(claim).await {
            Ok(ClaimOutcome::Claimed) => {}
            Ok(ClaimOutcome::Completed { payload_hash }) => {
                if payload_hash.is_some_and(|h| h != claim.payload_hash) {
                    tracing::warn!(
                        event_type = event.event_type,
                        "duplicate event id with a different body: identity fields equal, other fields differ"
                    );
                }
                return Outcome::Duplicate { id };
            }
            Ok(ClaimOutcome::InProgress) => return Outcome::InProgress { id },
            Err(e) => {
                tracing::error!(error = %e, "idempotency claim failed");
                return Outcome::Unavailable;
            }
        }

        let message = OutgoingMessage {
            body: event.body.clone(),
            group_id: event.group_id(),
            deduplication_id: event.id.clone(),
            event_type: event.event_type.clone(),
            source: event.source.to_owned(),
        };
        let message_id = match self.sink.send(&message).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "send to queue failed; releasing the claim");
                if let Err(e) = self.store.release(claim).await {
                    tracing::error!(error = %e, "releasing the claim failed; it expires with its lease");
                }
                return Outcome::Unavailable;
            }
        };
        if let Err(e) = self.store.complete(claim, &message_id).await {
            // The event is on the queue: answering 200 stops the provider retrying. The record stays
            // IN_PROGRESS until its lease ends; a later redelivery then re-sends, which the FIFO
            // queue's deduplication (keyed on the event id) absorbs within its 5-minute window.
            tracing::error!(error = %e, message_id, "marking the claim completed failed");
        }
        tracing::debug!(message_id, event_type = event.event_type, "forwarded");
        Outcome::Accepted { id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::cashfree::{sign, CashfreeAuth, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    use crate::memory::{MemorySink, MemoryStore, Record};
    use crate::secret::{Secret, SecretList};
    use crate::sources::cashfree_vkyc;
    use std::sync::atomic::Ordering;

    const SECRET: &str = "unit-secret";
    const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"v-1","reference_id":1,"status":"IN_VIDEO_CALL","sub_status":"CALL_COMPLETED"}}"#;
    const ROUTE: &str = "/prod/webhooks/cashfree/vkyc";

    fn pipeline() -> Pipeline<MemoryStore, MemorySink> {
        let auth = CashfreeAuth::new(SecretList::new(vec![Secret::new(SECRET)]), 3600);
        Pipeline::new(
            vec![cashfree_vkyc::source(Box::new(auth))],
            MemoryStore::default(),
            MemorySink::default(),
            Settings {
                ttl_secs: 7200,
                max_body_bytes: 4096,
            },
        )
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

    async fn deliver(
        p: &Pipeline<MemoryStore, MemorySink>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        let headers = signed(body, now);
        let req = Inbound {
            method: &Method::POST,
            path: ROUTE,
            headers: &headers,
            body: body.as_bytes(),
            source_ip: None,
            deadline_ms: Some(now.timestamp_millis() + 3000),
        };
        p.process(&req, now).await
    }

    #[tokio::test]
    async fn new_then_duplicate() {
        let p = pipeline();
        let now = Utc::now();
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("first delivery not accepted")
        };
        assert_eq!(
            deliver(&p, BODY, now + chrono::Duration::seconds(5)).await,
            Outcome::Duplicate { id: id.clone() }
        );
        let messages = p.sink().messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].deduplication_id, id);
        assert_eq!(messages[0].group_id, "cashfree/vkyc#v-1");
        assert_eq!(messages[0].event_type, "kyc.vkyc.call_completed");
        let records = p.store().records();
        let record = &records[&format!("cashfree/vkyc#{id}")];
        assert_eq!(record.status, "COMPLETED");
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
        assert_eq!(
            record.lease_expires_at_ms,
            now.timestamp_millis() + 3000 + LEASE_MARGIN_MS
        );
        assert_eq!(record.expires_at_s, now.timestamp() + 7200);
        let event: crate::KycEvent = serde_json::from_str(&messages[0].body).expect("event");
        assert_eq!(event.subject.as_deref(), Some("v-1"));
        assert_eq!(event.data.payload.get(), BODY);
    }

    /// Method, path, body, headers, status, error code.
    type Case<'a> = (&'a Method, &'a str, Vec<u8>, HeaderMap, u16, &'a str);

    #[tokio::test]
    async fn refusals_leave_nothing_behind() {
        let p = pipeline();
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
                path,
                headers: &headers,
                body: &body,
                source_ip: None,
                deadline_ms: None,
            };
            let out = p.process(&req, now).await;
            assert_eq!(out.status(), status, "{code}");
            assert_eq!(out.body(), format!(r#"{{"error":"{code}"}}"#));
        }
        assert!(p.store().records().is_empty());
        assert_eq!(p.store().calls.load(Ordering::SeqCst), 0);
        assert!(p.sink().messages().is_empty());
    }

    #[tokio::test]
    async fn live_claim_is_409_and_expired_lease_is_taken_over() {
        let p = pipeline();
        let now = Utc::now();
        // Find the key the event will use, then plant a claim left by a crashed invocation.
        let first = deliver(&pipeline(), BODY, now).await;
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
                message_id: None,
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
        assert_eq!(p.sink().messages().len(), 1);
    }

    #[tokio::test]
    async fn expired_completed_record_is_treated_as_absent() {
        let p = pipeline();
        let now = Utc::now();
        let Outcome::Accepted { id } = deliver(&p, BODY, now).await else {
            panic!("accepted")
        };
        let key = format!("cashfree/vkyc#{id}");
        let mut record = p.store().records()[&key].clone();
        record.expires_at_s = now.timestamp() - 1;
        p.store().insert(&key, record);
        assert_eq!(deliver(&p, BODY, now).await, Outcome::Accepted { id });
        assert_eq!(p.sink().messages().len(), 2);
    }

    #[tokio::test]
    async fn queue_failure_releases_the_claim_and_the_retry_succeeds() {
        let p = pipeline();
        let now = Utc::now();
        p.sink().fail.store(true, Ordering::SeqCst);
        let out = deliver(&p, BODY, now).await;
        assert_eq!(out, Outcome::Unavailable);
        assert_eq!(out.status(), 503);
        assert_eq!(out.body(), r#"{"error":"unavailable"}"#);
        assert!(p.store().records().is_empty(), "claim released");
        p.sink().fail.store(false, Ordering::SeqCst);
        assert!(matches!(
            deliver(&p, BODY, now).await,
            Outcome::Accepted { .. }
        ));
        assert!(matches!(
            deliver(&p, BODY, now).await,
            Outcome::Duplicate { .. }
        ));
        assert_eq!(p.sink().messages().len(), 1);
    }

    #[tokio::test]
    async fn store_failure_sends_nothing() {
        let p = pipeline();
        p.store().fail.store(true, Ordering::SeqCst);
        assert_eq!(deliver(&p, BODY, Utc::now()).await, Outcome::Unavailable);
        assert!(p.sink().messages().is_empty());
    }

    #[tokio::test]
    async fn unrecognized_is_forwarded_not_dropped() {
        let p = pipeline();
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
        let messages = p.sink().messages();
        assert_eq!(messages.len(), 4);
        for m in &messages {
            assert_eq!(m.event_type, "kyc.vkyc.unrecognized");
            let e: crate::KycEvent = serde_json::from_str(&m.body).expect("event");
            assert_eq!(e.subject, None);
        }
        let e: crate::KycEvent = serde_json::from_str(&messages[0].body).expect("event");
        assert_eq!(e.data.payload.get(), "\"not json\"");
        let e: crate::KycEvent = serde_json::from_str(&messages[2].body).expect("event");
        assert_eq!(e.data.provider_event.as_deref(), Some("VKYC_SOMETHING_NEW"));
    }
}
