//! Faults of a store (or of any AWS call): what kind, so a caller can tell throttling, timeouts,
//! permanent refusals and outages apart, and the source error's text for the log.

/// What kind of fault a call met: an operator acts differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The service asked us to slow down.
    Throttled,
    /// The call did not finish in its time budget (the SDK's, or what the invocation had left).
    Timeout,
    /// The service rejected the request as invalid: no retry can fix it.
    Rejected,
    /// What the call was conditioned on changed (another attempt took the claim over): a later
    /// retry is right.
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

/// A fault in a store or any other call: the operation, its kind and the source error's text.
/// Meant for logs; it never carries a record's payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({}): {detail}", .kind.as_str())]
pub struct Fault {
    /// e.g. `DynamoDB PutItem`.
    pub operation: &'static str,
    /// What kind of fault.
    pub kind: FaultKind,
    /// The source error's text (the SDK's error chain): never a record's payload.
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

    /// The call ran out of the time the invocation had left for it.
    pub fn out_of_time(operation: &'static str) -> Self {
        Self::new(
            operation,
            FaultKind::Timeout,
            "stopped so the protocol ends before the invocation's deadline",
        )
    }
}

#[cfg(feature = "dynamodb")]
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[cfg(feature = "dynamodb")]
/// Error codes by which AWS services ask the caller to slow down.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "SlowDown",
];
#[cfg(feature = "dynamodb")]
/// Error codes by which DynamoDB (and the other services of AWS's JSON protocol) refuse the
/// request itself: retrying cannot help.
const REFUSAL_CODES: &[&str] = &["ValidationException", "SerializationException"];

#[cfg(feature = "dynamodb")]
/// The `Fault` of an AWS SDK error (every service's SDK crate shares this `SdkError`): timeouts
/// and throttling are told apart from outages, and DynamoDB's refusals of the request itself are
/// `Rejected`; the detail is the SDK's whole error chain (the SDK never puts request bodies into
/// its errors). A caller of other services that refuse with codes of their own reads
/// `ProvideErrorMetadata::code` first and turns an `Unavailable` into a `Rejected` for those.
pub fn classify<E, R>(operation: &'static str, e: SdkError<E, R>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let kind = match &e {
        SdkError::TimeoutError(_) => FaultKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => FaultKind::Timeout,
        _ => match e.code() {
            Some(c) if THROTTLING_CODES.contains(&c) => FaultKind::Throttled,
            Some(c) if REFUSAL_CODES.contains(&c) => FaultKind::Rejected,
            _ => FaultKind::Unavailable,
        },
    };
    Fault::new(operation, kind, DisplayErrorContext(e).to_string())
}
