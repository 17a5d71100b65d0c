//! `kyc-local serve`'s steps, in the order it takes them: the local resources (the idempotency
//! table, the events queue, the archive), the journey worker and sweeper, the webhook functions
//! and `archive-replay`, then the gateway on its address.

use crate::commands::pause_mark;
use crate::{
    env_or, journey_stream, local_var, queue_url, sdk, secrets_in_secrets_manager, Serve,
    SWEEP_INTERVAL, WORKER_IDLE,
};
use kyc_intake::config;
use kyc_intake::journeys::worker::{self, WorkerConfig};
use kyc_intake::metrics::MetricsSink;
use kyc_intake::runtime::startup;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_local::event_source::EventSource;
use kyc_local::gateway::{self, Functions};
use kyc_local::resources::{self, BoxError};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) async fn run(options: &Serve) -> Result<(), BoxError> {
    let listen = options.listen.as_str();
    // EMF documents only with --metrics, from the worker and the sweeper as from the functions.
    let metrics: Arc<dyn MetricsSink> = if options.metrics {
        Arc::new(kyc_intake::metrics::Stdout)
    } else {
        Arc::new(kyc_intake::metrics::Discard)
    };
    let sdk = sdk().await;
    let table = env_or(config::var::IDEMPOTENCY_TABLE, kyc_local::defaults::TABLE);
    resources::ensure_table(&sdk, &table).await?;
    let queue = events_queue(&sdk).await?;
    archive(&sdk).await?;
    if options.worker {
        journey_worker(&sdk, &queue, &metrics).await?;
    }
    let mut functions = webhook_functions(&sdk, options).await?;
    if std::env::var(config::var::ARCHIVE_BUCKET).is_ok() {
        functions.replay = Some(replay_function(&sdk, &queue)?);
        eprintln!(
            "kyc-local: {} on the Lambda Invoke API at http://{listen}",
            registry::ARCHIVE_REPLAY
        );
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
        format!("cannot listen on {listen} ({e}): another `make run`? stop it, or pick another address (GATEWAY=127.0.0.1:3001)")
    })?;
    say_what_is_served(listen, &table, &queue);
    gateway::serve(listener, Arc::new(functions)).await
}

/// The events queue `EVENTS_QUEUE_URL` names, made if need be: its URL.
async fn events_queue(sdk: &aws_config::SdkConfig) -> Result<String, BoxError> {
    let wanted = queue_url()?;
    let name = wanted.rsplit('/').next().unwrap_or_default();
    let created = resources::ensure_queue(sdk, name).await?;
    if created != wanted {
        return Err(format!(
            "EVENTS_QUEUE_URL is {wanted} but the local server named the queue {created}"
        )
        .into());
    }
    Ok(created)
}

/// The archive, when `ARCHIVE_BUCKET` is set: the bucket and the signing key; with
/// `ARCHIVE_KEYS_TABLE`, the keys table and the archive key too.
async fn archive(sdk: &aws_config::SdkConfig) -> Result<(), BoxError> {
    let Ok(bucket) = std::env::var(config::var::ARCHIVE_BUCKET) else {
        return Ok(());
    };
    resources::ensure_bucket(sdk, &bucket).await?;
    let signing_key = env_or(
        config::var::ARCHIVE_SIGNING_KEY_ID,
        resources::LOCAL_SIGNING_KEY,
    );
    resources::ensure_signing_key(sdk, &signing_key).await?;
    eprintln!(
        "kyc-local: archiving new deliveries in bucket {bucket}, attested under {signing_key}"
    );
    if let Ok(keys_table) = std::env::var(config::var::ARCHIVE_KEYS_TABLE) {
        resources::ensure_keys_table(sdk, &keys_table).await?;
        let archive_key = env_or(
            config::var::ARCHIVE_KMS_KEY_ID,
            resources::LOCAL_ARCHIVE_KEY,
        );
        resources::ensure_archive_key(sdk, &archive_key).await?;
        eprintln!(
            "kyc-local: each delivery sealed under its own data key ({archive_key}), kept in table {keys_table}"
        );
    }
    Ok(())
}

/// The journey worker consuming `queue` (paused while `make pause`'s mark is there) and the
/// journey sweeper on a short interval, each on a task of its own.
async fn journey_worker(
    sdk: &aws_config::SdkConfig,
    queue: &str,
    metrics: &Arc<dyn MetricsSink>,
) -> Result<(), BoxError> {
    let journey_table = env_or(
        worker::var::JOURNEY_TABLE,
        kyc_local::defaults::JOURNEY_TABLE,
    );
    resources::ensure_journey_table(sdk, &journey_table).await?;
    let config = WorkerConfig::from_env(&|k: &str| match k {
        "JOURNEY_TABLE" => Some(journey_table.clone()),
        other => local_var(other),
    })?;
    if let Some(topic) = &config.stream_topic_arn {
        journey_stream(sdk, topic).await?;
    }
    let worker = startup::aws_journey_worker(sdk, &config).with_metrics(metrics.clone());
    let source = EventSource::new(sdk, queue).await?;
    eprintln!("kyc-local: journey worker consuming {queue} into table {journey_table}");
    let mark = pause_mark();
    // A mark left by an earlier run does not pause this one.
    let _ = std::fs::remove_file(&mark);
    tokio::spawn(async move {
        let timeout_ms = kyc_intake::intake::pipeline::FUNCTION_TIMEOUT_SECS * 1000;
        let mut paused = false;
        loop {
            if mark.exists() != paused {
                paused = !paused;
                tracing::info!(paused, "local journey worker");
            }
            if paused {
                tokio::time::sleep(WORKER_IDLE).await;
                continue;
            }
            match source.poll(&worker, 0, timeout_ms).await {
                Ok(polled) if !polled.received.is_empty() => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "local event source: polling failed"),
            }
            tokio::time::sleep(WORKER_IDLE).await;
        }
    });
    journey_sweeper(sdk, queue, journey_table, metrics).await
}

/// The journey sweeper, on a short interval (the deployed one runs every SweepIntervalMinutes):
/// with `make run`'s one-minute limits, a journey left hanging is reported within a minute or
/// two, and `make journey` shows `stalled_at`.
async fn journey_sweeper(
    sdk: &aws_config::SdkConfig,
    queue: &str,
    journey_table: String,
    metrics: &Arc<dyn MetricsSink>,
) -> Result<(), BoxError> {
    let queue = queue.to_owned();
    let sweeper_env = move |k: &str| match k {
        "JOURNEY_TABLE" => Some(journey_table.clone()),
        "EVENTS_QUEUE_URL" => Some(queue.clone()),
        other => local_var(other).filter(|v| !v.is_empty()),
    };
    let (sweeper, _) = startup::journey_sweeper(&sweeper_env, sdk).await?;
    let sweeper = sweeper.with_metrics(metrics.clone());
    eprintln!(
        "kyc-local: journey sweeper every {} s",
        SWEEP_INTERVAL.as_secs()
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_INTERVAL).await;
            sweeper
                .run(chrono::Utc::now(), std::time::Duration::from_secs(10))
                .await;
        }
    });
    Ok(())
}

/// Every webhook function of the registry, configured as at start-up. With
/// `SECRETS=secretsmanager` the secret settings go into the local server's Secrets Manager and
/// the functions read them from there, as they do when deployed with SecretsSource=secretsmanager.
async fn webhook_functions(
    sdk: &aws_config::SdkConfig,
    options: &Serve,
) -> Result<Functions, BoxError> {
    let env = if options.secrets_manager {
        secrets_in_secrets_manager(sdk).await?
    } else {
        HashMap::new()
    };
    let env = move |k: &str| match env.get(k) {
        Some(v) => Some(v.clone()),
        None => local_var(k),
    };
    let mut functions = Functions::default();
    for function in FUNCTIONS {
        let config = startup::configure(function, &env, sdk).await?;
        let pipeline = startup::pipeline_with(sdk, config);
        let pipeline = if options.metrics {
            pipeline
        } else {
            pipeline.with_metrics(Arc::new(kyc_intake::metrics::Discard))
        };
        functions.webhooks.push((*function, pipeline));
    }
    Ok(functions)
}

/// The `archive-replay` function on the archive and `queue`.
fn replay_function(
    sdk: &aws_config::SdkConfig,
    queue: &str,
) -> Result<kyc_intake::replay::Replayer, BoxError> {
    let queue = queue.to_owned();
    let replay_env = move |k: &str| match k {
        config::var::EVENTS_QUEUE_URL => Some(queue.clone()),
        config::var::ARCHIVE_SIGNING_KEY_ID => Some(env_or(k, resources::LOCAL_SIGNING_KEY)),
        other => local_var(other).filter(|v| !v.is_empty()),
    };
    Ok(startup::archive_replay(&replay_env, sdk)?)
}

/// One start-up line (the function logs follow it), and what the events carry of the personal
/// data in a payload (`EVENT_PERSONAL_DATA`, the caller's value when set).
fn say_what_is_served(listen: &str, table: &str, queue: &str) {
    let routes: Vec<&str> = FUNCTIONS
        .iter()
        .flat_map(|f| f.sources.iter().map(|s| s.route))
        .collect();
    eprintln!(
        "kyc-local: serving {} on http://{listen} (table {table}, queue {queue})",
        routes.join(", ")
    );
    let personal = std::env::var(config::var::EVENT_PERSONAL_DATA).unwrap_or_default();
    let personal = if personal.trim().is_empty() {
        "withhold"
    } else {
        personal.trim()
    };
    eprintln!(
        "kyc-local: events {} the personal data each source declares (EVENT_PERSONAL_DATA={personal})",
        if personal.eq_ignore_ascii_case("include") { "include" } else { "withhold" }
    );
}
