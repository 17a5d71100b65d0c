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

use crate::record::Entry;
use crate::record::{ArchiveAccess, Reader};
use crate::report::Failure;
use crate::report::{counted, instant, source_spec, Finding, Report};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use kyc_intake::intake::archive::{self, ArchivedDelivery};
use kyc_intake::intake::verdict::Verdict;
use kyc_intake::replay::{Outcome, ReplayRun};
use kyc_intake::sources::registry;
use kyc_intake::sources::SourceSpec;
use serde::Serialize;

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
            Ok(Report::of(&Listing::new(&entries, unreadable)))
        }
        ArchiveCommand::Show { event_id, source } => {
            let key = find_key(&reader, &event_id, source.as_deref()).await?;
            let (delivery, verdict) = reader.delivery(&key).await?;
            Ok(Report::of(&Shown {
                location: format!("s3://{}/{key}", reader.bucket),
                verdict: verdict.to_string(),
                erased: delivery.erased.clone(),
                delivery: &delivery,
            }))
        }
    }
}

/// `kycctl archive list`: a source's deliveries of a range, and the objects it could not read.
#[derive(Serialize)]
struct Listing {
    deliveries: Vec<Listed>,
    unreadable: Vec<Unreadable>,
}

/// One delivery of a listing.
#[derive(Serialize)]
struct Listed {
    event_id: String,
    received_at: String,
    subject: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    key: String,
    erased: Option<String>,
    /// The subject and type as the text's columns show them (an erased or sealed delivery's say so).
    #[serde(skip)]
    cells: (String, String),
}

/// An archived object that could not be read, and why.
#[derive(Serialize)]
struct Unreadable {
    key: String,
    why: String,
}

impl Listing {
    fn new(entries: &[Entry], unreadable: Vec<(String, String)>) -> Self {
        let deliveries = entries
            .iter()
            .map(|e| {
                let d = &e.delivery;
                Listed {
                    event_id: d.event_id.clone(),
                    received_at: d.received_at.clone(),
                    subject: d.subject(),
                    event_type: d.event_type(),
                    key: e.key.clone(),
                    erased: d.erased.clone(),
                    cells: (
                        crate::record::cell(d.subject(), d),
                        crate::record::cell(d.event_type(), d),
                    ),
                }
            })
            .collect();
        let unreadable = unreadable
            .into_iter()
            .map(|(key, why)| Unreadable { key, why })
            .collect();
        Self {
            deliveries,
            unreadable,
        }
    }
}

impl Finding for Listing {
    fn lines(&self) -> Vec<String> {
        let row = |id: &str, at: &str, subject: &str, kind: &str| {
            format!("{id:<64}  {at:<24}  {subject:<32}  {kind}")
        };
        let mut text = vec![row("EVENT ID", "RECEIVED (UTC)", "SUBJECT", "TYPE")];
        text.extend(
            self.deliveries
                .iter()
                .map(|d| row(&d.event_id, &d.received_at, &d.cells.0, &d.cells.1)),
        );
        text.extend(
            self.unreadable
                .iter()
                .map(|u| format!("{}  unreadable: {}", u.key, u.why)),
        );
        text.push(counted(self.deliveries.len(), "delivery", "deliveries"));
        text
    }
}

/// `kycctl archive show`: one delivery as archived, its verdict, and whether it was erased.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    delivery: &'a ArchivedDelivery,
    verdict: String,
    erased: Option<String>,
    /// Where it is (`s3://bucket/key`).
    #[serde(skip)]
    location: String,
}

impl Finding for Shown<'_> {
    fn lines(&self) -> Vec<String> {
        let delivery = self.delivery;
        let mut text = vec![
            self.location.clone(),
            format!("verdict: {}", self.verdict),
            serde_json::to_string_pretty(delivery).unwrap_or_default(),
        ];
        if let Some(at) = &self.erased {
            text.push(format!(
                "body and event: erased {at} (the journey's data keys were deleted; the attestation still holds)"
            ));
        } else if let Some(why) = &delivery.unopened {
            text.push(format!("body and event: sealed, and not opened: {why}"));
        } else if let Some(body) = delivery.body().ok().and_then(|b| String::from_utf8(b).ok()) {
            // The raw body as text, when it is (it is what the provider sent).
            text.push("body (decoded from body_base64):".to_owned());
            text.push(body);
        }
        text
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
    Ok(Report::of(&Verified::new(&checked)))
}

/// `kycctl archive verify`: how many objects are attested and how many not, and each one's
/// verdict.
#[derive(Serialize)]
struct Verified {
    attested: usize,
    refused: usize,
    objects: Vec<VerifiedObject>,
}

/// One object's verdict.
#[derive(Serialize)]
struct VerifiedObject {
    key: String,
    event_id: Option<String>,
    attested: bool,
    verdict: String,
    /// Only for an object that could be read: when its journey was erased, or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    erased: Option<Option<String>>,
}

impl Verified {
    fn new(checked: &[Checked]) -> Self {
        let attested = checked.iter().filter(|c| c.attested()).count();
        Self {
            attested,
            refused: checked.len() - attested,
            objects: checked
                .iter()
                .map(|c| VerifiedObject {
                    key: c.key.clone(),
                    event_id: c.event_id.clone(),
                    attested: c.attested(),
                    verdict: c.verdict_text(),
                    erased: c.verdict.is_ok().then(|| c.erased.clone()),
                })
                .collect(),
        }
    }
}

impl Finding for Verified {
    fn lines(&self) -> Vec<String> {
        let mut text: Vec<String> = self
            .objects
            .iter()
            .map(|o| format!("{}  {}", o.key, o.verdict))
            .collect();
        text.push(format!(
            "{} attested, {} not",
            counted(self.attested, "object", "objects"),
            self.refused
        ));
        text
    }

    fn drift(&self) -> bool {
        self.refused > 0
    }
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
    if run.read == 0 {
        let sources: Vec<&str> = specs.iter().map(|s| s.name).collect();
        return Err(Failure::failed(format!(
            "nothing archived for {} between {} and {}: check the range (UTC days) and --source",
            sources.join(", "),
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    Ok(Report::of(&run))
}

/// A replay: a line per delivery (its event id, the type then and now, the verdict, what became
/// of it), then the counts.
impl Finding for ReplayRun {
    fn lines(&self) -> Vec<String> {
        let mut text: Vec<String> = self
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
        let skipped = |n: usize, what: &str| {
            if n > 0 {
                format!(", skipped {n} {what}")
            } else {
                String::new()
            }
        };
        text.push(format!(
            "replay {} (trace {}): read {}, sent {}, refused {}, failed {}{}{}",
            self.replay_id,
            self.trace_id,
            self.read,
            self.sent,
            self.refused,
            self.failed,
            skipped(self.erased, "erased"),
            skipped(self.skipped, "of other types")
        ));
        text
    }

    fn drift(&self) -> bool {
        self.failed > 0 || self.refused > 0
    }
}

#[cfg(test)]
mod tests {
    use super::{Checked, Range, Verified};
    use crate::report::Report;
    use kyc_intake::intake::verdict::Verdict;

    #[test]
    fn a_verification_reports_the_same_objects_as_text_and_json_and_a_refusal_is_a_difference() {
        let checked = [
            Checked {
                key: "deliveries/a".into(),
                event_id: Some("e1".into()),
                erased: None,
                verdict: Ok(Verdict::Attested {
                    function: "cashfree-webhook".into(),
                    certified: "2026-01-01T00:00:00Z".into(),
                    version: 2,
                }),
            },
            Checked {
                key: "deliveries/b".into(),
                event_id: None,
                erased: None,
                verdict: Err("not JSON".into()),
            },
        ];
        let report = Report::of(&Verified::new(&checked));
        assert!(report.drift());
        let json = report.json();
        assert_eq!(
            (json["attested"].as_u64(), json["refused"].as_u64()),
            (Some(1), Some(1))
        );
        let objects = json["objects"].as_array().expect("objects");
        assert_eq!(
            objects[0]["erased"],
            serde_json::Value::Null,
            "read: erased is said"
        );
        assert!(
            objects[1].get("erased").is_none(),
            "unread: nothing is said of it"
        );
        for (line, object) in report.text().iter().zip(objects) {
            let verdict = object["verdict"].as_str().expect("a verdict");
            assert!(line.ends_with(verdict), "{line} / {verdict}");
        }
        assert_eq!(
            report.text().last().map(String::as_str),
            Some("1 object attested, 1 not")
        );
    }

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
