//! One classifier of AWS SDK errors for every adapter here: the idempotency crate's (timeouts,
//! throttling, DynamoDB's refusals), with the codes by which the other services this library
//! calls refuse a request itself.

use crate::fault::{Fault, FaultKind};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Codes by which SQS, S3, SNS, KMS or Secrets Manager refuse a request itself: no retry can fix
/// it (a message SQS will not take, a malformed parameter). DynamoDB's are the crate's.
const REFUSAL_CODES: &[&str] = &[
    "InvalidMessageContents",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidRequestException",
    "MessageTooLong",
    "InvalidAttributeValue",
    "InvalidAttributeName",
    "InvalidArgument",
];

/// The port fault of any AWS SDK error of the services this library calls: throttling, timeouts
/// and refusals told apart from outages, the SDK's error chain (never a request body) as detail.
pub fn fault<E, R>(operation: &'static str, e: SdkError<E, R>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let refused = e.code().is_some_and(|c| REFUSAL_CODES.contains(&c));
    let mut fault = Fault::from(lambda_idempotency::classify(operation, e));
    if refused && fault.kind == FaultKind::Unavailable {
        fault.kind = FaultKind::Rejected;
    }
    fault
}
