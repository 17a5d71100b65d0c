//! A stack of the test's own on the local server, and the functions deployed on it.

use crate::server::free_port;
use crate::*;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use kyc_intake::aws::{S3Archive, SqsSink};
use kyc_intake::journeys::worker::WorkerConfig;
use kyc_intake::runtime::startup::{self, AwsJourneyWorker, AwsPipeline};
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_intake::sources::FunctionSpec;
use kyc_intake::sources::{cashfree, hyperverge};
use kyc_intake::Pipeline;
use kyc_local::resources::{self, Received};
use lambda_idempotency::DynamoDbStore;
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

/// A table, a queue and an archive bucket of the test's own on the local server.
pub struct Stack {
    pub sdk: SdkConfig,
    pub table: String,
    pub queue_url: String,
    pub bucket: String,
    /// The archive keys table: each delivery's data key (erasure).
    pub keys_table: String,
    pub ddb: aws_sdk_dynamodb::Client,
    /// The `archive-replay` function's Invoke API, once started (`replay_endpoint`).
    replay: std::sync::OnceLock<String>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Stack {
    pub async fn new(fifo: bool) -> Self {
        captured_logs();
        let sdk = local_sdk_config(endpoint()).await;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", std::process::id());
        let table = format!("idem-{id}");
        let queue = if fifo {
            format!("events-{id}.fifo")
        } else {
            format!("events-{id}")
        };
        resources::ensure_table(&sdk, &table).await.expect("table");
        let queue_url = resources::ensure_queue(&sdk, &queue).await.expect("queue");
        let bucket = format!("archive-{id}");
        resources::ensure_bucket(&sdk, &bucket)
            .await
            .expect("bucket");
        resources::ensure_signing_key(&sdk, resources::LOCAL_SIGNING_KEY)
            .await
            .expect("signing key");
        let keys_table = format!("archive-keys-{id}");
        resources::ensure_keys_table(&sdk, &keys_table)
            .await
            .expect("keys table");
        resources::ensure_archive_key(&sdk, resources::LOCAL_ARCHIVE_KEY)
            .await
            .expect("archive key");
        Self {
            bucket,
            keys_table,
            ddb: aws_sdk_dynamodb::Client::new(&sdk),
            sdk,
            table,
            queue_url,
            replay: std::sync::OnceLock::new(),
        }
    }

    /// The `archive-replay` function on this stack, behind kyc-local's Lambda Invoke API on a
    /// loopback port of its own thread (so a test may wait on a kycctl that invokes it): the
    /// base URL, for `AWS_ENDPOINT_URL_LAMBDA`. Started on first use.
    pub fn replay_endpoint(&self) -> String {
        self.replay
            .get_or_init(|| {
                let env = self.env_vars(&[]);
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async move {
                        let sdk = local_sdk_config(endpoint()).await;
                        let replayer =
                            startup::archive_replay(&move |k: &str| env.get(k).cloned(), &sdk)
                                .expect("the replay function's configuration");
                        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                            .await
                            .expect("a loopback port");
                        let base = format!("http://{}", listener.local_addr().expect("addr"));
                        tx.send(base).expect("the test waits");
                        let functions = kyc_local::gateway::Functions {
                            replay: Some(replayer),
                            ..Default::default()
                        };
                        let _ = kyc_local::gateway::serve(listener, std::sync::Arc::new(functions))
                            .await;
                    });
                });
                rx.recv().expect("the replay function's address")
            })
            .clone()
    }

    /// What kycctl needs to invoke this stack's `archive-replay` function.
    pub fn replay_env(&self) -> [(&'static str, String); 2] {
        [
            ("AWS_ENDPOINT_URL_LAMBDA", self.replay_endpoint()),
            (
                "REPLAY_FUNCTION",
                kyc_intake::sources::registry::ARCHIVE_REPLAY.to_owned(),
            ),
        ]
    }

    /// A journey table of this stack's own, and the journey worker on it (its claims in this
    /// stack's idempotency table), on the SDK settings `sdk` (the local server's, or a dead one).
    pub async fn journey_worker(&self, sdk: &SdkConfig) -> (String, AwsJourneyWorker) {
        self.journey_worker_with_senders(sdk, None).await
    }

    /// `journey_worker`, checking each record's sender against `senders` (`JOURNEY_SENDERS`).
    pub async fn journey_worker_with_senders(
        &self,
        sdk: &SdkConfig,
        senders: Option<kyc_intake::journeys::senders::Senders>,
    ) -> (String, AwsJourneyWorker) {
        self.worker(sdk, senders, None).await
    }

    /// This stack's journey stream (an SNS FIFO topic) and the journey worker publishing to it,
    /// on the SDK settings `sdk`; the topic's ARN.
    pub async fn journey_worker_with_stream(
        &self,
        sdk: &SdkConfig,
        senders: Option<kyc_intake::journeys::senders::Senders>,
    ) -> (String, AwsJourneyWorker, String) {
        let topic = resources::ensure_topic(&self.sdk, &format!("{}-stream.fifo", self.table))
            .await
            .expect("topic");
        let (table, worker) = self.worker(sdk, senders, Some(topic.clone())).await;
        (table, worker, topic)
    }

    async fn worker(
        &self,
        sdk: &SdkConfig,
        senders: Option<kyc_intake::journeys::senders::Senders>,
        stream_topic_arn: Option<String>,
    ) -> (String, AwsJourneyWorker) {
        let table = format!("{}-journeys", self.table);
        resources::ensure_journey_table(&self.sdk, &table)
            .await
            .expect("journey table");
        let config = WorkerConfig {
            journey_table: table.clone(),
            idempotency_table: self.table.clone(),
            ttl_secs: 3_600,
            stall_after: kyc_intake::journeys::completeness::StallAfter::defaults(),
            senders,
            stream_topic_arn,
            events_queue_url: Some(self.queue_url.clone()),
        };
        (table, startup::aws_journey_worker(sdk, &config))
    }

    /// Make the events queue return a received message after `secs` (the local default is 30).
    pub async fn set_visibility_timeout(&self, secs: u32) {
        aws_sdk_sqs::Client::new(&self.sdk)
            .set_queue_attributes()
            .queue_url(&self.queue_url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                secs.to_string(),
            )
            .send()
            .await
            .expect("SetQueueAttributes");
    }

    /// A journey item as DynamoDB holds it (a consistent read).
    pub async fn journey_item(
        &self,
        table: &str,
        pk: &str,
    ) -> Option<HashMap<String, AttributeValue>> {
        self.ddb
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item()
            .cloned()
    }

    /// A journey item, as attribute name → text (numbers as their digits).
    pub async fn journey(&self, table: &str, pk: &str) -> Option<HashMap<String, String>> {
        self.journey_item(table, pk).await.map(|item| {
            item.iter()
                .map(|(k, v)| {
                    let text = v.as_s().or_else(|_| v.as_n()).cloned().unwrap_or_default();
                    (k.clone(), text)
                })
                .collect()
        })
    }

    /// Every item of a table.
    pub async fn scan(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        self.ddb
            .scan()
            .table_name(table)
            .send()
            .await
            .expect("scan")
            .items()
            .to_vec()
    }

    /// The functions' environment for this stack (the registry's local values, this stack's
    /// table, queue and bucket), plus `extra` (which wins).
    pub fn env_vars(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = registry::local_env(FUNCTIONS)
            .into_iter()
            .chain([
                ("IDEMPOTENCY_TABLE", self.table.as_str()),
                ("EVENTS_QUEUE_URL", self.queue_url.as_str()),
                ("ARCHIVE_BUCKET", self.bucket.as_str()),
                ("ARCHIVE_SIGNING_KEY_ID", resources::LOCAL_SIGNING_KEY),
                ("ARCHIVE_KEYS_TABLE", self.keys_table.as_str()),
                ("ARCHIVE_KMS_KEY_ID", resources::LOCAL_ARCHIVE_KEY),
            ])
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (k, v) in extra {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        map
    }

    /// The same, as the functions' configuration reads it.
    pub fn env(&self, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map = self.env_vars(extra);
        move |k: &str| map.get(k).cloned()
    }

    /// A function's real handler on its own SDK clients, as a separate Lambda would have, with
    /// its configuration read as at start-up (Secrets Manager included).
    pub async fn function(
        &self,
        function: &'static FunctionSpec,
        extra: &[(&str, &str)],
    ) -> AwsPipeline {
        let sdk = local_sdk_config(endpoint()).await;
        let config = startup::configure(function, &self.env(extra), &sdk)
            .await
            .expect("valid config");
        startup::pipeline_with(&sdk, config)
    }

    pub async fn cashfree(&self, extra: &[(&str, &str)]) -> AwsPipeline {
        self.function(&cashfree::FUNCTION, extra).await
    }

    pub async fn hyperverge(&self, extra: &[(&str, &str)]) -> AwsPipeline {
        self.function(&hyperverge::FUNCTION, extra).await
    }

    /// `functions` behind the local gateway on a loopback port, configured from this stack's
    /// environment plus `extra`; the gateway's base URL.
    pub async fn gateway(
        &self,
        functions: &[&'static FunctionSpec],
        extra: &[(&str, &str)],
    ) -> String {
        let sdk = local_sdk_config(endpoint()).await;
        let env = self.env(extra);
        let mut served = kyc_local::gateway::Functions::default();
        for f in functions {
            let config = startup::configure(f, &env, &sdk)
                .await
                .expect("valid config");
            served
                .webhooks
                .push((*f, startup::pipeline_with(&sdk, config)));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(kyc_local::gateway::serve(
            listener,
            std::sync::Arc::new(served),
        ));
        base
    }

    /// Every function of the registry, deployed on this stack with `extra` settings.
    pub async fn deploy(&self, extra: &[(&str, &str)]) -> Deployed {
        let mut functions = Vec::new();
        for f in FUNCTIONS {
            functions.push((*f, self.function(f, extra).await));
        }
        Deployed(functions)
    }

    /// The Cashfree handler with SQS (or DynamoDB) at an address where nothing listens.
    pub async fn cashfree_with_dead(&self, dead: Dead) -> AwsPipeline {
        let down = format!("http://127.0.0.1:{}", free_port());
        self.cashfree_with_faulty(dead, &down).await
    }

    /// The Cashfree handler with SQS (or DynamoDB) at an address that accepts connections and
    /// never answers.
    pub async fn cashfree_with_hanging(&self, dead: Dead) -> AwsPipeline {
        self.cashfree_with_faulty(dead, hanging_endpoint()).await
    }

    async fn cashfree_with_faulty(&self, dead: Dead, faulty: &str) -> AwsPipeline {
        let (common, sources) = cashfree::FUNCTION
            .config(&self.env(&[]))
            .expect("valid config");
        let good = local_sdk_config(endpoint()).await;
        let down = local_sdk_config(faulty).await;
        let (ddb_sdk, sqs_sdk, s3_sdk) = match dead {
            Dead::Sqs => (&good, &down, &good),
            Dead::DynamoDb => (&down, &good, &good),
            Dead::S3 => (&good, &good, &down),
        };
        let archive = S3Archive::new(
            S3Archive::client(s3_sdk),
            common.archive_bucket.expect("the stack's bucket"),
        );
        Pipeline::new(
            sources,
            DynamoDbStore::new(aws_sdk_dynamodb::Client::new(ddb_sdk), common.table),
            Arc::new(SqsSink::new(
                aws_sdk_sqs::Client::new(sqs_sdk),
                common.queue_url,
            )),
            common.settings,
        )
        .with_archive(
            Arc::new(archive),
            self.attestor(resources::LOCAL_SIGNING_KEY),
        )
    }

    /// What attests archived deliveries as a webhook function does, certified by the local
    /// server's KMS key `signing_key` (an alias), as `cashfree-webhook`.
    pub fn attestor(&self, signing_key: &str) -> Arc<kyc_intake::intake::attest::Attestor> {
        Arc::new(kyc_intake::intake::attest::Attestor::new(
            Arc::new(kyc_intake::aws::KmsSigner::new(
                aws_sdk_kms::Client::new(&self.sdk),
                signing_key,
            )),
            "cashfree-webhook",
        ))
    }

    /// The archived object at `key`, byte for byte.
    pub async fn object(&self, key: &str) -> Vec<u8> {
        S3Archive::client(&self.sdk)
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("GetObject")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec()
    }

    /// Every object in the archive bucket: key → its JSON.
    pub async fn archived(&self) -> std::collections::BTreeMap<String, Value> {
        let s3 = S3Archive::client(&self.sdk);
        let listed = s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("ListObjectsV2");
        let mut out = std::collections::BTreeMap::new();
        for object in listed.contents() {
            let key = object.key().unwrap_or_default().to_owned();
            let body = self.object(&key).await;
            out.insert(key, serde_json::from_slice(&body).expect("JSON"));
        }
        out
    }

    /// Every object in the archive bucket opened as the operator reads it: a sealed one's body
    /// and event unsealed with its data key from the archive keys table.
    pub async fn opened(&self) -> std::collections::BTreeMap<String, Value> {
        let keys = kyc_intake::aws::ArchiveKeyTable::new(&self.sdk, &self.keys_table);
        let mut out = std::collections::BTreeMap::new();
        for (key, object) in self.archived().await {
            let mut delivery: kyc_intake::intake::archive::ArchivedDelivery =
                serde_json::from_value(object).expect("an archived delivery");
            let (Some(journey), Some(_)) = (delivery.journey.clone(), &delivery.sealed) else {
                out.insert(key, serde_json::to_value(&delivery).expect("JSON"));
                continue;
            };
            keys.open(&key, &mut delivery).await;
            assert_eq!(delivery.journey.as_deref(), Some(journey.as_str()));
            assert!(
                delivery.sealed.is_none(),
                "{key}: not opened ({:?}, erased {:?})",
                delivery.unopened,
                delivery.erased
            );
            out.insert(key, serde_json::to_value(&delivery).expect("JSON"));
        }
        out
    }

    /// Every item in the idempotency table.
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.scan(&self.table).await
    }

    pub async fn put_item(&self, item: HashMap<String, AttributeValue>) {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }

    /// Every message on the queue (read and deleted).
    pub async fn messages(&self) -> Vec<Received> {
        resources::drain(&self.sdk, &self.queue_url)
            .await
            .expect("drain")
    }
}

/// The registry's functions, deployed: route a request to the one serving its path.
pub struct Deployed(Vec<(&'static FunctionSpec, AwsPipeline)>);

impl Deployed {
    /// The handler of the function serving `path`, if any.
    pub fn serving(&self, path: &str) -> Option<&AwsPipeline> {
        let specs: Vec<&FunctionSpec> = self.0.iter().map(|(f, _)| *f).collect();
        let (function, _) = registry::serving(&specs, path)?;
        self.0
            .iter()
            .find(|(f, _)| f.name == function.name)
            .map(|(_, p)| p)
    }

    /// The handler of the function serving `path`; panics when none does (a test bug).
    pub fn for_path(&self, path: &str) -> &AwsPipeline {
        self.serving(path)
            .unwrap_or_else(|| panic!("no function serves {path}"))
    }

    /// Run a request through the real handler of the function serving its path.
    pub async fn call(&self, request: lambda_http::Request) -> Reply {
        use lambda_http::RequestExt;
        let path = request.raw_http_path().to_owned();
        call(self.for_path(&path), request).await
    }
}

/// SDK settings for an address where nothing listens (a service that is down).
pub async fn dead_sdk_config() -> SdkConfig {
    local_sdk_config(&format!("http://127.0.0.1:{}", free_port())).await
}

/// A loopback address that accepts TCP connections and never answers on them.
pub fn hanging_endpoint() -> &'static str {
    static HANGING: OnceLock<String> = OnceLock::new();
    HANGING.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        format!("http://127.0.0.1:{port}")
    })
}

#[derive(Debug, Clone, Copy)]
pub enum Dead {
    Sqs,
    DynamoDb,
    S3,
}

pub fn s(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

pub fn n(item: &HashMap<String, AttributeValue>, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

impl Stack {
    /// The journey worker applies everything on this stack's queue: polled until a poll gives
    /// nothing, every record expected to succeed.
    pub async fn apply_queue(&self, worker: &AwsJourneyWorker) {
        let source = kyc_local::event_source::EventSource::new(&self.sdk, &self.queue_url)
            .await
            .expect("event source");
        loop {
            let polled = source.poll(worker, 0, 20_000).await.expect("poll");
            if polled.received.is_empty() {
                return;
            }
            assert!(polled.failed.is_empty(), "{polled:?}");
        }
    }
}
