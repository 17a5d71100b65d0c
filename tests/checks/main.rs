//! The checks that need no server, one binary that answers in seconds: the template against the
//! code (drift: variables, routes, IAM down to the key, policies, alarms) and the docs against the
//! code (tables, counts, commands). A new file here is a new module: declare it below;
//! `every_file_here_is_a_module` fails until it is.

mod docs;
mod template;

#[test]
fn every_file_here_is_a_module() {
    let dir = kyc_intake_tests::workspace().join("tests/checks");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("main.rs");
    for entry in std::fs::read_dir(&dir).expect("tests/checks") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem != "main" && path.extension().is_some_and(|e| e == "rs") {
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/checks/{stem}.rs is not declared in main.rs, so it would never run"
            );
        }
    }
}
