//! One classifier of AWS SDK errors for every adapter here: the port fault of an error of any of
//! the services this library calls.

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

/// The port fault of any AWS SDK error of the services this library calls: throttling, timeouts
/// and refusals told apart from outages, the SDK's error chain (never a request body) as detail.
pub fn fault<E, R>(
    operation: &'static str,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> lambda_idempotency::Fault
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    lambda_idempotency::classify_with(operation, e, REFUSAL_CODES)
}
