//! One block of figures at one memory size: every bootstrap and the floor through the same
//! events in interleaved chunks, then init, latency, CPU, memory, size and cost per million.

use crate::floor::{sent_message, stack, Floor};
use crate::function::{
    event, sequential, start_function, status_of, Archive, Function, Runtime, TIMEOUT,
};
use crate::process::peak_rss_kib;
use bytes::Bytes;
use kyc_local::resources::{self, local_sdk_config, BoxError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Lambda's x86 price per GB-second and per request (first tier, as of 2025: check the current
/// pricing page for your region).
pub(crate) const PRICE_GB_SECOND: f64 = 0.000_016_666_7;
pub(crate) const PRICE_REQUEST: f64 = 0.000_000_2;

/// The cost of a million invocations at `memory_mb` lasting `billed_ms` each.
pub(crate) fn cost_per_million(memory_mb: u32, billed_ms: f64) -> f64 {
    1e6 * (PRICE_REQUEST + f64::from(memory_mb) / 1024.0 * billed_ms / 1e3 * PRICE_GB_SECOND)
}

/// Events per chunk of the interleaved measurement.
pub(crate) const CHUNK: usize = 50;

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One bootstrap under test, on its own table and queue, and what it did.
pub(crate) struct Subject {
    pub(crate) size: u64,
    pub(crate) queue_url: String,
    pub(crate) f: Function,
    pub(crate) init: Duration,
    pub(crate) first_response: Duration,
    pub(crate) new_latencies: Vec<f64>,
    pub(crate) new_cpu_ns: u64,
    pub(crate) dup_latencies: Vec<f64>,
    pub(crate) dup_cpu_ns: u64,
    pub(crate) peak_rss_kib: u64,
}

impl Subject {
    /// Start `bootstrap` and send it its first (cold) event. `server` is the local server's own
    /// (plain) endpoint, for setting up the table and queue.
    pub(crate) async fn start(
        bootstrap: &Path,
        runtime: Runtime<'_>,
        server: &str,
        name: &str,
    ) -> Result<Self, BoxError> {
        // Read whole, so both bootstraps start from the page cache, not from whichever disk
        // state the build left.
        let size = std::fs::read(bootstrap)
            .map_err(|e| format!("{}: {e} (make bench builds it)", bootstrap.display()))?
            .len() as u64;
        let (table, queue_url) = stack(server, name, true).await?;
        // A subject named `...archive...` also writes the audit archive, and one named
        // `...sealed...` seals each delivery under a data key of its own: what each adds.
        let archive = (name.contains("archive") || name.contains("sealed")).then(|| Archive {
            bucket: format!("{name}-bucket"),
            keys_table: name.contains("sealed").then(|| format!("{name}-keys")),
        });
        if let Some(archive) = &archive {
            let sdk = local_sdk_config(server).await;
            resources::ensure_bucket(&sdk, &archive.bucket).await?;
            resources::ensure_signing_key(&sdk, resources::LOCAL_SIGNING_KEY).await?;
            if let Some(table) = &archive.keys_table {
                resources::ensure_keys_table(&sdk, table).await?;
                resources::ensure_archive_key(&sdk, resources::LOCAL_ARCHIVE_KEY).await?;
            }
        }
        let f = start_function(
            bootstrap,
            runtime,
            &table,
            &queue_url,
            None,
            archive.as_ref(),
        )
        .await?;
        let started = Instant::now();
        let answer = f
            .api
            .invoke(event(usize::MAX), TIMEOUT)
            .await
            .ok_or("no first answer")?;
        let first_response = started.elapsed();
        if status_of(&answer).map(|(s, _)| s) != Some(200) {
            return Err(format!("first event not accepted: {answer:?}").into());
        }
        let init = f
            .api
            .first_next()
            .map(|t| t.duration_since(f.spawned))
            .ok_or("the runtime never asked for an event")?;
        Ok(Self {
            size,
            queue_url,
            f,
            init,
            first_response,
            new_latencies: Vec::new(),
            new_cpu_ns: 0,
            dup_latencies: Vec::new(),
            dup_cpu_ns: 0,
            peak_rss_kib: 0,
        })
    }

    /// CPU ms per event of `ns` spent over the run.
    pub(crate) fn cpu_ms(&self, ns: u64) -> f64 {
        ns as f64 / 1e6 / self.new_latencies.len().max(1) as f64
    }
}

pub(crate) fn row(label: &str, values: impl IntoIterator<Item = String>) {
    let values: Vec<String> = values.into_iter().map(|v| format!("{v:>24}")).collect();
    println!("{label:<40}{}", values.join(""));
}

pub(crate) fn latency(lat: &mut [f64]) -> String {
    lat.sort_by(f64::total_cmp);
    format!(
        "{:.2} / {:.2} ms",
        percentile(lat, 0.5),
        percentile(lat, 0.99)
    )
}

/// One measurement at one memory size: every bootstrap in `names`, N new events and N duplicates
/// in interleaved chunks with the floor; one block of figures.
pub(crate) async fn measure(
    names: &[(&str, PathBuf)],
    runtime: Runtime<'_>,
    server: &str,
    n: usize,
    memory: Option<u32>,
) -> Result<(), BoxError> {
    let mut subjects = Vec::new();
    for (name, path) in names {
        let name = format!("bench-{}-{}", name.replace('+', "-"), runtime.memory_mb);
        subjects.push(Subject::start(path, runtime, server, &name).await?);
    }
    let sent = sent_message(server, &subjects[0].queue_url).await?;
    let floor_name = format!("bench-floor-{}", runtime.memory_mb);
    let mut floor = Floor::new(runtime.endpoint, &floor_name, sent).await?;
    for start in (0..n).step_by(CHUNK) {
        let ids = start..(start + CHUNK).min(n);
        let events: Vec<Bytes> = ids.clone().map(event).collect();
        for s in subjects.iter_mut() {
            s.new_cpu_ns += sequential(&s.f, &events, "accepted", &mut s.new_latencies).await?;
        }
        floor.chunk(ids).await?;
    }
    for start in (0..n).step_by(CHUNK) {
        // Signed afresh, so a long run stays inside the timestamp tolerance.
        let events: Vec<Bytes> = (start..(start + CHUNK).min(n)).map(event).collect();
        for s in subjects.iter_mut() {
            s.dup_cpu_ns += sequential(&s.f, &events, "duplicate", &mut s.dup_latencies).await?;
        }
    }
    for s in subjects.iter_mut() {
        s.peak_rss_kib = peak_rss_kib(s.f.child.id());
    }
    let floor_ms = floor.ms_per_event();
    print_figures(names, &mut subjects, floor_ms, memory);

    Ok(())
}

/// The block of figures: a row per figure, a column per bootstrap; the floor, the cost at a
/// memory size, and the ratio to the baseline when there is one.
fn print_figures(
    names: &[(&str, PathBuf)],
    subjects: &mut [Subject],
    floor_ms: f64,
    memory: Option<u32>,
) {
    row("", names.iter().map(|(name, _)| name.to_string()));
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    row(
        "init (spawn → first /next)",
        subjects.iter().map(|s| ms(s.init)),
    );
    row(
        "first response (cold, 1 new event)",
        subjects.iter().map(|s| ms(s.first_response)),
    );
    row(
        "warm new event, median / p99",
        subjects.iter_mut().map(|s| latency(&mut s.new_latencies)),
    );
    row(
        "warm duplicate, median / p99",
        subjects.iter_mut().map(|s| latency(&mut s.dup_latencies)),
    );
    row(
        "CPU per warm new event",
        subjects
            .iter()
            .map(|s| format!("{:.3} ms", s.cpu_ms(s.new_cpu_ns))),
    );
    row(
        "CPU per warm duplicate",
        subjects
            .iter()
            .map(|s| format!("{:.3} ms", s.cpu_ms(s.dup_cpu_ns))),
    );
    row(
        "new event CPU / SDK floor",
        subjects.iter().map(|s| {
            format!(
                "{:.2} x",
                s.cpu_ms(s.new_cpu_ns) / floor_ms.max(f64::EPSILON)
            )
        }),
    );
    row(
        "peak RSS",
        subjects
            .iter()
            .map(|s| format!("{:.1} MiB", s.peak_rss_kib as f64 / 1024.0)),
    );
    row(
        "bootstrap size (stripped)",
        subjects.iter().map(|s| format!("{} bytes", s.size)),
    );
    println!();
    println!(
        "SDK floor (3 calls, warm client, this process): CPU {floor_ms:.3} ms/event; goal for a new event ≤ 1.2 x floor + 0.1 ms = {:.3} ms",
        1.2 * floor_ms + 0.1
    );
    if let Some(mb) = memory {
        // Billed duration: each invocation's duration rounded up to the millisecond.
        let billed = |lat: &[f64]| percentile(lat, 0.5).ceil();
        row(
            "billed, new event (median, rounded up)",
            subjects
                .iter()
                .map(|s| format!("{:.0} ms", billed(&s.new_latencies))),
        );
        row(
            "cost per million new events",
            subjects
                .iter()
                .map(|s| format!("{:.3} USD", cost_per_million(mb, billed(&s.new_latencies)))),
        );
        row(
            "cost per million duplicates",
            subjects
                .iter()
                .map(|s| format!("{:.3} USD", cost_per_million(mb, billed(&s.dup_latencies)))),
        );
    }
    if let ([now, baseline], [(now_name, _), (base_name, _)]) = (&subjects[..], names) {
        println!(
            "{now_name} / {base_name}: CPU per new event {:.2} x, per duplicate {:.2} x",
            now.cpu_ms(now.new_cpu_ns) / baseline.cpu_ms(baseline.new_cpu_ns).max(f64::EPSILON),
            now.cpu_ms(now.dup_cpu_ns) / baseline.cpu_ms(baseline.dup_cpu_ns).max(f64::EPSILON),
        );
    }
}
