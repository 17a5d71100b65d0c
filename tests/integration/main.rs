//! The integration tests, one binary: the real handlers (and, in `logs`, the real bootstrap
//! binaries), the real AWS SDK clients, a local DynamoDB/SQS server on loopback. The checks that
//! need no server (template and docs drift) are `tests/checks/`. A new file here
//! is a new module: declare it below; `every_file_here_is_a_module` fails until it is.

mod archive;
mod bench;
mod bounds;
mod cashfree;
mod console;
mod digio;
mod drill;
mod erasure;
mod gateway;
mod hard_cases;
mod journey;
mod kycctl;
mod logs;
mod managed_instances;
mod metrics;
mod new_provider;
mod other_languages;
mod output_api;
mod personal;
mod provider_drift;
mod reliability;
mod replay;
mod samples;
mod secrets;
mod secure_id;
mod stream;
mod sweeper;
mod trace;

#[test]
fn every_file_here_is_a_module() {
    let dir = kyc_intake_tests::workspace().join("tests/integration");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("main.rs");
    for entry in std::fs::read_dir(&dir).expect("tests/integration") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem != "main" && path.extension().is_some_and(|e| e == "rs") {
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/integration/{stem}.rs is not declared in main.rs, so it would never run"
            );
        }
    }
}
