//! `kycctl erase`: crypto-shred one journey's archived deliveries. Their objects stay locked and
//! attested; each data key in the archive keys table is replaced by its tombstone and an erasure
//! record (the journey's partition, when, who, why) is written beside them, so every reader
//! reports them `erased <date>` and a provider's retry never keys one again.
//! The journey item keeps its statuses and drops its archive links. A delivery with no journey
//! reference (an unrecognized payload) is a journey of its own, erased by its event id. `--reapply` deletes again
//! every key an erasure record names, after a restore of the table brought some back.

use crate::report::Failure;
use crate::report::{counted, Finding, Report};
use clap::Args;
use kyc_intake::aws::Erasure;
use kyc_intake::aws::{ArchiveKeyTable, Erased, JourneyReader};
use kyc_intake::config::var::ARCHIVE_KEYS_TABLE;
use kyc_intake::intake::seal;
use serde::Serialize;

#[derive(Args)]
pub struct EraseArgs {
    /// e.g. `cashfree/vkyc`.
    #[arg(long, required_unless_present = "reapply")]
    source: Option<String>,
    /// The provider's journey reference.
    #[arg(long, required_unless_present_any = ["reapply", "event"])]
    subject: Option<String>,
    /// A delivery with no journey reference (a payload the intake did not recognize) is a
    /// journey of its own: its event id, in full.
    #[arg(long, conflicts_with = "subject")]
    event: Option<String>,
    /// Why (a DPDP request, a ruling): kept in the erasure record.
    #[arg(long, required_unless_present = "reapply")]
    reason: Option<String>,
    /// Delete again every key an erasure record names (after a restore of the table).
    #[arg(long, conflicts_with_all = ["source", "subject", "event", "reason"])]
    reapply: bool,
    /// The archive keys table (the stack's `ArchiveKeysTableName` output).
    #[arg(long, env = "ARCHIVE_KEYS_TABLE")]
    keys_table: Option<String>,
    /// The journey table, whose item drops its archive links (the stack's `JourneyTableName`
    /// output); left alone when not given.
    #[arg(long, env = "JOURNEY_TABLE")]
    journey_table: Option<String>,
}

/// Who is erasing: the caller's identity as AWS sees it.
async fn caller(sdk: &aws_config::SdkConfig) -> Result<String, Failure> {
    let out = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "who is erasing (sts:GetCallerIdentity): {}",
                aws_sdk_sts::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(out.arn().unwrap_or("unknown").to_owned())
}

pub async fn erase(args: EraseArgs) -> Result<Report, Failure> {
    let table = crate::report::given(args.keys_table).ok_or_else(|| {
            Failure::usage(format!(
                "erasure is off: no archive keys table (give --keys-table or set {ARCHIVE_KEYS_TABLE} to the stack's ArchiveKeysTableName output). A stack deployed with ArchiveErasable=false seals deliveries with the bucket's key alone, so one journey cannot be erased without the others"
            ))
        })?;
    let sdk = kyc_intake::aws::load_config().await;
    let keys = ArchiveKeyTable::new(&sdk, table);
    if args.reapply {
        return reapply(&keys).await;
    }
    let subject = crate::report::given(args.subject);
    let (Some(source), Some(reason)) = (crate::report::given(args.source), args.reason) else {
        return Err(Failure::usage(
            "--source, --subject (or --event) and --reason",
        ));
    };
    crate::report::source_spec(&source)?;
    if reason.trim().is_empty() {
        return Err(Failure::usage("--reason must say why"));
    }
    let journey = journey_of(&source, subject.as_deref(), args.event.as_deref())?;
    let erasure = erase_journey(
        &sdk,
        &keys,
        &source,
        &journey,
        &subject,
        args.event.as_deref(),
        reason.trim(),
    )
    .await?;
    // A delivery without a journey reference has no journey item.
    let links = match (crate::report::given(args.journey_table), &subject) {
        (Some(table), Some(subject)) => Some(
            JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), table)
                .drop_archive_links(&source, subject)
                .await
                .map_err(|e| Failure::failed(format!("the journey's archive links: {e}")))?,
        ),
        _ => None,
    };
    let earlier = match &erasure {
        Some(_) => Vec::new(),
        None => {
            let partition = seal::partition(&source, &journey);
            let mut earlier = keys.erasures(&partition).await.map_err(Failure::failed)?;
            earlier.extend(keys.erasures(&journey).await.map_err(Failure::failed)?);
            earlier.into_iter().map(|e| e.erased_at).collect()
        }
    };
    Ok(Report::of(&ErasedJourney {
        already_erased: erasure.is_none(),
        journey,
        erasure,
        archive_links_dropped: links,
        source,
        earlier,
        by_event: args.event.is_some(),
    }))
}

/// `kycctl erase`: the journey's erasure record (none when it was erased already, and nothing
/// archived since), and how many archive links its journey item dropped (none when it was left
/// alone).
#[derive(Serialize)]
struct ErasedJourney {
    journey: String,
    erasure: Option<Erasure>,
    already_erased: bool,
    archive_links_dropped: Option<usize>,
    #[serde(skip)]
    source: String,
    /// When the earlier erasures were, when this one found nothing to delete.
    #[serde(skip)]
    earlier: Vec<String>,
    /// Erased by event id: a delivery without a journey reference has no journey item.
    #[serde(skip)]
    by_event: bool,
}

impl Finding for ErasedJourney {
    fn lines(&self) -> Vec<String> {
        let (short, source) = (&self.journey[..16.min(self.journey.len())], &self.source);
        let mut text = vec![match &self.erasure {
            Some(e) => format!(
                "erased journey {short} ({source}): {} deleted at {} by {}",
                counted(e.event_ids.len(), "delivery's key", "deliveries' keys"),
                e.erased_at,
                e.by
            ),
            None => format!(
                "journey {short} ({source}) was already erased ({}): nothing archived since, nothing to delete",
                self.earlier.join(", ")
            ),
        }];
        match self.archive_links_dropped {
            Some(n) => text.push(format!(
                "the journey keeps its statuses; {} dropped",
                counted(n, "archive link", "archive links")
            )),
            None if self.by_event => {}
            None => text.push(
                "the journey item was left alone (give --journey-table or set JOURNEY_TABLE to drop its archive links)"
                    .to_owned(),
            ),
        }
        text.push(
            "complete once the table's point-in-time recovery window (ArchiveKeysRecoveryDays) has passed; after any restore, run kycctl erase --reapply"
                .to_owned(),
        );
        text
    }
}

/// `kycctl erase --reapply`: every key an erasure record names deleted again.
async fn reapply(keys: &ArchiveKeyTable) -> Result<Report, Failure> {
    let done = keys.reapply().await.map_err(Failure::failed)?;
    let erasures: Vec<Reapplied> = done
        .into_iter()
        .map(|(erasure, deleted_again)| Reapplied {
            erasure,
            deleted_again,
        })
        .collect();
    Ok(Report::of(&Reapplying {
        deleted_again: erasures.iter().map(|r| r.deleted_again).sum(),
        erasures,
    }))
}

/// `kycctl erase --reapply`: each erasure record and how many of its keys were deleted again.
#[derive(Serialize)]
struct Reapplying {
    erasures: Vec<Reapplied>,
    deleted_again: usize,
}

/// One erasure reapplied.
#[derive(Serialize)]
struct Reapplied {
    erasure: Erasure,
    deleted_again: usize,
}

impl Finding for Reapplying {
    fn lines(&self) -> Vec<String> {
        let mut text: Vec<String> = self
            .erasures
            .iter()
            .map(|r| {
                let e = &r.erasure;
                format!(
                    "journey {}  erased {}  {} deleted again",
                    &e.journey[..16.min(e.journey.len())],
                    e.erased_at,
                    counted(r.deleted_again, "key", "keys")
                )
            })
            .collect();
        text.push(format!(
            "{} reapplied: {} deleted again",
            counted(self.erasures.len(), "erasure", "erasures"),
            counted(self.deleted_again, "key", "keys")
        ));
        text
    }
}

/// The journey hash `erase` works on: of the subject, or, for a delivery with no journey
/// reference, of its whole event id.
fn journey_of(source: &str, subject: Option<&str>, event: Option<&str>) -> Result<String, Failure> {
    Ok(match (subject, event) {
        (Some(subject), None) => seal::journey(source, Some(subject), ""),
        (None, Some(event)) => {
            let event = event.trim().to_ascii_lowercase();
            if event.len() != 64 || !event.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::usage(
                    "--event takes the delivery's whole event id (64 hex digits)",
                ));
            }
            seal::journey(source, None, &event)
        }
        _ => return Err(Failure::usage("--subject or --event")),
    })
}

/// Erase `journey` of `source` as the caller: the erasure, `None` when an earlier one stands;
/// nothing found is a failure naming what was looked for.
async fn erase_journey(
    sdk: &aws_config::SdkConfig,
    keys: &ArchiveKeyTable,
    source: &str,
    journey: &str,
    subject: &Option<String>,
    event: Option<&str>,
    reason: &str,
) -> Result<Option<kyc_intake::aws::Erasure>, Failure> {
    let by = caller(sdk).await?;
    Ok(
        match keys
            .erase(source, journey, &by, reason, chrono::Utc::now())
            .await
            .map_err(Failure::failed)?
        {
            Erased::Now(e) => Some(e),
            Erased::Already => None,
            // Nothing to erase is not an erasure: say what was looked for, write nothing, exit 1.
            Erased::NothingFound => {
                let what = match (subject, event) {
                    (Some(subject), _) => format!("the journey {subject:?} of {source}"),
                    (None, Some(event)) => format!("the delivery {event} of {source}"),
                    _ => source.to_owned(),
                };
                return Err(Failure::failed(format!(
                "nothing erased: the archive keys table holds no key and no erasure of {what} (journey {}); the reference must match exactly, letter case included (kycctl journey find, or archive list --source {source}, shows the ones archived)",
                &journey[..16]
            )));
            }
        },
    )
}
