//! The checks that need no server, one binary that answers in seconds: the template against the
//! code (drift: variables, routes, IAM down to the key, policies, alarms) and the docs against the
//! code (tables, counts, commands). A new file here is a new module: declare it below;
//! `every_file_here_is_a_module` fails until it is.

// A test here is one scenario end to end, read top to bottom: the length limit the library's
// functions keep (`too_many_lines`, `clippy.toml`) is not theirs.
#![allow(clippy::too_many_lines)]

mod docs;
mod template;

#[test]
fn every_file_here_is_a_module() {
    kyc_intake_tests::assert_every_file_is_a_module("tests/checks");
}
