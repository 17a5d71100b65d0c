//! Partial batch responses for SQS: process each record, report the ones that failed so only they
//! are delivered again. On a FIFO queue a failed record also fails every later record of **its own
//! message group** (their order must hold), while records of other groups are processed as usual,
//! so one bad record never holds back, or dead-letters, the others (Powertools calls this
//! `skip_group_on_error`). On a standard queue each record stands alone.
//!
//! The Lambda's event source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::collections::HashSet;
use std::future::Future;

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordResult {
    /// Done (or nothing to do): delete it.
    Processed,
    /// Deliver it again.
    Failed,
}

/// Process `batch` one record at a time, in order, with `process`; the response names every
/// record to deliver again. A record skipped because an earlier record of its FIFO group failed
/// is not given to `process` and is reported as failed.
pub async fn process_batch<'a, F, Fut>(batch: &'a SqsEvent, mut process: F) -> SqsBatchResponse
where
    F: FnMut(&'a SqsMessage) -> Fut,
    Fut: Future<Output = RecordResult>,
{
    let mut response = SqsBatchResponse::default();
    let mut failed_groups = HashSet::new();
    for record in &batch.records {
        let group = fifo_group(record);
        let result = match group {
            Some(g) if failed_groups.contains(g) => {
                tracing::warn!(
                    message_id = record.message_id.as_deref().unwrap_or("-"),
                    "skipped: an earlier record of its message group failed"
                );
                RecordResult::Failed
            }
            _ => process(record).await,
        };
        if result == RecordResult::Failed {
            if let Some(g) = group {
                failed_groups.insert(g);
            }
            response.add_failure(record.message_id.clone().unwrap_or_default());
        }
    }
    response
}

/// The record's message group on a FIFO queue (its source ARN ends in `.fifo`); `None` on a
/// standard queue. A FIFO record without a group (which SQS never delivers) counts as the group
/// named "".
pub fn fifo_group(record: &SqsMessage) -> Option<&str> {
    let fifo = record
        .event_source_arn
        .as_deref()
        .is_some_and(|arn| arn.ends_with(".fifo"));
    fifo.then(|| {
        record
            .attributes
            .get("MessageGroupId")
            .map_or("", String::as_str)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[(&str, &str)], fifo: bool) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records
            .iter()
            .map(|(group, body)| {
                let mut m = SqsMessage::default();
                m.message_id = Some((*body).to_owned());
                m.body = Some((*body).to_owned());
                m.event_source_arn = Some(if fifo {
                    "arn:aws:sqs:ap-south-1:000000000000:q.fifo".to_owned()
                } else {
                    "arn:aws:sqs:ap-south-1:000000000000:q".to_owned()
                });
                if fifo {
                    m.attributes
                        .insert("MessageGroupId".to_owned(), (*group).to_owned());
                }
                m
            })
            .collect();
        e
    }

    fn failed(r: &SqsBatchResponse) -> Vec<String> {
        r.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    async fn run(event: &SqsEvent) -> (SqsBatchResponse, Vec<String>) {
        let mut seen = Vec::new();
        let response = process_batch(event, |m| {
            let body = m.body.clone().unwrap_or_default();
            seen.push(body.clone());
            async move {
                if body.starts_with("bad") {
                    RecordResult::Failed
                } else {
                    RecordResult::Processed
                }
            }
        })
        .await;
        (response, seen)
    }

    #[tokio::test]
    async fn on_fifo_a_failure_holds_back_only_its_own_group() {
        let event = batch(
            &[
                ("a", "a1"),
                ("a", "bad-a2"),
                ("b", "b1"),
                ("a", "a3"),
                ("b", "b2"),
            ],
            true,
        );
        let (response, seen) = run(&event).await;
        assert_eq!(failed(&response), ["bad-a2", "a3"]);
        assert_eq!(seen, ["a1", "bad-a2", "b1", "b2"], "a3 never processed");
    }

    #[tokio::test]
    async fn on_a_standard_queue_each_record_stands_alone() {
        let event = batch(&[("", "x1"), ("", "bad-x2"), ("", "x3")], false);
        let (response, seen) = run(&event).await;
        assert_eq!(failed(&response), ["bad-x2"]);
        assert_eq!(seen.len(), 3);
    }
}
