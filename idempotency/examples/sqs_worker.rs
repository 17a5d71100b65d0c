//! A complete SQS-triggered Lambda that applies each message's effect at most once, however often
//! SQS delivers it: the idempotency records in DynamoDB (`IDEMPOTENCY_TABLE`, key `pk`, TTL on
//! `expires_at`), a partial batch response that keeps FIFO groups in order.
//!
//! Deploy it with an event source mapping that has `FunctionResponseTypes: [ReportBatchItemFailures]`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_idempotency::batch::{process_batch, RecordResult};
use lambda_idempotency::{
    fingerprint, Attempt, Completion, DynamoDbStore, Fault, Idempotency, IdempotencyStore, Run,
};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::time::SystemTime;

/// One day: a message redelivered within it is recognized.
const TTL: std::time::Duration = std::time::Duration::from_secs(86_400);

async fn apply(body: &str) -> Result<(), Fault> {
    // The effect: write a row, call an API, send an e-mail ...
    println!("applying {} bytes", body.len());
    Ok(())
}

async fn record<S: IdempotencyStore>(
    idempotency: &Idempotency<S>,
    message: &SqsMessage,
    deadline: SystemTime,
) -> RecordResult {
    let body = message.body.as_deref().unwrap_or_default();
    // The key: what makes two deliveries the same. Here the message id; an id in the body (an
    // event id) is better, since a producer's retry makes a new message.
    let key = format!(
        "my-worker#{}",
        message.message_id.as_deref().unwrap_or_default()
    );
    let attempt = Attempt::before(&key, fingerprint(body.as_bytes()), deadline);
    let outcome = idempotency
        .run(&attempt, |_claim| async {
            apply(body).await?;
            Ok::<_, Fault>(((), Completion::Mark))
        })
        .await;
    match outcome {
        Ok(Run::Ran(()) | Run::AlreadyDone { .. }) => RecordResult::Processed,
        // Another delivery is applying it right now, or something failed: deliver it again.
        Ok(_) | Err(_) => RecordResult::Failed,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_from_env().await;
    let table = std::env::var("IDEMPOTENCY_TABLE")?;
    let idempotency = Idempotency::new(
        DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        TTL,
    );
    let idempotency = &idempotency;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = event.context.deadline();
        let response: SqsBatchResponse = process_batch(&event.payload, |message| {
            record(idempotency, message, deadline)
        })
        .await;
        Ok::<_, Error>(response)
    }))
    .await
}
