//! Metrics as CloudWatch Embedded Metric Format: one JSON document per request, written to the
//! function's log stream (stdout), from which CloudWatch extracts the metrics with no extra AWS
//! call. Namespace `KycWebhookIntake`; the metrics and dimensions of docs/design.md:
//!
//! | metric | unit | dimension sets |
//! |---|---|---|
//! | `Webhooks` | Count | `Source, Outcome`; `Outcome` (so one alarm covers every source) |
//! | `Forwarded` | Count | `Source, Type` |
//! | `ForwardRejected` | Count | `Source`; none (one alarm) |
//! | `Archived` | Count | `Source` (a delivery written to the audit archive) |
//! | `AuthRefused` | Count | `Source` (a 401 or 403 of any kind: one alarm watches every source) |
//! | `HandlerLatency` | Milliseconds | `Source` |
//! | `ProviderDelay` | Milliseconds | `Source` (when the provider's event time is known) |
//! | `SecretRefreshFailed` | Count | `Variable`; none (one alarm) |
//! | `StalledJourneys`, `ReconciledJourneys` | Count | `Source`; none (the sweeper, one per run) |
//! | `DueJourneys`, `SweepIncomplete`, `ReconcileUnavailable`, `ReconcileInvalid`, `SweepSendRefused` | Count | none (the sweeper, one document per run: `sweeper::SweepReport::counts`) |
//! | `RefusedSender`, `RefusedInvalid` | Count | none (the journey worker, a record it refused) |
//!
//! Every document carries a `level` that Lambda's log-level filter keeps at the configured level
//! (`metrics_level`). Dimension values are the source name, the variable name, the response's `status`/`error` code and the event
//! type: a small, fixed set; never an id, a secret or anything a request chooses freely.
//!
//! A small module rather than `metrics_cloudwatch_embedded`: that crate aggregates through the
//! process-global `metrics` recorder and flushes per invocation, which mixes requests once a
//! process serves several at a time (Lambda Managed Instances) and makes one document per request
//! with its own dimension sets awkward.

use serde::Serialize;
use serde_json::{Map, Value};

pub const NAMESPACE: &str = "KycWebhookIntake";
/// The `Source` value of a request no source serves.
pub const NO_SOURCE: &str = "none";

/// What one request contributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics<'a> {
    pub source: &'a str,
    /// The response's `status` or `error` code.
    pub outcome: &'a str,
    /// The event type, when this request sent a message to the queue.
    pub forwarded: Option<&'a str>,
    /// The queue refused the message permanently.
    pub forward_rejected: bool,
    /// Authentication refused the request (401 or 403, of any kind).
    pub auth_refused: bool,
    /// The delivery was written to the audit archive.
    pub archived: bool,
    pub latency_ms: f64,
    /// Receipt time minus the provider's event time, when known.
    pub provider_delay_ms: Option<f64>,
    /// Epoch ms.
    pub timestamp_ms: i64,
}

#[derive(Serialize)]
struct Metric {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

#[derive(Serialize)]
struct Directive {
    #[serde(rename = "Namespace")]
    namespace: &'static str,
    #[serde(rename = "Dimensions")]
    dimensions: Vec<Vec<&'static str>>,
    #[serde(rename = "Metrics")]
    metrics: Vec<Metric>,
}

#[derive(Serialize)]
struct Metadata {
    #[serde(rename = "Timestamp")]
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: Vec<Directive>,
}

/// An EMF document being built: each metric's name is written once, for both its directive and
/// its value.
struct Emf {
    root: Map<String, Value>,
    directives: Vec<Directive>,
}

/// A metric of a directive: its name, its unit and its value.
type Measure = (&'static str, &'static str, Value);

impl Emf {
    fn new() -> Self {
        Self {
            root: Map::new(),
            directives: Vec::new(),
        }
    }

    /// A dimension's (or any property's) value.
    fn set(&mut self, name: &'static str, value: impl Into<Value>) -> &mut Self {
        self.root.insert(name.into(), value.into());
        self
    }

    /// One directive over `dimensions` with these metrics, and their values.
    fn metrics(&mut self, dimensions: Vec<Vec<&'static str>>, measures: Vec<Measure>) -> &mut Self {
        let mut metrics = Vec::with_capacity(measures.len());
        for (name, unit, value) in measures {
            self.root.insert(name.into(), value);
            metrics.push(Metric { name, unit });
        }
        self.directives.push(Directive {
            namespace: NAMESPACE,
            dimensions,
            metrics,
        });
        self
    }

    /// One count of `name` over `dimensions`.
    fn count(&mut self, dimensions: Vec<Vec<&'static str>>, name: &'static str) -> &mut Self {
        self.metrics(dimensions, vec![(name, "Count", 1.into())])
    }

    fn document(self, timestamp_ms: i64) -> String {
        document(self.root, self.directives, timestamp_ms)
    }
}

impl RequestMetrics<'_> {
    /// The EMF document, one line of JSON.
    pub fn to_emf(&self) -> String {
        let mut emf = Emf::new();
        emf.set("Source", self.source)
            .set("Outcome", self.outcome)
            .count(vec![vec!["Source", "Outcome"], vec!["Outcome"]], "Webhooks");
        // Microsecond precision: enough, and the value prints short.
        let mut latency: Vec<Measure> = vec![(
            "HandlerLatency",
            "Milliseconds",
            ((self.latency_ms * 1e3).round() / 1e3).into(),
        )];
        if let Some(delay) = self.provider_delay_ms {
            latency.push(("ProviderDelay", "Milliseconds", delay.round().into()));
        }
        emf.metrics(vec![vec!["Source"]], latency);
        if let Some(event_type) = self.forwarded {
            emf.set("Type", event_type)
                .count(vec![vec!["Source", "Type"]], "Forwarded");
        }
        if self.archived {
            emf.count(vec![vec!["Source"]], "Archived");
        }
        if self.auth_refused {
            emf.count(vec![vec!["Source"]], "AuthRefused");
        }
        if self.forward_rejected {
            emf.count(vec![vec!["Source"], vec![]], "ForwardRejected");
        }
        emf.document(self.timestamp_ms)
    }
}

/// The EMF document counting one `SecretRefreshFailed` for `variable` (a variable's name, never
/// its value).
pub fn secret_refresh_failed(variable: &'static str, timestamp_ms: i64) -> String {
    let mut emf = Emf::new();
    emf.set("Variable", variable)
        .count(vec![vec!["Variable"], vec![]], "SecretRefreshFailed");
    emf.document(timestamp_ms)
}

/// The EMF document counting one record the journey worker refused for its sender.
pub fn refused_sender(timestamp_ms: i64) -> String {
    let mut emf = Emf::new();
    emf.count(vec![vec![]], "RefusedSender");
    emf.document(timestamp_ms)
}

/// The EMF document counting one record the journey worker refused as out of bounds.
pub fn refused_invalid(timestamp_ms: i64) -> String {
    let mut emf = Emf::new();
    emf.count(vec![vec![]], "RefusedInvalid");
    emf.document(timestamp_ms)
}

/// The EMF document of one sweeper run's counts for `source`.
pub fn sweep(source: &'static str, stalled: usize, reconciled: usize, timestamp_ms: i64) -> String {
    let mut emf = Emf::new();
    emf.set("Source", source).metrics(
        vec![vec!["Source"], vec![]],
        vec![
            ("StalledJourneys", "Count", stalled.into()),
            ("ReconciledJourneys", "Count", reconciled.into()),
        ],
    );
    emf.document(timestamp_ms)
}

/// One EMF document of counts without a dimension (a sweeper run as a whole: what it left and
/// why, whether it got through its due journeys).
pub fn counts(values: &[(&'static str, usize)], timestamp_ms: i64) -> String {
    let mut emf = Emf::new();
    emf.metrics(
        vec![vec![]],
        values
            .iter()
            .map(|(name, value)| (*name, "Count", (*value).into()))
            .collect(),
    );
    emf.document(timestamp_ms)
}

/// One EMF document: the values, the directives, and a `level` that Lambda's log-level filter
/// lets through at the function's configured level. The filter counts a JSON line without
/// `level` as INFO, so at WARN and above a document without one would be dropped and every
/// alarm built on it would go blind.
fn document(mut root: Map<String, Value>, directives: Vec<Directive>, timestamp_ms: i64) -> String {
    root.insert("level".into(), metrics_level().into());
    let metadata = Metadata {
        timestamp: timestamp_ms,
        cloudwatch_metrics: directives,
    };
    // A struct of numbers and strings always serializes.
    root.insert(
        "_aws".into(),
        serde_json::to_value(metadata).unwrap_or(Value::Null),
    );
    Value::Object(root).to_string()
}

/// Where EMF documents go.
pub trait MetricsSink: Send + Sync {
    fn emit(&self, document: &str);
}

/// The function's log stream: stdout, one line per document, written whole.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stdout;

impl MetricsSink for Stdout {
    fn emit(&self, document: &str) {
        // `println!` holds stdout's lock for the whole line, so documents never interleave with
        // log lines.
        println!("{document}");
    }
}

/// Nowhere: for benches of the pipeline alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl MetricsSink for Discard {
    fn emit(&self, _: &str) {}
}

/// Documents kept in memory, for tests.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
pub struct Captured(std::sync::Mutex<Vec<String>>);

#[cfg(any(test, feature = "test-util"))]
impl Captured {
    pub fn documents(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(any(test, feature = "test-util"))]
impl MetricsSink for Captured {
    fn emit(&self, document: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(document.to_owned());
    }
}

/// Check a document against the EMF specification's structure: `_aws.Timestamp` (epoch ms), a
/// `CloudWatchMetrics` array of directives each with `Namespace`, `Dimensions` (arrays of keys
/// present at the top level with string values) and `Metrics` (`Name`, optional `Unit`), every
/// metric's value at the top level as a number. Returns the metric values by name.
#[cfg(any(test, feature = "test-util"))]
pub fn check_emf(document: &str) -> Result<Map<String, Value>, String> {
    let root: Map<String, Value> =
        serde_json::from_str(document).map_err(|e| format!("not a JSON object: {e}"))?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws")?;
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0)
        .ok_or("_aws.Timestamp is not epoch ms")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
    let mut values = Map::new();
    for d in directives {
        d.get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("a directive without Namespace")?;
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("no Dimensions")?;
        for set in sets {
            let keys = set.as_array().ok_or("a dimension set is not an array")?;
            if keys.len() > 30 {
                return Err("more than 30 dimensions".into());
            }
            for k in keys {
                let k = k.as_str().ok_or("a dimension key is not a string")?;
                root.get(k).and_then(Value::as_str).ok_or(format!(
                    "dimension {k} has no string value at the top level"
                ))?;
            }
        }
        for m in d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("no Metrics")?
        {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric without Name")?;
            let value = root
                .get(name)
                .filter(|v| v.is_number())
                .ok_or(format!("metric {name} has no number at the top level"))?;
            values.insert(name.to_owned(), value.clone());
        }
    }
    Ok(values)
}

/// The `level` of the metric documents: the lowest level Lambda's log-level filter keeps at
/// `configured` (an `AWS_LAMBDA_LOG_LEVEL` value). `INFO` at `INFO` and below; the configured
/// level above it, so `WARN`, `ERROR` and `FATAL` keep every metric.
pub fn metrics_level_for(configured: &str) -> &'static str {
    match configured.trim().to_ascii_uppercase().as_str() {
        "WARN" => "WARN",
        "ERROR" => "ERROR",
        "FATAL" => "FATAL",
        _ => "INFO",
    }
}

/// `metrics_level_for` the process's `AWS_LAMBDA_LOG_LEVEL`, read once.
pub fn metrics_level() -> &'static str {
    static LEVEL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    LEVEL.get_or_init(|| {
        metrics_level_for(&std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_documents_carry_a_level_the_lambda_filter_keeps() {
        // Lambda's order; a line passes when its level is at or above the configured one.
        let order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let rank = |l: &str| order.iter().position(|o| *o == l).expect("a Lambda level");
        for configured in order {
            let level = metrics_level_for(configured);
            assert!(rank(level) >= rank(configured), "{configured}: {level}");
            assert!(rank(level) >= rank("INFO"), "never below INFO");
        }
        assert_eq!(metrics_level_for(""), "INFO");
        assert_eq!(metrics_level_for("warn"), "WARN");
    }

    fn base() -> RequestMetrics<'static> {
        RequestMetrics {
            source: "cashfree/vkyc",
            outcome: "accepted",
            forwarded: Some("kyc.vkyc.call_completed"),
            forward_rejected: false,
            auth_refused: false,
            archived: true,
            latency_ms: 3.5,
            provider_delay_ms: Some(1_200.0),
            timestamp_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn an_accepted_request_carries_every_metric_it_has() {
        let doc = base().to_emf();
        let values = check_emf(&doc).expect("valid EMF");
        let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "Archived",
                "Forwarded",
                "HandlerLatency",
                "ProviderDelay",
                "Webhooks"
            ]
        );
        let v: Value = serde_json::from_str(&doc).expect("json");
        assert_eq!(v["Type"], "kyc.vkyc.call_completed");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][1][0],
            "Outcome"
        );
    }

    #[test]
    fn a_refusal_has_no_forwarded_type_and_a_rejection_has_its_own_count() {
        let refused = RequestMetrics {
            outcome: "invalid_signature",
            forwarded: None,
            provider_delay_ms: None,
            auth_refused: true,
            archived: false,
            ..base()
        };
        let values = check_emf(&refused.to_emf()).expect("valid");
        assert_eq!(
            values.keys().collect::<Vec<_>>(),
            ["Webhooks", "HandlerLatency", "AuthRefused"]
        );
        assert!(!refused.to_emf().contains("\"Type\""));
        let rejected = RequestMetrics {
            outcome: "unavailable",
            forwarded: None,
            forward_rejected: true,
            ..base()
        };
        let values = check_emf(&rejected.to_emf()).expect("valid");
        assert_eq!(values["ForwardRejected"], 1);
    }

    #[test]
    fn values_print_short() {
        let m = RequestMetrics {
            latency_ms: 13.300_609_999_999_999,
            provider_delay_ms: Some(659_397_606_152.4),
            ..base()
        };
        let doc = m.to_emf();
        assert!(doc.contains(r#""HandlerLatency":13.301"#), "{doc}");
        assert!(doc.contains(r#""ProviderDelay":659397606152.0"#), "{doc}");
    }

    #[test]
    fn the_checker_catches_what_the_spec_forbids() {
        let bad = [
            r#"{"Webhooks":1}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Source"]],"Metrics":[{"Name":"Webhooks"}]}]},"Webhooks":1}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"Webhooks"}]}]},"Webhooks":"1"}"#,
        ];
        for doc in bad {
            assert!(check_emf(doc).is_err(), "{doc}");
        }
    }
}
