//! One trace per webhook, on the local server through the real handlers: the trace id Lambda
//! hands the webhook function's invocation is in its log line, in the message's `AWSTraceHeader`,
//! in the event's `traceparent`, in the journey worker's log line, in the timeline and on the
//! journey stream. A record without a trace header, or with a malformed one, is applied as before.

use kyc_intake::trace::TraceHeader;
use kyc_intake_tests::{call, endpoint, local_sdk_config, ApiRequest, Stack};
use kyc_local::resources;
use lambda_http::RequestExt;
use serde_json::Value;

const VKYC: &str = "/webhooks/cashfree/vkyc";

fn body(verification_id: &str) -> String {
    format!(
        r#"{{"event_type":"VKYC_USER_CALL_QUEUED","event_time":"2025-05-22T03:55:00Z","version":"v1","data":{{"verification_id":"{verification_id}","reference_id":1,"status":"IN_PROGRESS","sub_status":"USER_QUEUED"}}}}"#
    )
}

/// The log lines (JSON) so far that carry `trace_id` = `trace` and say `message`.
fn lines_with(trace: &str, message: &str) -> Vec<Value> {
    kyc_intake_tests::captured_logs()
        .text()
        .lines()
        .filter(|l| l.contains(trace))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_webhooks_trace_id_runs_from_its_log_line_to_the_journey_stream() {
    let logs = kyc_intake_tests::captured_logs();
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker, topic) = stack.journey_worker_with_stream(&sdk, None).await;
    let app = resources::subscribe_queue(
        &stack.sdk,
        &topic,
        &format!("{}-traced-app.fifo", stack.table),
        &[],
    )
    .await
    .expect("a consumer's queue");
    let f = stack.cashfree(&[]).await;

    // The invocation's header, as Lambda (or the local gateway) hands it to the function.
    let trace = TraceHeader::new_root(true);
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(trace.header());
    let request = ApiRequest::post(VKYC, body("tr-1").as_str())
        .signed_now()
        .request()
        .with_lambda_context(context);
    let reply = call(&f, request).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let id = trace.trace_id();
    let webhook_lines = lines_with(id, "webhook handled");
    assert_eq!(webhook_lines.len(), 1, "{}", logs.text());
    assert_eq!(webhook_lines[0]["span"]["trace_id"], id);

    // The message: AWSTraceHeader and traceparent (peeked: it stays for the worker).
    let peeked = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(&stack.queue_url)
        .visibility_timeout(0)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .expect("ReceiveMessage");
    let message = &peeked.messages()[0];
    let header = message
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader))
        .expect("AWSTraceHeader");
    assert_eq!(
        TraceHeader::parse(header)
            .as_ref()
            .map(TraceHeader::trace_id),
        Some(id)
    );
    let event: Value = serde_json::from_str(message.body().unwrap_or_default()).expect("event");
    assert_eq!(event["traceparent"], trace.traceparent());

    // The worker: its line, the timeline, the stream.
    stack.apply_queue(&worker).await;
    let worker_lines = lines_with(id, "record");
    assert_eq!(worker_lines.len(), 1, "{}", logs.text());
    assert_eq!(worker_lines[0]["span"]["trace_id"], id);
    let item = stack
        .journey_item(&table, "cashfree/vkyc#tr-1")
        .await
        .expect("the journey");
    let history = item["history"].as_l().expect("a timeline");
    let entry = history[0].as_m().expect("an entry");
    assert_eq!(entry["trace_id"].as_s().map(String::as_str), Ok(id));
    assert_eq!(entry["trace_sampled"].as_bool(), Ok(&true));
    let streamed = resources::drain(&stack.sdk, &app).await.expect("drain");
    assert_eq!(streamed.len(), 1);
    let event: Value = serde_json::from_str(&streamed[0].body).expect("event");
    assert_eq!(event["traceparent"], trace.traceparent());

    // kycctl journey show prints it; on the local stack without a link to X-Ray, where a local
    // trace never is (on AWS a sampled trace links to its page: `journey::trace_tests`).
    let (code, out) = kyc_intake_tests::kycctl_local(
        &["journey", "show", "cashfree/vkyc", "tr-1"],
        &[("JOURNEY_TABLE", table.as_str())],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("trace {id}\n")), "{out}");
    assert!(!out.contains("console.aws.amazon.com"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_a_trace_or_with_a_malformed_one_is_applied_as_before() {
    let stack = Stack::new(true).await;
    let sdk = local_sdk_config(endpoint()).await;
    let (table, worker) = stack.journey_worker(&sdk).await;
    let f = stack.cashfree(&[]).await;
    // No trace (an older message, a function without active tracing).
    let reply = call(
        &f,
        ApiRequest::post(VKYC, body("tr-none").as_str())
            .signed_now()
            .request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    // A header that is not X-Ray's: ignored by the function, the worker never sees one.
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some("Root=not-a-trace".to_owned());
    let request = ApiRequest::post(VKYC, body("tr-bad").as_str())
        .signed_now()
        .request()
        .with_lambda_context(context);
    assert_eq!(call(&f, request).await.status, 200);
    let messages = resources::drain(&stack.sdk, &stack.queue_url)
        .await
        .expect("drain");
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m.trace_header, None);
        let event: Value = serde_json::from_str(&m.body).expect("event");
        assert!(event.get("traceparent").is_none());
    }
    // A record carrying a malformed AWSTraceHeader (sent by anyone) is applied all the same.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    for m in &messages {
        sqs.send_message()
            .queue_url(&stack.queue_url)
            .message_body(&m.body)
            .message_group_id(m.group_id.clone().unwrap_or_default())
            .message_deduplication_id(format!(
                "{}-again",
                m.deduplication_id.clone().unwrap_or_default()
            ))
            .message_system_attributes(
                aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
                aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value("Root=1-zz;Sampled=9")
                    .build()
                    .expect("attribute"),
            )
            .send()
            .await
            .expect("send");
    }
    stack.apply_queue(&worker).await;
    for subject in ["tr-none", "tr-bad"] {
        let item = stack
            .journey_item(&table, &format!("cashfree/vkyc#{subject}"))
            .await
            .expect("applied");
        let history = item["history"].as_l().expect("a timeline");
        assert!(history[0].as_m().expect("entry").get("trace_id").is_none());
    }
}
