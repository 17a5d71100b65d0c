//! Structured JSON logs. Level from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config),
//! else `RUST_LOG`, else `info`.
//!
//! The level applies to this project's own code, which never logs a body, a query string, a
//! header, a secret or personal data at any level. Every other crate stays at `warn` or quieter,
//! whatever the level: at `TRACE`, `lambda_runtime` would log the raw API Gateway event (tokens,
//! signatures, DigiLocker `user_details`) and the AWS SDK the SendMessage body.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The library crates whose logging follows the configured level, besides the binary's own
/// crate (each `main` names itself: `telemetry::init(env!("CARGO_CRATE_NAME"))`). All of them log
/// only what `pipeline` and `config` choose to.
const LIBRARY_TARGETS: &[&str] = &["kyc_intake", "lambda_idempotency"];

/// The level named by a Lambda log level or a `RUST_LOG`-style word. `FATAL` (Lambda's highest)
/// means errors only; anything unknown falls back to `info`. Directives such as
/// `aws_smithy_runtime=trace` are not honoured: no setting may open another crate's logging.
pub fn level(name: &str) -> LevelFilter {
    match name.trim().to_ascii_lowercase().as_str() {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "warn" | "warning" => LevelFilter::WARN,
        "error" | "fatal" => LevelFilter::ERROR,
        "off" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// The filter for a configured level: the libraries and `binary` (a crate name, as
/// `CARGO_CRATE_NAME` spells it) at `level`, every other crate at `warn` or at `level` when that
/// is quieter.
pub fn filter(level: LevelFilter, binary: &str) -> Targets {
    let others = level.min(LevelFilter::WARN);
    LIBRARY_TARGETS
        .iter()
        .copied()
        .chain([binary])
        .fold(Targets::new().with_default(others), |t, target| {
            t.with_target(target.to_owned(), level)
        })
}

/// The configured level, from the environment.
pub fn level_from_env() -> LevelFilter {
    let name = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    level(&name)
}

/// Logs for a terminal (`make run`): one short text line per event instead of JSON, the same
/// filter. What is logged is the same as on Lambda, so nothing secret either.
pub fn init_text(binary: &str) {
    let _ = tracing_subscriber::fmt()
        .compact()
        .with_ansi(false)
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(filter(level_from_env(), binary))
        .try_init();
}

/// The JSON lines every function writes (one object per event, the span's fields in it), to
/// `writer`: what `init` installs on stdout, and what the bench measures.
pub fn json_lines<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    LevelFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
}

/// JSON lines on stdout at the configured level, for the binary whose crate is `binary`
/// (`env!("CARGO_CRATE_NAME")`), and a panic hook that logs where, never what.
pub fn init(binary: &str) {
    let _ = json_lines(std::io::stdout)
        .finish()
        .with(filter(level_from_env(), binary))
        .try_init();
    // A panic is caught and answered (`lambda::answer`); its report is one JSON line with the
    // place it happened, never its message, which may quote the input (a token in a query
    // string, a header).
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(location, "panic");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn lambda_levels_map_and_fatal_keeps_errors() {
        assert_eq!(level("TRACE"), LevelFilter::TRACE);
        assert_eq!(level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(level("INFO"), LevelFilter::INFO);
        assert_eq!(level("WARN"), LevelFilter::WARN);
        assert_eq!(level("ERROR"), LevelFilter::ERROR);
        assert_eq!(level("FATAL"), LevelFilter::ERROR);
        assert_eq!(level(""), LevelFilter::INFO);
        assert_eq!(level("aws_smithy_runtime=trace"), LevelFilter::INFO);
    }

    #[test]
    fn other_crates_never_go_below_warn() {
        let f = filter(LevelFilter::TRACE, "cashfree_webhook");
        assert!(f.would_enable("kyc_intake::intake::pipeline", &Level::TRACE));
        assert!(f.would_enable("lambda_idempotency::run", &Level::TRACE));
        assert!(f.would_enable("cashfree_webhook", &Level::TRACE));
        assert!(!f.would_enable("hyperverge_webhook", &Level::INFO));
        for other in [
            "lambda_runtime",
            "lambda_http",
            "aws_smithy_runtime",
            "aws_sdk_sqs",
            "hyper",
        ] {
            assert!(!f.would_enable(other, &Level::INFO), "{other}");
            assert!(f.would_enable(other, &Level::WARN), "{other}");
        }
        let f = filter(LevelFilter::ERROR, "cashfree_webhook");
        assert!(f.would_enable("lambda_runtime", &Level::ERROR));
        assert!(!f.would_enable("lambda_runtime", &Level::WARN));
        assert!(f.would_enable("kyc_intake::config", &Level::ERROR));
    }
}
