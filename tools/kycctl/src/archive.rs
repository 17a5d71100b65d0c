//! `kycctl archive list|show` and `kycctl replay`: the audit archive read back, and its
//! deliveries normalized again with this build's code and sent to the events queue.
//!
//! AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from the usual SDK environment.
//! Replay never touches the intake's idempotency records: the replayed events carry the replay id
//! (`kycreplay`, message attribute `replay`) and a deduplication id of their own
//! (`<event id>:replay:<replay id>`), so the queue does not drop them as the originals' repeats;
//! the journey worker applies each event id once, so replaying what it already applied changes
//! nothing.

use crate::hyperverge::Failure;
use crate::Report;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use clap::{Args, Subcommand};
use kyc_intake::archive::{self, ArchivedDelivery, Verdict};
use kyc_intake::aws::{S3Archive, SqsSink};
use kyc_intake::config::ProcessEnv;
use kyc_intake::ports::EventSink;
use kyc_intake::registry;
use kyc_intake::sources::SourceSpec;
use kyc_intake::startup;
use serde_json::json;

#[derive(Args)]
pub struct ArchiveArgs {
    /// The archive bucket (the stack's `ArchiveBucketName` output).
    #[arg(long, env = "ARCHIVE_BUCKET", global = true)]
    bucket: Option<String>,
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
    /// One archived delivery, as stored, with replay's verdict and the raw body as text.
    Show {
        /// The event id, or a unique prefix of it (8 characters or more).
        event_id: String,
        /// Look only under this source (faster).
        #[arg(long)]
        source: Option<String>,
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
    /// The last day (inclusive) or time.
    #[arg(long)]
    to: String,
    /// Only events of this type (as it is now, or as it was when they arrived).
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Print what would be sent, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// The events queue (the stack's `EventsQueueUrl` output).
    #[arg(long, env = "EVENTS_QUEUE_URL")]
    queue_url: Option<String>,
    /// The archive bucket (the stack's `ArchiveBucketName` output).
    #[arg(long, env = "ARCHIVE_BUCKET")]
    bucket: Option<String>,
}

fn source_spec(name: &str) -> Result<&'static SourceSpec, Failure> {
    registry::source(name).ok_or_else(|| {
        let known: Vec<&str> = registry::sources().map(|s| s.name).collect();
        Failure::usage(format!(
            "--source {name} is not a source (one of {})",
            known.join(", ")
        ))
    })
}

/// One end of a range: a UTC day (its first or last instant) or an RFC 3339 time.
fn instant(flag: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, Failure> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let time = if end_of_day {
            NaiveTime::from_hms_milli_opt(23, 59, 59, 999)
        } else {
            NaiveTime::from_hms_opt(0, 0, 0)
        };
        return Ok(day.and_time(time.unwrap_or_default()).and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            Failure::usage(format!(
                "{flag} `{value}` is neither a day (YYYY-MM-DD) nor an RFC 3339 time"
            ))
        })
}

/// An SDK error in one line: the service's code and message, or the whole chain for a transport
/// failure.
fn sdk_error<E, R>(e: aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or_default()
        ),
        None => format!(
            "{e}: cannot reach S3 (check the network, AWS_ENDPOINT_URL and the credentials; locally, is `make run` running?)"
        ),
    }
}

fn bucket(bucket: Option<String>) -> Result<String, Failure> {
    bucket.filter(|b| !b.trim().is_empty()).ok_or_else(|| {
        Failure::usage("no archive bucket: give --bucket or set ARCHIVE_BUCKET (the stack's ArchiveBucketName output)")
    })
}

/// The archive as the command line reads it.
struct Reader {
    /// The AWS settings, loaded once for every client of the command.
    sdk: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Reader {
    async fn new(bucket: String) -> Self {
        let sdk = kyc_intake::aws::load_config().await;
        Self {
            s3: S3Archive::client(&sdk),
            sdk,
            bucket,
        }
    }

    /// Every key under `prefix`.
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, Failure> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| {
                    Failure::failed(format!(
                        "listing s3://{}/{prefix}: {}",
                        self.bucket,
                        sdk_error(e)
                    ))
                })?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match out.next_continuation_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(keys),
            }
        }
    }

    /// The object at `key`: `Err` (outer) when S3 cannot be read, `Ok(Err(why))` when the object
    /// is not an archived delivery.
    async fn read(&self, key: &str) -> Result<Result<ArchivedDelivery, String>, Failure> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                Failure::failed(format!(
                    "reading s3://{}/{key}: {}",
                    self.bucket,
                    sdk_error(e)
                ))
            })?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| Failure::failed(format!("reading s3://{}/{key}: {e}", self.bucket)))?
            .into_bytes();
        Ok(serde_json::from_slice(&bytes).map_err(|e| format!("not an archived delivery ({e})")))
    }

    /// How many versions (and delete markers) `key` has: a delivery is written once.
    async fn versions(&self, key: &str) -> Result<usize, Failure> {
        let mut count = 0;
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let out = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| {
                    Failure::failed(format!(
                        "listing the versions of s3://{}/{key}: {}",
                        self.bucket,
                        sdk_error(e)
                    ))
                })?;
            count += out
                .versions()
                .iter()
                .filter(|v| v.key() == Some(key))
                .count();
            count += out
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .count();
            if out.is_truncated() != Some(true) {
                return Ok(count);
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            version_marker = out.next_version_id_marker().map(str::to_owned);
        }
    }

    /// The deliveries of `source` received within the range, oldest first, with their keys;
    /// and the objects that are not deliveries at all (key, why).
    async fn deliveries(
        &self,
        source: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<(Vec<Entry>, Vec<(String, String)>), Failure> {
        let keys = match (from, to) {
            (Some(from), Some(to)) => {
                if to < from {
                    return Err(Failure::usage("--to is before --from"));
                }
                let mut keys = Vec::new();
                let mut day = from;
                while day.date_naive() <= to.date_naive() {
                    keys.extend(self.keys(&archive::day_prefix(source, day)).await?);
                    day += Duration::days(1);
                }
                keys
            }
            _ => self.keys(&format!("{}/{source}/", archive::PREFIX)).await?,
        };
        let mut deliveries = Vec::new();
        let mut unreadable = Vec::new();
        for key in keys {
            let d = match self.read(&key).await? {
                Ok(d) => d,
                Err(why) => {
                    unreadable.push((key, why));
                    continue;
                }
            };
            let at = match d.received_at() {
                Ok(at) => at,
                Err(why) => {
                    unreadable.push((key, why));
                    continue;
                }
            };
            // An object whose time is not its key's day is listed whatever its time: replay
            // refuses it with the reason, rather than a range silently leaving it out.
            let on_its_day = key.starts_with(&archive::day_prefix(source, at));
            if on_its_day && (from.is_some_and(|f| at < f) || to.is_some_and(|t| at > t)) {
                continue;
            }
            deliveries.push((at, Entry { key, delivery: d }));
        }
        deliveries
            .sort_by(|(a, x), (b, y)| (a, &x.delivery.event_id).cmp(&(b, &y.delivery.event_id)));
        Ok((deliveries.into_iter().map(|(_, e)| e).collect(), unreadable))
    }

    /// Replay's verdict on one archived delivery.
    async fn verdict(&self, entry: &Entry, checker: &Checker) -> Result<Verdict, Failure> {
        let versions = self.versions(&entry.key).await?;
        Ok(checker.verdict(&entry.key, versions, &entry.delivery))
    }
}

/// An archived delivery and its key.
struct Entry {
    key: String,
    delivery: ArchivedDelivery,
}

/// What replay checks deliveries with: the source's authentication as its function reads it
/// today, or why it cannot be built (every delivery is then refused with that reason).
struct Checker {
    source: &'static SourceSpec,
    auth: Result<
        (
            Box<dyn kyc_intake::auth::Authenticate>,
            &'static [&'static str],
        ),
        String,
    >,
}

impl Checker {
    async fn new(source: &'static SourceSpec, sdk: &aws_config::SdkConfig) -> Self {
        let auth = startup::source_auth(source, &ProcessEnv, sdk)
            .await
            .map_err(|e| e.to_string());
        Self { source, auth }
    }

    fn verdict(&self, key: &str, versions: usize, delivery: &ArchivedDelivery) -> Verdict {
        match &self.auth {
            Err(why) => Verdict::Refused(format!("the source's secrets cannot be read: {why}")),
            Ok((auth, secret_variables)) => archive::verify(
                delivery,
                &archive::Check {
                    key,
                    versions,
                    source: self.source,
                    auth: auth.as_ref(),
                    secret_variables,
                    now: Utc::now(),
                },
            ),
        }
    }
}

pub async fn archive(args: ArchiveArgs) -> Result<Report, Failure> {
    let reader = Reader::new(bucket(args.bucket)?).await;
    match args.command {
        ArchiveCommand::List {
            source,
            range,
            subject,
        } => {
            source_spec(&source)?;
            let from = range
                .from
                .as_deref()
                .map(|v| instant("--from", v, false))
                .transpose()?;
            let to = range
                .to
                .as_deref()
                .map(|v| instant("--to", v, true))
                .transpose()?;
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
                    d.subject().unwrap_or_else(|| "-".to_owned()),
                    d.event_type().unwrap_or_else(|| "-".to_owned())
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
                })).collect::<Vec<_>>(),
                "unreadable": unreadable.iter().map(|(key, why)| json!({"key": key, "why": why})).collect::<Vec<_>>(),
            });
            text.push(format!("{} deliveries", entries.len()));
            Ok(Report::ok(text, json))
        }
        ArchiveCommand::Show { event_id, source } => {
            let prefix = match &source {
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
            let key = match matching.as_slice() {
                [key] => key.clone(),
                [] => {
                    return Err(Failure::failed(format!(
                        "no archived delivery {event_id} under s3://{}/{prefix}",
                        reader.bucket
                    )))
                }
                more => {
                    return Err(Failure::usage(format!(
                        "{event_id} is the start of {} event ids: give more of it",
                        more.len()
                    )))
                }
            };
            let delivery = reader
                .read(&key)
                .await?
                .map_err(|why| Failure::failed(format!("s3://{}/{key}: {why}", reader.bucket)))?;
            // The verdict of the source the key names (the object's own claim is what is checked).
            let verdict =
                match key
                    .strip_prefix(&format!("{}/", archive::PREFIX))
                    .and_then(|rest| {
                        registry::sources().find(|s| rest.starts_with(&format!("{}/", s.name)))
                    }) {
                    Some(spec) => {
                        let checker = Checker::new(spec, &reader.sdk).await;
                        let entry = Entry {
                            key: key.clone(),
                            delivery,
                        };
                        let verdict = reader.verdict(&entry, &checker).await?;
                        (entry.delivery, verdict)
                    }
                    None => (
                        delivery,
                        Verdict::Refused("the key names no source".to_owned()),
                    ),
                };
            let (delivery, verdict) = verdict;
            let mut value = serde_json::to_value(&delivery)
                .map_err(|e| Failure::failed(format!("{key}: {e}")))?;
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("verdict".into(), verdict.to_string().into());
            }
            let mut text = vec![
                format!("s3://{}/{key}", reader.bucket),
                format!("verdict: {verdict}"),
                pretty,
            ];
            // The raw body as text, when it is (it is what the provider sent).
            if let Some(body) = delivery.body().ok().and_then(|b| String::from_utf8(b).ok()) {
                text.push("body (decoded from body_base64):".to_owned());
                text.push(body);
            }
            Ok(Report::ok(text, value))
        }
    }
}

/// A replay id: the time it started and 8 random hex digits.
fn replay_id() -> String {
    let owner = kyc_intake::ports::Claim::new_owner();
    format!(
        "r{}-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        owner.get(..8).unwrap_or_default()
    )
}

pub async fn replay(args: ReplayArgs) -> Result<Report, Failure> {
    let specs: Vec<&'static SourceSpec> = match &args.source {
        Some(name) => vec![source_spec(name)?],
        None => registry::sources().collect(),
    };
    let from = instant("--from", &args.from, false)?;
    let to = instant("--to", &args.to, true)?;
    let queue_url = match (&args.queue_url, args.dry_run) {
        (_, true) => None,
        (Some(q), false) if !q.trim().is_empty() => Some(q.trim().to_owned()),
        _ => {
            return Err(Failure::usage(
                "no events queue: give --queue-url or set EVENTS_QUEUE_URL (the stack's EventsQueueUrl output)",
            ))
        }
    };
    let reader = Reader::new(bucket(args.bucket)?).await;
    let sink = queue_url
        .as_ref()
        .map(|url| SqsSink::new(aws_sdk_sqs::Client::new(&reader.sdk), url.clone()));
    let id = replay_id();
    let mut text = Vec::new();
    let (mut read, mut sent, mut failed, mut refused, mut skipped) = (0, 0, 0, 0, 0);
    let mut items = Vec::new();
    for spec in specs.iter().copied() {
        let (entries, unreadable) = reader.deliveries(spec.name, Some(from), Some(to)).await?;
        let checker = Checker::new(spec, &reader.sdk).await;
        for (key, why) in &unreadable {
            read += 1;
            refused += 1;
            text.push(format!("{key}  refused: {why}"));
            items.push(
                json!({ "key": key, "verdict": format!("refused: {why}"), "outcome": "refused" }),
            );
        }
        for entry in &entries {
            read += 1;
            let delivery = &entry.delivery;
            let verdict = reader.verdict(entry, &checker).await?;
            if !verdict.sendable() {
                refused += 1;
                text.push(format!("{}  {verdict}", delivery.event_id));
                items.push(json!({
                    "event_id": delivery.event_id, "key": entry.key,
                    "verdict": verdict.to_string(), "outcome": "refused",
                }));
                continue;
            }
            let replayed = match archive::replay(delivery, spec, &id) {
                Ok(r) => r,
                Err(e) => {
                    failed += 1;
                    text.push(format!("{}  cannot be read again: {e}", delivery.event_id));
                    continue;
                }
            };
            let then = replayed.type_then.clone().unwrap_or_else(|| "-".to_owned());
            let now = replayed.event.event_type.clone();
            if let Some(t) = &args.event_type {
                if *t != now && *t != then {
                    skipped += 1;
                    continue;
                }
            }
            let outcome = match &sink {
                None => "dry run".to_owned(),
                Some(sink) => match sink.send(&replayed.message).await {
                    Ok(_) => {
                        sent += 1;
                        "sent".to_owned()
                    }
                    Err(e) => {
                        failed += 1;
                        format!("failed: {e}")
                    }
                },
            };
            text.push(format!(
                "{}  {then} -> {now}  {verdict}  {outcome}",
                delivery.event_id
            ));
            items.push(json!({
                "event_id": delivery.event_id, "key": entry.key, "replayed_id": replayed.event.id,
                "type_then": replayed.type_then, "type_now": now, "verdict": verdict.to_string(),
                "outcome": outcome,
            }));
        }
    }
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
        "replay {id}: read {read}, sent {sent}, refused {refused}, failed {failed}{}",
        if skipped > 0 {
            format!(", skipped {skipped} of other types")
        } else {
            String::new()
        }
    ));
    Ok(Report {
        drift: failed > 0 || refused > 0,
        json: json!({ "replay_id": id, "dry_run": args.dry_run, "read": read, "sent": sent,
                      "refused": refused, "failed": failed, "skipped": skipped,
                      "deliveries": items }),
        text,
    })
}
