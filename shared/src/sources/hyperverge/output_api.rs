//! HyperVerge's Output API, for the journey sweeper: `POST {base}/v1/output`, headers `appId`,
//! `appKey`, body `{"transactionId": <subject>}`; the base is the region's
//! (`https://<region>.idv.hyperverge.co`, regions `ind`, `sgp`, `idn`, `usa`, `zaf`). It
//! summarizes an application whether or not its results webhook went out, so `hyperverge/results`
//! journeys are reconciled from it. HyperVerge answers only addresses its dashboard allowlists:
//! the API is on only where the sweeper runs in the team's VPC behind a NAT's Elastic IP
//! (`StatusApiSpec::fixed_address`). No redirect is followed, and the key never reaches a log or
//! an error. The shapes and their confidence: docs/providers.md.

use crate::config::setting::Setting;
use crate::config::{err, ConfigError, Env};
use crate::intake::auth::AuthScheme;
use crate::sources::status::{
    self, ApiError, ApiFuture, Connection, ConnectionVars, ProviderState, StatusApi, StatusApiSpec,
};
use crate::sources::{as_text, Reconcile};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The journey sweeper read it from HyperVerge's Output API (`kyc.journey.reconciled`).
pub const STATUS_API_SCHEME: AuthScheme = AuthScheme::named("hyperverge_output_api");

/// The sweeper's variables for HyperVerge's Output API.
pub mod var {
    pub const HYPERVERGE_API_APP_ID: &str = "HYPERVERGE_API_APP_ID";
    pub const HYPERVERGE_API_APP_KEY: &str = "HYPERVERGE_API_APP_KEY";
    pub const HYPERVERGE_API_REGION: &str = "HYPERVERGE_API_REGION";
    pub const HYPERVERGE_API_BASE: &str = "HYPERVERGE_API_BASE";
}

/// HyperVerge's regions and each one's API base.
pub const REGIONS: &[(&str, &str)] = &[
    ("ind", "https://ind.idv.hyperverge.co"),
    ("sgp", "https://sgp.idv.hyperverge.co"),
    ("idn", "https://idn.idv.hyperverge.co"),
    ("usa", "https://usa.idv.hyperverge.co"),
    ("zaf", "https://zaf.idv.hyperverge.co"),
];

/// The region asked unless `HYPERVERGE_API_REGION` says otherwise.
pub const DEFAULT_REGION: &str = "ind";

pub static STATUS_API: StatusApiSpec = StatusApiSpec {
    provider: "hyperverge",
    scheme: STATUS_API_SCHEME,
    resource: "HypervergeApi",
    settings: &[
        Setting::text(
            var::HYPERVERGE_API_APP_ID,
            "HypervergeApiAppId",
            "",
            "HyperVerge appId for reconciling stalled HyperVerge Results journeys from its Output \
             API; used only with SweeperSubnetIds (HyperVerge answers only allowlisted addresses); \
             empty = the sweeper only reports them.",
        ),
        Setting::secret(
            var::HYPERVERGE_API_APP_KEY,
            "HypervergeApiAppKey",
            "Its appKey (the stack keeps it in Secrets Manager; empty = a random placeholder \
             until you put the real value). The same key can re-register webhook URLs.",
        ),
        Setting::choice(
            var::HYPERVERGE_API_REGION,
            "HypervergeApiRegion",
            DEFAULT_REGION,
            &["ind", "sgp", "idn", "usa", "zaf"],
            "The HyperVerge region your applications live in.",
        ),
        Setting::matching(
            var::HYPERVERGE_API_BASE,
            "HypervergeApiBase",
            "",
            "^(https://.+)?$",
            "HyperVerge API base URL; empty = the region's (https://<region>.idv.hyperverge.co).",
        ),
    ],
    fixed_address: true,
    when_off: "HyperVerge answers only allowlisted addresses: place the sweeper in your VPC \
               (SweeperSubnetIds, SweeperSecurityGroupIds) behind a NAT whose Elastic IP HyperVerge \
               allowlists, and set HypervergeApiAppId",
    build,
};

/// The base `HYPERVERGE_API_BASE` names, else the region's.
fn default_base(env: &dyn Env) -> Result<&'static str, ConfigError> {
    let region = env
        .get(var::HYPERVERGE_API_REGION)
        .map(|r| r.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    REGIONS
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, base)| *base)
        .ok_or_else(|| {
            err(
                var::HYPERVERGE_API_REGION,
                format!("`{region}` is not a HyperVerge region (ind, sgp, idn, usa, zaf)"),
            )
        })
}

fn build(env: &dyn Env) -> Result<Option<Arc<dyn StatusApi>>, ConfigError> {
    let vars = ConnectionVars {
        client_id: var::HYPERVERGE_API_APP_ID,
        client_secret: var::HYPERVERGE_API_APP_KEY,
        base: var::HYPERVERGE_API_BASE,
        default_base: default_base(env)?,
    };
    Ok(Connection::from_env(env, vars)?
        .map(|connection| Arc::new(OutputApi { connection }) as Arc<dyn StatusApi>))
}

/// HyperVerge's Output API client.
pub struct OutputApi {
    connection: Connection,
}

impl OutputApi {
    /// The client on `connection`.
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }

    async fn ask(
        &self,
        reconcile: &Reconcile,
        subject: &str,
        timeout: Duration,
    ) -> Result<ProviderState, ApiError> {
        let c = &self.connection;
        let key = c.secret()?;
        let url = format!("{}{}", c.base, reconcile.path);
        let request = c
            .http
            .post(&url)
            .header("appId", &c.client_id)
            .header("appKey", String::from_utf8_lossy(key.expose()).into_owned())
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(json!({ reconcile.subject_field: subject }).to_string());
        let body = status::fetch(request, timeout).await?;
        checked_answer(&body, reconcile, subject)
    }
}

impl StatusApi for OutputApi {
    fn status<'a>(
        &'a self,
        reconcile: &'a Reconcile,
        subject: &'a str,
        timeout: Duration,
    ) -> ApiFuture<'a> {
        Box::pin(self.ask(reconcile, subject, timeout))
    }
}

/// An application status as HyperVerge writes them: `[a-z][a-z0-9_]{0,63}`.
const WORDS: status::Words = status::Words {
    case: u8::is_ascii_lowercase,
    spelled: "lower-case",
    provider: "HyperVerge",
};

/// The answer, believed only when it says `success`, names the application asked about (its
/// `result.transactionId`, or `metadata.transactionId`, and every one of them the subject), and
/// carries an application status (`result.applicationStatus`, or `result.status`) HyperVerge
/// documents. The problem names no value of the answer: it carries personal data.
pub fn checked_answer(
    body: &[u8],
    reconcile: &Reconcile,
    subject: &str,
) -> Result<ProviderState, ApiError> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::Invalid("not JSON".into()))?;
    if answer.get("status").and_then(Value::as_str) != Some("success") {
        return Err(ApiError::Invalid("its status is not `success`".into()));
    }
    let Some(result) = answer.get("result").filter(|r| r.is_object()) else {
        return Err(ApiError::Invalid("no result object".into()));
    };
    let field = reconcile.subject_field;
    let named: Vec<Option<String>> = [result.get(field), answer.pointer("/metadata/transactionId")]
        .into_iter()
        .flatten()
        .map(as_text)
        .collect();
    if named.is_empty() || named.iter().any(|id| id.as_deref() != Some(subject)) {
        return Err(ApiError::Invalid(format!(
            "its {field} is not the journey's"
        )));
    }
    let value = result
        .get(reconcile.status_field)
        .or_else(|| result.get("status"));
    let status = WORDS.checked(value, reconcile.statuses)?;
    Ok(ProviderState {
        status,
        sub_status: None,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fake_env;

    fn reconcile() -> Reconcile {
        super::super::results::SOURCE
            .journey
            .reconcile
            .expect("HyperVerge results reconcile")
    }

    #[test]
    fn an_answer_is_believed_only_about_its_application_with_a_documented_status() {
        let ok = checked_answer(
            br#"{"status":"success","statusCode":200,"metadata":{"requestId":"r","transactionId":"t-1"},"result":{"transactionId":"t-1","applicationStatus":"manually_declined"}}"#,
            &reconcile(),
            "t-1",
        )
        .expect("believed");
        assert_eq!(ok.status, "manually_declined");
        assert_eq!(
            checked_answer(
                br#"{"status":"success","result":{"transactionId":"t-1","status":"auto_approved"}}"#,
                &reconcile(),
                "t-1",
            )
            .expect("the status under its other name")
            .status,
            "auto_approved"
        );
        for bad in [
            &b"<html>"[..],
            br#"{"status":"failure","result":{"transactionId":"t-1","applicationStatus":"auto_approved"}}"#,
            br#"{"status":"success","result":{"transactionId":"t-2","applicationStatus":"auto_approved"}}"#,
            br#"{"status":"success","metadata":{"transactionId":"t-2"},"result":{"transactionId":"t-1","applicationStatus":"auto_approved"}}"#,
            br#"{"status":"success","result":{"applicationStatus":"auto_approved"}}"#,
            br#"{"status":"success","result":{"transactionId":"t-1"}}"#,
            br#"{"status":"success","result":{"transactionId":"t-1","applicationStatus":"APPROVED"}}"#,
            br#"{"status":"success","result":{"transactionId":"t-1","applicationStatus":"approved_by_bot"}}"#,
            br#"{"status":"success","result":"t-1"}"#,
        ] {
            assert!(
                matches!(checked_answer(bad, &reconcile(), "t-1"), Err(ApiError::Invalid(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_region_names_the_base_and_an_unknown_one_is_refused() {
        let env = fake_env(&[
            ("HYPERVERGE_API_APP_ID", "app"),
            ("HYPERVERGE_API_APP_KEY", "key-0123456789abcdef"),
            ("HYPERVERGE_API_REGION", "sgp"),
        ]);
        assert_eq!(
            default_base(&env).expect("sgp"),
            "https://sgp.idv.hyperverge.co"
        );
        assert!(build(&env).expect("valid").is_some());
        let env = fake_env(&[("HYPERVERGE_API_REGION", "eu")]);
        assert_eq!(
            build(&env).err().expect("refused").var,
            var::HYPERVERGE_API_REGION
        );
        assert!(
            build(&fake_env(&[])).expect("valid").is_none(),
            "off by default"
        );
    }
}
