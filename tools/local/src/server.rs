//! The local AWS-compatible server (moto, `tools/local/moto_server.py`): DynamoDB, SQS and
//! Secrets Manager on loopback, one launcher for `make run`, the tests and the bench. The child
//! is killed when its `LocalServer` is dropped, and exits by itself when its parent does.

use crate::resources::BoxError;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The launcher script, beside this crate.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_server.py")
}

/// A free port on loopback.
pub fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Python that has moto (`.venv/bin/python`).
    pub python: PathBuf,
    pub port: u16,
    /// Keep connections alive (waitress), as AWS does; moto's own server closes each one.
    pub keep_alive: bool,
    /// Requests served at once (keep-alive only; 1 keeps every conditional write atomic).
    pub threads: u32,
    /// A sleep added to each request, standing in for the network round trip (keep-alive only).
    pub latency_ms: u32,
    /// Print moto's access log (one line per request) to standard error.
    pub access_log: bool,
}

impl Options {
    pub fn new(python: impl Into<PathBuf>, port: u16) -> Self {
        Self {
            python: python.into(),
            port,
            keep_alive: false,
            threads: 1,
            latency_ms: 0,
            access_log: false,
        }
    }
}

/// A running server; killed on drop.
#[derive(Debug)]
pub struct LocalServer {
    pub endpoint: String,
    child: Child,
}

impl LocalServer {
    /// Start it and wait (up to a minute) until it accepts connections. A port already taken is an
    /// error that names it.
    pub fn start(options: &Options) -> Result<Self, BoxError> {
        let port = options.port;
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Err(format!(
                "127.0.0.1:{port} is already in use (another `make run`?): stop it, or pick another port (EMULATOR_PORT=...)"
            )
            .into());
        }
        let mut cmd = Command::new(&options.python);
        cmd.arg(script())
            .args(["--port", &port.to_string(), "--exit-with-parent"])
            .stdout(Stdio::null())
            .stderr(if options.access_log {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if options.keep_alive {
            cmd.args([
                "--keep-alive",
                "--threads",
                &options.threads.to_string(),
                "--latency-ms",
                &options.latency_ms.to_string(),
            ]);
        }
        if options.access_log {
            cmd.arg("--access-log");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", options.python.display()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the local server exited ({status}) before listening on 127.0.0.1:{port}"
                )
                .into());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "the local server did not listen on 127.0.0.1:{port} within a minute"
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A clear error when nothing listens at `endpoint` (`http://host:port`): the hint to start
/// `make run`, instead of an SDK error chain.
pub fn ensure_reachable(endpoint: &str) -> Result<(), BoxError> {
    let address = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    match std::net::TcpStream::connect(address) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "nothing answers at {endpoint}: is `make run` running (in another terminal)?"
        )
        .into()),
    }
}
