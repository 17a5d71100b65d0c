//! `kycctl journey`: `start` announces a journey the providers have not called back about yet
//! (`kyc.journey.started`), so the journey sweeper reports it if it stalls (an application does
//! the same with any SQS client: docs/consuming.md shows Python); `show` and `find` read one
//! customer's journeys, `list` the open or stalled ones, from the journey table (`JOURNEY_TABLE`,
//! the stack's `JourneyTableName` output) with the usual AWS settings.

use crate::report::Failure;
use crate::report::{counted, Finding, Report};
use clap::{Args, Subcommand};
use kyc_intake::aws::{JourneyReader, JourneyView, SqsSink};
use kyc_intake::intake::queue::EventSink;
use kyc_intake::journeys::completeness;
use serde::Serialize;

#[derive(Args)]
pub struct JourneyArgs {
    /// The journey table (the stack's `JourneyTableName` output).
    #[arg(long, env = "JOURNEY_TABLE", global = true)]
    journey_table: Option<String>,
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
    /// One journey: its state, where it is (open, stalled, closed) and when.
    Show {
        /// e.g. `cashfree/vkyc`.
        source: String,
        /// The provider's journey reference.
        subject: String,
    },
    /// A customer's journeys across every source, by their reference.
    Find { subject: String },
    /// The open or the stalled journeys, oldest first (a query of the due index, never a scan).
    List {
        /// The journeys the sweeper reported stalled (until a new event moves them).
        #[arg(long, conflicts_with = "open", required_unless_present = "open")]
        stalled: bool,
        /// The journeys still open.
        #[arg(long)]
        open: bool,
        /// Only this source's.
        #[arg(long)]
        source: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

async fn reader(table: Option<String>) -> Result<JourneyReader, Failure> {
    let table = table.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Failure::usage(
            "no journey table: give --journey-table or set JOURNEY_TABLE (the stack's JourneyTableName output)",
        )
    })?;
    let sdk = kyc_intake::aws::load_config().await;
    Ok(JourneyReader::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
    ))
}

fn source_name(name: &str) -> Result<&'static str, Failure> {
    kyc_intake::sources::registry::source(name)
        .map(|s| s.name)
        .ok_or_else(|| Failure::usage(format!("--source {name} is not a source")))
}

fn read_failed(e: kyc_intake::fault::Fault) -> Failure {
    // A connection that never opened is one short line, not the SDK's nested dispatch error.
    let what = if e.detail.contains("dispatch failure") {
        format!("{} could not connect", e.operation)
    } else {
        e.to_string()
    };
    Failure::failed(format!(
        "reading the journey table: {what} (check JOURNEY_TABLE, AWS_ENDPOINT_URL and the credentials; locally, is `make run` running?)"
    ))
}

/// The trace's page in the AWS console of the region kycctl runs against, when X-Ray has it: the
/// trace was sampled and kycctl is not pointed at a local server (`AWS_ENDPOINT_URL`), whose
/// traces never reach X-Ray. The trace id alone finds its log lines either way.
pub(crate) fn trace_link(trace_id: &str, sampled: bool) -> Option<String> {
    let set = |v: &str| std::env::var(v).ok().filter(|r| !r.trim().is_empty());
    let region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"));
    link(
        trace_id,
        sampled,
        region.as_deref(),
        set("AWS_ENDPOINT_URL").is_some(),
    )
}

fn link(trace_id: &str, sampled: bool, region: Option<&str>, local: bool) -> Option<String> {
    let region = region?.trim();
    (sampled && !local).then(|| kyc_intake::trace::TraceHeader::console_url(trace_id, region))
}

/// `kycctl journey show`: the journey as the table keeps it, in a few readable lines.
impl Finding for JourneyView {
    fn lines(&self) -> Vec<String> {
        lines(self)
    }
}

/// `kycctl journey find`: a customer's journeys in every source.
#[derive(Serialize)]
struct Found {
    journeys: Vec<JourneyView>,
}

impl Finding for Found {
    fn lines(&self) -> Vec<String> {
        self.journeys.iter().flat_map(lines).collect()
    }
}

/// `kycctl journey list`: the open or stalled journeys, a line each.
#[derive(Serialize)]
struct Listed {
    state: &'static str,
    journeys: Vec<JourneyView>,
}

impl Finding for Listed {
    fn lines(&self) -> Vec<String> {
        let mut text = table(&self.journeys);
        text.push(counted(
            self.journeys.len(),
            &format!("{} journey", self.state),
            &format!("{} journeys", self.state),
        ));
        text
    }
}

/// `kycctl journey start`: the journey announced, and its event's id.
#[derive(Serialize)]
struct Started {
    source: &'static str,
    subject: String,
    id: String,
}

impl Finding for Started {
    fn lines(&self) -> Vec<String> {
        vec![format!(
            "started {}#{} (event {})",
            self.source, self.subject, self.id
        )]
    }
}

/// A journey in a few readable lines.
fn lines(j: &JourneyView) -> Vec<String> {
    let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut out = vec![
        format!("{}  {}  (logs: journey {})", j.pk, j.state, j.hash),
        format!(
            "  now       {}  ({} / {})",
            or(&j.event_type),
            or(&j.provider_status),
            or(&j.provider_sub_status)
        ),
        format!("  time      {}", or(&j.time)),
        format!("  event     {}", or(&j.event_id)),
    ];
    if let Some(count) = j.event_count {
        out.push(if j.has_stall_reports() {
            format!("  events    {count} (the sweeper's stall reports are not counted)")
        } else {
            format!("  events    {count}")
        });
    }
    for (label, value) in [
        ("opened", &j.opened_at),
        ("due", &j.due_at),
        ("stalled", &j.stalled_at),
        ("reconciled", &j.reconciled_at),
        ("closed", &j.closed_at),
    ] {
        if let Some(v) = value {
            out.push(format!("  {label:<9} {v}"));
        }
    }
    if !j.history.is_empty() {
        out.push(format!(
            "  timeline  (the latest {}, oldest first)",
            j.history.len()
        ));
        // Oldest first by the events' time; events of one time in the order applied.
        let mut history: Vec<_> = j.history.iter().collect();
        history.sort_by_key(|e| {
            chrono::DateTime::parse_from_rfc3339(&e.time)
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN)
        });
        for e in history {
            out.push(format!(
                "    {:<24}  {:<36}  {:<11}  {} / {}",
                e.time,
                e.event_type,
                e.origin.as_str(),
                e.provider_status.as_deref().unwrap_or("-"),
                e.provider_sub_status.as_deref().unwrap_or("-")
            ));
            if let Some(trace) = &e.trace_id {
                out.push(match trace_link(trace, e.trace_sampled) {
                    Some(link) => format!("      trace {trace}  {link}"),
                    None => format!("      trace {trace}"),
                });
            }
        }
    }
    out
}

/// One line per journey of a list, under a header.
fn table(journeys: &[JourneyView]) -> Vec<String> {
    let mut out = vec![format!(
        "{:<48}  {:<24}  {:<36}  {}",
        "JOURNEY", "DUE (UTC)", "TYPE", "STATUS"
    )];
    out.extend(journeys.iter().map(|j| {
        format!(
            "{:<48}  {:<24}  {:<36}  {}",
            j.pk,
            j.due_at.as_deref().unwrap_or("-"),
            j.event_type.as_deref().unwrap_or("-"),
            j.provider_status.as_deref().unwrap_or("-")
        )
    }));
    out
}

/// Send `kyc.journey.started` for `source`'s journey `subject` (the command and the console).
pub(crate) async fn start(
    sdk: &aws_config::SdkConfig,
    source: &str,
    subject: &str,
    expect_within: Option<u64>,
    queue_url: Option<String>,
) -> Result<
    (
        &'static kyc_intake::sources::SourceSpec,
        kyc_intake::intake::normalize::Normalized,
    ),
    Failure,
> {
    let spec = kyc_intake::sources::registry::source(source)
        .ok_or_else(|| Failure::usage(format!("--source {source} is not a source")))?;
    let queue_url = queue_url.filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        Failure::usage("no events queue: give --queue-url or set EVENTS_QUEUE_URL")
    })?;
    let event = completeness::started(spec, subject, expect_within, chrono::Utc::now())
        .map_err(|e| Failure::usage(format!("--subject: {e}")))?;
    let sink = SqsSink::new(aws_sdk_sqs::Client::new(sdk), queue_url);
    sink.send(&event.message())
        .await
        .map_err(|e| Failure::failed(format!("sending to the queue: {e}")))?;
    Ok((spec, event))
}

pub async fn journey(args: JourneyArgs) -> Result<Report, Failure> {
    let (source, subject, expect_within, queue_url) = match args.command {
        JourneyCommand::Start {
            source,
            subject,
            expect_within,
            queue_url,
        } => (source, subject, expect_within, queue_url),
        JourneyCommand::Show { source, subject } => {
            let source = source_name(&source)?;
            let reader = reader(args.journey_table).await?;
            return match reader.get(source, &subject).await.map_err(read_failed)? {
                Some(j) => Ok(Report::of(&j)),
                None => Err(Failure::failed(format!(
                    "no journey {source}#{subject} (the worker has applied nothing to it; \
                     `kycctl journey find {subject}` looks in every source)"
                ))),
            };
        }
        JourneyCommand::Find { subject } => {
            let reader = reader(args.journey_table).await?;
            let found = reader.find(&subject).await.map_err(read_failed)?;
            if found.is_empty() {
                return Err(Failure::failed(format!(
                    "no journey of {subject} in any source"
                )));
            }
            return Ok(Report::of(&Found { journeys: found }));
        }
        JourneyCommand::List {
            stalled,
            source,
            limit,
            ..
        } => {
            let source = source.as_deref().map(source_name).transpose()?;
            let shard = if stalled {
                kyc_intake::journeys::worker::SWEEP_SHARD_STALLED
            } else {
                kyc_intake::journeys::worker::SWEEP_SHARD_OPEN
            };
            let reader = reader(args.journey_table).await?;
            let found = reader
                .list(shard, source, limit)
                .await
                .map_err(read_failed)?;
            return Ok(Report::of(&Listed {
                state: shard,
                journeys: found,
            }));
        }
    };
    let sdk = kyc_intake::aws::load_config().await;
    let (spec, event) = start(&sdk, &source, &subject, expect_within, queue_url).await?;
    Ok(Report::of(&Started {
        source: spec.name,
        subject,
        id: event.id,
    }))
}

#[cfg(test)]
mod trace_tests {
    #[test]
    fn a_trace_links_to_x_ray_only_when_sampled_on_aws() {
        let id = "1-5759e988-bd862e3fe1be46a994272793";
        assert!(super::link(id, true, Some("ap-south-1"), false)
            .is_some_and(|l| l.contains("ap-south-1") && l.ends_with(id)));
        assert_eq!(super::link(id, false, Some("ap-south-1"), false), None);
        assert_eq!(
            super::link(id, true, Some("ap-south-1"), true),
            None,
            "local"
        );
        assert_eq!(super::link(id, true, None, false), None);
    }
}
