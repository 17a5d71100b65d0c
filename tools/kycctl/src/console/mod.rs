//! `kycctl console`: the journeys, their timelines, the archived deliveries and replay in a
//! browser, served from the operator's machine with the operator's own AWS credentials.
//!
//! Safe by construction: it listens on 127.0.0.1 only; every request carries the token made at
//! launch (the printed URL's `?token=`, then an HttpOnly SameSite=Strict cookie); a request whose
//! `Host` is not the loopback address it serves is refused (DNS rebinding); every POST carries a
//! CSRF token of its own; every answer has a strict Content-Security-Policy, `no-store`, no CORS
//! header. Pages are server-rendered from compile-checked templates; the one stylesheet is in
//! the binary; there is no JavaScript.

mod pages;

use crate::hyperverge::Failure;
use crate::record::Reader;
use crate::Report;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Args;
use kyc_intake::aws::JourneyReader;
use kyc_intake::secrets::secret::Secret;
use std::sync::Arc;

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
    /// The archive bucket (the stack's `ArchiveBucketName` output).
    #[arg(long, env = "ARCHIVE_BUCKET")]
    bucket: Option<String>,
    /// The events queue, for the actions (the stack's `EventsQueueUrl` output).
    #[arg(long, env = "EVENTS_QUEUE_URL")]
    queue_url: Option<String>,
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
    /// The launch token every request must carry.
    token: Secret,
    /// The token every POST must carry in its form (`csrf`).
    pub(crate) csrf: String,
    csrf_secret: Secret,
    /// The `Host` values it answers: `127.0.0.1:<port>` and `localhost:<port>`.
    hosts: [String; 2],
    cookie: String,
}

impl Console {
    /// Whether a form's CSRF token is this console's (constant time).
    pub(crate) fn csrf_ok(&self, presented: &str) -> bool {
        self.csrf_secret.matches(presented.as_bytes())
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
        .route("/actions", get(pages::actions))
        .route("/actions/start", post(pages::start))
        .route("/actions/replay", post(pages::replay))
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
    if cookie(&req, &console.cookie).is_some_and(|t| console.token.matches(t.as_bytes())) {
        let mut r = next.run(req).await;
        harden(&mut r);
        return r;
    }
    let query = req.uri().query().unwrap_or_default();
    let presented = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    if presented.is_some_and(|t| console.token.matches(t.as_bytes())) && req.method() == "GET" {
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
        let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            console.cookie,
            String::from_utf8_lossy(console.token.expose())
        )) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        harden(&mut r);
        return r;
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        "refused: open the URL `kycctl console` printed (it carries the console's token)\n",
    )
}

/// Build the console on a bound listener: its state and the URL to open.
pub(crate) async fn console_on(
    listener: &tokio::net::TcpListener,
    sdk: aws_config::SdkConfig,
    journey_table: String,
    bucket: String,
    queue_url: Option<String>,
) -> Result<(Arc<Console>, String), Failure> {
    let port = listener
        .local_addr()
        .map_err(|e| Failure::failed(format!("the console's address: {e}")))?
        .port();
    let token = random_token()?;
    let csrf = random_token()?;
    let console = Console {
        journeys: JourneyReader::new(aws_sdk_dynamodb::Client::new(&sdk), journey_table),
        archive: Reader::with(sdk.clone(), bucket),
        sdk,
        queue_url,
        token: Secret::new(token.clone()),
        csrf_secret: Secret::new(csrf.clone()),
        csrf,
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        cookie: format!("kycctl_console_{port}"),
    };
    Ok((
        Arc::new(console),
        format!("http://127.0.0.1:{port}/?token={token}"),
    ))
}

pub async fn console(args: ConsoleArgs) -> Result<Report, Failure> {
    let table = Failure::required(
        args.journey_table,
        "no journey table: give --journey-table or set JOURNEY_TABLE (the stack's JourneyTableName output)",
    )?;
    let bucket = Failure::required(
        args.bucket,
        "no archive bucket: give --bucket or set ARCHIVE_BUCKET (the stack's ArchiveBucketName output)",
    )?;
    let queue_url = args.queue_url.filter(|q| !q.trim().is_empty());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| Failure::failed(format!("listening on 127.0.0.1:{}: {e}", args.port)))?;
    let sdk = kyc_intake::aws::load_config_for(args.profile.as_deref()).await;
    let (console, url) = console_on(&listener, sdk, table, bucket, queue_url).await?;
    // The URL is the one line on stdout, so a script (or `make console`) can read it.
    println!("{url}");
    eprintln!("kycctl console: open the URL above (Ctrl-C stops it); it answers on 127.0.0.1 only");
    if args.open {
        let opened = ["xdg-open", "open"].iter().any(|opener| {
            std::process::Command::new(opener)
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .is_ok()
        });
        if !opened {
            eprintln!("kycctl console: no xdg-open or open here: open the URL yourself");
        }
    }
    axum::serve(listener, router(console))
        .await
        .map_err(|e| Failure::failed(format!("the console stopped: {e}")))?;
    Ok(Report::ok(Vec::new(), serde_json::Value::Null))
}
