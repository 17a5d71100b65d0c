//! `kycctl hyperverge`: register and check HyperVerge's DigiLocker and Results webhooks through
//! its configuration APIs (`api`).

pub(crate) mod api;

use crate::http::{check_url, redact};
use crate::report::{secret_arg, Failure, Finding, Report};
use api::{Api, Credentials, ALL_EVENTS};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::time::Duration;

#[derive(Args)]
pub(crate) struct HypervergeArgs {
    /// Replaces the scheme and host of the documented endpoints (tests, proxies); paths stay.
    #[arg(long, global = true)]
    config_url: Option<String>,
    #[command(subcommand)]
    command: HypervergeCommand,
}

#[derive(Clone, Copy, ValueEnum)]
enum Region {
    /// Every region but the USA (review-api.idv.hyperverge.co).
    Ind,
    /// review-api-usa.idv.hyperverge.co.
    Usa,
}

#[derive(Subcommand)]
enum HypervergeCommand {
    /// The DigiLocker webhook registration.
    Digilocker {
        #[command(subcommand)]
        command: DigilockerCommand,
    },
    /// The Results webhook subscription.
    Results {
        #[arg(long, value_enum, default_value = "ind", global = true)]
        region: Region,
        #[command(subcommand)]
        command: ResultsCommand,
    },
    /// Exit 0 when both registrations match, else print every difference and exit 1.
    Check {
        /// The DigiLocker URL as it should be registered, `?token=` included (`-`: read it from
        /// standard input).
        #[arg(long, env = "KYCCTL_DIGILOCKER_URL", hide_env_values = true)]
        digilocker_url: String,
        #[arg(long)]
        results_url: String,
        #[arg(long, default_value = "x-webhook-token")]
        token_header: String,
        /// Also check the header holds this token (compared, never printed; `-`: standard input).
        #[arg(long, env = "KYCCTL_RESULTS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long, value_enum, default_value = "ind")]
        region: Region,
        /// Events the subscription should have (default: all three).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DigilockerCommand {
    /// GET the registered URL.
    Show,
    /// POST the URL (HTTPS; it carries `?token=` from HYPERVERGE_DIGILOCKER_URL_TOKENS), then read it back.
    Register {
        /// The URL with its token: better from KYCCTL_DIGILOCKER_URL or standard input (`-`)
        /// than on the command line, where shell history and the process list would keep it.
        #[arg(long, env = "KYCCTL_DIGILOCKER_URL", hide_env_values = true)]
        url: String,
    },
}

#[derive(Subcommand)]
enum ResultsCommand {
    /// GET the subscription.
    Show,
    /// Read, create if absent, PUT URL, events and token header, read back and compare.
    Subscribe {
        #[arg(long)]
        url: String,
        /// Default: all three events.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, default_value = "x-webhook-token")]
        token_header: String,
        /// One of HYPERVERGE_RESULTS_AUTH_TOKENS (never printed; `-`: standard input).
        #[arg(long, env = "KYCCTL_RESULTS_TOKEN", hide_env_values = true)]
        token: String,
    },
}

fn events_or_all(events: Vec<String>) -> Vec<String> {
    if events.is_empty() {
        ALL_EVENTS.iter().map(|e| (*e).to_owned()).collect()
    } else {
        events
    }
}

pub(crate) async fn hyperverge(args: HypervergeArgs, timeout: Duration) -> Result<Report, Failure> {
    let creds = Credentials::from_env()?;
    let api = |usa: bool| Api::new(creds.clone(), args.config_url.as_deref(), usa, timeout);
    match args.command {
        HypervergeCommand::Digilocker { command } => digilocker(&api(false)?, command).await,
        HypervergeCommand::Results { region, command } => {
            results(&api(matches!(region, Region::Usa))?, command).await
        }
        HypervergeCommand::Check {
            digilocker_url,
            results_url,
            token_header,
            token,
            region,
            events,
        } => {
            let expected = Expected {
                digilocker_url,
                results_url,
                token_header,
                token,
                events,
            };
            check(&api(false)?, &api(matches!(region, Region::Usa))?, expected).await
        }
    }
}

/// `hyperverge digilocker show|register`: the DigiLocker webhook URL, read back after a write.
async fn digilocker(api: &Api, command: DigilockerCommand) -> Result<Report, Failure> {
    match command {
        DigilockerCommand::Show => {
            let url = api.digilocker_show().await?;
            Ok(Report::of(&DigilockerShown {
                digilocker: DigilockerUrl {
                    url: url.as_deref().map(redact),
                },
            }))
        }
        DigilockerCommand::Register { url } => {
            let url = secret_arg("--url", url)?;
            check_url("--url", &url)?;
            if !url.contains("token=") {
                return Err(Failure::usage(
                    "--url has no `?token=`: the DigiLocker route refuses requests without one of HYPERVERGE_DIGILOCKER_URL_TOKENS",
                ));
            }
            api.digilocker_register(&url).await?;
            let back = api.digilocker_show().await?;
            Ok(Report::of(&Registered {
                registered: redact(&url),
                read_back_matches: back.as_deref() == Some(url.as_str()),
                read_back: back.as_deref().map_or("(none)".to_owned(), redact),
            }))
        }
    }
}

/// `hyperverge results show|subscribe`: the Results subscription, created if need be and read
/// back after the update.
async fn results(api: &Api, command: ResultsCommand) -> Result<Report, Failure> {
    match command {
        ResultsCommand::Show => {
            let sub = api.results_show().await?;
            Ok(Report::of(&ResultsShown {
                results: sub.map(|s| Subscription {
                    webhook_url: s.webhook_url,
                    events: s.events,
                    headers: s.headers.into_iter().map(|(k, _)| k).collect(),
                }),
            }))
        }
        ResultsCommand::Subscribe {
            url,
            events,
            token_header,
            token,
        } => {
            check_url("--url", &url)?;
            let token = secret_arg("--token", token)?;
            let events = events_or_all(events);
            let mut steps = Vec::new();
            if api.results_show().await?.is_none() {
                api.results_create(&url, &events).await?;
                steps.push("created the subscription".to_owned());
            }
            api.results_update(&url, &events, &token_header, &token)
                .await?;
            steps.push(format!(
                "set URL {url}, events [{}], header `{token_header}` (token not shown)",
                events.join(", ")
            ));
            let back = api.results_show().await?.ok_or_else(|| {
                Failure::failed("HyperVerge reports no subscription after the update")
            })?;
            let differences = back.differences(&url, &events, &token_header, Some(&token));
            Ok(Report::of(&Subscribed {
                subscribed: differences.is_empty(),
                differences,
                steps,
            }))
        }
    }
}

/// What `hyperverge check` expects to find registered.
struct Expected {
    digilocker_url: String,
    results_url: String,
    token_header: String,
    token: Option<String>,
    events: Vec<String>,
}

/// `hyperverge check`: both registrations against what is expected; a difference is drift.
async fn check(
    digilocker_api: &Api,
    results_api: &Api,
    expected: Expected,
) -> Result<Report, Failure> {
    let Expected {
        digilocker_url,
        results_url,
        token_header,
        token,
        events,
    } = expected;
    let digilocker_url = secret_arg("--digilocker-url", digilocker_url)?;
    let token = token.map(|t| secret_arg("--token", t)).transpose()?;
    let events = events_or_all(events);
    let digilocker = digilocker_api.digilocker_show().await?;
    let results = results_api.results_show().await?;
    let mut diffs = Vec::new();
    if digilocker.as_deref() != Some(digilocker_url.as_str()) {
        diffs.push(format!(
            "DigiLocker: registered {}, expected {}",
            digilocker.as_deref().map_or("(none)".to_owned(), redact),
            redact(&digilocker_url)
        ));
    }
    match results {
        None => diffs.push("Results: no subscription".to_owned()),
        Some(s) => diffs.extend(
            s.differences(&results_url, &events, &token_header, token.as_deref())
                .into_iter()
                .map(|d| format!("Results: {d}")),
        ),
    }
    Ok(Report::of(&Checked {
        matches: diffs.is_empty(),
        differences: diffs,
    }))
}

/// `hyperverge digilocker show`: the DigiLocker webhook URL registered (its token redacted).
#[derive(Serialize)]
struct DigilockerShown {
    digilocker: DigilockerUrl,
}

#[derive(Serialize)]
struct DigilockerUrl {
    url: Option<String>,
}

impl Finding for DigilockerShown {
    fn lines(&self) -> Vec<String> {
        vec![format!(
            "DigiLocker webhook: {}",
            self.digilocker
                .url
                .as_deref()
                .unwrap_or("(none registered)")
        )]
    }
}

/// `hyperverge digilocker register`: the URL registered and whether HyperVerge reads it back.
#[derive(Serialize)]
struct Registered {
    registered: String,
    read_back_matches: bool,
    /// What HyperVerge reports after the write (redacted).
    #[serde(skip)]
    read_back: String,
}

impl Finding for Registered {
    fn lines(&self) -> Vec<String> {
        let mut text = vec![format!("registered {}", self.registered)];
        if !self.read_back_matches {
            text.push(format!("but HyperVerge reports {}", self.read_back));
        }
        text
    }

    fn drift(&self) -> bool {
        !self.read_back_matches
    }
}

/// `hyperverge results show`: the Results subscription, its headers' names only.
#[derive(Serialize)]
struct ResultsShown {
    results: Option<Subscription>,
}

#[derive(Serialize)]
struct Subscription {
    #[serde(rename = "webhookUrl")]
    webhook_url: Option<String>,
    events: Vec<String>,
    headers: Vec<String>,
}

impl Finding for ResultsShown {
    fn lines(&self) -> Vec<String> {
        vec![match &self.results {
            None => "Results subscription: (none)".to_owned(),
            Some(s) => format!(
                "Results subscription: {} events [{}] headers [{}]",
                s.webhook_url.as_deref().unwrap_or("(no URL)"),
                s.events.join(", "),
                s.headers.join(", ")
            ),
        }]
    }
}

/// `hyperverge results subscribe`: whether the subscription reads back as set, and how not.
#[derive(Serialize)]
struct Subscribed {
    subscribed: bool,
    differences: Vec<String>,
    /// What was done: created, then set.
    #[serde(skip)]
    steps: Vec<String>,
}

impl Finding for Subscribed {
    fn lines(&self) -> Vec<String> {
        let mut text = self.steps.clone();
        text.extend(
            self.differences
                .iter()
                .map(|d| format!("after the update: {d}")),
        );
        text
    }

    fn drift(&self) -> bool {
        !self.subscribed
    }
}

/// `hyperverge check`: whether both registrations match what is expected, and how not.
#[derive(Serialize)]
struct Checked {
    #[serde(rename = "match")]
    matches: bool,
    differences: Vec<String>,
}

impl Finding for Checked {
    fn lines(&self) -> Vec<String> {
        if self.matches {
            vec!["both registrations match".to_owned()]
        } else {
            self.differences.clone()
        }
    }

    fn drift(&self) -> bool {
        !self.matches
    }
}
