//! `kycctl journey start`: announce a journey the providers have not called back about yet
//! (`kyc.journey.started`), so the journey sweeper reports it if it stalls. An application does
//! the same with any SQS client (docs/consuming.md shows Python).

use crate::hyperverge::Failure;
use crate::Report;
use clap::{Args, Subcommand};
use kyc_intake::aws::SqsSink;
use kyc_intake::completeness;
use kyc_intake::ports::EventSink;
use serde_json::json;

#[derive(Args)]
pub struct JourneyArgs {
    #[command(subcommand)]
    command: JourneyCommand,
}

#[derive(Subcommand)]
enum JourneyCommand {
    /// Send `kyc.journey.started` for a journey to the events queue.
    Start {
        /// e.g. `cashfree/digilocker`.
        #[arg(long)]
        source: String,
        /// The provider's journey reference (`verification_id`, `refId`, `transactionId`).
        #[arg(long)]
        subject: String,
        /// Seconds the journey may go without an event before it is stalled (default: its
        /// source's limit, JOURNEY_STALL_AFTER).
        #[arg(long)]
        expect_within: Option<u64>,
        /// The events queue (the stack's `EventsQueueUrl` output).
        #[arg(long, env = "EVENTS_QUEUE_URL")]
        queue_url: Option<String>,
    },
}

pub async fn journey(args: JourneyArgs) -> Result<Report, Failure> {
    let JourneyCommand::Start {
        source,
        subject,
        expect_within,
        queue_url,
    } = args.command;
    let spec = completeness::source(&source)
        .ok_or_else(|| Failure::usage(format!("--source {source} is not a source")))?;
    let queue_url = queue_url.filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        Failure::usage("no events queue: give --queue-url or set EVENTS_QUEUE_URL")
    })?;
    let event = completeness::started(spec, &subject, expect_within, chrono::Utc::now())
        .map_err(|e| Failure::usage(format!("--subject: {e}")))?;
    let sdk = kyc_intake::aws::load_config().await;
    let sink = SqsSink::new(aws_sdk_sqs::Client::new(&sdk), queue_url);
    sink.send(&event.message())
        .await
        .map_err(|e| Failure::failed(format!("sending to the queue: {e}")))?;
    Ok(Report::ok(
        vec![format!(
            "started {}#{subject} (event {})",
            spec.name, event.id
        )],
        json!({ "source": spec.name, "subject": subject, "id": event.id }),
    ))
}
