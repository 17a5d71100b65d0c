//! The AWS side: the SDK's configuration (one HTTPS client, timeouts), the IAM actions each adapter
//! calls (the template's drift test holds the roles to them), the SQS event sink (`sqs`) and the
//! journey table (`journeys`). The idempotency records are the `lambda-idempotency` crate's
//! `DynamoDbStore`.

use std::time::Duration;

pub mod archive_reader;
mod due;
mod fault;
mod item;
pub mod journey_table;
mod journeys;
mod keys;
mod kms;
mod reader;
mod s3;
mod secrets;
mod sns;
mod sqs;

pub use due::DynamoDueJourneys;
pub use fault::fault;
pub use journeys::DynamoJourneys;
pub use keys::{attr as keys_attr, ArchiveKeyTable, Erased, Erasure, Found};
pub use kms::{trust, KmsSigner};
pub use reader::{JourneyReader, JourneyView};
pub use s3::S3Archive;
pub use sns::SnsStream;
pub use sqs::SqsSink;

/// The DynamoDB item actions `DynamoJourneys` calls on the journey table: a consistent read of
/// the journey, then its write in a transaction (made of `UpdateItem`s, which is what IAM checks).
pub const JOURNEY_TABLE_ACTIONS: &[&str] = &["dynamodb:GetItem", "dynamodb:UpdateItem"];
/// What the sweeper calls on the journey table's due index (a query: never a scan).
pub const SWEEPER_TABLE_ACTIONS: &[&str] = &["dynamodb:Query"];
/// The S3 action `S3Archive` calls, on its own sources' prefixes only.
pub const ARCHIVE_ACTIONS: &[&str] = &["s3:PutObject"];
/// The KMS action `KmsSigner` calls, on the archive signing key (granted by the key's policy).
pub const SIGNING_ACTIONS: &[&str] = &["kms:Sign"];
/// What a webhook function calls to seal a delivery under its own data key (`ArchiveKeyTable`):
/// the key kept in the archive keys table, the data key made under the archive key.
pub use keys::{
    DATA_KEY_ACTIONS, JOURNEY_ERASURE_ATTRIBUTES, KEEP_ACTIONS as ARCHIVE_KEYS_ACTIONS,
    KEPT_ATTRIBUTES, OPERATOR_ACTIONS as OPERATOR_KEYS_ACTIONS,
};
/// The SQS action `SqsSink` calls.
pub const SQS_ACTIONS: &[&str] = &["sqs:SendMessage"];
/// What the journey worker's event source mapping needs on the queue it consumes, and the
/// worker itself to defer a record whose publish failed (`SnsStream`).
pub const WORKER_SQS_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
];
/// The SNS action `SnsStream` calls, on the journey stream's topic only.
pub const STREAM_ACTIONS: &[&str] = &["sns:Publish"];

/// Load the AWS configuration once per cold start. `AWS_ENDPOINT_URL` points it at a local
/// emulator. Timeouts keep a slow dependency from eating the whole invocation.
pub async fn load_config() -> aws_config::SdkConfig {
    load_config_for(None).await
}

/// [`load_config`] with a named profile of the shared AWS config files (`kycctl console
/// --profile`) instead of the environment's.
pub async fn load_config_for(profile: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader
        .http_client(https_client())
        .timeout_config(timeouts())
        // Stalled-stream protection watches every body's throughput with its own timer; the
        // bodies here are small and every call already has a deadline (`timeouts`, and the
        // pipeline's budget), so it only costs CPU.
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
        )
        .load()
        .await
}

/// The AWS configuration of a function on Lambda, from what Lambda puts in its environment: the
/// region (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, or, where Lambda serves them from a local
/// endpoint instead, `AWS_CONTAINER_CREDENTIALS_FULL_URI` with its authorization token), and
/// `AWS_ENDPOINT_URL` when set (a local server). Unlike [`load_config`] it reads no profile,
/// instance metadata or web identity token, so a function's bootstrap links none of their clients
/// (STS among them). The tools, which run on an operator's machine, use [`load_config`].
pub fn lambda_config() -> aws_config::SdkConfig {
    use aws_config::ecs::EcsCredentialsProvider;
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_config::meta::credentials::CredentialsProviderChain;
    use aws_config::provider_config::ProviderConfig;
    use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider};
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    // One client for the credentials endpoint and every SDK call: the platform's certificates are
    // read once per cold start.
    let http = https_client();
    let container = EcsCredentialsProvider::builder()
        .configure(&ProviderConfig::without_region().with_http_client(http.clone()))
        .build();
    let credentials = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("Container", container);
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(region.map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http)
        .timeout_config(timeouts())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .stalled_stream_protection(
            aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
        );
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.service_config(EnvServiceConfig).build()
}

/// The SDK's standard per-service settings from the environment alone (no profile): a service's
/// own variable first (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`,
/// ..., the service id in upper case with spaces as `_`), then the shared one
/// (`AWS_ENDPOINT_URL`), as `aws_config`'s own loader reads them.
#[derive(Debug)]
struct EnvServiceConfig;

impl aws_types::service_config::LoadServiceConfig for EnvServiceConfig {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        [format!("{}_{service}", key.env()), key.env().to_owned()]
            .iter()
            .find_map(|name| std::env::var(name).ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// The HTTPS client every SDK client shares: rustls with ring's cryptography, the platform's root
/// certificates.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The longest one AWS call may take, retries included. The function timeout leaves room for the
/// three calls of a new event at this length; the pipeline also cuts each call short to what the
/// invocation has left.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

/// Connect 2 s, attempt 3 s, whole operation (with retries) `OPERATION_TIMEOUT`.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}
