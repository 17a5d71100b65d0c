//! Secrets from Secrets Manager (the local server's), through the real handlers: a secret read at
//! start-up authenticates, another is refused, start-up refuses a missing secret or both settings,
//! and a rotation in Secrets Manager takes effect without a restart once the cached value is old.

use kyc_intake::lambda;
use kyc_intake::sources::{cashfree, hyperverge};
use kyc_intake_tests::{captured_logs, endpoint, local_sdk_config, ApiRequest, Stack};
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
    let id = create_secret("sm-secret-old, sm-secret-new").await;
    let f = stack
        .function(
            &cashfree::FUNCTION,
            &[
                ("CASHFREE_CLIENT_SECRETS", ""),
                ("CASHFREE_CLIENT_SECRETS_SECRET_ID", &id),
            ],
        )
        .await;
    let reply = kyc_intake_tests::call(&f, signed("sm-secret-new", BODY)).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let reply = kyc_intake_tests::call(&f, signed("sm-secret-old", BODY)).await;
    assert_eq!(
        reply.body["status"], "duplicate",
        "either secret of the list"
    );
    let reply = kyc_intake_tests::call(&f, signed("it-cashfree-secret", BODY)).await;
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
        let e = lambda::configure(&hyperverge::FUNCTION, &stack.env(&extra), &sdk)
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
    let e = lambda::configure(
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

#[tokio::test]
async fn a_rotation_in_secrets_manager_takes_effect_once_the_cached_value_is_old() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let id = create_secret("rotating-secret-1").await;
    let env = stack.env(&[
        ("CASHFREE_CLIENT_SECRETS", ""),
        ("CASHFREE_CLIENT_SECRETS_SECRET_ID", &id),
    ]);
    let interval = Duration::from_millis(1_500);
    let config = lambda::configure_refreshing(&cashfree::FUNCTION, &env, &sdk, interval)
        .await
        .expect("valid");
    let f = lambda::pipeline_with(&sdk, config);
    secrets_manager()
        .await
        .put_secret_value()
        .secret_id(&id)
        .secret_string("rotating-secret-2")
        .send()
        .await
        .expect("PutSecretValue");
    // Inside the interval the cached value stands: a flood of bad signatures reads nothing.
    for _ in 0..3 {
        let reply = kyc_intake_tests::call(&f, signed("rotating-secret-2", BODY)).await;
        assert_eq!(reply.error(), "invalid_signature");
    }
    tokio::time::sleep(interval).await;
    // The first request that fails with the old value reads the secret again and goes through.
    let reply = kyc_intake_tests::call(&f, signed("rotating-secret-2", BODY)).await;
    assert_eq!(reply.body["status"], "accepted", "{:?}", reply.body);
    let reply = kyc_intake_tests::call(&f, signed("rotating-secret-1", BODY)).await;
    assert_eq!(reply.error(), "invalid_signature", "the old secret is gone");
    assert_eq!(stack.messages().await.len(), 1);
}

/// The mean time `configure` takes for hyperverge-webhook over 5 runs.
async fn configure_time(
    env: &dyn kyc_intake::config::Env,
    sdk: &aws_config::SdkConfig,
) -> Duration {
    let started = std::time::Instant::now();
    for _ in 0..5 {
        lambda::configure(&hyperverge::FUNCTION, env, sdk)
            .await
            .expect("valid");
    }
    started.elapsed() / 5
}

#[tokio::test]
async fn cold_start_cost_of_reading_secrets_manager() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let ids = [
        create_secret("u-0123456789abcdef").await,
        create_secret("results-token").await,
    ];
    let plain = stack.env(&[]);
    let managed = stack.env(&[
        ("HYPERVERGE_DIGILOCKER_URL_TOKENS", ""),
        ("HYPERVERGE_RESULTS_AUTH_TOKENS", ""),
        ("HYPERVERGE_DIGILOCKER_URL_TOKENS_SECRET_ID", &ids[0]),
        ("HYPERVERGE_RESULTS_AUTH_TOKENS_SECRET_ID", &ids[1]),
    ]);
    let without = configure_time(&plain, &sdk).await;
    let with = configure_time(&managed, &sdk).await;
    // A figure for the README, not a target.
    eprintln!(
        "configuration at start-up (hyperverge-webhook, local server): {:.2} ms plain, {:.2} ms with 2 secrets from Secrets Manager (+{:.2} ms)",
        without.as_secs_f64() * 1e3,
        with.as_secs_f64() * 1e3,
        (with.saturating_sub(without)).as_secs_f64() * 1e3
    );
}
