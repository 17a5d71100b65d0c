//! One description per provider: the registry (`kyc_intake::sources::registry`) is the list of functions,
//! sources, settings and local values; whatever else needs them takes them from it, and what
//! cannot (the Makefile, the workspace, the samples) is held to it here, so adding a provider
//! fails a test until every place that must know does.

use kyc_intake::config::var;
use kyc_intake::sources::registry::sources as all_sources;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_intake::sources::{cashfree, hyperverge};
use kyc_intake_tests::{
    endpoint, expectations, outside_the_test, workspace, workspace_binary, Child, Stack,
    CASHFREE_SECRET, DIGILOCKER_TOKEN, RESULTS_TOKEN,
};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `make local-env` prints: the environment `make run`, `make invoke` and `make kycctl`
/// run with.
fn make_local_env() -> BTreeMap<String, String> {
    let out = outside_the_test(&mut Command::new("make"))
        .args(["-s", "local-env"])
        .current_dir(workspace())
        .output()
        .expect("run make");
    assert!(out.status.success(), "make local-env");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The Makefile names no provider setting: kyc-local and the samples take them from the
/// registry, so a new provider's settings need no line there.
#[test]
fn the_makefile_names_no_provider_setting_and_sets_the_common_ones() {
    let makefile = read("Makefile");
    for f in FUNCTIONS {
        for v in f.variables() {
            assert!(!makefile.contains(v), "the Makefile names {v} ({})", f.name);
        }
    }
    let local = make_local_env();
    for v in var::COMMON.iter().chain(var::WEBHOOK) {
        if *v == var::IDEMPOTENCY_TTL_SECONDS || *v == var::MAX_BODY_BYTES {
            continue; // their defaults serve
        }
        assert!(local.contains_key(*v), "make run does not set {v}");
    }
}

/// `make package` builds one bootstrap per crate under `functions/`, and the workspace takes
/// every one of them as a member.
#[test]
fn every_function_crate_is_a_member_and_is_packaged() {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("TOML");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("members");
    assert!(
        members.contains(&toml::Value::from("functions/*")),
        "{members:?}"
    );
    let out = outside_the_test(&mut Command::new("make"))
        .args(["-s", "-n", "package"])
        .current_dir(workspace())
        .output()
        .expect("run make");
    let planned = String::from_utf8_lossy(&out.stdout);
    for entry in std::fs::read_dir(workspace().join("functions")).expect("functions/") {
        let dir = entry.expect("entry").path();
        let crate_manifest: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
            .expect("a function's Cargo.toml")
            .parse()
            .expect("TOML");
        let name = crate_manifest["package"]["name"].as_str().expect("a name");
        assert!(
            planned.contains(&format!("-p {name}")),
            "make package skips {name}: {planned}"
        );
    }
}

#[test]
fn every_source_has_samples_and_expectations() {
    let expected = read("events/expected.json");
    for s in all_sources() {
        let dir = workspace().join("events").join(s.name);
        let samples = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("no samples in events/{}", s.name))
            .count();
        assert!(samples > 0, "events/{} is empty", s.name);
        assert!(
            expected.contains(&format!("\"{}/", s.name)),
            "events/expected.json says nothing of {}",
            s.name
        );
    }
}

/// The constants the tests sign with by hand are the registry's local values, which every test
/// stack configures.
#[tokio::test]
async fn the_test_stack_runs_on_the_registrys_local_values() {
    for (var, constant) in [
        (cashfree::settings::var::CLIENT_SECRETS, CASHFREE_SECRET),
        (
            hyperverge::settings::var::RESULTS_AUTH_TOKENS,
            RESULTS_TOKEN,
        ),
        (
            hyperverge::settings::var::DIGILOCKER_URL_TOKENS,
            DIGILOCKER_TOKEN,
        ),
    ] {
        assert_eq!(registry::local_value(var), Some(constant), "{var}");
    }
    let stack = Stack::new(true).await;
    let env = stack.env_vars(&[]);
    for (var, value) in registry::local_env(FUNCTIONS) {
        assert_eq!(env.get(var).map(String::as_str), Some(value), "{var}");
    }
}

/// Stops the child on drop, so a failed assertion leaves no server behind.
/// `make run`'s own command with `make local-env`'s common settings (on this test's server and
/// names) and none of the providers': one sample of every source is accepted through
/// `kyc-local invoke`, so the registry's local values alone configure every source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_runs_environment_serves_one_sample_of_every_source() {
    let endpoint = endpoint().to_owned();
    let id = format!("{:x}", std::process::id());
    let mut env = make_local_env();
    for f in FUNCTIONS {
        for v in f.variables() {
            assert_eq!(
                env.get(v).map(String::as_str),
                registry::local_env(FUNCTIONS).get(v).copied(),
                "make local-env prints the registry's local value of {v}"
            );
            // `serve` finds them itself.
            env.remove(v);
        }
    }
    let port = endpoint.rsplit(':').next().expect("a port").to_owned();
    env.insert("AWS_ENDPOINT_URL".into(), endpoint.clone());
    env.insert("IDEMPOTENCY_TABLE".into(), format!("drift-{id}"));
    env.insert(
        "EVENTS_QUEUE_URL".into(),
        format!("http://127.0.0.1:{port}/123456789012/drift-{id}.fifo"),
    );
    env.insert("ARCHIVE_BUCKET".into(), format!("drift-{id}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let gateway = listener.local_addr().expect("addr").to_string();
    drop(listener);

    let kyc_local = workspace_binary("kyc-local");
    let _serving = Child(
        Command::new(&kyc_local)
            .args(["serve", "--no-worker", "--listen", &gateway])
            .env_clear()
            .envs(&env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kyc-local serve"),
    );
    kyc_intake_tests::listening(
        &gateway,
        std::time::Duration::from_secs(60),
        "kyc-local serve",
    )
    .await;

    let expectations = expectations();
    for source in all_sources() {
        let (sample, _) = expectations
            .iter()
            .find(|(name, e)| {
                name.starts_with(&format!("{}/", source.name))
                    && e["status"] == 200
                    && e.get("env").is_none()
            })
            .unwrap_or_else(|| panic!("{}: no sample accepted by default", source.name));
        let out = Command::new(&kyc_local)
            .arg("invoke")
            .arg(workspace().join("events").join(sample))
            .args(["--gateway", &format!("http://{gateway}")])
            .env_clear()
            .envs(&env)
            .output()
            .expect("run kyc-local invoke");
        assert!(
            out.status.success(),
            "{sample}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
