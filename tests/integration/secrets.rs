//! Secrets from Secrets Manager (the local server's), through the real handlers: a secret read at
//! start-up authenticates, another is refused; start-up refuses a missing, short or doubly set
//! secret; a value removed in Secrets Manager stops authenticating once the cached one is past
//! its max age; an invalid new value keeps the cached one and is counted.

use kyc_intake::metrics::Captured;
use kyc_intake::runtime::startup;
use kyc_intake::sources::{cashfree, hyperverge};
use kyc_intake_tests::{captured_logs, endpoint, local_sdk_config, ApiRequest, Stack};
use std::sync::Arc;
use std::time::Duration;

const VKYC: &str = "/webhooks/cashfree/vkyc";
const BODY: &str = r#"{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{"verification_id":"sm-1","status":"PRE_VIDEO_CALL","sub_status":"USER_QUEUED"}}"#;

async fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&local_sdk_config(endpoint()).await)
}

/// A new secret on the local server holding `value`; its name.
async fn create_secret(value: &str) -> String {
    let name = format!(
        "kyc/test/{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    secrets_manager()
        .await
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret");
    name
}

fn signed(secret: &str, body: &str) -> lambda_http::Request {
    ApiRequest::post(VKYC, body)
        .signed(secret, chrono::Utc::now().timestamp_millis())
        .request()
}

#[tokio::test]
async fn a_secret_from_secrets_manager_authenticates_and_another_is_refused() {
    let stack = Stack::new(true).await;
    let id = create_secret("sm-secret-old-0123456789, sm-secret-new-0123456789").await;
    let f = stack
        .function(
            &cashfree::FUNCTION,
            &[
                ("CASHFREE_CLIENT_SECRETS", ""),
                ("CASHFREE_CLIENT_SECRETS_SECRET_ID", &id),
            ],
        )
        .await;
    let reply = kyc_intake_tests::call(&f, signed("sm-secret-new-0123456789", BODY)).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let reply = kyc_intake_tests::call(&f, signed("sm-secret-old-0123456789", BODY)).await;
    assert_eq!(
        reply.body["status"], "duplicate",
        "either secret of the list"
    );
    let reply = kyc_intake_tests::call(&f, signed(kyc_intake_tests::CASHFREE_SECRET, BODY)).await;
    assert_eq!((reply.status, reply.error()), (401, "invalid_signature"));
    assert_eq!(stack.messages().await.len(), 1);
    let logs = captured_logs().text();
    assert!(!logs.contains("sm-secret-old") && !logs.contains("sm-secret-new"));
}

#[tokio::test]
async fn start_up_refuses_a_missing_secret_or_both_settings() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let id = create_secret("a-url-token-0123456789").await;
    let cases = [
        (
            vec![(
                "HYPERVERGE_DIGILOCKER_URL_TOKENS_SECRET_ID",
                "kyc/test/none",
            )],
            "HYPERVERGE_DIGILOCKER_URL_TOKENS",
        ),
        (
            vec![("HYPERVERGE_RESULTS_AUTH_TOKENS_SECRET_ID", id.as_str())],
            "HYPERVERGE_RESULTS_AUTH_TOKENS",
        ),
    ];
    // The stack's environment sets both plain token variables, so the second case sets both.
    for (extra, var) in cases {
        let e = startup::configure(&hyperverge::FUNCTION, &stack.env(&extra), &sdk)
            .await
            .err()
            .expect("refused");
        assert_eq!(e.var, var, "{e}");
        assert!(e.to_string().contains(&format!("{var}_SECRET_ID")), "{e}");
        assert!(
            !e.to_string().contains("a-url-token"),
            "no value in the error"
        );
    }
    // A URL token from Secrets Manager is held to the same rules as a plain one.
    let short = create_secret("short").await;
    let e = startup::configure(
        &hyperverge::FUNCTION,
        &stack.env(&[
            ("HYPERVERGE_DIGILOCKER_URL_TOKENS", ""),
            ("HYPERVERGE_DIGILOCKER_URL_TOKENS_SECRET_ID", &short),
        ]),
        &sdk,
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(e.var, "HYPERVERGE_DIGILOCKER_URL_TOKENS");
}

async fn put_secret(id: &str, value: &str) {
    secrets_manager()
        .await
        .put_secret_value()
        .secret_id(id)
        .secret_string(value)
        .send()
        .await
        .expect("PutSecretValue");
}

fn vkyc_body(verification_id: &str) -> String {
    BODY.replace("sm-1", verification_id)
}

/// The Cashfree function reading its secret `id` from the local Secrets Manager, its values
/// used for at most `max_age`, its metric documents captured.
async fn cashfree_reading(
    stack: &Stack,
    id: &str,
    max_age: Duration,
) -> (startup::AwsPipeline, Arc<Captured>) {
    let sdk = local_sdk_config(endpoint()).await;
    let env = stack.env(&[
        ("CASHFREE_CLIENT_SECRETS", ""),
        ("CASHFREE_CLIENT_SECRETS_SECRET_ID", id),
    ]);
    let config = startup::configure_with_max_age(&cashfree::FUNCTION, &env, &sdk, Some(max_age))
        .await
        .expect("valid");
    let metrics = Arc::new(Captured::default());
    let pipeline = startup::pipeline_with(&sdk, config).with_metrics(metrics.clone());
    (pipeline, metrics)
}

#[tokio::test]
async fn a_value_removed_in_secrets_manager_is_revoked_once_the_cached_one_is_past_its_max_age() {
    let logs = captured_logs();
    let stack = Stack::new(true).await;
    let id = create_secret("rotating-secret-1, rotating-secret-2").await;
    // Max age zero: every request reads the secret again (the timing is the unit tests' job).
    let (f, _) = cashfree_reading(&stack, &id, Duration::ZERO).await;
    let reply = kyc_intake_tests::call(&f, signed("rotating-secret-1", &vkyc_body("r-1"))).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    // The last rotation step: the old value is removed.
    put_secret(&id, "rotating-secret-2").await;
    let reply = kyc_intake_tests::call(&f, signed("rotating-secret-1", &vkyc_body("r-2"))).await;
    assert_eq!(
        (reply.status, reply.error()),
        (401, "invalid_signature"),
        "revoked"
    );
    let reply = kyc_intake_tests::call(&f, signed("rotating-secret-2", &vkyc_body("r-2"))).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let subjects: Vec<String> = stack
        .messages()
        .await
        .iter()
        .map(|m| {
            let event: serde_json::Value = serde_json::from_str(&m.body).expect("an event");
            event["subject"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        subjects,
        ["r-1", "r-2"],
        "nothing queued for the refused request"
    );
    // The new value's arrival is said once, at INFO, naming the setting and never a value.
    let installed: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("a new value read from Secrets Manager is in use"))
        .map(str::to_owned)
        .collect();
    assert!(
        installed
            .iter()
            .any(|l| l.contains("CASHFREE_CLIENT_SECRETS") && l.contains("\"INFO\"")),
        "{installed:?}"
    );
    assert!(installed.iter().all(|l| !l.contains("rotating-secret")));
}

#[tokio::test]
async fn an_invalid_value_in_secrets_manager_keeps_the_cached_one_and_counts_a_failed_refresh() {
    let stack = Stack::new(true).await;
    let id = create_secret("steady-secret-0123456789").await;
    let (f, metrics) = cashfree_reading(&stack, &id, Duration::ZERO).await;
    let bad = [
        "x".to_owned(),
        r#"{"CASHFREE_CLIENT_SECRETS":"steady-secret-0123456789"}"#.to_owned(),
    ];
    for (i, value) in bad.iter().enumerate() {
        put_secret(&id, value).await;
        let reply = kyc_intake_tests::call(
            &f,
            signed("steady-secret-0123456789", &vkyc_body(&format!("inv-{i}"))),
        )
        .await;
        assert_eq!(
            reply.body["status"], "accepted",
            "{value}: {:?}",
            reply.body
        );
    }
    let failed: Vec<String> = metrics
        .documents()
        .into_iter()
        .filter(|d| d.contains("SecretRefreshFailed"))
        .collect();
    assert!(!failed.is_empty(), "counted");
    for d in &failed {
        assert!(d.contains(r#""Variable":"CASHFREE_CLIENT_SECRETS""#), "{d}");
        assert!(!d.contains("steady-secret"), "{d}");
    }
    let logs = captured_logs().text();
    assert!(logs.contains("re-reading a secret failed"), "logged");
    assert!(!logs.contains("steady-secret"), "never the value");
    assert_eq!(stack.messages().await.len(), 2);
}
