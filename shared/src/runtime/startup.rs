//! Start-up: what a function's `main` builds once per cold start. The configuration read and
//! validated (Secrets Manager included), the AWS clients, the pipeline or the journey worker on
//! them.

use crate::aws::{
    self, ArchiveKeyTable, DynamoDueJourneys, DynamoJourneys, KmsSigner, S3Archive, SnsStream,
    SqsSink,
};
use crate::config::{self, ConfigError};
use crate::intake::attest::Attestor;
use crate::intake::pipeline::Pipeline;
use crate::intake::settings::Common;
use crate::journeys::sweeper::{Sweeper, SweeperConfig};
use crate::journeys::worker::{JourneyWorker, WorkerConfig};
use crate::secrets::manager::{self, ManagedSecrets, Refresh};
use crate::sources::FunctionSpec;
use crate::sources::Source;
use lambda_idempotency::DynamoDbStore;
use std::sync::Arc;

pub type AwsPipeline = Pipeline<DynamoDbStore>;
pub type AwsJourneyWorker = JourneyWorker<DynamoDbStore, DynamoJourneys, Option<SnsStream>>;

/// A function's whole configuration: shared settings, its sources with their credentials, and,
/// when some secrets come from Secrets Manager, what refreshes them.
pub struct FunctionConfig {
    /// The function's name in the registry (`cashfree-webhook`).
    pub name: &'static str,
    pub common: Common,
    pub sources: Vec<Source>,
    pub secrets: Option<Arc<dyn Refresh>>,
}

/// Read and validate `function`'s configuration once. Secret settings named by `<X>_SECRET_ID`
/// are read from Secrets Manager (a client is built only then). The error names the variable,
/// never its value; `main` logs it and exits, so Lambda reports an init failure.
pub async fn configure(
    function: &'static FunctionSpec,
    env: &dyn config::Env,
    sdk: &aws_config::SdkConfig,
) -> Result<FunctionConfig, ConfigError> {
    configure_with_max_age(function, env, sdk, None).await
}

/// The settings among `secret_variables` that a `<X>_SECRET_ID` names, read from Secrets
/// Manager (a client is built only then); `Ok(None)` when none does. `plain` and `validate` are
/// what a refresh checks a new value with (`ManagedSecrets::load`).
async fn managed_secrets(
    env: &dyn config::Env,
    secret_variables: &[&'static str],
    plain: &[&str],
    validate: manager::Validate,
    sdk: &aws_config::SdkConfig,
) -> Result<Option<ManagedSecrets<aws_sdk_secretsmanager::Client>>, ConfigError> {
    let wanted = secret_variables
        .iter()
        .any(|v| env.get(&manager::id_variable(v)).is_some());
    if !wanted {
        return Ok(None);
    }
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    ManagedSecrets::load(env, secret_variables, plain, validate, client).await
}

/// `configure`, with values from Secrets Manager used for at most `max_age` instead of
/// `SECRETS_MAX_AGE_SECONDS` when given (tests).
pub async fn configure_with_max_age(
    function: &'static FunctionSpec,
    env: &dyn config::Env,
    sdk: &aws_config::SdkConfig,
    max_age: Option<std::time::Duration>,
) -> Result<FunctionConfig, ConfigError> {
    let plain: Vec<&str> = config::var::COMMON
        .iter()
        .chain(config::var::WEBHOOK)
        .copied()
        .chain(function.variables())
        .collect();
    let validate: manager::Validate = Box::new(move |env| function.config(env).map(|_| ()));
    let managed = managed_secrets(env, &function.secret_variables(), &plain, validate, sdk)
        .await?
        .map(|m| match max_age {
            Some(age) => m.with_max_age(age),
            None => m,
        });
    let (common, sources) = match &managed {
        Some(m) => function.config(&m.env(env))?,
        None => function.config(env)?,
    };
    Ok(FunctionConfig {
        name: function.name,
        common,
        sources,
        secrets: managed.map(|m| Arc::new(m) as Arc<dyn Refresh>),
    })
}

/// `configure` from the process environment.
pub async fn config_from_env(
    function: &'static FunctionSpec,
    sdk: &aws_config::SdkConfig,
) -> Result<FunctionConfig, ConfigError> {
    configure(function, &config::ProcessEnv, sdk).await
}

/// A webhook function's pipeline as its `main` starts it: the AWS configuration loaded once,
/// the function configured from the process environment (Secrets Manager included).
pub async fn webhook_pipeline(
    function: &'static FunctionSpec,
) -> Result<Arc<AwsPipeline>, ConfigError> {
    let sdk = aws::lambda_config();
    let config = config_from_env(function, &sdk).await?;
    let pipeline = pipeline_with(&sdk, config);
    pipeline.certify_archive_key().await;
    Ok(Arc::new(pipeline))
}

/// The one log line for bad configuration: the variable and why, never a value.
pub fn log_config_error(e: &ConfigError) {
    tracing::error!(variable = e.var, "{e}");
}

/// The pipeline on given SDK settings (the AWS clients are built once per cold start).
pub fn pipeline_with(sdk: &aws_config::SdkConfig, config: FunctionConfig) -> AwsPipeline {
    let FunctionConfig {
        name,
        common,
        sources,
        secrets,
    } = config;
    let pipeline = Pipeline::new(
        sources,
        DynamoDbStore::new(aws_sdk_dynamodb::Client::new(sdk), common.table),
        Arc::new(SqsSink::new(
            aws_sdk_sqs::Client::new(sdk),
            common.queue_url,
        )),
        common.settings,
    )
    .with_personal_data(common.personal_data);
    let pipeline = match secrets {
        Some(s) => pipeline.with_secrets(s),
        None => pipeline,
    };
    match (common.archive_bucket, common.archive_signing_key) {
        (Some(bucket), Some(signing_key)) => {
            let signer = KmsSigner::new(aws_sdk_kms::Client::new(sdk), signing_key);
            // The certificate names the function by its registry name, which readers check
            // against the source's function (not the deployed name, which the stack makes up).
            let pipeline = pipeline.with_archive(
                Arc::new(S3Archive::new(S3Archive::client(sdk), bucket)),
                Arc::new(Attestor::new(Arc::new(signer), name)),
            );
            match common.archive_keys {
                Some((table, kms_key)) => pipeline.with_sealing(Arc::new(
                    ArchiveKeyTable::new(sdk, table).generating_under(kms_key),
                )),
                None => pipeline,
            }
        }
        _ => pipeline,
    }
}

/// The journey worker on given SDK settings: its claims in the idempotency table, its state in
/// the journey table, one DynamoDB client for both (built once per cold start).
pub fn aws_journey_worker(sdk: &aws_config::SdkConfig, config: &WorkerConfig) -> AwsJourneyWorker {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let claims = DynamoDbStore::new(client.clone(), config.idempotency_table.clone());
    let journeys = DynamoJourneys::new(client, config.journey_table.clone(), claims.clone());
    let stream = match &config.stream_topic_arn {
        Some(topic) => {
            let stream = SnsStream::new(aws_sdk_sns::Client::new(sdk), topic);
            Some(match &config.events_queue_url {
                Some(queue) => stream.deferring(aws_sdk_sqs::Client::new(sdk), queue),
                None => stream,
            })
        }
        None => {
            tracing::info!(
                "JOURNEY_STREAM_TOPIC_ARN is not set: records are applied, not published"
            );
            None
        }
    };
    JourneyWorker::new(claims, journeys, config.ttl_secs)
        .with_stall_after(config.stall_after.clone())
        .with_senders(config.senders.clone())
        .with_stream(stream)
}

/// The sweeper on AWS: the journey table's due index, each configured provider's status API,
/// the events queue.
pub type AwsSweeper = Sweeper<DynamoDueJourneys, SqsSink>;

/// The journey sweeper as its `main` starts it, from `env` on `sdk`: its configuration read and
/// validated (the status APIs' secrets from Secrets Manager when `_SECRET_ID` names one), and
/// what keeps those secrets fresh.
pub async fn journey_sweeper(
    env: &dyn config::Env,
    sdk: &aws_config::SdkConfig,
) -> Result<(AwsSweeper, Option<Arc<dyn Refresh>>), ConfigError> {
    let validate: manager::Validate = Box::new(|env| SweeperConfig::from_env(env).map(|_| ()));
    let managed = managed_secrets(
        env,
        &crate::journeys::sweeper::secret_variables(),
        &crate::journeys::sweeper::variables(),
        validate,
        sdk,
    )
    .await?;
    let (config, refresh) = match managed {
        Some(m) => {
            let config = SweeperConfig::from_env(&m.env(env))?;
            (config, Some(Arc::new(m) as Arc<dyn Refresh>))
        }
        None => (SweeperConfig::from_env(env)?, None),
    };
    let sweeper = Sweeper::new(
        DynamoDueJourneys::new(aws_sdk_dynamodb::Client::new(sdk), config.journey_table),
        config.apis,
        SqsSink::new(aws_sdk_sqs::Client::new(sdk), config.queue_url),
    )
    .with_personal_data(config.personal_data);
    Ok((sweeper, refresh))
}

/// The `archive-replay` function as its `main` starts it, from `env` on `sdk`: the archive it
/// reads (`ARCHIVE_BUCKET`, `ARCHIVE_SIGNING_KEY_ID`, `ARCHIVE_KEYS_TABLE` when the archive is
/// erasable) and the events queue it sends replays to (`EVENTS_QUEUE_URL`).
pub fn archive_replay(
    env: &dyn config::Env,
    sdk: &aws_config::SdkConfig,
) -> Result<crate::replay::Replayer, ConfigError> {
    use crate::config::var;
    let queue_url = config::required(env, var::EVENTS_QUEUE_URL)?;
    let bucket = config::required(env, var::ARCHIVE_BUCKET)?;
    let signing_key = config::required(env, var::ARCHIVE_SIGNING_KEY_ID)?;
    let keys_table = env
        .get(var::ARCHIVE_KEYS_TABLE)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let reader = crate::aws::archive_reader::Reader::new(
        sdk,
        bucket,
        Some(signing_key),
        keys_table,
        crate::aws::archive_reader::Hints::default(),
    );
    Ok(crate::replay::Replayer {
        reader,
        sink: SqsSink::new(aws_sdk_sqs::Client::new(sdk), queue_url),
        limits: crate::replay::Limits::default(),
    })
}
