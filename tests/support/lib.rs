//! Integration-test support: a real AWS-compatible server (moto) on loopback (`server`), a fresh
//! table, queue and archive bucket per test with the registry's functions deployed on it through
//! their real handlers and real AWS SDK clients (`stack`), signed requests shaped exactly as API
//! Gateway sends them and the sample events (`requests`), the logs the handlers write (`logs`), and
//! fakes of the providers' status APIs (`provider_apis`).

mod logs;
pub mod provider_apis;
mod requests;
mod server;
mod stack;

pub use logs::{captured_logs, Captured};
pub use requests::{call, expectations, sample, sample_event, ApiRequest, Reply};
pub use server::{
    assert_every_file_is_a_module, endpoint, kycctl_local, listening, moto_python,
    outside_the_test, raw_post, serve_loopback, workspace, workspace_binary, Child, BUILT_TARGETS,
};
pub use stack::{dead_sdk_config, hanging_endpoint, n, s, Dead, Deployed, Stack};

pub use kyc_local::resources::local_sdk_config;

/// The registry's local values (`FunctionSpec::local`), which every test stack configures; as
/// constants for the tests that sign by hand (`provider_drift` holds them equal).
pub const CASHFREE_SECRET: &str = "local-cashfree-client-secret";
pub const RESULTS_TOKEN: &str = "local-results-token";
pub const DIGILOCKER_TOKEN: &str = "local-digilocker-url-token";
pub const DIGIO_SECRET: &str = "local-digio-webhook-secret";

/// What no log line may ever hold: the test credentials and the personal data in the samples
/// (name, date of birth, mobile, reviewer e-mail).
pub const NEVER_LOGGED: &[&str] = &[
    CASHFREE_SECRET,
    RESULTS_TOKEN,
    DIGILOCKER_TOKEN,
    DIGIO_SECRET,
    "asha@example.com",
    "John Doe",
    "02-02-1995",
    "9999999999",
    "reviewer@fintech.example",
];
