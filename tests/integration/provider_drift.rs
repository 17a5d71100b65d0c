//! One description per provider: the registry (`kyc_intake::registry`) is the list of functions,
//! sources and settings; whatever else names them is held to it here, so adding a provider or a
//! setting fails a test until every place that must know does.

use kyc_intake::completeness::all_sources;
use kyc_intake::config::var;
use kyc_intake::registry::FUNCTIONS;
use kyc_intake_tests::{workspace, Stack};
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The variables `make run` sets (the Makefile's `LOCAL_ENV`).
fn local_env() -> BTreeSet<String> {
    let makefile = read("Makefile");
    let start = makefile.find("LOCAL_ENV := ").expect("LOCAL_ENV");
    makefile[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.ends_with('\\') || l.trim_start().starts_with("RUST_LOG"))
        .filter_map(|l| l.trim().split_once('=').map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn make_run_configures_every_source_of_every_function() {
    let local = local_env();
    for f in FUNCTIONS {
        for v in f.secret_variables {
            assert!(local.contains(*v), "make run does not set {v} ({})", f.name);
        }
    }
    for v in var::COMMON.iter().chain(var::WEBHOOK) {
        if *v == var::IDEMPOTENCY_TTL_SECONDS || *v == var::MAX_BODY_BYTES {
            continue; // their defaults serve
        }
        assert!(local.contains(*v), "make run does not set {v}");
    }
}

#[tokio::test]
async fn the_test_stack_configures_every_source_of_every_function() {
    let stack = Stack::new(true).await;
    let env = stack.env_vars(&[]);
    for f in FUNCTIONS {
        for v in f.secret_variables {
            assert!(
                env.contains_key(*v),
                "the tests' environment lacks {v} ({})",
                f.name
            );
        }
    }
}

#[test]
fn every_function_crate_is_a_workspace_member_and_every_source_has_samples() {
    let manifest = read("Cargo.toml");
    let members = manifest
        .lines()
        .find(|l| l.starts_with("members = "))
        .expect("members");
    for entry in std::fs::read_dir(workspace().join("functions")).expect("functions/") {
        let dir = entry.expect("entry").file_name();
        let path = format!("\"functions/{}\"", dir.to_string_lossy());
        assert!(members.contains(&path), "{path} is not a workspace member");
    }
    for s in all_sources() {
        let dir = workspace().join("events").join(s.name);
        let samples = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("no samples in events/{}", s.name))
            .count();
        assert!(samples > 0, "events/{} is empty", s.name);
        assert!(
            read("events/expected.json").contains(&format!("\"{}/", s.name)),
            "events/expected.json says nothing of {}",
            s.name
        );
    }
}
