//! The fault every port of this library reports (DynamoDB, SQS, S3, KMS, SNS, Secrets Manager):
//! what kind, so the log tells throttling, timeouts, permanent refusals and outages apart the same
//! way everywhere, and the source error's text. The library's own type: a fault of the
//! idempotency crate's store becomes one through `From`.

/// What kind of fault a call met: an operator acts differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The service asked us to slow down.
    Throttled,
    /// The call did not finish in its time budget.
    Timeout,
    /// The service refused the request itself: no retry can fix it.
    Rejected,
    /// What the call was conditioned on changed: a later retry is right.
    Conflict,
    /// Anything else: connection failures, 5xx, unknown errors.
    Unavailable,
}

impl FaultKind {
    /// Its name in logs and metrics: `throttled`, `timeout`, `rejected`, `conflict`, `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A fault of a port: the operation, its kind and the source error's text (never a payload).
/// The webhook answers it 503, so the provider retries; it never reaches a response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({}): {detail}", .kind.as_str())]
pub struct Fault {
    /// e.g. `DynamoDB PutItem`.
    pub operation: &'static str,
    /// What kind of fault.
    pub kind: FaultKind,
    /// The source error's text (the SDK's error chain): never a payload.
    pub detail: String,
}

impl Fault {
    /// A fault of `operation`.
    pub fn new(operation: &'static str, kind: FaultKind, detail: impl Into<String>) -> Self {
        Self {
            operation,
            kind,
            detail: detail.into(),
        }
    }
}

impl From<lambda_idempotency::Fault> for Fault {
    fn from(e: lambda_idempotency::Fault) -> Self {
        use lambda_idempotency::FaultKind as Theirs;
        let kind = match e.kind {
            Theirs::Throttled => FaultKind::Throttled,
            Theirs::Timeout => FaultKind::Timeout,
            Theirs::Rejected => FaultKind::Rejected,
            Theirs::Conflict => FaultKind::Conflict,
            // The crate's kinds are non-exhaustive: one it adds later is an outage here until
            // this library learns it.
            _ => FaultKind::Unavailable,
        };
        Self::new(e.operation, kind, e.detail)
    }
}

/// One error line for a port fault: the operation, the kind, the source error (never a payload).
pub fn log_fault(e: &Fault, what: &str) {
    tracing::error!(
        operation = e.operation,
        fault = e.kind.as_str(),
        error = %e,
        "{what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_of_the_idempotency_store_keeps_its_operation_kind_and_detail() {
        for (theirs, ours) in [
            (
                lambda_idempotency::FaultKind::Throttled,
                FaultKind::Throttled,
            ),
            (lambda_idempotency::FaultKind::Timeout, FaultKind::Timeout),
            (lambda_idempotency::FaultKind::Rejected, FaultKind::Rejected),
            (lambda_idempotency::FaultKind::Conflict, FaultKind::Conflict),
            (
                lambda_idempotency::FaultKind::Unavailable,
                FaultKind::Unavailable,
            ),
        ] {
            let fault = Fault::from(lambda_idempotency::Fault::new(
                "DynamoDB PutItem",
                theirs,
                "x",
            ));
            assert_eq!(fault, Fault::new("DynamoDB PutItem", ours, "x"));
            assert_eq!(fault.kind.as_str(), theirs.as_str());
        }
    }
}
