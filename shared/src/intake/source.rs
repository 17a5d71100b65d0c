//! The provider contract: what a source is (`SourceSpec`: route, payload recognition, journey
//! rules, authentication builder), what it recognizes in a payload (`Recognized`), a source as a
//! function serves it (`Source`) and the function itself (`FunctionSpec`). The providers under
//! `sources/` fill it in; the pipeline reads it and knows none of them.

use super::auth::Authenticate;
use super::settings::{self, Common};
use crate::config::setting::{self, Setting};
use crate::config::{ConfigError, Env};
use chrono::FixedOffset;
use serde_json::Value;

/// What a source is, apart from its credentials: `<provider>/<product>` on one route.
#[derive(Debug)]
pub struct SourceSpec {
    /// `<provider>/<product>`: the CloudEvents `source`, and the idempotency key's prefix.
    pub name: &'static str,
    pub provider: &'static str,
    pub product: &'static str,
    /// Matched against the tail of the request path, so an API Gateway stage prefix does not matter.
    pub route: &'static str,
    /// Zone for provider times that carry none.
    pub naive_zone: FixedOffset,
    /// JSON pointer to the provider's event name, reported even for unrecognized payloads.
    pub event_pointer: &'static str,
    /// JSON pointer to the id the provider gives each notification whatever its event (Digio's
    /// `WHN…`), when it has one: it identifies an unrecognized payload instead of its whole body.
    pub notification_id: Option<&'static str>,
    /// The provider's payload → the normalized fields; `None` means unrecognized.
    pub recognize: fn(&Value) -> Option<Recognized>,
    /// How a delivery on this route is authenticated, one phrase for the docs' tables.
    pub authentication: &'static str,
    /// Where and how the provider is told this route's URL: the template's output describing it.
    pub register: &'static str,
    /// The query the registered URL carries, when it has one (`token=YOUR_..._TOKEN`).
    pub url_query: Option<&'static str>,
    /// The provider's event names (codes, statuses) `recognize` maps, each to its kind: the type
    /// `kyc.<product>.<kind>` (or `kyc.<kind>` when the kind names another product).
    pub events: &'static [(&'static str, &'static str)],
    /// JSON pointers (`*`: any key or index) of the personal data in its webhook bodies, which an
    /// event withholds unless `EVENT_PERSONAL_DATA=include` (`intake::withhold`).
    pub personal_data: &'static [&'static str],
    /// How its journeys end, stall and can be reconciled (the journey sweeper).
    pub journey: JourneyRules,
    /// Its authentication, built from the environment (a bad value is an error naming the
    /// variable). Sources that share credentials share the builder.
    pub auth: AuthBuilder,
}

/// Builds a source's authentication from the function's environment at start-up (and again on
/// each refresh from Secrets Manager).
pub type AuthBuilder = fn(&dyn Env, &Common) -> Result<Box<dyn Authenticate>, ConfigError>;

/// What the journey worker and the sweeper know of a source's journeys.
#[derive(Debug, Clone, Copy)]
pub struct JourneyRules {
    /// Event kinds (`kyc.<product>.<kind>`) after which the journey is closed.
    pub terminal: &'static [&'static str],
    /// How long an open journey may go without an event before it is stalled, unless
    /// `JOURNEY_STALL_AFTER` says otherwise.
    pub stall_after_secs: u64,
    /// The provider's status API, when it has one the sweeper can reconcile from.
    pub reconcile: Option<Reconcile>,
}

/// What the provider's status API says of one source's journeys. The API itself (its client, its
/// settings, the scheme of what it reconciles) is the provider's `status_api::STATUS_API`, listed
/// in `registry::STATUS_APIS`.
#[derive(Debug, Clone, Copy)]
pub struct Reconcile {
    /// The path under the API's base, e.g. `/verification/vkyc` (the provider's client says where
    /// the subject goes).
    pub path: &'static str,
    /// The field that names the journey's subject in the answer, and for Cashfree also the query
    /// parameter that asks for it: `verification_id`, BAV's `reference_id`, Digio's `id`.
    pub subject_field: &'static str,
    /// The answer's status field (`status`, a KYC link's `form_status`, BAV's `account_status`).
    pub status_field: &'static str,
    /// Its sub-status field, when it has one (`sub_status`, BAV's `account_status_code`).
    pub sub_status_field: Option<&'static str>,
    /// Statuses the provider calls final: reconciling to one closes the journey.
    pub final_statuses: &'static [&'static str],
    /// Every status the provider documents for the API, when it publishes a closed list: an
    /// answer with any other is not believed. `None`: open strings (any status word).
    pub statuses: Option<&'static [&'static str]>,
    /// JSON pointers of the personal data in its answers, which a `kyc.journey.reconciled`
    /// event withholds as a webhook's event does.
    pub personal_data: &'static [&'static str],
}

impl JourneyRules {
    /// Whether an event of `event_type` closes the journey.
    pub fn closes(&self, product: &str, event_type: &str) -> bool {
        event_type
            .strip_prefix("kyc.")
            .and_then(|t| t.strip_prefix(product))
            .and_then(|t| t.strip_prefix('.'))
            .is_some_and(|kind| self.terminal.contains(&kind))
    }
}

impl SourceSpec {
    pub fn matches(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        path.ends_with(self.route)
    }

    pub(crate) fn event_name(&self, v: &Value) -> Option<String> {
        v.pointer(self.event_pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// One Lambda function.
#[derive(Debug)]
pub struct FunctionSpec {
    /// The function's binary (`BuildProperties.Binary` in the template), e.g. `cashfree-webhook`.
    pub name: &'static str,
    /// The sources it serves, each on its own route.
    pub sources: &'static [&'static SourceSpec],
    /// Who it serves, as people say it (`Cashfree`, `HyperVerge`): its alarms and outputs name it.
    pub title: &'static str,
    /// What it is, one line: the template's `Description` of the function.
    pub description: &'static str,
    /// Whether a stack may leave it out (parameter `Deploy<Name>`, default `true`).
    pub optional: bool,
    /// The settings it reads beyond `config::var::COMMON`, as the template declares them: the
    /// generated template sets exactly these (and `<X>_SECRET_ID` for each secret, which may
    /// come from Secrets Manager instead, see `secrets::manager`).
    pub settings: &'static [Setting],
    /// The values a local stack runs with (`make run`, the samples, the tests): every secret
    /// variable, and any other the local gateway needs (it sends from 127.0.0.1). Never used by a
    /// deployment.
    pub local: &'static [(&'static str, &'static str)],
    /// The names its authentication reports (`data.auth_scheme`); the JSON Schema lists them.
    pub schemes: &'static [crate::event::AuthScheme],
}

impl FunctionSpec {
    /// The variables it reads beyond `config::var::COMMON`.
    pub fn variables(&self) -> Vec<&'static str> {
        setting::variables(self.settings).collect()
    }

    /// Those of its variables that hold secrets.
    pub fn secret_variables(&self) -> Vec<&'static str> {
        setting::secret_variables(self.settings).collect()
    }

    /// Read and validate this function's whole configuration.
    pub fn config(&self, env: &dyn Env) -> Result<(Common, Vec<Source>), ConfigError> {
        let common = settings::common(env)?;
        let sources = self
            .sources
            .iter()
            .map(|spec| {
                Ok(Source {
                    spec,
                    auth: (spec.auth)(env, &common)?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok((common, sources))
    }

    /// The source of this function serving `path`.
    pub fn source_for(&self, path: &str) -> Option<&'static SourceSpec> {
        self.sources.iter().copied().find(|s| s.matches(path))
    }
}

/// A source as a function serves it: what it is, and how its requests are authenticated.
pub struct Source {
    pub spec: &'static SourceSpec,
    pub auth: Box<dyn Authenticate>,
}

impl Source {
    /// Every scheme refuses everything (`not_configured`) while it has nothing to check against,
    /// so a source whose secrets are empty fails closed, and starts working once a refresh from
    /// Secrets Manager fills them.
    pub fn new(spec: &'static SourceSpec, auth: impl Authenticate + 'static) -> Self {
        Self {
            spec,
            auth: Box::new(auth),
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.spec.name)
            .field("route", &self.spec.route)
            .field("configured", &self.auth.is_configured())
            .finish()
    }
}

/// What a source module reads out of a payload it recognizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    /// Last part of the event type: `kyc.<product>.<kind>`; or `<product>.<kind>` for an event of
    /// another product of the same journey (Digio's DigiLocker step is `digilocker.documents_pulled`).
    pub kind: &'static str,
    pub provider_event: String,
    pub status: Option<String>,
    pub sub_status: Option<String>,
    pub subject: String,
    /// The provider's time field, raw.
    pub time: Option<String>,
    /// The identity fields' values, in the order of docs/design.md's identity table.
    pub identity: Vec<Value>,
}
