//! `kycctl archive list|show|verify` and `kycctl replay`: the audit archive read back, each
//! delivery's attestation checked with the archive signing key's public half (no webhook secret),
//! and its deliveries normalized again with this build's code and sent to the events queue.
//!
//! AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from the usual SDK environment.
//! Replay never touches the intake's idempotency records: the replayed events carry the replay id
//! (`kycreplay`, message attribute `replay`) and a deduplication id of their own
//! (`<event id>:replay:<replay id>`), so the queue does not drop them as the originals' repeats;
//! the journey worker applies each event id once, so replaying what it already applied changes
//! nothing.

use crate::record::{ArchiveAccess, Reader};
use crate::report::Failure;
use crate::report::{instant, source_spec, Report};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use kyc_intake::intake::archive;
use kyc_intake::intake::verdict::Verdict;
use kyc_intake::replay::Outcome;
use kyc_intake::sources::registry;
use kyc_intake::sources::SourceSpec;
use serde_json::json;

#[derive(Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    archive: ArchiveAccess,
    #[command(subcommand)]
    command: ArchiveCommand,
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// One line per archived delivery: the event id, when it was received, the subject, the type
    /// it had.
    List {
        /// e.g. `cashfree/vkyc`.
        #[arg(long)]
        source: String,
        #[command(flatten)]
        range: Range,
        /// Only the deliveries about this journey reference (each object is read: the key does
        /// not carry it).
        #[arg(long)]
        subject: Option<String>,
    },
    /// One archived delivery, as stored, with its verdict and the raw body as text.
    Show {
        /// The event id, or a unique prefix of it (8 characters or more).
        event_id: String,
        /// Look only under this source (faster).
        #[arg(long)]
        source: Option<String>,
    },
    /// Check each archived delivery's attestation with the archive signing key: one line per
    /// object, `attested by <function> (certified <time>)` or why not; exit 1 if any is not.
    Verify {
        /// e.g. `cashfree/vkyc`; every source when left out.
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        range: Range,
    },
}

/// A time range: each end a UTC day `YYYY-MM-DD` (inclusive) or an RFC 3339 time.
#[derive(Args, Clone)]
pub struct Range {
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// e.g. `cashfree/vkyc`; every source when left out.
    #[arg(long)]
    source: Option<String>,
    /// The first day (`YYYY-MM-DD`, UTC) or time (RFC 3339).
    #[arg(long)]
    from: String,
    /// The last day (inclusive) or time; at most 31 days after `--from`.
    #[arg(long)]
    to: String,
    /// Only events of this type (as it is now, or as it was when they arrived).
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Print what would be sent, send nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    function: crate::replay::ReplayFunction,
}

/// A range's ends, each open when not given.
type Ends = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl Range {
    /// Its ends as instants.
    fn instants(&self) -> Result<Ends, Failure> {
        let from = self
            .from
            .as_deref()
            .map(|v| instant("--from", v, false))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .map(|v| instant("--to", v, true))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                return Err(Failure::usage("--to is before --from"));
            }
        }
        Ok((from, to))
    }
}

pub async fn archive(args: ArchiveArgs) -> Result<Report, Failure> {
    let reader = args.archive.reader(&kyc_intake::aws::load_config().await)?;
    match args.command {
        ArchiveCommand::Verify { source, range } => verify(&reader, source, &range).await,
        ArchiveCommand::List {
            source,
            range,
            subject,
        } => {
            source_spec(&source)?;
            let (from, to) = range.instants()?;
            let (mut entries, unreadable) = reader.deliveries(&source, from, to).await?;
            if let Some(subject) = &subject {
                entries.retain(|e| e.delivery.subject().as_deref() == Some(subject.as_str()));
            }
            let mut text = vec![format!(
                "{:<64}  {:<24}  {:<32}  {}",
                "EVENT ID", "RECEIVED (UTC)", "SUBJECT", "TYPE"
            )];
            text.extend(entries.iter().map(|e| {
                let d = &e.delivery;
                format!(
                    "{:<64}  {:<24}  {:<32}  {}",
                    d.event_id,
                    d.received_at,
                    crate::record::cell(d.subject(), d),
                    crate::record::cell(d.event_type(), d)
                )
            }));
            text.extend(
                unreadable
                    .iter()
                    .map(|(key, why)| format!("{key}  unreadable: {why}")),
            );
            let json = json!({
                "deliveries": entries.iter().map(|e| json!({
                    "event_id": e.delivery.event_id, "received_at": e.delivery.received_at,
                    "subject": e.delivery.subject(), "type": e.delivery.event_type(), "key": e.key,
                    "erased": e.delivery.erased,
                })).collect::<Vec<_>>(),
                "unreadable": unreadable.iter().map(|(key, why)| json!({"key": key, "why": why})).collect::<Vec<_>>(),
            });
            text.push(crate::report::counted(
                entries.len(),
                "delivery",
                "deliveries",
            ));
            Ok(Report::ok(text, json))
        }
        ArchiveCommand::Show { event_id, source } => {
            let key = find_key(&reader, &event_id, source.as_deref()).await?;
            let (delivery, verdict) = reader.delivery(&key).await?;
            let mut value = serde_json::to_value(&delivery)
                .map_err(|e| Failure::failed(format!("{key}: {e}")))?;
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("verdict".into(), verdict.to_string().into());
                object.insert("erased".into(), delivery.erased.clone().into());
            }
            let mut text = vec![
                format!("s3://{}/{key}", reader.bucket),
                format!("verdict: {verdict}"),
                pretty,
            ];
            if let Some(at) = &delivery.erased {
                text.push(format!(
                    "body and event: erased {at} (the journey's data keys were deleted; the attestation still holds)"
                ));
            } else if let Some(why) = &delivery.unopened {
                text.push(format!("body and event: sealed, and not opened: {why}"));
            } else if let Some(body) = delivery.body().ok().and_then(|b| String::from_utf8(b).ok())
            {
                // The raw body as text, when it is (it is what the provider sent).
                text.push("body (decoded from body_base64):".to_owned());
                text.push(body);
            }
            Ok(Report::ok(text, value))
        }
    }
}

/// The archived delivery whose event id is `event_id` or starts with it (8 or more hex digits),
/// under `source` or any: its key, or why there is not exactly one.
pub(crate) async fn find_key(
    reader: &Reader,
    event_id: &str,
    source: Option<&str>,
) -> Result<String, Failure> {
    let prefix = match source {
        Some(s) => {
            source_spec(s)?;
            format!("{}/{s}/", archive::PREFIX)
        }
        None => format!("{}/", archive::PREFIX),
    };
    if event_id.len() < 8 || !event_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::usage(
            "the event id, or 8 or more of its first hex digits",
        ));
    }
    let wanted = format!("/{}", event_id.to_ascii_lowercase());
    let matching: Vec<String> = reader
        .keys(&prefix)
        .await?
        .into_iter()
        .filter(|k| {
            k.rsplit_once('/')
                .is_some_and(|(_, name)| format!("/{name}").starts_with(&wanted))
        })
        .collect();
    match matching.as_slice() {
        [key] => Ok(key.clone()),
        [] => Err(Failure::failed(format!(
            "no archived delivery {event_id} under s3://{}/{prefix}",
            reader.bucket
        ))),
        more => Err(Failure::usage(format!(
            "{event_id} is the start of {} event ids: give more of it",
            more.len()
        ))),
    }
}

/// One archived object as `verify` found it.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub(crate) key: String,
    /// `None` when the object could not be read.
    pub(crate) event_id: Option<String>,
    /// When its journey was erased (it stays attested).
    pub(crate) erased: Option<String>,
    /// Its verdict, or why it could not be read.
    pub(crate) verdict: Result<Verdict, String>,
}

impl Checked {
    pub(crate) fn attested(&self) -> bool {
        self.verdict.as_ref().is_ok_and(Verdict::attested)
    }

    fn verdict_text(&self) -> String {
        match &self.verdict {
            Ok(verdict) => verdict.to_string(),
            Err(why) => format!("refused: {why}"),
        }
    }
}

/// Every object of `specs` archived between `from` and `to` (either open), checked against the signing key's
/// public half (no secret): attested, or why not. Fails when the key cannot be read at all.
pub(crate) async fn verify_archive(
    reader: &Reader,
    specs: &[&'static SourceSpec],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Checked>, Failure> {
    reader.trust().await.map_err(Failure::failed)?;
    let mut checked = Vec::new();
    for spec in specs {
        let (entries, unreadable) = reader.deliveries(spec.name, from, to).await?;
        for entry in &entries {
            checked.push(Checked {
                key: entry.key.clone(),
                event_id: Some(entry.delivery.event_id.clone()),
                erased: entry.delivery.erased.clone(),
                verdict: Ok(reader.verdict(entry).await?),
            });
        }
        checked.extend(unreadable.into_iter().map(|(key, why)| Checked {
            key,
            event_id: None,
            erased: None,
            verdict: Err(why),
        }));
    }
    Ok(checked)
}

/// `kycctl archive verify`: every object of the sources and range, attested or why not.
async fn verify(reader: &Reader, source: Option<String>, range: &Range) -> Result<Report, Failure> {
    let specs: Vec<&'static SourceSpec> = match &source {
        Some(name) => vec![source_spec(name)?],
        None => registry::sources().collect(),
    };
    let (from, to) = range.instants()?;
    let checked = verify_archive(reader, &specs, from, to).await?;
    let attested = checked.iter().filter(|c| c.attested()).count();
    let refused = checked.len() - attested;
    let mut text: Vec<String> = checked
        .iter()
        .map(|c| format!("{}  {}", c.key, c.verdict_text()))
        .collect();
    let objects: Vec<serde_json::Value> = checked
        .iter()
        .map(|c| {
            let mut object = json!({"key": c.key, "event_id": c.event_id,
                "attested": c.attested(), "verdict": c.verdict_text()});
            if c.verdict.is_ok() {
                object["erased"] = c.erased.clone().into();
            }
            object
        })
        .collect();
    text.push(format!(
        "{} attested, {} not",
        crate::report::counted(attested, "object", "objects"),
        refused
    ));
    Ok(Report {
        drift: refused > 0,
        json: json!({"attested": attested, "refused": refused, "objects": objects}),
        text,
    })
}

pub async fn replay(args: ReplayArgs) -> Result<Report, Failure> {
    let specs: Vec<&'static SourceSpec> = match &args.source {
        Some(name) => vec![source_spec(name)?],
        None => registry::sources().collect(),
    };
    let from = instant("--from", &args.from, false)?;
    let to = instant("--to", &args.to, true)?;
    let request = kyc_intake::replay::Request {
        source: args.source.clone(),
        from: Some(args.from.trim().to_owned()),
        to: Some(args.to.trim().to_owned()),
        types: args.event_type.iter().cloned().collect(),
        dry_run: args.dry_run,
        ..kyc_intake::replay::Request::default()
    };
    // The function refuses these too; said here before anything is invoked.
    request.plan().map_err(|e| Failure::usage(e.0))?;
    let invoker = args
        .function
        .invoker(&kyc_intake::aws::load_config().await)?;
    let run = invoker.replay(&request).await?;
    let mut text: Vec<String> = run
        .deliveries
        .iter()
        .map(|d| match (&d.event_id, &d.type_now) {
            (None, _) => format!("{}  {}", d.key, d.verdict),
            (Some(id), None) if matches!(d.outcome, Outcome::Refused | Outcome::Erased) => {
                format!("{id}  {}", d.verdict)
            }
            (Some(id), None) => format!("{id}  {}", d.outcome),
            (Some(id), Some(now)) => format!(
                "{id}  {} -> {now}  {}  {}",
                d.type_then.as_deref().unwrap_or("-"),
                d.verdict,
                d.outcome
            ),
        })
        .collect();
    let kyc_intake::replay::ReplayRun {
        replay_id: ref id,
        read,
        sent,
        refused,
        failed,
        skipped,
        erased,
        ..
    } = run;
    if read == 0 {
        let sources: Vec<&str> = specs.iter().map(|s| s.name).collect();
        return Err(Failure::failed(format!(
            "nothing archived for {} between {} and {}: check the range (UTC days) and --source",
            sources.join(", "),
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    text.push(format!(
        "replay {id} (trace {}): read {read}, sent {sent}, refused {refused}, failed {failed}{}{}",
        run.trace_id,
        if erased > 0 {
            format!(", skipped {erased} erased")
        } else {
            String::new()
        },
        if skipped > 0 {
            format!(", skipped {skipped} of other types")
        } else {
            String::new()
        }
    ));
    Ok(Report {
        drift: failed > 0 || refused > 0,
        json: json!(run),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::Range;

    #[test]
    fn a_range_that_ends_before_it_starts_is_a_usage_failure_not_an_empty_listing() {
        let range = |from: &str, to: &str| Range {
            from: Some(from.to_owned()),
            to: Some(to.to_owned()),
        };
        let refused = range("2026-01-02", "2026-01-01")
            .instants()
            .expect_err("reversed");
        assert!(refused.usage && refused.message.contains("--to is before --from"));
        assert!(range("2026-01-01", "2026-01-01").instants().is_ok());
    }
}
