//! The bounds every writer of the journey table keeps (`kyc_intake::journeys::bounds`), on the
//! local server through the real handlers and the journey worker: a sender that may write a
//! journey can never wedge it.

use crate::journey::{drain, enqueue_in_groups, events, vkyc, webhook, MOTO_SENDER};
use aws_sdk_dynamodb::types::AttributeValue;
use kyc_intake::journeys::bounds::{MAX_FIELD_BYTES, MAX_ITEM_BYTES};
use kyc_intake::journeys::senders::Senders;
use kyc_intake_tests::{endpoint, local_sdk_config, Stack};
use kyc_local::event_source::EventSource;

/// DynamoDB's count of an item's size, at most (names and values; 3 bytes and 1 per element for
/// lists and maps).
fn size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + size(v)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + size(v)).sum::<usize>(),
        _ => 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_starts_with_a_130_kb_time_are_refused_and_the_journey_takes_every_later_webhook() {
    let logs = kyc_intake_tests::captured_logs();
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    let sdk = local_sdk_config(endpoint()).await;
    // The sender may send Cashfree's events and starts, as an application role may starts.
    let senders =
        Senders::parse(&format!("{MOTO_SENDER}=cashfree/*,kyc.journey.started")).expect("valid");
    let (table, worker) = stack.journey_worker_with_senders(&sdk, Some(senders)).await;
    let huge_time = format!("2025-05-22T03:51:14{}Z", "9".repeat(130_000));
    let starts: Vec<(&str, String)> = (0..3)
        .map(|i| {
            let mut started: serde_json::Value = serde_json::from_str(
                &kyc_intake::journeys::completeness::started(
                    kyc_intake::sources::registry::source("cashfree/vkyc").expect("source"),
                    &format!("w-{i}"),
                    None,
                    chrono::Utc::now(),
                )
                .expect("event")
                .body,
            )
            .expect("json");
            started["subject"] = "w-1".into();
            started["time"] = huge_time.clone().into();
            ("cashfree/vkyc#w-1", started.to_string())
        })
        .collect();
    enqueue_in_groups(&stack, &starts).await;
    for minute in 0..30 {
        let time = format!("2025-05-22T04:{minute:02}:00Z");
        webhook(
            &deployed,
            &vkyc("w-1", "VKYC_USER_CALL_QUEUED", "USER_QUEUED", &time),
        )
        .await;
    }
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polls = drain(&source, &worker).await;
    assert!(
        polls.iter().all(|p| p.failed.is_empty()),
        "nothing fails, nothing is dead-lettered: {polls:?}"
    );
    let journey = stack
        .journey(&table, "cashfree/vkyc#w-1")
        .await
        .expect("journey");
    assert_eq!(journey["event_count"], "30", "every webhook applied");
    assert_eq!(journey["time"], "2025-05-22T04:29:00Z");
    let refused: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("refused_invalid"))
        .map(str::to_owned)
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused
        .iter()
        .all(|l| l.contains("time") && !l.contains("99999") && !l.contains("w-1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_item_stays_under_64_kib_whatever_its_senders_send() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let senders = Senders::parse(&format!("{MOTO_SENDER}=cashfree/*")).expect("valid");
    let (table, worker) = stack.journey_worker_with_senders(&sdk, Some(senders)).await;
    let template: serde_json::Value = serde_json::from_str(
        &events(&[vkyc(
            "x",
            "VKYC_USER_CALL_QUEUED",
            "USER_QUEUED",
            "2025-05-22T03:55:00Z",
        )])
        .await
        .remove(0),
    )
    .expect("json");
    // 150 events, every stored field at its bound.
    let subject = "s".repeat(MAX_FIELD_BYTES);
    let pk = format!("cashfree/vkyc#{subject}");
    let at_bound = |n: usize, fill: char| {
        let tag = format!("{n:04}");
        format!(
            "{tag}{}",
            fill.to_string().repeat(MAX_FIELD_BYTES - tag.len())
        )
    };
    let records: Vec<(&str, String)> = (0..150)
        .map(|n| {
            let mut e = template.clone();
            e["id"] = at_bound(n, 'i').into();
            e["type"] = format!("kyc.vkyc.{}", "t".repeat(MAX_FIELD_BYTES - 9)).into();
            e["subject"] = subject.clone().into();
            e["time"] = format!("2025-05-22T04:{:02}:{:02}Z", n / 60, n % 60).into();
            e["data"]["provider_status"] = at_bound(n, 'p').into();
            e["data"]["provider_sub_status"] = at_bound(n, 'q').into();
            ("big", e.to_string())
        })
        .collect();
    enqueue_in_groups(&stack, &records).await;
    let source = EventSource::new(&sdk, &stack.queue_url)
        .await
        .expect("source");
    let polls = drain(&source, &worker).await;
    assert!(polls.iter().all(|p| p.failed.is_empty()), "{polls:?}");
    let item = stack.journey_item(&table, &pk).await.expect("the journey");
    let bytes: usize = item.iter().map(|(k, v)| k.len() + size(v)).sum();
    assert!(bytes < MAX_ITEM_BYTES, "{bytes} bytes");
    assert_eq!(item["event_count"].as_n().expect("count"), "150");
    let history = item["history"].as_l().expect("timeline");
    assert!(
        history.len() >= 10,
        "the latest events kept: {}",
        history.len()
    );
    let last = history.last().and_then(|e| e.as_m().ok()).expect("entry");
    assert_eq!(last["event_id"].as_s().expect("id"), &at_bound(149, 'i'));
}
