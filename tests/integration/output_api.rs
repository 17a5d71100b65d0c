//! HyperVerge Results journeys reconciled by the journey sweeper from a fake of HyperVerge's
//! Output API on loopback (its documented request, `POST /v1/output` with `appId`/`appKey` and
//! the `transactionId`; its answers and failures): a journey whose results webhook never came is
//! closed from the application's status, and every failure of the fault table leaves it for the
//! next run, reported as nothing.

use kyc_intake::aws::{DynamoDueJourneys, SqsSink};
use kyc_intake::journeys::sweeper::{StatusApis, Sweeper};
use kyc_intake::secrets::secret::{Secret, SecretList};
use kyc_intake::sources::hyperverge::output_api::OutputApi;
use kyc_intake::sources::status::Connection;
use kyc_intake_tests::provider_apis::{
    FakeHyperverge, Mode, HYPERVERGE_APP_ID, HYPERVERGE_APP_KEY,
};
use kyc_intake_tests::{call, endpoint, local_sdk_config, ApiRequest, Stack, RESULTS_TOKEN};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const RESULTS: &str = "/webhooks/hyperverge/results";

async fn sweeper(stack: &Stack, table: &str, base: &str) -> Sweeper<DynamoDueJourneys, SqsSink> {
    let sdk = local_sdk_config(endpoint()).await;
    let connection = Connection {
        http: kyc_intake::sources::status::client().expect("client"),
        base: base.to_owned(),
        client_id: HYPERVERGE_APP_ID.into(),
        client_secret: SecretList::new(vec![Secret::new(HYPERVERGE_APP_KEY)]),
    };
    Sweeper::new(
        DynamoDueJourneys::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        StatusApis::none().with("hyperverge", Arc::new(OutputApi::new(connection))),
        SqsSink::new(aws_sdk_sqs::Client::new(&sdk), stack.queue_url.clone()),
    )
}

/// Past a HyperVerge Results journey's stall limit (three days).
fn later() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::days(4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_journey_missing_its_webhook_is_reconciled_from_the_output_api_after_every_fault()
{
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // The application is under way (an intermediate webhook); its final webhook never comes.
    let hv = stack.hyperverge(&[]).await;
    let progress = ApiRequest::post(
        RESULTS,
        r#"{"transactionId":"hv-txn-1","applicationStatus":"kyc_in_progress","eventId":"hv-e-1","eventTime":"2026-12-01T10:00:00.000Z","eventType":"INTERMEDIATE_TRANSACTION_WEBHOOK"}"#,
    )
    .header("x-webhook-token", RESULTS_TOKEN);
    assert_eq!(call(&hv, progress.request()).await.status, 200);
    stack.apply_queue(&worker).await;

    let fake = FakeHyperverge::default();
    fake.state()
        .known
        .insert("hv-txn-1".into(), "manually_declined".into());
    let base = fake.start().await;
    let s = sweeper(&stack, &table, &base).await;
    let not_believed = [
        // Another application's summary, a status HyperVerge does not document, a failure said
        // in a 200.
        r#"{"status":"success","result":{"transactionId":"hv-txn-2","applicationStatus":"auto_approved"}}"#,
        r#"{"status":"success","result":{"transactionId":"hv-txn-1","applicationStatus":"approved_by_bot"}}"#,
        r#"{"status":"failure","statusCode":500,"error":"internal"}"#,
    ];
    let modes = [401, 403, 429, 500, 503]
        .map(|code| (Some(Mode::Status(code)), None))
        .into_iter()
        .chain([(Some(Mode::Hang), None), (Some(Mode::NotJson), None)])
        .chain(not_believed.map(|raw| (None, Some(raw))));
    for (mode, raw) in modes {
        fake.state().mode = mode;
        fake.state().raw.clear();
        if let Some(raw) = raw {
            fake.state().raw.insert("hv-txn-1".into(), raw.into());
        }
        // A short run: a hanging API is cut off by the run's own budget.
        let report = s.run(later(), Duration::from_secs(4)).await;
        assert_eq!(
            (report.read, report.reconciled, report.stalled, report.left),
            (1, 0, 0, 1),
            "{mode:?} {raw:?}"
        );
        assert!(
            stack.messages().await.is_empty(),
            "{mode:?}: nothing invented"
        );
    }
    fake.state().mode = None;
    fake.state().raw.clear();
    let report = s.run(later(), Duration::from_secs(20)).await;
    assert_eq!(
        (report.reconciled, report.left),
        (1, 0),
        "the next run reconciles it"
    );
    assert_eq!(
        fake.state().bad_requests,
        0,
        "POST /v1/output, appId, appKey, transactionId"
    );

    let sent = stack.messages().await;
    assert_eq!(sent.len(), 1);
    let event: Value = serde_json::from_str(&sent[0].body).expect("event");
    assert_eq!(event["type"], "kyc.journey.reconciled");
    assert_eq!(event["subject"], "hv-txn-1");
    assert_eq!(event["data"]["auth_scheme"], "hyperverge_output_api");
    assert_eq!(event["data"]["provider_status"], "manually_declined");
    assert!(
        !sent[0].body.contains("Asha Verma"),
        "the summary's personal data is withheld: {}",
        sent[0].body
    );
    // A declined application is final: the worker closes the journey.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    sqs.send_message()
        .queue_url(&stack.queue_url)
        .message_body(&sent[0].body)
        .set_message_group_id(sent[0].group_id.clone())
        .set_message_deduplication_id(sent[0].deduplication_id.clone())
        .send()
        .await
        .expect("send");
    stack.apply_queue(&worker).await;
    let journey = stack
        .journey(&table, "hyperverge/results#hv-txn-1")
        .await
        .expect("journey");
    assert_eq!(journey["provider_status"], "manually_declined");
    assert!(journey.contains_key("closed_at"), "{journey:?}");
}
