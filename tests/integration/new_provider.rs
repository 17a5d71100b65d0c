//! The claim that a new source is a one-folder change, proven with a provider that exists only
//! here: `acme/kyc`, served by an `acme-webhook` function. It is described the way
//! `sources/<provider>/mod.rs` describes a real one (a `SourceSpec`, a `FunctionSpec` with its
//! settings) and added to the list of functions; nothing in the pipeline, the gateway or the
//! library changes. It then runs end to end through the local gateway over HTTP, the real
//! pipeline and the local DynamoDB/SQS server. It names its own scheme, as a real provider does in
//! its folder; a real one also adds that name to the JSON Schema's list, which a unit test of the
//! registry demands.

use kyc_intake::config::setting::Setting;
use kyc_intake::config::{ConfigError, Env};
use kyc_intake::intake::auth::{token::HeaderToken, AuthScheme, Authenticate};
use kyc_intake::intake::settings::Common;
use kyc_intake::sources::registry::{self, FUNCTIONS};
use kyc_intake::sources::FunctionSpec;
use kyc_intake::sources::{lookup, text, JourneyRules, Recognized, SourceSpec, UTC};
use kyc_intake::KycEvent;
use kyc_intake_tests::{raw_post as post, Stack};
use serde_json::Value;

static ACME_KYC: SourceSpec = SourceSpec {
    name: "acme/kyc",
    provider: "acme",
    product: "kyc",
    route: "/webhooks/acme/kyc",
    authentication: "a header token",
    register: "Set in ACME's dashboard.",
    url_query: None,
    naive_zone: UTC,
    event_pointer: "/status",
    notification_id: None,
    recognize,
    events: &[("APPROVED", "approved"), ("REJECTED", "rejected")],
    personal_data: &[],
    auth,
    journey: JourneyRules {
        terminal: &["approved"],
        stall_after_secs: 3_600,
        reconcile: None,
    },
};

/// `{"applicant": "...", "status": "APPROVED", "at": "..."}`.
fn recognize(v: &Value) -> Option<Recognized> {
    let status = text(v, "/status")?;
    let kind = lookup(
        &[("APPROVED", "approved"), ("REJECTED", "rejected")],
        status,
    )?;
    let applicant = text(v, "/applicant")?;
    let at = text(v, "/at")?;
    Some(Recognized {
        kind,
        provider_event: status.to_owned(),
        status: None,
        sub_status: None,
        subject: applicant.to_owned(),
        time: Some(at.to_owned()),
        identity: vec![applicant.into(), status.into(), at.into()],
    })
}

static ACME: FunctionSpec = FunctionSpec {
    name: "acme-webhook",
    sources: &[&ACME_KYC],
    title: "ACME",
    description: "ACME KYC webhooks.",
    optional: false,
    settings: &[Setting::secrets(
        "ACME_TOKENS",
        "AcmeTokens",
        "ACME's header tokens.",
    )],
    local: &[("ACME_TOKENS", "acme-local-token-0123")],
    schemes: &[HEADER_TOKEN],
};

/// Its `x-acme-token` header, checked against `ACME_TOKENS`.
const HEADER_TOKEN: AuthScheme = AuthScheme::named("acme_header_token");

fn auth(env: &dyn Env, _: &Common) -> Result<Box<dyn Authenticate>, ConfigError> {
    Ok(Box::new(HeaderToken::new(
        HEADER_TOKEN,
        http::HeaderName::from_static("x-acme-token"),
        env.secrets("ACME_TOKENS")?,
        None,
    )))
}

#[tokio::test]
async fn a_new_provider_added_to_the_function_list_is_served_end_to_end() {
    let stack = Stack::new(true).await;
    let mut with_acme: Vec<&FunctionSpec> = FUNCTIONS.to_vec();
    with_acme.push(&ACME);
    let base = stack
        .gateway(&with_acme, &[("ACME_TOKENS", "acme-secret-0123456789")])
        .await;
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("an address");

    let body = r#"{"applicant":"app-5","status":"APPROVED","at":"2026-11-25T10:00:00Z"}"#;
    let (status, reply) = post(
        addr,
        "/webhooks/acme/kyc",
        "x-acme-token: acme-secret-0123456789\r\n",
        body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"accepted\""), "{reply}");
    let (status, reply) = post(addr, "/webhooks/acme/kyc", "x-acme-token: guess\r\n", body).await;
    assert_eq!(
        (status, reply.as_str()),
        (401, r#"{"error":"invalid_token"}"#)
    );
    let messages = stack.messages().await;
    assert_eq!(messages.len(), 1);
    let event: KycEvent = serde_json::from_str(&messages[0].body).expect("a KycEvent");
    assert_eq!(
        (
            event.source.as_str(),
            event.event_type.as_str(),
            event.subject.as_deref()
        ),
        ("acme/kyc", "kyc.kyc.approved", Some("app-5"))
    );
    assert_eq!(messages[0].group_id.as_deref(), Some("acme/kyc#app-5"));
    assert_eq!(event.data.auth_scheme, HEADER_TOKEN);

    // The shipped functions still serve their routes, and a path nobody serves is a clear 404,
    // never a fallback to some function.
    let (status, _) = post(addr, "/webhooks/cashfree/vkyc", "", "{}").await;
    assert_eq!(status, 401, "cashfree-webhook answered: missing_signature");
    let (status, reply) = post(addr, "/webhooks/zeta/kyc", "", "{}").await;
    assert_eq!(status, 404);
    assert!(reply.contains("no function serves"), "{reply}");
    assert_eq!(
        registry::serving(&with_acme, "/prod/webhooks/acme/kyc").map(|(f, _)| f.name),
        Some("acme-webhook")
    );
}
