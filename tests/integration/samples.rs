//! Every sample event in `events/` through the real handlers against the local server: each
//! gives the status, type, subject and source `events/expected.json` names, and the logs of the
//! whole run carry no secret and none of the personal data in the samples.

use kyc_intake::KycEvent;
use kyc_intake_tests::{captured_logs, expectations, sample, Stack, NEVER_LOGGED};

#[tokio::test]
async fn every_sample_event_normalizes_as_documented_and_logs_no_secrets() {
    let stack = Stack::new(true).await;
    let deployed = stack.deploy(&[]).await;
    // The legacy-signed sample says it needs the legacy scheme switched on.
    let legacy = stack.deploy(&[("CASHFREE_LEGACY_SIGNATURE", "on")]).await;
    let deployment_for = |want: &serde_json::Value| {
        if want["env"]["CASHFREE_LEGACY_SIGNATURE"] == "on" {
            &legacy
        } else {
            &deployed
        }
    };
    let samples = expectations();
    assert!(
        samples.len() >= 50,
        "5 + 1 DigiLocker, 10 VKYC, 14 of the other Secure ID products, 4 HyperVerge DigiLocker, 8 Results, bad ones"
    );

    let mut accepted = Vec::new();
    for (rel, want) in &samples {
        let items_before = stack.items().await.len();
        let reply = deployment_for(want).call(sample(rel)).await;
        assert_eq!(
            u64::from(reply.status),
            want["status"].as_u64().expect("status"),
            "{rel}: {:?}",
            reply.body
        );
        let messages = stack.messages().await;
        if reply.status == 200 {
            assert_eq!(reply.body["status"], "accepted", "{rel}");
            assert_eq!(messages.len(), 1, "{rel}: exactly one message");
            let event: KycEvent = serde_json::from_str(&messages[0].body).expect("a KycEvent");
            assert_eq!(event.id, reply.id(), "{rel}");
            assert_eq!(event.event_type, want["type"], "{rel}");
            assert_eq!(event.source, want["source"], "{rel}");
            assert_eq!(
                event.data.auth_scheme.as_str(),
                want["auth_scheme"],
                "{rel}"
            );
            assert_eq!(
                serde_json::to_value(&event.subject).expect("json"),
                want["subject"],
                "{rel}"
            );
            assert!(
                chrono::DateTime::parse_from_rfc3339(&event.time).is_ok(),
                "{rel}: time {}",
                event.time
            );
            accepted.push(rel.clone());
        } else {
            assert_eq!(reply.error(), want["error"], "{rel}");
            assert!(messages.is_empty(), "{rel}: refused, nothing sent");
            assert_eq!(
                stack.items().await.len(),
                items_before,
                "{rel}: refused, nothing written"
            );
        }
    }

    // Every accepted sample, delivered again (fresh timestamp, new signature): a duplicate.
    for (rel, want) in samples.iter().filter(|(rel, _)| accepted.contains(rel)) {
        let reply = deployment_for(want).call(sample(rel)).await;
        assert_eq!(reply.body["status"], "duplicate", "{rel}");
    }
    assert!(
        stack.messages().await.is_empty(),
        "redeliveries send nothing"
    );

    // The whole binary's logs: every test's handlers, this one's included.
    let text = captured_logs().text();
    assert!(text.contains("webhook handled"), "the run was logged");
    assert!(text.contains("request refused"), "refusals were logged");
    for &forbidden in NEVER_LOGGED {
        let line = text
            .lines()
            .find(|l| l.contains(forbidden))
            .unwrap_or_default();
        assert!(
            !text.contains(forbidden),
            "logs contain `{forbidden}`: {line}"
        );
    }
}
