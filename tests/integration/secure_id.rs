//! Cashfree's other Secure ID products end to end: KYC links, e-sign, bank account verification
//! (BAV v2) and reverse penny drop on their own routes (every sample is also run by `samples` and
//! `personal`), and their journeys reconciled by the sweeper through a fake of Cashfree's status
//! API on loopback, each product asked at its own path by its own subject field.

use crate::journey::enqueue_in_groups;
use kyc_intake::journeys::completeness::started;
use kyc_intake::sources::registry::source;
use kyc_intake::KycEvent;
use kyc_intake_tests::provider_apis::{cashfree_sweeper, FakeCashfree};
use kyc_intake_tests::{call, endpoint, local_sdk_config, sample, ApiRequest, Stack};
use serde_json::Value;
use std::time::Duration;

const PRODUCTS: [&str; 4] = ["kyc_link", "esign", "bav", "rpd"];

#[tokio::test]
async fn each_new_route_refuses_a_forged_signature_and_keeps_an_unknown_event() {
    let stack = Stack::new(true).await;
    let f = stack.cashfree(&[]).await;
    for product in PRODUCTS {
        let route = format!("/webhooks/cashfree/{product}");
        let body = format!(
            r#"{{"event_type":"SOMETHING_NEW","event_time":"2024-02-15 16:53:15","version":"v1","data":{{"verification_id":"{product}-1","status":"X"}}}}"#
        );
        // Signed with another secret: 401, nothing claimed, nothing queued.
        let items_before = stack.items().await.len();
        let forged = ApiRequest::post(&route, body.as_str()).signed(
            "not-the-client-secret-0123",
            chrono::Utc::now().timestamp_millis(),
        );
        let reply = call(&f, forged.request()).await;
        assert_eq!((reply.status, reply.error()), (401, "invalid_signature"));
        assert_eq!(
            stack.items().await.len(),
            items_before,
            "{product}: nothing written"
        );
        assert!(stack.messages().await.is_empty(), "{product}: nothing sent");
        // Signed, but a type Cashfree has not documented: kept as this product's unrecognized.
        let reply = call(
            &f,
            ApiRequest::post(&route, body.as_str())
                .signed_now()
                .request(),
        )
        .await;
        assert_eq!(reply.status, 200, "{product}: {:?}", reply.body);
        let sent = stack.messages().await;
        let event: KycEvent = serde_json::from_str(&sent[0].body).expect("event");
        assert_eq!(event.source, format!("cashfree/{product}"));
        assert_eq!(event.event_type, format!("kyc.{product}.unrecognized"));
    }
}

#[tokio::test]
async fn the_two_steps_of_one_kyc_link_within_a_second_are_two_events_and_a_retry_is_none() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let mut ids = Vec::new();
    for rel in [
        "cashfree/kyc_link/action_performed_aadhaar.json",
        "cashfree/kyc_link/action_performed_pan.json",
    ] {
        let reply = deployed.call(sample(rel)).await;
        assert_eq!(reply.body["status"], "accepted", "{rel}");
        ids.push(reply.id());
        let again = deployed.call(sample(rel)).await;
        assert_eq!(again.body["status"], "duplicate", "{rel}");
    }
    assert_ne!(ids[0], ids[1]);
    let sent = stack.messages().await;
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|m| m.group_id.as_deref() == Some("cashfree/kyc_link#kl-20240215-01")));
}

/// `kyc.journey.started` for `subject` of `source`, as the application sends it, and its group.
fn start(source_name: &str, subject: &str) -> (String, String) {
    let spec = source(source_name).expect("a source");
    let event = started(spec, subject, None, chrono::Utc::now()).expect("event");
    (format!("{source_name}#{subject}"), event.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_of_each_new_product_missing_its_webhook_is_reconciled_from_its_own_api() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    // BAV's subject is Cashfree's numeric reference_id; the others the merchant's verification_id.
    let journeys = [
        ("cashfree/kyc_link", "kl-9", "SUCCESS", None),
        ("cashfree/esign", "es-9", "EXPIRED", None),
        (
            "cashfree/bav",
            "1294785799",
            "VALID",
            Some("ACCOUNT_IS_VALID"),
        ),
        ("cashfree/rpd", "rpd-9", "FAILURE", None),
    ];
    let fake = FakeCashfree::default();
    let mut starts = Vec::new();
    for (source_name, subject, status, sub) in journeys {
        starts.push(start(source_name, subject));
        fake.state()
            .known
            .insert(subject.into(), (status.into(), sub.map(Into::into)));
    }
    let grouped: Vec<(&str, String)> = starts
        .iter()
        .map(|(g, b)| (g.as_str(), b.clone()))
        .collect();
    enqueue_in_groups(&stack, &grouped).await;
    stack.apply_queue(&worker).await;
    let base = fake.start().await;
    let sweeper = cashfree_sweeper(&stack, &table, Some(&base)).await;
    // Past every product's stall limit (the longest, a KYC link's, is a week).
    let later = chrono::Utc::now() + chrono::Duration::days(8);
    let report = sweeper.run(later, Duration::from_secs(20)).await;
    assert_eq!((report.reconciled, report.stalled), (4, 0), "{report:?}");
    assert_eq!(fake.state().bad_headers, 0);

    let sent = stack.messages().await;
    for (source_name, subject, status, sub) in journeys {
        let event: Value = sent
            .iter()
            .map(|m| serde_json::from_str::<Value>(&m.body).expect("event"))
            .find(|e| e["source"] == source_name)
            .unwrap_or_else(|| panic!("{source_name}: reconciled"));
        assert_eq!(event["type"], "kyc.journey.reconciled", "{source_name}");
        assert_eq!(event["subject"], subject, "{source_name}");
        assert_eq!(event["data"]["provider_status"], status, "{source_name}");
        assert_eq!(
            event["data"]["provider_sub_status"].as_str(),
            sub,
            "{source_name}"
        );
    }
    // Each status is final for its product: the worker closes every journey.
    let groups: Vec<String> = sent
        .iter()
        .map(|m| m.group_id.clone().unwrap_or_default())
        .collect();
    let grouped: Vec<(&str, String)> = groups
        .iter()
        .zip(&sent)
        .map(|(g, m)| (g.as_str(), m.body.clone()))
        .collect();
    enqueue_in_groups(&stack, &grouped).await;
    stack.apply_queue(&worker).await;
    for (source_name, subject, _, _) in journeys {
        let journey = stack
            .journey(&table, &format!("{source_name}#{subject}"))
            .await
            .expect("journey");
        assert!(
            journey.contains_key("closed_at"),
            "{source_name}: {journey:?}"
        );
    }
}
