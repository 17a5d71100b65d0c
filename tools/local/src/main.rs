//! `kyc-local`: run the intake locally against a DynamoDB/SQS-compatible server.
//!
//! ```text
//! kyc-local serve   [--listen 127.0.0.1:3000] [--no-worker] [--secrets-manager]
//!                   create the tables, the queue and the journey stream, serve the webhook
//!                   functions, and run the journey worker on the queue as an SQS event source
//!                   mapping would
//! kyc-local invoke  EVENT [--gateway URL]       send a sample event (fresh timestamp/signature)
//! kyc-local render  EVENT                       print a sample event with placeholders filled
//! kyc-local env                                 the functions' local settings (`make local-env`)
//! kyc-local receive                             print (and delete) the events on the queue
//! kyc-local secret  VARIABLE                    a new value from stdin into the local Secrets Manager
//! kyc-local worker  pause|resume                pause or resume the journey worker of `serve`
//! kyc-local purge                               delete every message on the local events queue
//! kyc-local dead-letter                         put a poison record into the local dead-letter queue
//! kyc-local load    [--events 600 --deliveries 3] a load on `serve`, measured at the application queue
//! kyc-local generate [--check]                  write the template's and docs' generated parts
//! ```
//! Configuration is the functions' own environment (see the README); `AWS_ENDPOINT_URL` points at
//! the local server.
#![forbid(unsafe_code)]

mod commands;
mod serve;

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use clap::{Parser, Subcommand};
use commands::{
    invoke, load, local_secret_id, purge, put_secret, receive, render_file, worker_control,
};
use kyc_intake::config;
use kyc_intake::runtime::telemetry;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_local::resources::{self, BoxError};
use std::collections::HashMap;

/// Run the intake locally against a DynamoDB/SQS-compatible server (`AWS_ENDPOINT_URL`), with
/// the functions' own environment for configuration.
#[derive(Parser)]
#[command(name = "kyc-local")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the tables and the queue, serve the webhook functions, and run the journey worker
    /// on the queue as an SQS event source mapping would.
    Serve {
        /// Where the local API gateway listens.
        #[arg(long, default_value = kyc_local::defaults::GATEWAY)]
        listen: String,
        /// Leave the queue to `kyc-local receive` instead of the journey worker.
        #[arg(long)]
        no_worker: bool,
        /// Put the secret settings into the local Secrets Manager and have the functions read
        /// them from there (`<VARIABLE>_SECRET_ID`).
        #[arg(long)]
        secrets_manager: bool,
        /// Start the local AWS-compatible server with this Python (the one that has moto), on the
        /// port of AWS_ENDPOINT_URL, and stop it on exit. Without it, a server must be running.
        #[arg(long)]
        start_server: Option<std::path::PathBuf>,
        /// With --start-server: print the server's access log.
        #[arg(long)]
        access_log: bool,
        /// Print each request's CloudWatch EMF metric document, as a function does on Lambda.
        #[arg(long)]
        metrics: bool,
        /// Log JSON lines, as on Lambda, instead of short text lines.
        #[arg(long)]
        json: bool,
    },
    /// Send a sample event (fresh timestamp and signature) to the local gateway.
    Invoke {
        /// A sample from `events/`.
        event: String,
        /// The gateway's URL (default: http://127.0.0.1:3000).
        #[arg(long)]
        gateway: Option<String>,
    },
    /// Print a sample event with its placeholders filled.
    Render {
        /// A sample from `events/`.
        event: String,
    },
    /// Print the settings `serve` gives the functions beyond the environment's own, as
    /// `VARIABLE=value` words: each function's local values and the local stall limits.
    Env,
    /// Print (and delete) the events on the queue.
    Receive,
    /// Put a new value (read from standard input, e.g. `NEW,OLD`) into the local Secrets Manager
    /// secret of a secret setting, for a `serve --secrets-manager` to read: a local rotation.
    Secret {
        /// The setting, e.g. `CASHFREE_CLIENT_SECRETS`.
        variable: String,
    },
    /// Pause or resume the journey worker of a running `serve` (events wait on the queue while
    /// it is paused): the incident drill's "workers down".
    Worker {
        #[arg(value_parser = ["pause", "resume"])]
        action: String,
    },
    /// Delete every message on the local events queue (the incident drill's lost events).
    Purge,
    /// Put a poison record into the local dead-letter queue (the dead-letter walkthrough).
    DeadLetter,
    /// Write every provider-specific part of the template, the docs' tables, the JSON Schema's
    /// lists and any missing function crate from the registry (`make generate`).
    Generate {
        /// Write nothing: print the diff of every file that would change, and fail if any would.
        #[arg(long)]
        check: bool,
        /// The repository's root.
        #[arg(long, default_value = ".")]
        root: std::path::PathBuf,
    },
    /// A load on a running `serve`: distinct events, each delivered several times, measured
    /// from each webhook's 200 to its receipt on the application queue (`make load`).
    Load {
        #[arg(long, default_value_t = 600)]
        events: usize,
        #[arg(long, default_value_t = 3)]
        deliveries: usize,
        /// Events in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// New events a second (default: as fast as the gateway answers).
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long)]
        gateway: Option<String>,
    },
}

/// How often the local journey sweeper runs.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// How long the local worker waits on an empty queue before polling again (short polls and a
/// short wait: an event reaches the journey table, and the stream, within a fraction of a second).
const WORKER_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// A setting as the local functions read it: the process environment, else the registry's local
/// value (`FunctionSpec::local`), else, for `JOURNEY_STALL_AFTER`, one minute for every source
/// (so the local sweeper reports a journey left hanging within a couple of minutes).
fn local_var(var: &str) -> Option<String> {
    if let Ok(value) = std::env::var(var) {
        return Some(value);
    }
    if var == kyc_intake::journeys::completeness::STALL_AFTER_VARIABLE {
        let all: Vec<String> = registry::sources()
            .map(|s| format!("{}={LOCAL_STALL_AFTER_SECS}", s.name))
            .collect();
        return Some(all.join(","));
    }
    registry::local(var).map(str::to_owned)
}

/// What `kyc-local env` prints: every function variable and the stall limits, as `serve` reads
/// them (`local_var`), for those it has a value for.
fn provider_env() -> Vec<String> {
    FUNCTIONS
        .iter()
        .flat_map(|f| f.variables().into_iter())
        .chain([kyc_intake::journeys::completeness::STALL_AFTER_VARIABLE])
        .filter_map(|var| local_var(var).map(|value| format!("{var}={value}")))
        .collect()
}

/// `make run`'s stall limit for every source.
const LOCAL_STALL_AFTER_SECS: u64 = 60;

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn sdk() -> aws_config::SdkConfig {
    resources::local_sdk_config(&endpoint()).await
}

fn queue_url() -> Result<String, BoxError> {
    std::env::var(config::var::EVENTS_QUEUE_URL).map_err(|_| "EVENTS_QUEUE_URL is not set".into())
}

/// What `serve` does.
struct Serve {
    listen: String,
    worker: bool,
    secrets_manager: bool,
    start_server: Option<std::path::PathBuf>,
    access_log: bool,
    metrics: bool,
}

fn endpoint() -> String {
    env_or(
        "AWS_ENDPOINT_URL",
        &format!("http://127.0.0.1:{}", kyc_local::defaults::EMULATOR_PORT),
    )
}

/// Serve until Ctrl-C, SIGTERM or the parent (`make`) going away; then stop the local server
/// (its state was in memory) and return.
async fn serve(options: Serve) -> Result<(), BoxError> {
    let _server = match &options.start_server {
        Some(python) => {
            let endpoint = endpoint();
            let port = endpoint
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .ok_or_else(|| format!("AWS_ENDPOINT_URL {endpoint} has no port"))?;
            let mut server_options = kyc_local::server::Options::new(python, port);
            server_options.access_log = options.access_log;
            let server = kyc_local::server::LocalServer::start(&server_options)?;
            eprintln!(
                "kyc-local: local DynamoDB/SQS/SNS/S3/Secrets Manager server on {} (in memory)",
                server.endpoint
            );
            Some(server)
        }
        None => {
            kyc_local::server::ensure_reachable(&endpoint())?;
            None
        }
    };
    tokio::select! {
        served = serve::run(&options) => served,
        () = stopped() => {
            eprintln!("kyc-local: stopped; the local server's state (tables, queue, journeys) is gone");
            Ok(())
        }
    }
}

/// Ctrl-C, SIGTERM, or the parent process gone.
async fn stopped() {
    let parent = std::os::unix::process::parent_id();
    let orphaned = async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                return;
            }
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
        () = orphaned => {}
    }
}

/// The local application queue's URL (`make run` sets it; not a function's setting).
const APPLICATION_QUEUE_VARIABLE: &str = "APPLICATION_QUEUE_URL";

/// The journey stream as the template makes it: the topic `topic` names and, when
/// `APPLICATION_QUEUE_URL` is set, that queue subscribed to it (raw delivery; filtered to the
/// comma-separated `APPLICATION_EVENT_TYPES` when set), for the README's consumer to read.
async fn journey_stream(sdk: &aws_config::SdkConfig, topic: &str) -> Result<(), BoxError> {
    let name = topic.rsplit(':').next().unwrap_or_default();
    let created = resources::ensure_topic(sdk, name).await?;
    if created != topic {
        return Err(format!(
            "JOURNEY_STREAM_TOPIC_ARN is {topic} but the local server named the topic {created}"
        )
        .into());
    }
    let Ok(wanted) = std::env::var(APPLICATION_QUEUE_VARIABLE) else {
        eprintln!("kyc-local: journey stream {topic} (no application queue: {APPLICATION_QUEUE_VARIABLE} is not set)");
        return Ok(());
    };
    let types = std::env::var("APPLICATION_EVENT_TYPES").unwrap_or_default();
    let types: Vec<&str> = types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let name = wanted.rsplit('/').next().unwrap_or_default();
    let url = resources::subscribe_queue(sdk, topic, name, &types).await?;
    if url != wanted {
        return Err(format!(
            "{APPLICATION_QUEUE_VARIABLE} is {wanted} but the local server named the queue {url}"
        )
        .into());
    }
    eprintln!(
        "kyc-local: journey stream {topic} -> application queue {url} (make consume reads it)"
    );
    Ok(())
}

/// Put each secret setting's value into the local Secrets Manager as `kyc-local/<VARIABLE>`, and
/// return the environment that names them instead (`<VARIABLE>_SECRET_ID`, the plain one emptied).
async fn secrets_in_secrets_manager(
    sdk: &aws_config::SdkConfig,
) -> Result<HashMap<String, String>, BoxError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let mut env = HashMap::new();
    for var in FUNCTIONS
        .iter()
        .flat_map(|f| f.secret_variables().into_iter())
    {
        let Some(value) = local_var(var) else {
            continue;
        };
        let name = local_secret_id(var);
        let exists = client
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .is_ok();
        let context = |e: String| format!("Secrets Manager {name}: {e}");
        if exists {
            client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(&value)
                .send()
                .await
                .map_err(|e| context(DisplayErrorContext(e).to_string()))?;
        } else {
            client
                .create_secret()
                .name(&name)
                .secret_string(&value)
                .send()
                .await
                .map_err(|e| context(DisplayErrorContext(e).to_string()))?;
        }
        env.insert((*var).to_owned(), String::new());
        env.insert(kyc_intake::secrets::manager::id_variable(var), name.clone());
        eprintln!("kyc-local: {var} read from the local Secrets Manager ({name})");
    }
    Ok(env)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve { json: false, .. } => telemetry::init_text(env!("CARGO_CRATE_NAME")),
        _ => telemetry::init(env!("CARGO_CRATE_NAME")),
    }
    let result = match cli.command {
        Command::Serve {
            listen,
            no_worker,
            secrets_manager,
            start_server,
            access_log,
            metrics,
            json: _,
        } => {
            serve(Serve {
                listen,
                worker: !no_worker,
                secrets_manager,
                start_server,
                access_log,
                metrics,
            })
            .await
        }
        Command::Invoke { event, gateway } => invoke(&event, gateway).await,
        Command::Render { event } => render_file(&event).map(|e| println!("{e}")),
        Command::Env => {
            println!("{}", provider_env().join(" "));
            Ok(())
        }
        Command::Receive => receive().await,
        Command::Secret { variable } => put_secret(&variable).await,
        Command::Worker { action } => worker_control(&action),
        Command::Purge => purge().await,
        Command::DeadLetter => commands::dead_letter().await,
        Command::Generate { check, root } => commands::generate(&root, check),
        Command::Load {
            events,
            deliveries,
            concurrency,
            rate,
            gateway,
        } => load(events, deliveries, concurrency, rate, gateway).await,
    };
    if let Err(e) = result {
        eprintln!("kyc-local: {e}");
        std::process::exit(1);
    }
}
