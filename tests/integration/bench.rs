//! `make bench` keeps working: `kyc-bench` runs the real bootstrap (here the debug build, also as
//! its own baseline) through a few events and prints every figure the README's Performance table
//! is made of. No figure is judged against a target: a test asserts no time.

use kyc_intake_tests::{moto_python, workspace_binary};
use std::process::Command;

/// `kyc-bench` on the debug bootstrap with `args`; its standard output, once it has succeeded.
fn kyc_bench(args: &[&str]) -> String {
    let output = Command::new(workspace_binary("kyc-bench"))
        .args(args)
        .arg("--bootstrap")
        .arg(workspace_binary("cashfree-webhook"))
        .arg("--python")
        .arg(moto_python())
        .output()
        .expect("run kyc-bench");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kyc-bench failed:\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The numbers on the line that starts with `label`, e.g. `[0.412, 0.409]` for
/// `CPU per warm duplicate      0.412 ms      0.409 ms`.
fn figures(out: &str, label: &str) -> Vec<f64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn kyc_bench_prints_every_figure_for_the_bootstrap_and_its_baseline() {
    let bootstrap = workspace_binary("cashfree-webhook");
    let out = kyc_bench(&[
        "--n",
        "6",
        "--concurrent-events",
        "8",
        "--latency-ms",
        "5",
        "--baseline",
        bootstrap.to_str().expect("a UTF-8 path"),
    ]);
    // Two columns (the bootstrap and its baseline), each a positive figure.
    for label in [
        "init (spawn → first /next)",
        "first response (cold, 1 new event)",
        "CPU per warm new event",
        "CPU per warm duplicate",
        "new event CPU / SDK floor",
        "peak RSS",
        "bootstrap size (stripped)",
    ] {
        let values = figures(&out, label);
        assert_eq!(values.len(), 2, "{label}: {values:?}\n{out}");
        assert!(values.iter().all(|v| *v > 0.0), "{label}: {values:?}");
    }
    let size = std::fs::metadata(&bootstrap).expect("bootstrap").len() as f64;
    assert_eq!(figures(&out, "bootstrap size (stripped)"), [size, size]);
    // Median and p99 for each.
    for label in [
        "warm new event, median / p99",
        "warm duplicate, median / p99",
    ] {
        let values = figures(&out, label);
        assert_eq!(values.len(), 4, "{label}: {values:?}");
        assert!(
            values[0] <= values[1] && values[2] <= values[3],
            "{values:?}"
        );
    }
    assert!(figures(&out, "SDK floor (3 calls, warm client, this process): CPU")[0] > 0.0);
    assert_eq!(
        figures(&out, "now / baseline: CPU per new event").len(),
        2,
        "{out}"
    );
    for label in [
        "now, AWS_LAMBDA_MAX_CONCURRENCY=1 ",
        "now, AWS_LAMBDA_MAX_CONCURRENCY=8 ",
        "throughput at 8 vs 1",
    ] {
        assert!(
            figures(&out, label).iter().any(|v| *v > 0.0),
            "{label}\n{out}"
        );
    }
    assert!(
        !out.contains("answered 200 within the timeout"),
        "every concurrent event is answered:\n{out}"
    );
}

#[test]
fn kyc_bench_measures_at_a_lambda_memory_size_over_https() {
    let out = kyc_bench(&[
        "--n",
        "3",
        "--concurrent-events",
        "4",
        "--latency-ms",
        "5",
        "--memory",
        "512",
        "--tls",
    ]);
    assert!(out.contains("TLS: a front with its own CA"), "{out}");
    // Held to 512 MB's share where the machine allows a cgroup quota, else said so in one line.
    assert!(
        out.contains("== 512 MB: the bootstrap held to 28.9 % of a CPU")
            || out.contains("MEMORY=512: no cgroup CPU quota here"),
        "{out}"
    );
    for label in [
        "first response (cold, 1 new event)",
        "CPU per warm new event",
        "billed, new event (median, rounded up)",
        "cost per million new events",
        "cost per million duplicates",
    ] {
        let values = figures(&out, label);
        assert_eq!(values.len(), 1, "{label}: {values:?}\n{out}");
        assert!(values[0] > 0.0, "{label}: {values:?}");
    }
    assert!(
        out.contains("1 769 MB = 1 vCPU, HTTPS") || out.contains(", HTTPS)"),
        "{out}"
    );
}

/// `make bench`'s replay rate: the debug `archive-replay` bootstrap replays what the debug
/// webhook bootstrap archived, every delivery sent, and the line gives a rate and a CPU figure.
#[test]
fn kyc_bench_replays_what_the_webhook_bootstrap_archived_and_prints_the_rate() {
    let out = kyc_bench(&["--replay", "5"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("replay: 5 sealed deliveries"))
        .unwrap_or_else(|| panic!("no replay line in:\n{out}"));
    let rate: f64 = line
        .split(": ")
        .nth(2)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no rate in {line}"));
    assert!(rate > 0.0, "{line}");
}
