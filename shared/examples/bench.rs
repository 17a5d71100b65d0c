//! `make bench`: what one webhook costs in this process, apart from DynamoDB and SQS round trips.
//! Prints per-operation figures for signature verification, normalization and the whole
//! pipeline (in-memory ports), for new events and for duplicates.

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use kyc_intake::config;
use kyc_intake::intake::memory::MemorySink;
use kyc_intake::intake::normalize::normalize;
use kyc_intake::sources::cashfree::{
    self,
    signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER},
};
use kyc_intake::{Inbound, Outcome, Pipeline};
use lambda_idempotency::MemoryStore;
use std::time::Instant;

const SECRET: &str = "bench-secret-0123456789";

fn body(i: usize) -> String {
    format!(
        r#"{{"signature":"x","event_type":"VKYC_USER_CALL_COMPLETED","event_time":"2025-05-22T03:51:14Z","version":"v1","data":{{"verification_id":"vk-{i}","reference_id":10449,"user_reference_id":5521,"user_id":"user-42","status":"VIDEO_CALL","sub_status":"CALL_COMPLETED","vkyc_link":"https://vkyc.example/link/abc123","link_expiry":"2025-05-29","recording_link":"https://recordings.example/presigned/abc","meeting_schedule":null,"auditor_remarks":null,"agent_remarks":"Documents verified on call"}}}}"#
    )
}

fn report(what: &str, n: usize, started: Instant) {
    let per = started.elapsed().as_secs_f64() / n as f64;
    println!(
        "{what:<48} {n:>8} ops  {:>9.2} µs/op  {:>10.0} ops/s",
        per * 1e6,
        1.0 / per
    );
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let secrets = format!("old-secret-0123456789,{SECRET}");
    let env = config::fake_env(&[("CASHFREE_CLIENT_SECRETS", secrets.as_str())]);
    let (common, sources) = cashfree::FUNCTION.config(&env).expect("config");
    let bodies: Vec<String> = (0..n).map(body).collect();
    let now = Utc::now();
    let ts = now.timestamp_millis().to_string();
    let headers: Vec<HeaderMap> = bodies
        .iter()
        .map(|b| {
            let mut h = HeaderMap::new();
            h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(&ts).expect("ts"));
            h.insert(
                SIGNATURE_HEADER,
                HeaderValue::from_str(&sign(SECRET.as_bytes(), &ts, b.as_bytes())).expect("sig"),
            );
            h
        })
        .collect();
    println!(
        "body size {} bytes, 2 configured secrets\n",
        bodies[0].len()
    );

    // The VKYC source, picked by its spec rather than by position.
    let vkyc = sources
        .iter()
        .find(|s| std::ptr::eq(s.spec, &cashfree::vkyc::SOURCE))
        .expect("cashfree-webhook serves VKYC");
    let started = Instant::now();
    for (b, h) in bodies.iter().zip(&headers) {
        let req = Inbound::post(vkyc.spec.route, h, b.as_bytes());
        assert!(vkyc.auth.authenticate(&req, now).is_ok());
    }
    report("verify Cashfree signature", n, started);

    let started = Instant::now();
    for b in &bodies {
        std::hint::black_box(normalize(
            vkyc.spec,
            b.as_bytes(),
            now,
            kyc_intake::sources::cashfree::HEADER_HMAC,
        ))
        .expect("normalized");
    }
    report("parse + normalize to CloudEvent", n, started);

    seal(n, &bodies[0]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // The EMF documents go nowhere: this measures the pipeline, not stdout.
    let pipeline = Pipeline::new(
        sources,
        MemoryStore::default(),
        std::sync::Arc::new(MemorySink::default()),
        common.settings,
    )
    .with_metrics(std::sync::Arc::new(kyc_intake::metrics::Discard));
    for (label, expect_new) in [
        ("whole pipeline, new events (in-memory ports)", true),
        ("whole pipeline, duplicates (in-memory ports)", false),
    ] {
        let started = Instant::now();
        for (b, h) in bodies.iter().zip(&headers) {
            let req = Inbound::post(cashfree::vkyc::SOURCE.route, h, b.as_bytes());
            let out = rt.block_on(pipeline.process(&req, now));
            assert_eq!(matches!(out, Outcome::Accepted { .. }), expect_new);
        }
        report(label, n, started);
    }

    bootstrap_parts(n, &bodies[0], &rt);
}

/// An erasable archive's seal: the body and event under a data key of the delivery's own.
fn seal(n: usize, body: &str) {
    let data_key = [7u8; 32];
    let object_key = "deliveries/cashfree/vkyc/2026/12/05/ef1bb29d.json";
    let contents = format!(
        "{{\"body_base64\":\"{}\",\"event\":{}}}",
        "A".repeat(body.len() * 4 / 3),
        body
    );
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            kyc_intake::intake::seal::seal(&data_key, object_key, contents.as_bytes())
                .expect("sealed"),
        );
    }
    report("seal body + event (AES-256-GCM)", n, started);
}

/// What a bootstrap does besides the pipeline and the three AWS calls, part by part: the API
/// Gateway event read, the request's JSON log line, its EMF document, a call's deadline timer.
fn bootstrap_parts(n: usize, body: &str, rt: &tokio::runtime::Runtime) {
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "POST /webhooks/cashfree/vkyc",
        "rawPath": "/webhooks/cashfree/vkyc", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-webhook-timestamp": "1746427759733",
                    "x-webhook-signature": "pOWzfT2Y9Z3LkecE/uJySgyuES5DnwyKZulfT9oFCgE=",
                    "x-webhook-attempt": "1", "host": "abc.execute-api.ap-south-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.ap-south-1.amazonaws.com",
                           "http": {"method": "POST", "path": "/webhooks/cashfree/vkyc", "protocol": "HTTP/1.1", "sourceIp": "52.66.25.127", "userAgent": "cashfree"},
                           "requestId": "r1", "routeKey": "POST /webhooks/cashfree/vkyc", "stage": "$default", "time": "30/Nov/2026:10:00:00 +0000", "timeEpoch": 1_796_036_400_000_i64},
        "body": body, "isBase64Encoded": false
    })
    .to_string();
    let started = Instant::now();
    for _ in 0..n {
        let parsed: lambda_http::request::LambdaRequest =
            serde_json::from_str(&event).expect("an API Gateway event");
        std::hint::black_box(lambda_http::Request::from(parsed));
    }
    report("API Gateway event -> lambda_http::Request", n, started);

    // The request's JSON log line, as `telemetry::init` formats it, written nowhere.
    let subscriber = kyc_intake::runtime::telemetry::json_lines(std::io::sink).finish();
    let started = Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..n {
            let span =
                tracing::info_span!("webhook", source = "cashfree/vkyc", event_id = "ef1bb29d");
            let _enter = span.enter();
            tracing::info!(
                outcome = "accepted",
                status = 200,
                latency_us = 1234,
                "webhook handled"
            );
        }
    });
    report("one JSON log line (tracing-subscriber json)", n, started);

    let metrics = kyc_intake::metrics::RequestMetrics {
        source: "cashfree/vkyc",
        outcome: "accepted",
        forwarded: Some("kyc.vkyc.call_completed"),
        forward_rejected: false,
        auth_refused: false,
        archived: true,
        latency_ms: 12.345,
        provider_delay_ms: Some(1200.0),
        timestamp_ms: 1_796_036_400_000,
    };
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(metrics.to_emf());
    }
    report("one EMF metric document", n, started);

    // The deadline every AWS call runs under: a timer set and dropped per call (three per event).
    let started = Instant::now();
    rt.block_on(async {
        for _ in 0..n {
            let t = tokio::time::timeout(std::time::Duration::from_secs(6), async { 1 }).await;
            std::hint::black_box(t.ok());
        }
    });
    report(
        "one call's deadline timer (tokio::time::timeout)",
        n,
        started,
    );
}
