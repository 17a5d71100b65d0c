//! The local incident drill, as docs/operations.md walks it, on `make run`'s own server
//! (`kyc-local serve` with its journey worker): the worker paused, webhooks of every source
//! accepted and archived, the queue purged (the events lost downstream), the worker resumed, and
//! `kycctl replay` over every source brings every journey back.

use kyc_intake_tests::{endpoint, expectations, workspace, workspace_binary, Child, Stack};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(binary: &str, args: &[&str], env: &BTreeMap<String, String>) -> (bool, String) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_purge_resume_and_replay_bring_every_journey_back() {
    let stack = Stack::new(true).await;
    let id = format!(
        "{:x}{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis() % 100_000
    );
    let control = std::env::temp_dir().join(format!("kyc-drill-{id}"));
    let table = format!("drill-journeys-{id}");
    let port = endpoint().rsplit(':').next().expect("a port").to_owned();
    let queue = format!("http://127.0.0.1:{port}/123456789012/drill-{id}.fifo");
    let env: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", endpoint().to_owned()),
        ("AWS_REGION", "ap-south-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("IDEMPOTENCY_TABLE", format!("drill-{id}")),
        ("EVENTS_QUEUE_URL", queue.clone()),
        ("ARCHIVE_BUCKET", format!("drill-{id}")),
        ("JOURNEY_TABLE", table.clone()),
        ("KYC_LOCAL_CONTROL_DIR", control.display().to_string()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let gateway = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let _serving = Child(
        Command::new(workspace_binary("kyc-local"))
            .args(["serve", "--listen", &gateway])
            .current_dir(workspace())
            .env_clear()
            .envs(&env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kyc-local serve"),
    );
    let up = async {
        while tokio::net::TcpStream::connect(&gateway).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), up)
        .await
        .expect("kyc-local serve listens");

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
        let path = workspace()
            .join("events")
            .join(&sample)
            .display()
            .to_string();
        let (ok, out) = run(
            "kyc-local",
            &["invoke", &path, "--gateway", &format!("http://{gateway}")],
            &env,
        );
        assert!(ok, "{sample}: {out}");
        journeys.push((
            source,
            want["subject"].as_str().expect("subject").to_owned(),
        ));
    }
    assert_eq!(journeys.len(), kyc_intake::registry::sources().count());
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
    let mut replay_env = env.clone();
    for (k, v) in kyc_intake::registry::local_env(kyc_intake::registry::FUNCTIONS) {
        replay_env.insert(k.to_owned(), v.to_owned());
    }
    let (ok, out) = run(
        "kycctl",
        &["replay", "--from", &yesterday, "--to", &today],
        &replay_env,
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
