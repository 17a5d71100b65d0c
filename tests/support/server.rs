//! The local AWS-compatible server for this test binary, and the workspace's binaries.

use kyc_local::server::LocalServer;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The targets `make test` builds (the Makefile's `TARGETS`): what `cargo test` runs, without the
/// benches that `--all-targets` adds (every binary again, in test mode).
pub const BUILT_TARGETS: [&str; 4] = ["--lib", "--bins", "--tests", "--examples"];

/// What cargo sets for a test it runs, besides `CARGO_PKG_*` and `CARGO_BIN_EXE_*` (the Cargo
/// book's "Environment variables Cargo sets for crates").
const GIVEN_TO_A_TEST: [&str; 8] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// `command` without the variables cargo gives a test (its package's name, manifest, version), as
/// a user's shell would run it. A build under them is not the build `make test` made: a build
/// script that watches one (ring's does) runs again, and everything above it is rebuilt (a
/// minute of both CPUs, in the middle of the suite). Cargo's own settings (CARGO_INCREMENTAL,
/// CARGO_PROFILE_*, ...) stay.
pub fn outside_the_test(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if GIVEN_TO_A_TEST.contains(&name.as_ref())
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// One of the workspace's binaries (`cashfree-webhook`, `kycctl`, ...), built if need be (a no-op
/// after `make test`'s own `cargo build --workspace $(TARGETS)`).
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut build = Command::new(cargo);
        // What `make test` builds (the Makefile's TARGETS): `--bins` alone unifies the features
        // without the dev-dependencies' and would build the binaries a second time.
        build
            .args(["build", "--workspace", "--quiet"])
            .args(BUILT_TARGETS)
            .current_dir(workspace());
        let status = outside_the_test(&mut build)
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --workspace {}",
            BUILT_TARGETS.join(" ")
        );
    });
    // `target/<profile>/`, where this test binary's `deps/` directory sits.
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(name))
        .expect("target directory");
    assert!(path.exists(), "{} not built", path.display());
    path
}

pub(crate) fn free_port() -> u16 {
    kyc_local::server::free_port().expect("a free loopback port")
}

/// The Python that has moto (and waitress): `KYC_MOTO_PYTHON`, or `.venv/bin/python`.
pub fn moto_python() -> PathBuf {
    let python = std::env::var("KYC_MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run the tests with `make test`, which installs moto into .venv",
        python.display()
    );
    python
}

/// The local server for this test binary, started on first use. It exits with the test process.
pub fn endpoint() -> &'static str {
    static SERVER: OnceLock<LocalServer> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let options = kyc_local::server::Options::new(moto_python(), free_port());
            LocalServer::start(&options).expect("start the local server")
        })
        .endpoint
}

/// Serve HTTP/1.1 on a loopback port with `answer`, for fakes of a provider's API or an
/// endpoint; the address. The server lives as long as the test's runtime.
pub async fn serve_loopback<F, Fut>(answer: F) -> std::net::SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>>
        + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(kyc_local::http::serve(listener, move |req, _| answer(req)));
    addr
}

/// `kycctl` with `args` against the local server (its endpoint, region and dummy credentials,
/// no profile), `env` added and `removed` taken out of its environment; its exit code and its
/// stdout and stderr together.
pub fn kycctl_local(args: &[&str], env: &[(&str, &str)], removed: &[&str]) -> (i32, String) {
    let mut command = std::process::Command::new(workspace_binary("kycctl"));
    command
        .args(args)
        .current_dir(workspace())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", "ap-south-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().copied());
    for variable in removed {
        command.env_remove(variable);
    }
    let out = command.output().expect("run kycctl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A child process that is killed (and reaped) when the test lets go of it.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait until something listens at `address` (`host:port`), for at most `within`; else fail
/// naming `what`. The one wait for a process the tests start (chromedriver, `kyc-local serve`).
pub async fn listening(address: &str, within: std::time::Duration, what: &str) {
    let up = async {
        while tokio::net::TcpStream::connect(address).await.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    if tokio::time::timeout(within, up).await.is_err() {
        panic!("{what} did not listen on {address} within {within:?}");
    }
}

/// One HTTP/1.1 POST over loopback, its request line exactly as given (no client encodes it);
/// the status and the body.
pub async fn raw_post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every `.rs` file of the test folder `folder` (e.g. `tests/integration`) is declared as a module
/// in its `main.rs`: an undeclared one would never run.
pub fn assert_every_file_is_a_module(folder: &str) {
    let dir = workspace().join(folder);
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("main.rs");
    for entry in std::fs::read_dir(&dir).expect(folder) {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem != "main" && path.extension().is_some_and(|e| e == "rs") {
            assert!(
                main.contains(&format!("mod {stem};")),
                "{folder}/{stem}.rs is not declared in main.rs, so it would never run"
            );
        }
    }
}
