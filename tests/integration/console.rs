//! The operator console (`kycctl console`) in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, the `fantoccini` client), on `make run`'s kind of stack (`kyc-local
//! serve`: the intake, the archive, the journey worker and sweeper on the local server).
//!
//! A journey sent through the intake shows its timeline, each event linked to its delivery; the
//! delivery shows replay's verdict and its body only after a click; a stalled journey shows as
//! stalled; a journey whose messages were purged is brought back by a replay dry-run then
//! confirmed on the page; a request without the token, for another `Host`, or a POST without the
//! CSRF token is refused. Screenshots of the journeys page, a journey and a delivery go to
//! `target/console-screenshots/` (or `KYC_CONSOLE_SCREENSHOTS`: `make screenshots` writes the
//! docs' copies).
//!
//! No browser is a failure, not a skip: `make test` installs Chromium where it can.

use crate::drill::{local_env, run, serve, unique};
use fantoccini::{ClientBuilder, Locator};
use kyc_intake_tests::{workspace, workspace_binary, Child, Stack};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const DIGIO_SUBJECT: &str = "KID240514123045123ABCDEFGHJKLMNP";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver on the PATH, or a failure that says what to do.
fn chromedriver() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
        .expect(
            "no chromedriver on PATH: the console's browser tests need Chromium and its driver \
             (`apt-get install chromium chromium-driver`; `make test` installs them where it can)",
        )
}

/// Headless Chromium behind a chromedriver of its own.
async fn browser() -> (Child, fantoccini::Client) {
    let port = free_port();
    let driver = Child(
        Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    kyc_intake_tests::listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30),
        "chromedriver",
    )
    .await;
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,1000"]
    });
    if std::path::Path::new("/usr/bin/chromium").is_file() {
        options["binary"] = "/usr/bin/chromium".into();
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".to_owned(), options);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (driver, client)
}

/// One HTTP/1.1 request by hand (so the `Host` header is exactly what the test says): the
/// status line and headers of the answer.
fn raw(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// Wait until `check` says nothing is missing (`None`); else fail with what it last said.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let mut last = String::new();
    let done = async {
        loop {
            match check().await {
                None => return,
                Some(missing) => last = missing,
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), done)
        .await
        .is_err()
    {
        panic!("waited too long for {what}: {last}");
    }
}

async fn click(client: &fantoccini::Client, at: Locator<'_>, what: &str) {
    client
        .find(at)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {what}: {e}"));
}

async fn text_of(client: &fantoccini::Client, at: Locator<'_>, what: &str) -> String {
    client
        .find(at)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("the text of {what}: {e}"))
}

/// The text of the element at `at` once it satisfies `ready`: after a click that loads a page,
/// the old page's element may still be found, or go stale while it is read.
async fn text_when(
    client: &fantoccini::Client,
    at: Locator<'_>,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    let found = async {
        loop {
            match client.find(at).await {
                Ok(element) => match element.text().await {
                    Ok(text) if ready(&text) => return text,
                    Ok(text) => last = text,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), found)
        .await
        .unwrap_or_else(|_| panic!("waited too long for {what}: {last}"))
}

async fn screenshot(client: &fantoccini::Client, name: &str) {
    let dir = std::env::var_os("KYC_CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/console-screenshots"));
    std::fs::create_dir_all(&dir).expect("the screenshots' directory");
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_timelines_deliveries_stalls_and_replays_and_refuses_what_it_must() {
    let stack = Stack::new(true).await;
    let id = unique();
    let control = std::env::temp_dir().join(format!("kyc-console-{id}"));
    let env = local_env(&id, &control);
    let table = env["JOURNEY_TABLE"].clone();
    let (_serving, gateway) = serve(&env, &[], Stdio::null()).await;
    let env = crate::drill::with_replay(env, &gateway);
    let invoke = |sample: &str| {
        let (ok, out) = crate::drill::invoke(&gateway, sample, &env);
        assert!(ok, "{sample}: {out}");
    };
    // A journey through the intake: two webhooks.
    invoke("cashfree/vkyc/call_queued.json");
    invoke("cashfree/vkyc/call_completed.json");
    // A journey the application started and no provider called back about: stalled.
    let stalled = format!("stall-{id}");
    let (ok, out) = run(
        "kycctl",
        &[
            "journey",
            "start",
            "--source",
            "hyperverge/results",
            "--subject",
            &stalled,
            "--expect-within",
            "1",
        ],
        &env,
    );
    assert!(ok, "{out}");
    let sdk = kyc_intake_tests::local_sdk_config(kyc_intake_tests::endpoint()).await;
    let reader = kyc_intake::aws::JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    // (The worker applies these before the drill below pauses it and purges the queue.)
    wait_for("the journey's two events and the stall report", || async {
        let vkyc = match reader.get("cashfree/vkyc", "test333").await {
            Ok(j) => j,
            Err(e) => return Some(e.to_string()),
        };
        let stall = reader
            .get("hyperverge/results", &stalled)
            .await
            .ok()
            .flatten();
        let ok = vkyc.as_ref().is_some_and(|j| j.history.len() == 2)
            && stall.as_ref().is_some_and(|j| j.state == "stalled");
        (!ok).then(|| format!("{vkyc:?} {stall:?}"))
    })
    .await;
    // A journey whose messages were lost downstream: accepted and archived, then purged.
    let (ok, out) = run("kyc-local", &["worker", "pause"], &env);
    assert!(ok, "{out}");
    invoke("digio/kyc/created.json");
    let (ok, out) = run("kyc-local", &["purge"], &env);
    assert!(ok, "{out}");
    let (ok, out) = run("kyc-local", &["worker", "resume"], &env);
    assert!(ok, "{out}");
    assert!(
        reader
            .get("digio/kyc", DIGIO_SUBJECT)
            .await
            .expect("read")
            .is_none(),
        "the purged journey is not there before the replay"
    );

    // The console, with make console's environment: no webhook secret (it checks attestations
    // with the archive signing key).
    let mut console_env = env.clone();
    // Times show in UTC and the operator's zone: here India's.
    console_env.insert("TZ".to_owned(), "Asia/Kolkata".to_owned());
    let mut console = Command::new(workspace_binary("kycctl"))
        .args(["console", "--port", "0"])
        .current_dir(workspace())
        .env_clear()
        .envs(&console_env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kycctl console");
    let mut first = String::new();
    BufReader::new(console.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the console's URL");
    let _console = Child(console);
    let url = first.trim().to_owned();
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .expect("a loopback URL")
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{url}");
    let token = url.split("token=").nth(1).expect("a token").to_owned();

    // Refused: no token, another Host (DNS rebinding), a POST without the CSRF token.
    let answer = raw(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("test333"));
    let port = addr.rsplit(':').next().expect("port");
    let answer = raw(
        &addr,
        &format!(
            "GET /?token={token} HTTP/1.1\r\nHost: rebound.example:{port}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    // The launch token is not a session.
    let answer = raw(
        &addr,
        &format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nCookie: kycctl_console_{port}={token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    let (_driver, client) = browser().await;
    // The journeys page: the launch exchanged for a session, the stalled journey listed as stalled.
    client.goto(&url).await.expect("open the console");
    client
        .wait()
        .for_element(Locator::Id("stalled-list"))
        .await
        .expect("the journeys page");
    let current = client.current_url().await.expect("url");
    assert!(
        !current.as_str().contains("token="),
        "the token leaves the address bar: {current}"
    );
    // The launch URL works once: a second use (a history, a process list) is refused.
    let answer = raw(
        &addr,
        &format!("GET /?token={token} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("works once"), "{answer}");
    let session = client
        .get_named_cookie(&format!("kycctl_console_{port}"))
        .await
        .expect("the session cookie");
    assert_ne!(
        session.value(),
        token,
        "a session of its own, not the launch token"
    );
    assert_eq!(session.http_only(), Some(true));
    let cookie = format!("kycctl_console_{port}={}", session.value());
    let form = "source=hyperverge%2Fresults&subject=forged&expect_within=";
    let answer = raw(
        &addr,
        &format!(
            "POST /actions/start HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        reader
            .get("hyperverge/results", "forged")
            .await
            .expect("read")
            .is_none(),
        "a refused POST leaves nothing behind"
    );
    // A page, with its headers.
    let answer = raw(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
    .to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("content-security-policy: default-src 'self'"));
    assert!(answer.contains("cache-control: no-store"));
    assert!(!answer.contains("access-control-allow-origin"));

    let badge = client
        .find(Locator::XPath(&format!(
            "//section[@id='stalled-list']//tr[td/a[normalize-space(text())='{stalled}']]//span[contains(@class,'badge')]"
        )))
        .await
        .expect("the stalled journey's row");
    assert_eq!(badge.text().await.expect("text"), "stalled");
    screenshot(&client, "journeys").await;

    // The stalled journey's page shows when it stalled as every other time: UTC and local.
    client
        .goto(&format!(
            "http://{addr}/journey?source=hyperverge%2Fresults&subject={stalled}"
        ))
        .await
        .expect("the stalled journey");
    let facts = text_of(&client, Locator::Css("dl.facts"), "its facts").await;
    let stalled_at = facts
        .lines()
        .skip_while(|l| l.trim() != "Stalled")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert!(
        stalled_at.contains(" UTC") && stalled_at.contains("+05:30"),
        "formatted, not raw RFC 3339: {facts}"
    );
    assert!(
        facts.contains("stall reports on the timeline are not counted"),
        "the count beside a timeline with a stall report says what it counts: {facts}"
    );

    // The archive opens on every source of the day: the Cashfree and the Digio deliveries.
    client
        .goto(&format!("http://{addr}/archive"))
        .await
        .expect("the archive");
    let table = text_of(&client, Locator::Css("table"), "the day's deliveries").await;
    assert!(
        table.contains("cashfree/vkyc") && table.contains("digio/kyc"),
        "every source: {table}"
    );
    let selected = text_of(
        &client,
        Locator::Css("select[name=source] option:checked"),
        "the source",
    )
    .await;
    assert_eq!(selected, "every source");

    // Find the customer: their one journey, its timeline, each event linked to its delivery.
    let search = client
        .find(Locator::Css("input[name=subject]"))
        .await
        .expect("the lookup");
    search.send_keys("test333").await.expect("type");
    click(&client, Locator::Css("form.lookup button"), "find").await;
    // The click loads the journey's page: wait for it, not for the page the click left.
    wait_for("the journey's timeline", || async {
        match client.find_all(Locator::Css("ol.timeline li")).await {
            Ok(steps) if steps.len() == 2 => None,
            Ok(steps) => Some(format!("{} steps", steps.len())),
            Err(e) => Some(e.to_string()),
        }
    })
    .await;
    let steps = client
        .find_all(Locator::Css("ol.timeline li"))
        .await
        .expect("the timeline");
    assert_eq!(steps.len(), 2, "both events on the timeline");
    let mut types = Vec::new();
    for step in &steps {
        let text = step.text().await.expect("text");
        assert!(text.contains("webhook"), "{text}");
        types.push(text);
    }
    assert!(types.iter().any(|t| t.contains("kyc.vkyc.call_queued")));
    assert!(types.iter().any(|t| t.contains("kyc.vkyc.call_completed")));
    screenshot(&client, "journey").await;

    // Its delivery: the verdict; the body only after the click.
    click(&client, Locator::Css("ol.timeline li a"), "a delivery link").await;
    let delivery_url = client.current_url().await.expect("the delivery's URL");
    let verdict = text_when(&client, Locator::Css("p.verdict"), "the verdict", |t| {
        t.starts_with("Verdict")
    })
    .await;
    assert!(
        verdict.starts_with("Verdict: attested by digio-webhook (certified 20")
            || verdict.starts_with("Verdict: attested by cashfree-webhook (certified 20"),
        "{verdict}"
    );
    let before = client.source().await.expect("source");
    assert!(
        !before.contains("raw-body") && !before.contains("\"verification_id\""),
        "no body before the click"
    );
    screenshot(&client, "delivery").await;
    click(&client, Locator::Id("show-personal-data"), "the click").await;
    let body = text_when(&client, Locator::Id("raw-body"), "the raw body", |t| {
        t.contains("test333")
    })
    .await;
    assert!(body.contains("\"verification_id\""), "{body}");

    // Replay the purged journey back: a dry run first (nothing sent), then confirm.
    client
        .goto(&format!("http://{addr}/actions"))
        .await
        .expect("actions");
    click(
        &client,
        Locator::XPath(
            "//form[@action='/actions/replay']//select[@name='source']/option[@value='digio/kyc']",
        ),
        "the source",
    )
    .await;
    click(&client, Locator::Id("dry-run"), "dry run").await;
    let result = text_when(
        &client,
        Locator::Id("replay-result"),
        "the dry run's result",
        |t| t.contains("dry run"),
    )
    .await;
    assert!(
        result.contains("dry run") && result.contains("sent 0"),
        "{result}"
    );
    assert!(result.contains("attested by digio-webhook"), "{result}");
    assert!(
        reader
            .get("digio/kyc", DIGIO_SUBJECT)
            .await
            .expect("read")
            .is_none(),
        "a dry run sends nothing"
    );
    // Archived after the dry run: the confirm sends what the dry run showed, not this.
    invoke("digio/kyc/esign_unrecognized.json");
    click(&client, Locator::Id("confirm-replay"), "confirm").await;
    let result = text_when(
        &client,
        Locator::Id("replay-result"),
        "the replay's result",
        |t| t.contains("Replay sent"),
    )
    .await;
    assert!(
        result.contains("Replay sent") && result.contains("read 1, sent 1"),
        "exactly the dry run's delivery, nothing archived since: {result}"
    );
    // A range over 31 days, and a confirm whose deliveries the console did not seal, are refused.
    let csrf = client
        .find(Locator::Css("input[name=csrf]"))
        .await
        .expect("a form")
        .attr("value")
        .await
        .expect("attr")
        .expect("the CSRF token");
    let post = |form: String| {
        raw(
            &addr,
            &format!(
                "POST /actions/replay HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
                form.len()
            ),
        )
    };
    let answer = post(format!(
        "csrf={csrf}&source=digio%2Fkyc&from=2025-01-01&to=2025-03-01"
    ));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("at most 31 days"), "{answer}");
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let answer = post(format!(
        "csrf={csrf}&source=digio%2Fkyc&from={today}&to={today}&confirm=1&keys=deliveries%2Fdigio%2Fkyc%2Fforged.json&seal=00"
    ));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("dry run"), "{answer}");
    wait_for("the replayed journey", || async {
        reader
            .get("digio/kyc", DIGIO_SUBJECT)
            .await
            .ok()
            .flatten()
            .is_none()
            .then(|| "not yet".to_owned())
    })
    .await;
    client
        .goto(&format!(
            "http://{addr}/journey?source=digio%2Fkyc&subject={DIGIO_SUBJECT}"
        ))
        .await
        .expect("the journey");
    let step = text_of(&client, Locator::Css("ol.timeline li"), "its timeline").await;
    assert!(step.contains("replay"), "its origin: {step}");

    // A narrow window still shows the timeline.
    client.set_window_size(420, 900).await.expect("narrow");
    assert!(client
        .find(Locator::Css("ol.timeline li"))
        .await
        .expect("the timeline")
        .is_displayed()
        .await
        .expect("displayed"));

    // Erased: the delivery's page says so and shows no body; the journey keeps its statuses
    // without links to deliveries nobody can read.
    client.set_window_size(1280, 1000).await.expect("wide");
    let (ok, out) = run(
        "kycctl",
        &[
            "erase",
            "--source",
            "cashfree/vkyc",
            "--subject",
            "test333",
            "--reason",
            "DPDP erasure request",
        ],
        &env,
    );
    assert!(ok, "{out}");
    assert!(out.contains("2 archive links dropped"), "{out}");
    client
        .goto(delivery_url.as_str())
        .await
        .expect("the erased delivery");
    let verdict = text_of(&client, Locator::Css("p.verdict"), "the verdict").await;
    assert!(verdict.starts_with("Verdict: erased 20"), "{verdict}");
    let erased = text_of(&client, Locator::Id("erased"), "the erasure").await;
    assert!(erased.starts_with("Erased 20"), "{erased}");
    let page = client.source().await.expect("source");
    assert!(!page.contains("show-personal-data") && !page.contains("raw-body"));
    screenshot(&client, "erased").await;
    client
        .goto(&format!(
            "http://{addr}/journey?source=cashfree%2Fvkyc&subject=test333"
        ))
        .await
        .expect("the erased journey");
    let steps = client
        .find_all(Locator::Css("ol.timeline li"))
        .await
        .expect("the timeline");
    assert_eq!(steps.len(), 2, "the statuses stay");
    assert!(
        client
            .find_all(Locator::XPath(
                "//ol[contains(@class,'timeline')]//a[text()='delivery']"
            ))
            .await
            .expect("links")
            .is_empty(),
        "no link to an erased delivery: {out}"
    );
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&control);
    drop(stack);
}
