//! One classifier of AWS SDK errors for every adapter here: the port fault of an error of any of
//! the services this library calls.

use crate::ports::{FaultKind, PortError};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Codes by which DynamoDB, SQS, S3 or Secrets Manager refuse a request itself: no retry can fix
/// it (a message SQS will not take, a malformed parameter).
const REFUSAL_CODES: &[&str] = &[
    "ValidationException",
    "SerializationException",
    "InvalidMessageContents",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidRequestException",
    "MessageTooLong",
    "InvalidAttributeValue",
    "InvalidAttributeName",
    "InvalidArgument",
];

/// Codes by which any AWS service asks the caller to slow down.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
    "SlowDown",
    "KMS.ThrottlingException",
];

/// The port fault of any AWS SDK error of the services this library calls: throttling, timeouts
/// and refusals told apart from outages, the SDK's error chain (never a request body) as detail.
pub fn fault<E, R>(operation: &'static str, e: SdkError<E, R>) -> PortError
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
    PortError::new(operation, kind, DisplayErrorContext(e).to_string())
}
