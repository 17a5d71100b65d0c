//! What every command gives back: a `Report` (text lines, or one JSON object, and whether it
//! found a difference) or a `Failure` (with what to do about it); and the argument readers they
//! share (a source's name, a range's end) between the CLI and the console.

use chrono::{DateTime, Utc};
use kyc_intake::sources::{registry, SourceSpec};

/// A failure, with what to do about it. Exit code 1 unless it is a usage problem (2). In JSON,
/// `{"error": <message>}`.
#[derive(Debug, serde::Serialize)]
pub struct Failure {
    #[serde(rename = "error")]
    pub message: String,
    #[serde(skip)]
    pub usage: bool,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }

    /// A setting that must be given (a flag or its variable): trimmed, blank counts as missing
    /// (a usage failure saying `what`).
    pub fn required(value: Option<String>, what: &str) -> Result<String, Self> {
        given(value).ok_or_else(|| Self::usage(what.to_owned()))
    }
}

/// What a command found: one fact, shown two ways from the same fields (its JSON is its
/// `Serialize`, its text `lines`), so the two cannot drift apart; and whether it found a
/// difference (exit code 1).
pub(crate) trait Finding: serde::Serialize {
    /// Its text form, a line each.
    fn lines(&self) -> Vec<String>;
    /// Whether it found a difference between what is and what should be.
    fn drift(&self) -> bool {
        false
    }
}

/// What a command prints: text lines, or one JSON object; and whether it found a difference.
/// Its fields are private: a report is made only from a `Finding`, never by hand.
pub(crate) struct Report {
    text: Vec<String>,
    json: serde_json::Value,
    drift: bool,
}

impl Report {
    /// The report of `finding`.
    pub(crate) fn of(finding: &impl Finding) -> Self {
        Self {
            text: finding.lines(),
            // A `Finding` is plain data (strings, numbers, maps with string keys): it always
            // serializes.
            json: serde_json::to_value(finding).unwrap_or_default(),
            drift: finding.drift(),
        }
    }

    /// Its text lines.
    pub(crate) fn text(&self) -> &[String] {
        &self.text
    }

    /// Its JSON object.
    pub(crate) fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// Whether it found a difference (exit code 1).
    pub(crate) fn drift(&self) -> bool {
        self.drift
    }

    /// A command that printed what it had to say itself (the console's URL): nothing more.
    pub(crate) fn silent() -> Self {
        Self {
            text: Vec::new(),
            json: serde_json::Value::Null,
            drift: false,
        }
    }
}

/// A secret argument as given, or, when it is `-`, the first line of standard input: a token or a
/// URL carrying one need not be on the command line. Empty is a usage error.
pub fn secret_arg(flag: &str, value: String) -> Result<String, Failure> {
    let value = if value == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("{flag} -: cannot read standard input: {e}")))?;
        line
    } else {
        value
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(Failure::usage(format!("{flag} is empty")));
    }
    Ok(value)
}

/// `n` and the noun, singular for one: "1 message", "2 messages".
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A flag's (or variable's) value, trimmed, when given and not blank.
pub(crate) fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The source `name` names, or a usage failure listing the sources.
pub(crate) fn source_spec(name: &str) -> Result<&'static SourceSpec, Failure> {
    registry::source(name).ok_or_else(|| {
        let known: Vec<&str> = registry::sources().map(|s| s.name).collect();
        Failure::usage(format!(
            "--source {name} is not a source (one of {})",
            known.join(", ")
        ))
    })
}

/// One end of a range: a UTC day (its first or last instant) or an RFC 3339 time, read as the
/// `archive-replay` function reads it.
pub(crate) fn instant(flag: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, Failure> {
    kyc_intake::replay::request::instant(value, end_of_day).ok_or_else(|| {
        Failure::usage(format!(
            "{flag} `{value}` is neither a day (YYYY-MM-DD) nor an RFC 3339 time"
        ))
    })
}
