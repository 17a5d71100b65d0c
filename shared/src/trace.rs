//! One trace per webhook: the X-Ray trace header Lambda hands each invocation (active tracing),
//! carried with the event so that every hop links to the delivery's trace. A webhook function
//! sends it as the SQS system attribute `AWSTraceHeader` and in the event as the CloudEvents
//! distributed-tracing extension `traceparent` (W3C form, for consumers outside AWS); the journey
//! worker reads it from the record, keeps its trace id in the timeline and sets it on the stream's
//! publish (`X-Amzn-Trace-Id`). Every log line of an invocation carries `trace_id`.
//!
//! An X-Ray header: `Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`
//! (fields in any order, others ignored). A malformed one is ignored (a debug line), never a
//! failure.

/// The SQS system attribute that carries the header (and links the consumer's invocation).
pub const SQS_ATTRIBUTE: &str = "AWSTraceHeader";
/// The HTTP header X-Ray reads on an AWS call (SNS has no trace attribute).
pub const HTTP_HEADER: &str = "X-Amzn-Trace-Id";

/// A parsed X-Ray trace header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// `1-5759e988-bd862e3fe1be46a994272793`.
    root: String,
    /// 16 hex digits, when given.
    parent: Option<String>,
    /// Whether Lambda sampled it (`None`: not decided).
    sampled: Option<bool>,
}

fn hex_of_len(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TraceHeader {
    /// Parse an X-Ray header; `None` (and a debug line) when it is not one.
    pub fn parse(raw: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, None);
        for field in raw.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v.trim()),
                Some(("Parent", v)) => parent = Some(v.trim()),
                Some(("Sampled", v)) => sampled = Some(v.trim()),
                _ => {}
            }
        }
        let valid_root = root.filter(|r| {
            let mut parts = r.split('-');
            parts.next() == Some("1")
                && parts.next().is_some_and(|t| hex_of_len(t, 8))
                && parts.next().is_some_and(|id| hex_of_len(id, 24))
                && parts.next().is_none()
        });
        let Some(root) = valid_root else {
            tracing::debug!(
                bytes = raw.len(),
                "a trace header that is not X-Ray's: ignored"
            );
            return None;
        };
        Some(Self {
            root: root.to_ascii_lowercase(),
            parent: parent
                .filter(|p| hex_of_len(p, 16) && *p != "0000000000000000")
                .map(str::to_ascii_lowercase),
            sampled: match sampled {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            },
        })
    }

    /// A new trace, as Lambda starts one (locally, and for a replay): not sampled unless told.
    pub fn new_root(sampled: bool) -> Self {
        let mut random = [0u8; 20];
        // No randomness: a fixed id still links the hops; it is never a secret.
        let _ = getrandom::fill(&mut random);
        let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
        Self {
            root: format!("1-{seconds:08x}-{}", hex::encode(&random[..12])),
            parent: Some(hex::encode(&random[12..])),
            sampled: Some(sampled),
        }
    }

    /// The trace id: `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn trace_id(&self) -> &str {
        &self.root
    }

    /// Whether Lambda sampled it (a trace to link to exists in X-Ray).
    pub fn sampled(&self) -> bool {
        self.sampled == Some(true)
    }

    /// The header, as SQS's `AWSTraceHeader` and `X-Amzn-Trace-Id` carry it.
    pub fn header(&self) -> String {
        let mut out = format!("Root={}", self.root);
        if let Some(p) = &self.parent {
            out.push_str(";Parent=");
            out.push_str(p);
        }
        if let Some(s) = self.sampled {
            out.push_str(if s { ";Sampled=1" } else { ";Sampled=0" });
        }
        out
    }

    /// The W3C `traceparent`: `00-<the X-Ray id's 32 hex digits>-<parent>-<01 if sampled>`. A
    /// header without a parent gets one made from the trace id (W3C forbids an all-zero one).
    pub fn traceparent(&self) -> String {
        let digits: String = self.root.split('-').skip(1).collect();
        let parent = self
            .parent
            .clone()
            .unwrap_or_else(|| digits[digits.len() - 16..].to_owned());
        let flags = if self.sampled() { "01" } else { "00" };
        format!("00-{digits}-{parent}-{flags}")
    }

    /// The trace's page in the AWS console of `region`.
    pub fn console_url(trace_id: &str, region: &str) -> String {
        format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:traces/{trace_id}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xray_header_reads_and_becomes_a_traceparent() {
        let h = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .expect("valid");
        assert_eq!(h.trace_id(), "1-5759e988-bd862e3fe1be46a994272793");
        assert!(h.sampled());
        assert_eq!(
            h.traceparent(),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
        );
        assert_eq!(
            h.header(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        // Fields in another order, a field X-Ray adds, no parent, not sampled.
        let h =
            TraceHeader::parse("Sampled=0;Lineage=a:1;Root=1-5759e988-bd862e3fe1be46a994272793")
                .expect("valid");
        assert!(!h.sampled());
        assert_eq!(
            h.traceparent(),
            "00-5759e988bd862e3fe1be46a994272793-e1be46a994272793-00"
        );
    }

    #[test]
    fn a_malformed_header_is_none() {
        for raw in [
            "",
            "Root=",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-5759e988-bd862e3fe1be46a994272793-1",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        ] {
            assert_eq!(TraceHeader::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn a_new_root_is_a_valid_header() {
        let h = TraceHeader::new_root(false);
        assert_eq!(TraceHeader::parse(&h.header()), Some(h.clone()));
        assert!(!h.sampled());
    }
}
