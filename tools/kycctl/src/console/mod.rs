//! `kycctl console`: the journeys, their timelines, the archived deliveries and replay in a
//! browser, served from the operator's machine with the operator's own AWS credentials.
//!
//! Safe by construction: it listens on 127.0.0.1 only; the launch token (the printed URL's
//! `?token=`) works once and is exchanged for a session value of its own, which every later
//! request carries (an HttpOnly SameSite=Strict cookie); `--open` hands the browser a file only
//! the operator can read, never the URL on a command line; a request whose
//! `Host` is not the loopback address it serves is refused (DNS rebinding); every POST carries a
//! CSRF token of its own; every answer has a strict Content-Security-Policy, `no-store`, no CORS
//! header. Pages are server-rendered from compile-checked templates; the one stylesheet is in
//! the binary; there is no JavaScript.

mod actions;
mod pages;

use crate::record::Reader;
use crate::report::Failure;
use crate::report::Report;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use hmac::{Hmac, Mac};
use kyc_intake::aws::JourneyReader;
use kyc_intake::secrets::secret::Secret;
use sha2::Sha256;
use std::sync::{Arc, Mutex};

#[derive(Args)]
pub struct ConsoleArgs {
    /// The loopback port to listen on (0: any free one).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// A profile of the shared AWS config files (e.g. one that assumes the stack's OperatorRole);
    /// default: the usual SDK environment.
    #[arg(long)]
    profile: Option<String>,
    /// The journey table (the stack's `JourneyTableName` output).
    #[arg(long, env = "JOURNEY_TABLE")]
    journey_table: Option<String>,
    #[command(flatten)]
    archive: crate::record::ArchiveAccess,
    /// The events queue, for starting a journey (the stack's `EventsQueueUrl` output).
    #[arg(long, env = "EVENTS_QUEUE_URL")]
    queue_url: Option<String>,
    #[command(flatten)]
    replay: crate::replay::ReplayFunction,
    /// Open the URL in the desktop's browser (`xdg-open`, or `open` on macOS), where there is one.
    #[arg(long)]
    open: bool,
}

/// What every handler shares.
pub(crate) struct Console {
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) journeys: JourneyReader,
    pub(crate) archive: Reader,
    pub(crate) queue_url: Option<String>,
    /// The `archive-replay` function, for the replay action; or why there is none.
    pub(crate) replay: Result<crate::replay::Invoker, Failure>,
    /// The launch token, until it is exchanged (once) for the session.
    launch: Mutex<Option<Secret>>,
    /// The session the launch was exchanged for: the cookie every later request carries.
    session: Mutex<Option<Secret>>,
    /// The token every POST must carry in its form (`csrf`).
    pub(crate) csrf: String,
    csrf_secret: Secret,
    /// The key of the seal a dry run puts on its deliveries' keys, for the confirm.
    seal_key: Secret,
    /// The `Host` values it answers: `127.0.0.1:<port>` and `localhost:<port>`.
    hosts: [String; 2],
    cookie: String,
}

impl Console {
    /// Whether a form's CSRF token is this console's (constant time).
    pub(crate) fn csrf_ok(&self, presented: &str) -> bool {
        self.csrf_secret.matches(presented.as_bytes())
    }

    fn mac(&self, text: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(self.seal_key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(text.as_bytes());
        mac
    }

    /// The console's seal on `text` (HMAC-SHA256 under a key made at launch, hex).
    pub(crate) fn seal(&self, text: &str) -> String {
        hex::encode(self.mac(text).finalize().into_bytes())
    }

    /// Whether `seal` is the console's seal on `text` (constant time).
    pub(crate) fn sealed(&self, text: &str, seal: &str) -> bool {
        hex::decode(seal).is_ok_and(|bytes| self.mac(text).verify_slice(&bytes).is_ok())
    }
}

/// 32 random bytes as hex.
fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::failed(format!("no randomness for the console's token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The router, on a console listening at `port` (what the tests serve too).
pub(crate) fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(pages::journeys))
        .route("/find", get(pages::find))
        .route("/journey", get(pages::journey))
        .route("/delivery", get(pages::delivery))
        .route("/archive", get(pages::archive))
        .route("/actions", get(actions::actions))
        .route("/actions/start", post(actions::start))
        .route("/actions/replay", post(actions::replay))
        .route("/console.css", get(pages::stylesheet))
        .layer(axum::middleware::from_fn_with_state(console.clone(), guard))
        .with_state(console)
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    let mut r = (status, why).into_response();
    harden(&mut r);
    r
}

/// The headers of every answer.
fn harden(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The value of `name` in a `Cookie` header.
fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Every request: the Host, then the token (cookie, or the launch URL's `?token=` which sets
/// the cookie and is taken out of the address bar by a redirect).
async fn guard(State(console): State<Arc<Console>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !console.hosts.iter().any(|h| h == host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "refused: this console answers only requests addressed to its loopback address\n",
        );
    }
    let session = console
        .session
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let (Some(session), Some(presented)) = (session, cookie(&req, &console.cookie)) {
        if session.matches(presented.as_bytes()) {
            let mut r = next.run(req).await;
            harden(&mut r);
            return r;
        }
    }
    let query = req.uri().query().unwrap_or_default();
    let presented = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let Some(presented) = presented.filter(|_| req.method() == "GET") else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: open the URL `kycctl console` printed (it carries the console's token)\n",
        );
    };
    // The launch token works once: it is exchanged for a session of its own, so the URL (in a
    // history, a log, a process list) is worth nothing after.
    let launched = {
        let mut launch = console.launch.lock().unwrap_or_else(|e| e.into_inner());
        match launch.as_ref() {
            Some(token) if token.matches(presented.as_bytes()) => launch.take().is_some(),
            _ => false,
        }
    };
    if !launched {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: this launch URL is not (or no longer) valid: it works once; run `kycctl console` again for a new one\n",
        );
    }
    let Ok(session) = random_token() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "refused: no randomness for a session\n",
        );
    };
    *console.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(Secret::new(session.clone()));
    let rest: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut to = req.uri().path().to_owned();
    if !rest.is_empty() {
        to.push('?');
        to.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish(),
        );
    }
    // A page that moves on by itself rather than a redirect: the move is then the console's own
    // (same-site) navigation, which carries the SameSite=Strict cookie even when the launch came
    // from elsewhere (the launcher file `--open` opens).
    let page = askama::Template::render(&Launch { to: &to }).unwrap_or_default();
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}={session}; HttpOnly; SameSite=Strict; Path=/",
        console.cookie
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    harden(&mut r);
    r
}

/// The page a launch answers with: on to `to` at once.
#[derive(askama::Template)]
#[template(path = "launch.html")]
struct Launch<'a> {
    to: &'a str,
}

/// Build the console on a bound listener: its state and the URL to open.
pub(crate) async fn console_on(
    listener: &tokio::net::TcpListener,
    sdk: aws_config::SdkConfig,
    journey_table: String,
    archive: Reader,
    queue_url: Option<String>,
    replay: Result<crate::replay::Invoker, Failure>,
) -> Result<(Arc<Console>, String), Failure> {
    let port = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("the console's address: {e}")))?
        .port();
    let token = random_token()?;
    let csrf = random_token()?;
    let console = Console {
        journeys: JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), journey_table),
        archive,
        sdk,
        queue_url,
        replay,
        launch: Mutex::new(Some(Secret::new(token.clone()))),
        session: Mutex::new(None),
        csrf_secret: Secret::new(csrf.clone()),
        seal_key: Secret::new(random_token()?),
        csrf,
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        cookie: format!("kycctl_console_{port}"),
    };
    Ok((
        Arc::new(console),
        format!("http://127.0.0.1:{port}/?token={token}"),
    ))
}

/// Open the console in the desktop's browser without putting the launch URL on a command line
/// (where any local user's process list shows it): the browser is given a file only its owner can
/// read, which moves on to the URL. The opener is waited for, so it never lingers as a zombie.
fn open(url: &str) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let failed = |e: std::io::Error| Failure::failed(format!("the console's launcher file: {e}"));
    let dir = std::env::temp_dir().join(format!("kycctl-console-{}", &random_token()?[..16]));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(failed)?;
    let file = dir.join("open.html");
    let page = askama::Template::render(&Launch { to: url })
        .map_err(|e| Failure::failed(format!("the console's launcher file: {e}")))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(page.as_bytes()))
        .map_err(failed)?;
    let opened = ["xdg-open", "open"].iter().find_map(|opener| {
        std::process::Command::new(opener)
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    match opened {
        Some(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        None => eprintln!("kycctl console: no xdg-open or open here: open the URL yourself"),
    }
    Ok(())
}

pub async fn console(args: ConsoleArgs) -> Result<Report, Failure> {
    let table = Failure::required(
        args.journey_table,
        "no journey table: give --journey-table or set JOURNEY_TABLE (the stack's JourneyTableName output)",
    )?;
    let queue_url = args.queue_url.filter(|q| !q.trim().is_empty());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| Failure::failed(format!("listening on 127.0.0.1:{}: {e}", args.port)))?;
    let sdk = kyc_intake::aws::load_config_for(args.profile.as_deref()).await;
    let archive = args.archive.reader(&sdk)?;
    let replay = args.replay.invoker(&sdk);
    let (console, url) = console_on(&listener, sdk, table, archive, queue_url, replay).await?;
    // The URL is the one line on stdout, so a script (or `make console`) can read it.
    println!("{url}");
    eprintln!("kycctl console: open the URL above (Ctrl-C stops it); it answers on 127.0.0.1 only");
    if args.open {
        open(&url)?;
    }
    axum::serve(listener, router(console))
        .await
        .map_err(|e| Failure::failed(format!("the console stopped: {e}")))?;
    Ok(Report::silent())
}
