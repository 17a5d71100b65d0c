//! The floor: the same three SDK calls a new event makes, from a warm client in this process.

use crate::process::cpu_ns;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use kyc_intake::aws::SqsSink;
use kyc_intake::intake::queue::{EventSink, OutgoingMessage};
use kyc_local::resources::{self, local_sdk_config, BoxError};
use lambda_idempotency::DynamoDbStore;
use lambda_idempotency::{Claim, ClaimOutcome, IdempotencyStore};

/// A table and a queue (FIFO, as deployed, unless `fifo` is false).
pub(crate) async fn stack(
    endpoint: &str,
    name: &str,
    fifo: bool,
) -> Result<(String, String), BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    resources::ensure_table(&sdk, name).await?;
    let queue = if fifo {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    };
    let queue_url = resources::ensure_queue(&sdk, &queue).await?;
    Ok((name.to_owned(), queue_url))
}

/// The floor: the three SDK calls of a new event, exactly as the function makes them (the same
/// adapters, `DynamoDbStore::claim`, `SqsSink::send`, `DynamoDbStore::complete`, with a claim of the
/// same shape and a copy of a message the function sent), from a warm client in this bare
/// process, on its own table and queue. What is left above it is everything else a bootstrap
/// does: the Runtime API round trip, the event parsing, the pipeline, the logs.
pub(crate) struct Floor {
    pub(crate) store: DynamoDbStore,
    pub(crate) sink: SqsSink,
    pub(crate) message: OutgoingMessage,
    pub(crate) cpu_ns: u64,
    pub(crate) events: usize,
}

impl Floor {
    /// A floor on table and queue `name`, warmed with a few events.
    pub(crate) async fn new(
        endpoint: &str,
        name: &str,
        message: OutgoingMessage,
    ) -> Result<Self, BoxError> {
        let (table, queue_url) = stack(endpoint, name, true).await?;
        let sdk = local_sdk_config(endpoint).await;
        let floor = Self {
            store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table),
            sink: SqsSink::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
            message,
            cpu_ns: 0,
            events: 0,
        };
        for i in 0..20 {
            floor.once(1_000_000 + i).await?;
        }
        Ok(floor)
    }

    pub(crate) async fn once(&self, i: usize) -> Result<(), BoxError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        // The function's key, owner and hash have these lengths (hex digests, 128-bit owner).
        let key = format!("cashfree/vkyc#{:064x}", i);
        let claim = Claim::new(
            key.clone(),
            Claim::new_owner(),
            now_ms + 30_000,
            now_ms / 1000 + 86_400,
            format!("{:064x}", i),
            now_ms,
        );
        if self.store.claim(&claim).await? != ClaimOutcome::Claimed {
            return Err(format!("floor: {key} not claimed").into());
        }
        let message = OutgoingMessage {
            group_id: key.clone(),
            deduplication_id: key,
            ..self.message.clone()
        };
        let id = self.sink.send(&message).await?;
        self.store.complete(&claim, &id).await?;
        Ok(())
    }

    pub(crate) async fn chunk(&mut self, ids: std::ops::Range<usize>) -> Result<(), BoxError> {
        let before = cpu_ns("self");
        for i in ids {
            self.once(i).await?;
            self.events += 1;
        }
        self.cpu_ns += cpu_ns("self").saturating_sub(before);
        Ok(())
    }

    pub(crate) fn ms_per_event(&self) -> f64 {
        self.cpu_ns as f64 / 1e6 / self.events.max(1) as f64
    }
}

/// The first message the function sent to `queue_url` (its cold event), as it sent it.
pub(crate) async fn sent_message(
    endpoint: &str,
    queue_url: &str,
) -> Result<OutgoingMessage, BoxError> {
    let sdk = local_sdk_config(endpoint).await;
    let out = aws_sdk_sqs::Client::new(&sdk)
        .receive_message()
        .queue_url(queue_url)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let m = out
        .messages()
        .first()
        .ok_or("the function's first message is not on its queue")?;
    let attribute = |name: &str| {
        m.message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or_default()
            .to_owned()
    };
    let system = |name: MessageSystemAttributeName| {
        m.attributes()
            .and_then(|a| a.get(&name))
            .cloned()
            .unwrap_or_default()
    };
    Ok(OutgoingMessage {
        body: m.body().unwrap_or_default().to_owned(),
        group_id: system(MessageSystemAttributeName::MessageGroupId),
        deduplication_id: system(MessageSystemAttributeName::MessageDeduplicationId),
        event_type: attribute("type"),
        source: attribute("source"),
        replay: None,
        trace_header: None,
    })
}
