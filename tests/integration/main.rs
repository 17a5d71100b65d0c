//! The integration tests, one binary: the real handlers (and, in `logs`, the real bootstrap
//! binaries), the real AWS SDK clients, a local DynamoDB/SQS server on loopback. The checks that
//! need no server (template and docs drift) are `tests/checks/`. A new file here
//! is a new module: declare it below; `every_file_here_is_a_module` fails until it is.

// A test here is one scenario end to end, read top to bottom: the length limit the library's
// functions keep (`too_many_lines`, `clippy.toml`) is not theirs.
#![allow(clippy::too_many_lines)]

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
    kyc_intake_tests::assert_every_file_is_a_module("tests/integration");
}
