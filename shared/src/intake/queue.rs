//! The events queue's side of the intake: the message it takes and the port that sends it (SQS
//! in `aws`; in memory for unit tests). The replay and the sweeper send through the same port.

use crate::fault::Fault;
use futures_util::future::BoxFuture;

/// A message for the events queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// FIFO only.
    pub group_id: String,
    /// FIFO only: the event id.
    pub deduplication_id: String,
    /// Message attribute `type`.
    pub event_type: String,
    /// Message attribute `source`.
    pub source: String,
    /// Message attribute `replay`: the replay id, on an event sent again from the archive.
    pub replay: Option<String>,
    /// The X-Ray trace header of the invocation that made it: SQS's system attribute
    /// `AWSTraceHeader`, which links the consumer's invocation to that trace.
    pub trace_header: Option<String>,
}

/// The data type SQS records for our two message attributes.
pub const ATTRIBUTE_DATA_TYPE: &str = "String";

impl OutgoingMessage {
    /// The size SQS counts against `MaximumMessageSize`: the body plus each message attribute's
    /// name, data type and value.
    pub fn size(&self) -> usize {
        let replay = self
            .replay
            .as_ref()
            .map_or(0, |r| "replay".len() + r.len() + ATTRIBUTE_DATA_TYPE.len());
        attributes_size(&self.event_type, &self.source) + replay + self.body.len()
    }
}

/// The bytes the `type` and `source` message attributes add to a message's size.
pub fn attributes_size(event_type: &str, source: &str) -> usize {
    [
        "type".len() + event_type.len(),
        "source".len() + source.len(),
    ]
    .iter()
    .map(|n| n + ATTRIBUTE_DATA_TYPE.len())
    .sum()
}

/// The events queue, as the pipeline, the replay and the sweeper send to it. Like every port of
/// this library's own, it is used as `Arc<dyn EventSink>`.
pub trait EventSink: Send + Sync {
    /// Send one message; returns the queue's message id.
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<String, Fault>>;
}
