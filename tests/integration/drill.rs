//! The local incident drill, as docs/operations.md walks it, on `make run`'s own server
//! (`kyc-local serve` with its journey worker): the worker paused, webhooks of every source
//! accepted and archived, the queue purged (the events lost downstream), the worker resumed, and
//! `kycctl replay` over every source brings every journey back.

use kyc_intake_tests::{endpoint, expectations, workspace, workspace_binary, Child, Stack};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) fn run(binary: &str, args: &[&str], env: &BTreeMap<String, String>) -> (bool, String) {
    let out = Command::new(workspace_binary(binary))
        .args(args)
        .current_dir(workspace())
        .env_clear()
        .envs(env)
        .output()
        .expect("run");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `kyc-local invoke` of a sample under `events/` on the gateway at `gateway`: whether it was
/// accepted, and what it printed.
pub(crate) fn invoke(
    gateway: &str,
    sample: &str,
    env: &BTreeMap<String, String>,
) -> (bool, String) {
    let path = workspace()
        .join("events")
        .join(sample)
        .display()
        .to_string();
    run(
        "kyc-local",
        &["invoke", &path, "--gateway", &format!("http://{gateway}")],
        env,
    )
}

pub(crate) fn unique() -> String {
    format!(
        "{:x}{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis() % 100_000
    )
}

/// `make run`'s environment on resources of this test's own.
pub(crate) fn local_env(id: &str, control: &std::path::Path) -> BTreeMap<String, String> {
    let port = endpoint().rsplit(':').next().expect("a port").to_owned();
    [
        ("AWS_ENDPOINT_URL", endpoint().to_owned()),
        ("AWS_REGION", "ap-south-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("IDEMPOTENCY_TABLE", format!("drill-{id}")),
        (
            "EVENTS_QUEUE_URL",
            format!("http://127.0.0.1:{port}/123456789012/drill-{id}.fifo"),
        ),
        ("ARCHIVE_BUCKET", format!("drill-{id}")),
        (
            "ARCHIVE_SIGNING_KEY_ID",
            kyc_local::resources::LOCAL_SIGNING_KEY.to_owned(),
        ),
        ("ARCHIVE_KEYS_TABLE", format!("drill-keys-{id}")),
        (
            "ARCHIVE_KMS_KEY_ID",
            kyc_local::resources::LOCAL_ARCHIVE_KEY.to_owned(),
        ),
        ("JOURNEY_TABLE", format!("drill-journeys-{id}")),
        ("KYC_LOCAL_CONTROL_DIR", control.display().to_string()),
        ("RUST_LOG", "info".to_owned()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `kyc-local serve` on a free port (the functions' log lines to `logs`), once it listens: the
/// process and the gateway's address.
pub(crate) async fn serve(
    env: &BTreeMap<String, String>,
    extra: &[&str],
    logs: Stdio,
) -> (Child, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let gateway = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let child = Child(
        Command::new(workspace_binary("kyc-local"))
            .args(["serve", "--listen", &gateway])
            .args(extra)
            .current_dir(workspace())
            .env_clear()
            .envs(env)
            .stdout(logs)
            .stderr(Stdio::null())
            .spawn()
            .expect("start kyc-local serve"),
    );
    // Generous: under the whole suite its start-up calls wait their turn at the one local server.
    kyc_intake_tests::listening(&gateway, Duration::from_secs(180), "kyc-local serve").await;
    (child, gateway)
}

/// `env` with what kycctl needs to invoke the `archive-replay` function that `kyc-local serve`
/// at `gateway` serves, as `make run`'s environment has it.
pub(crate) fn with_replay(
    mut env: BTreeMap<String, String>,
    gateway: &str,
) -> BTreeMap<String, String> {
    env.insert(
        "AWS_ENDPOINT_URL_LAMBDA".to_owned(),
        format!("http://{gateway}"),
    );
    env.insert(
        "REPLAY_FUNCTION".to_owned(),
        kyc_intake::sources::registry::ARCHIVE_REPLAY.to_owned(),
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_purge_resume_and_replay_bring_every_journey_back() {
    let stack = Stack::new(true).await;
    let id = unique();
    let control = std::env::temp_dir().join(format!("kyc-drill-{id}"));
    let table = format!("drill-journeys-{id}");
    let env = local_env(&id, &control);
    let (_serving, gateway) = serve(&env, &[], Stdio::null()).await;
    let env = with_replay(env, &gateway);

    // Workers down: events wait on the queue.
    let (ok, out) = run("kyc-local", &["worker", "pause"], &env);
    assert!(ok, "{out}");
    // One accepted sample with a subject per source.
    let mut journeys = Vec::new();
    for (sample, want) in expectations() {
        if want["status"] != 200 || want.get("env").is_some() || !want["subject"].is_string() {
            continue;
        }
        let source = want["source"].as_str().expect("source").to_owned();
        if journeys
            .iter()
            .any(|(s, _): &(String, String)| *s == source)
        {
            continue;
        }
        let (ok, out) = invoke(&gateway, &sample, &env);
        assert!(ok, "{sample}: {out}");
        journeys.push((
            source,
            want["subject"].as_str().expect("subject").to_owned(),
        ));
    }
    assert_eq!(
        journeys.len(),
        kyc_intake::sources::registry::sources().count()
    );
    // The events are lost downstream.
    let (ok, out) = run("kyc-local", &["purge"], &env);
    assert!(ok, "{out}");
    let (ok, out) = run("kyc-local", &["worker", "resume"], &env);
    assert!(ok, "{out}");
    for (source, subject) in &journeys {
        assert!(
            stack
                .journey(&table, &format!("{source}#{subject}"))
                .await
                .is_none(),
            "nothing was applied while the worker was paused"
        );
    }
    // Replay every source of today (and yesterday, around midnight UTC).
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    // kycctl holds no webhook secret: it checks each delivery's attestation.
    let (ok, out) = run(
        "kycctl",
        &["replay", "--from", &yesterday, "--to", &today],
        &env,
    );
    assert!(ok, "{out}");
    assert!(out.contains("refused 0, failed 0"), "{out}");
    // The resumed worker applies them: wait for the condition, not a clock.
    let back = async {
        loop {
            let mut missing = 0;
            for (source, subject) in &journeys {
                if stack
                    .journey(&table, &format!("{source}#{subject}"))
                    .await
                    .is_none()
                {
                    missing += 1;
                }
            }
            if missing == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), back)
        .await
        .expect("every journey is back");
    let _ = std::fs::remove_dir_all(&control);
}

/// docs/operations.md "Rotating a secret locally", step by step: `make run SECRETS=secretsmanager`
/// (here with a 2 s `SECRETS_MAX_AGE_SECONDS`), `make secret` with `NEW,OLD`, a sample signed
/// with the new value accepted once the cached value is past its age, the INFO line naming the
/// variable (never the value), then `NEW` alone: the old value refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_rotation_takes_effect_within_the_max_age_and_revokes_the_old_value() {
    let _stack = Stack::new(true).await;
    let id = unique();
    let control = std::env::temp_dir().join(format!("kyc-rotate-{id}"));
    let mut env = local_env(&id, &control);
    env.insert("SECRETS_MAX_AGE_SECONDS".to_owned(), "2".to_owned());
    let log = std::env::temp_dir().join(format!("kyc-rotate-{id}.log"));
    let (_serving, gateway) = serve(
        &env,
        &["--secrets-manager"],
        Stdio::from(std::fs::File::create(&log).expect("log file")),
    )
    .await;
    let sample = expectations()
        .into_iter()
        .find(|(_, want)| {
            want["status"] == 200
                && want.get("env").is_none()
                && want["source"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("cashfree/"))
        })
        .map(|(sample, _)| {
            workspace()
                .join("events")
                .join(sample)
                .display()
                .to_string()
        })
        .expect("an accepted Cashfree sample");
    let old = kyc_intake::sources::registry::local_value("CASHFREE_CLIENT_SECRETS")
        .expect("a local value")
        .to_owned();
    let new = "rotated-local-cashfree-secret-1".to_owned();
    let invoke = |secret: &str| {
        let mut env = env.clone();
        env.insert("CASHFREE_CLIENT_SECRETS".to_owned(), secret.to_owned());
        run(
            "kyc-local",
            &["invoke", &sample, "--gateway", &format!("http://{gateway}")],
            &env,
        )
    };
    let (ok, out) = invoke(&old);
    assert!(ok, "the local value is accepted before the rotation: {out}");

    let put = |value: &str| {
        let mut child = Command::new(workspace_binary("kyc-local"))
            .args(["secret", "CASHFREE_CLIENT_SECRETS"])
            .current_dir(workspace())
            .env_clear()
            .envs(&env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kyc-local secret");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), value.as_bytes())
            .expect("write the value");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    put(&format!("{new},{old}"));
    // Within SECRETS_MAX_AGE_SECONDS the new value is in use: wait for the condition.
    let accepted = async {
        loop {
            let (ok, out) = invoke(&new);
            if ok {
                return;
            }
            assert!(
                out.contains("HTTP 401"),
                "refused only for its signature: {out}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), accepted)
        .await
        .expect("the new value is accepted");
    let (ok, out) = invoke(&old);
    assert!(ok, "both values are accepted while both are listed: {out}");

    put(&new);
    let refused = async {
        loop {
            let (ok, out) = invoke(&old);
            if !ok {
                assert!(out.contains("HTTP 401"), "{out}");
                assert!(out.contains("sign with the new value"), "a hint: {out}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), refused)
        .await
        .expect("the removed value is refused");
    let logged = std::fs::read_to_string(&log).expect("the log");
    assert!(
        logged.contains("a new value read from Secrets Manager is in use")
            && logged.contains("CASHFREE_CLIENT_SECRETS"),
        "{logged}"
    );
    assert!(
        !logged.contains(&new) && !logged.contains(&old),
        "no value in the log"
    );
    // A setting that is not a secret is refused by name.
    let (ok, out) = run("kyc-local", &["secret", "JOURNEY_TABLE"], &env);
    assert!(!ok && out.contains("not a secret setting"), "{out}");
    let _ = std::fs::remove_file(&log);
}
