//! The registry as the generated files read it: each function, setting, source and status API
//! with the names its template resources take, checked for consistency first. Every name here
//! is derived by one rule, so the templates under `templates/` only arrange them.

use kyc_intake::config::setting::{Kind, Setting};
use kyc_intake::event::AuthScheme;
use kyc_intake::sources::status::StatusApiSpec;
use kyc_intake::sources::{FunctionSpec, SourceSpec};
use std::collections::{BTreeMap, BTreeSet};

/// Why the registry cannot be written out: the entry and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the registry's {entry}: {problem}")]
pub struct RegistryError {
    pub entry: String,
    pub problem: String,
}

fn refuse(entry: impl Into<String>, problem: impl Into<String>) -> RegistryError {
    RegistryError {
        entry: entry.into(),
        problem: problem.into(),
    }
}

/// `cashfree-webhook` → `Cashfree`, `journey-worker` → `JourneyWorker`,
/// `cashfree/kyc_link` → `CashfreeKycLink`: the template's names for a registry name.
pub fn camel(name: &str) -> String {
    name.split(['-', '/', '_'])
        .filter(|part| !part.is_empty() && *part != "webhook")
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One setting, as a parameter and a variable.
#[derive(Debug, Clone)]
pub struct SettingView {
    pub variable: &'static str,
    pub parameter: &'static str,
    pub description: &'static str,
    pub secret: bool,
    /// A list of 16+ character secrets.
    pub list: bool,
    pub number: bool,
    pub default: String,
    pub pattern: Option<&'static str>,
    pub min: Option<u64>,
    pub values: &'static [&'static str],
    /// `Has<Parameter>`: the parameter was given a value (a secret's initial value).
    pub has_value: String,
    /// `<Parameter>Secret`: the Secrets Manager secret a secret setting is kept in.
    pub resource: String,
}

impl SettingView {
    fn new(s: &Setting) -> Self {
        let (list, number, pattern, min, values) = match s.kind {
            Kind::Secret { list } => (list, false, None, None, &[][..]),
            Kind::Text { pattern, .. } => (false, false, pattern, None, &[][..]),
            Kind::Number { min, .. } => (false, true, None, Some(min), &[][..]),
            Kind::Choice { values, .. } => (false, false, None, None, values),
        };
        Self {
            variable: s.variable,
            parameter: s.parameter,
            description: s.description,
            secret: s.is_secret(),
            list,
            number,
            default: s.default_value(),
            pattern,
            min,
            values,
            has_value: format!("Has{}", s.parameter),
            resource: format!("{}Secret", s.parameter),
        }
    }
}

/// One source: its route, its event's name in the template and its URL output.
#[derive(Debug, Clone)]
pub struct SourceView {
    /// What the registry says of it (events, journey rules, personal data).
    pub spec: &'static SourceSpec,
    pub name: &'static str,
    pub route: &'static str,
    /// `CashfreeDigilocker`: its route's event and `<Id>WebhookUrl` output.
    pub id: String,
    /// `cashfree_digilocker`: its series in a metric math expression.
    pub series: String,
    pub register: &'static str,
    pub url_query: Option<&'static str>,
}

/// One webhook function and everything the template holds of it.
#[derive(Debug, Clone)]
pub struct FunctionView {
    pub spec: &'static FunctionSpec,
    /// `Cashfree`: `CashfreeFunction`, `CashfreeFunctionRole`, `DeployCashfree`, ...
    pub id: String,
    pub binary: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub provider: &'static str,
    /// `<Id>Deployed`, when a stack may leave it out.
    pub deployed: Option<String>,
    /// Where its secrets are kept: `UseSecretsManager`, or `<Id>UsesSecretsManager` for an
    /// optional function.
    pub in_manager: String,
    pub settings: Vec<SettingView>,
    pub sources: Vec<SourceView>,
}

impl FunctionView {
    /// Its settings that hold secrets.
    pub fn secrets(&self) -> Vec<&SettingView> {
        self.settings.iter().filter(|s| s.secret).collect()
    }
}

/// A status API the sweeper asks.
#[derive(Debug, Clone)]
pub struct StatusApiView {
    pub spec: &'static StatusApiSpec,
    /// `CashfreeApi`: `CashfreeApiSecret`, `HasCashfreeApi`, `CashfreeApiSecretId`.
    pub id: String,
    pub provider: &'static str,
    pub title: &'static str,
    /// The condition of the function serving its provider, when that one is optional.
    pub deployed: Option<String>,
    pub client_id: SettingView,
    pub settings: Vec<SettingView>,
}

impl StatusApiView {
    /// Its one secret setting (the client secret).
    pub fn secret(&self) -> Option<&SettingView> {
        self.settings.iter().find(|s| s.secret)
    }
}

/// The whole registry, checked.
#[derive(Debug, Clone)]
pub struct Registry {
    pub functions: Vec<FunctionView>,
    pub status_apis: Vec<StatusApiView>,
    pub schemes: Vec<AuthScheme>,
}

impl Registry {
    /// Every source of every function.
    pub fn sources(&self) -> impl Iterator<Item = (&FunctionView, &SourceView)> {
        self.functions
            .iter()
            .flat_map(|f| f.sources.iter().map(move |s| (f, s)))
    }
}

/// The registry `functions` and `apis` describe, or the first entry that makes it inconsistent:
/// two functions of one name, two sources on one route or of one name, a variable or a
/// parameter declared twice, a source another provider's function serves, a status API for a
/// provider no function serves, a scheme the JSON Schema could not list.
pub fn registry(
    functions: &[&'static FunctionSpec],
    apis: &[&'static StatusApiSpec],
    schemes: Vec<AuthScheme>,
) -> Result<Registry, RegistryError> {
    let mut seen = Seen::default();
    let mut views = Vec::new();
    for f in functions {
        views.push(seen.function(f)?);
    }
    let mut api_views = Vec::new();
    for api in apis {
        api_views.push(seen.status_api(api, &views)?);
    }
    check_schemes(&schemes)?;
    Ok(Registry {
        functions: views,
        status_apis: api_views,
        schemes,
    })
}

/// What the registry declared so far: each name, route, source, variable and parameter, with
/// who declared it first.
#[derive(Default)]
struct Seen {
    names: BTreeSet<&'static str>,
    routes: BTreeMap<&'static str, &'static str>,
    sources: BTreeMap<&'static str, &'static str>,
    variables: BTreeMap<&'static str, String>,
    parameters: BTreeMap<&'static str, String>,
}

impl Seen {
    /// A setting of `owner`: its variable and parameter declared once, the parameter a
    /// CloudFormation name.
    fn setting(&mut self, owner: &str, s: &Setting) -> Result<(), RegistryError> {
        if let Some(first) = self.variables.insert(s.variable, owner.to_owned()) {
            return Err(refuse(
                owner,
                format!("variable {} is also declared by {first}", s.variable),
            ));
        }
        if let Some(first) = self.parameters.insert(s.parameter, owner.to_owned()) {
            return Err(refuse(
                owner,
                format!("parameter {} is also declared by {first}", s.parameter),
            ));
        }
        if !s.parameter.chars().all(|c| c.is_ascii_alphanumeric())
            || !s.parameter.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return Err(refuse(
                owner,
                format!("parameter `{}` is not a CloudFormation name", s.parameter),
            ));
        }
        Ok(())
    }

    /// A webhook function: its name once and `-webhook`, at least one source, its settings and
    /// its sources checked; the view the templates read.
    fn function(&mut self, f: &'static FunctionSpec) -> Result<FunctionView, RegistryError> {
        if !self.names.insert(f.name) {
            return Err(refuse(f.name, "two functions of this name"));
        }
        if !f.name.ends_with("-webhook") {
            return Err(refuse(f.name, "a webhook function's name ends in -webhook"));
        }
        if f.sources.is_empty() {
            return Err(refuse(f.name, "a function serves at least one source"));
        }
        let provider = f.sources[0].provider;
        for setting in f.settings {
            self.setting(f.name, setting)?;
        }
        let mut source_views = Vec::new();
        for s in f.sources {
            source_views.push(self.source(f, provider, s)?);
        }
        let id = camel(f.name);
        Ok(FunctionView {
            spec: f,
            deployed: f.optional.then(|| format!("{id}Deployed")),
            in_manager: if f.optional {
                format!("{id}UsesSecretsManager")
            } else {
                "UseSecretsManager".to_owned()
            },
            id,
            binary: f.name,
            title: f.title,
            description: f.description,
            provider,
            settings: f.settings.iter().map(SettingView::new).collect(),
            sources: source_views,
        })
    }

    /// A source of `f`: its provider's, on a route and under a name of its own.
    fn source(
        &mut self,
        f: &FunctionSpec,
        provider: &str,
        s: &'static SourceSpec,
    ) -> Result<SourceView, RegistryError> {
        check_source(f, provider, s)?;
        if let Some(first) = self.routes.insert(s.route, s.name) {
            return Err(refuse(
                s.name,
                format!("route {} is also {first}'s", s.route),
            ));
        }
        if self.sources.insert(s.name, f.name).is_some() {
            return Err(refuse(s.name, "two sources of this name"));
        }
        Ok(SourceView {
            spec: s,
            name: s.name,
            route: s.route,
            id: camel(s.name),
            series: s.name.replace(['/', '-'], "_"),
            register: s.register,
            url_query: s.url_query,
        })
    }

    /// A status API: of a provider a function serves, its client id first and one secret.
    fn status_api(
        &mut self,
        api: &'static StatusApiSpec,
        functions: &[FunctionView],
    ) -> Result<StatusApiView, RegistryError> {
        let owner = format!("{} status API", api.provider);
        let Some(function) = functions.iter().find(|f| f.provider == api.provider) else {
            return Err(refuse(owner, "no function serves this provider"));
        };
        for setting in api.settings {
            self.setting(&owner, setting)?;
        }
        let Some(client_id) = api.settings.first().filter(|s| !s.is_secret()) else {
            return Err(refuse(owner, "its first setting is the client id"));
        };
        if api.settings.iter().filter(|s| s.is_secret()).count() != 1 {
            return Err(refuse(
                owner,
                "a status API has one secret, its client secret",
            ));
        }
        Ok(StatusApiView {
            spec: api,
            id: api.resource.to_owned(),
            provider: api.provider,
            title: function.title,
            deployed: function.deployed.clone(),
            client_id: SettingView::new(client_id),
            settings: api.settings.iter().map(SettingView::new).collect(),
        })
    }
}

/// Every scheme the JSON Schema lists: named in lower case, digits and underscores, once.
fn check_schemes(schemes: &[AuthScheme]) -> Result<(), RegistryError> {
    let mut spelled = BTreeSet::new();
    for scheme in schemes {
        let name = scheme.as_str();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(refuse(
                format!("scheme `{name}`"),
                "the JSON Schema names a scheme in lower case, digits and underscores",
            ));
        }
        if !spelled.insert(name) {
            return Err(refuse(format!("scheme `{name}`"), "declared twice"));
        }
    }
    Ok(())
}

fn check_source(f: &FunctionSpec, provider: &str, s: &SourceSpec) -> Result<(), RegistryError> {
    if s.provider != provider {
        return Err(refuse(
            s.name,
            format!(
                "{} serves {provider}'s sources, not {}'s",
                f.name, s.provider
            ),
        ));
    }
    if !s
        .name
        .strip_prefix(s.provider)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
    {
        return Err(refuse(s.name, "a source is named <provider>/<name>"));
    }
    if !s.route.starts_with("/webhooks/") || s.route.contains(['?', '#', ' ']) {
        return Err(refuse(
            s.name,
            format!("route `{}` is not a path under /webhooks/", s.route),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_intake::sources::registry::{auth_schemes, FUNCTIONS, STATUS_APIS};

    #[test]
    fn names_follow_one_rule() {
        assert_eq!(camel("cashfree-webhook"), "Cashfree");
        assert_eq!(camel("journey-worker"), "JourneyWorker");
        assert_eq!(camel("cashfree/kyc_link"), "CashfreeKycLink");
        assert_eq!(camel("hyperverge/results"), "HypervergeResults");
    }

    #[test]
    fn the_registry_this_build_ships_is_consistent() {
        let r = registry(FUNCTIONS, STATUS_APIS, auth_schemes()).expect("consistent");
        assert_eq!(r.functions.len(), FUNCTIONS.len());
        assert_eq!(r.status_apis.len(), STATUS_APIS.len());
    }
}
