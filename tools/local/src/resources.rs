//! The idempotency table, the events queue, the archive bucket and the journey stream, created on
//! a local emulator the way the SAM template creates them in AWS (key `pk`, TTL on `expires_at`;
//! FIFO queue with a dead-letter queue; versioning and Object Lock with a default retention; an
//! SNS FIFO topic with FIFO queues subscribed, raw delivery; the archive signing key and the
//! archive key in KMS, and the archive keys table).

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use lambda_idempotency::DynamoDbStore;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An SDK error as one line: what was called, and the error's whole chain.
pub(crate) fn ctx<E: std::error::Error>(what: &str, e: E) -> BoxError {
    format!("{what}: {}", DisplayErrorContext(e)).into()
}

/// An SDK configuration for a local emulator: fixed region and dummy credentials.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(kyc_intake::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(crate::defaults::REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "kyc-local",
        ))
        .timeout_config(kyc_intake::aws::timeouts())
        .load()
        .await
}

/// The default retention of a local archive bucket (the template's is `ArchiveRetentionDays`).
pub const LOCAL_ARCHIVE_RETENTION_DAYS: i32 = 1;

/// Create the archive bucket if it does not exist: Object Lock (which turns versioning on) with a
/// default retention in GOVERNANCE mode, as the template does.
pub async fn ensure_bucket(sdk: &SdkConfig, bucket: &str) -> Result<(), BoxError> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, DefaultRetention,
        ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    };
    let s3 = kyc_intake::aws::S3Archive::client(sdk);
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(crate::defaults::REGION))
                .build(),
        )
        .send()
        .await
        .map_err(|e| ctx(&format!("CreateBucket {bucket}"), e))?;
    let retention = DefaultRetention::builder()
        .mode(ObjectLockRetentionMode::Governance)
        .days(LOCAL_ARCHIVE_RETENTION_DAYS)
        .build();
    s3.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(retention)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| ctx(&format!("PutObjectLockConfiguration {bucket}"), e))?;
    Ok(())
}

/// Create the idempotency table if it does not exist, with TTL on `expires_at`.
pub async fn ensure_table(sdk: &SdkConfig, table: &str) -> Result<(), BoxError> {
    ensure_keyed_table(sdk, table, DynamoDbStore::PARTITION_KEY, None).await?;
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(DynamoDbStore::TTL_ATTRIBUTE)
                .build()?,
        )
        .send()
        .await
        .map(|_| ())
        .or_else(|e| {
            // Already enabled is fine.
            let text = DisplayErrorContext(&e).to_string();
            if text.contains("already enabled") {
                Ok(())
            } else {
                Err(ctx("UpdateTimeToLive", e))
            }
        })
}

/// Create the journey table if it does not exist (key `pk`, no TTL: a journey's state is kept),
/// with the sparse index of open journeys by due time the sweeper queries, as the template does.
pub async fn ensure_journey_table(sdk: &SdkConfig, table: &str) -> Result<(), BoxError> {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    use kyc_intake::aws::journey_table::{attr as j, DUE_INDEX};
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    if ddb.describe_table().table_name(table).send().await.is_ok() {
        return Ok(());
    }
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let mut projection = Projection::builder().projection_type(ProjectionType::Include);
    for a in kyc_intake::aws::journey_table::DUE_PROJECTION {
        projection = projection.non_key_attributes(a);
    }
    ddb.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(
            DynamoDbStore::PARTITION_KEY,
            ScalarAttributeType::S,
        )?)
        .attribute_definitions(attribute(j::SWEEP_SHARD, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(j::DUE_AT, ScalarAttributeType::N)?)
        .key_schema(key(DynamoDbStore::PARTITION_KEY, KeyType::Hash)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(DUE_INDEX)
                .key_schema(key(j::SWEEP_SHARD, KeyType::Hash)?)
                .key_schema(key(j::DUE_AT, KeyType::Range)?)
                .projection(projection.build())
                .build()?,
        )
        .send()
        .await
        .map_err(|e| ctx("CreateTable", e))?;
    Ok(())
}

/// A pay-per-request table with the string partition key `pk` (and sort key `sk`), if absent.
async fn ensure_keyed_table(
    sdk: &SdkConfig,
    table: &str,
    pk: &str,
    sk: Option<&str>,
) -> Result<(), BoxError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    if ddb.describe_table().table_name(table).send().await.is_ok() {
        return Ok(());
    }
    let mut create = ddb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in [(Some(pk), KeyType::Hash), (sk, KeyType::Range)] {
        let Some(name) = name else { continue };
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()?,
            );
    }
    create.send().await.map_err(|e| ctx("CreateTable", e))?;
    Ok(())
}

/// Create the events queue (FIFO when the name ends in `.fifo`) with a dead-letter queue and
/// return its URL. Content-based deduplication is off: the event id is the deduplication id.
pub async fn ensure_queue(sdk: &SdkConfig, name: &str) -> Result<String, BoxError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let fifo = name.ends_with(".fifo");
    let dlq_name = if fifo {
        format!("{}-dlq.fifo", name.trim_end_matches(".fifo"))
    } else {
        format!("{name}-dlq")
    };
    let dlq_url = create_queue(&sqs, &dlq_name, fifo, None).await?;
    let dlq_arn = queue_arn(&sqs, &dlq_url).await?;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);
    create_queue(&sqs, name, fifo, Some(redrive)).await
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
    redrive: Option<String>,
) -> Result<String, BoxError> {
    // As in template.yaml: room for a MAX_BODY_BYTES body inside the CloudEvent envelope.
    let max = kyc_intake::intake::settings::QUEUE_MAX_MESSAGE_BYTES;
    create_queue_sized(sqs, name, fifo, redrive, max).await
}

async fn create_queue_sized(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
    redrive: Option<String>,
    max_bytes: usize,
) -> Result<String, BoxError> {
    let mut req = sqs.create_queue().queue_name(name).attributes(
        QueueAttributeName::MaximumMessageSize,
        max_bytes.to_string(),
    );
    if fifo {
        req = req
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
    }
    if let Some(r) = redrive {
        req = req.attributes(QueueAttributeName::RedrivePolicy, r);
    }
    let out = req.send().await.map_err(|e| ctx("CreateQueue", e))?;
    out.queue_url()
        .map(str::to_owned)
        .ok_or_else(|| "CreateQueue returned no URL".into())
}

/// The local archive signing key's alias, as `make run`, the tests and kycctl name it.
pub const LOCAL_SIGNING_KEY: &str = "alias/kyc-archive-signing";
/// The local archive key's alias: each delivery's data key is made under it (the template's
/// `ArchiveKey`, which also encrypts the bucket).
pub const LOCAL_ARCHIVE_KEY: &str = "alias/kyc-archive";

/// Create the archive signing key (KMS, ECC_NIST_P256, sign and verify, as the template's
/// `ArchiveSigningKey`) under `alias` if no key has it; its ARN.
pub async fn ensure_signing_key(sdk: &SdkConfig, alias: &str) -> Result<String, BoxError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    ensure_key(
        sdk,
        alias,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        "Certifies the archive keys of the local webhook functions",
    )
    .await
}

/// Create the archive key (KMS, symmetric, as the template's `ArchiveKey`) under `alias` if no
/// key has it; its ARN.
pub async fn ensure_archive_key(sdk: &SdkConfig, alias: &str) -> Result<String, BoxError> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    ensure_key(
        sdk,
        alias,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
        "Makes the data keys of the local archive's deliveries",
    )
    .await
}

async fn ensure_key(
    sdk: &SdkConfig,
    alias: &str,
    spec: aws_sdk_kms::types::KeySpec,
    usage: aws_sdk_kms::types::KeyUsageType,
    description: &str,
) -> Result<String, BoxError> {
    let kms = aws_sdk_kms::Client::new(sdk);
    let described = |kms: aws_sdk_kms::Client| async move {
        kms.describe_key()
            .key_id(alias)
            .send()
            .await
            .ok()
            .and_then(|d| {
                d.key_metadata()
                    .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
            })
    };
    if let Some(arn) = described(kms.clone()).await {
        return Ok(arn);
    }
    let created = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(description)
        .send()
        .await
        .map_err(|e| ctx("KMS CreateKey", e))?;
    let key_id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or("KMS CreateKey returned no key")?;
    // Another process may have named its own key meanwhile: the alias decides.
    let _ = kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await;
    described(kms)
        .await
        .ok_or_else(|| format!("KMS: no key has the alias {alias}").into())
}

/// Create the archive keys table if it does not exist: key `pk` (the journey hash) and `sk` (the
/// event id, or an erasure record's), as the template's `ArchiveKeysTable`.
pub async fn ensure_keys_table(sdk: &SdkConfig, table: &str) -> Result<(), BoxError> {
    use kyc_intake::aws::keys_attr as k;
    ensure_keyed_table(sdk, table, k::PK, Some(k::SK)).await
}

/// Create the journey stream's topic (SNS FIFO, deduplication by the worker's ids, throughput
/// per message group, as the template does) if it does not exist; its ARN.
pub async fn ensure_topic(sdk: &SdkConfig, name: &str) -> Result<String, BoxError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let out = sns
        .create_topic()
        .name(name)
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "false")
        .attributes("FifoThroughputScope", "MessageGroup")
        .send()
        .await
        .map_err(|e| ctx("CreateTopic", e))?;
    out.topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| "CreateTopic returned no ARN".into())
}

/// A consumer's queue on the journey stream, as the template's `ApplicationQueue`: FIFO with a
/// dead-letter queue, SNS's message size, subscribed to `topic_arn` with raw message delivery,
/// and filtered to `types` unless that is empty. Its URL.
pub async fn subscribe_queue(
    sdk: &SdkConfig,
    topic_arn: &str,
    name: &str,
    types: &[&str],
) -> Result<String, BoxError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let max = kyc_intake::journeys::stream::MAX_MESSAGE_BYTES;
    let dlq_url = create_queue_sized(
        &sqs,
        &format!("{}-dlq.fifo", name.trim_end_matches(".fifo")),
        true,
        None,
        max,
    )
    .await?;
    let redrive = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"5"}}"#,
        queue_arn(&sqs, &dlq_url).await?
    );
    let url = create_queue_sized(&sqs, name, true, Some(redrive), max).await?;
    let mut subscribe = aws_sdk_sns::Client::new(sdk)
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn(&sqs, &url).await?)
        .attributes("RawMessageDelivery", "true")
        .return_subscription_arn(true);
    if !types.is_empty() {
        subscribe = subscribe.attributes(
            "FilterPolicy",
            serde_json::json!({ "type": types }).to_string(),
        );
    }
    subscribe.send().await.map_err(|e| ctx("Subscribe", e))?;
    Ok(url)
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, BoxError> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| ctx("GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| format!("queue {url} has no ARN").into())
}

/// One message read from the queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub message_id: String,
    pub attributes: Vec<(String, String)>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    /// The system attribute `AWSTraceHeader`: the sender's X-Ray trace header.
    pub trace_header: Option<String>,
}

/// Read (and delete) every message currently on the queue.
pub async fn drain(sdk: &SdkConfig, queue_url: &str) -> Result<Vec<Received>, BoxError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| ctx("ReceiveMessage", e))?;
        let batch = out.messages();
        if batch.is_empty() {
            return Ok(all);
        }
        for m in batch {
            let system = m.attributes();
            let sys = |k: aws_sdk_sqs::types::MessageSystemAttributeName| {
                system.and_then(|a| a.get(&k).cloned())
            };
            let mut attributes: Vec<(String, String)> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            attributes.sort();
            all.push(Received {
                body: m.body().unwrap_or_default().to_owned(),
                message_id: m.message_id().unwrap_or_default().to_owned(),
                attributes,
                group_id: sys(aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId),
                deduplication_id: sys(
                    aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId,
                ),
                trace_header: sys(aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader),
            });
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| ctx("DeleteMessage", e))?;
            }
        }
    }
}
