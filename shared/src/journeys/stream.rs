//! The journey stream: every record the worker accepts, published to an SNS FIFO topic so that
//! every consumer gets every event (one queue per consumer, subscribed to the topic) while the
//! worker stays the events queue's one reader.
//!
//! A stream message is the CloudEvent as the worker received it, with three extension
//! attributes (CloudEvents allows only scalars there) that let a consumer act on a journey
//! without keeping state of its own:
//! - `kycjourneystate`: the journey's state after this event (`open`, `closed`, `stalled`);
//! - `kycjourneyeffect`: what the event did (`applied`, `older`, `unrecognized`, `repeat`);
//! - `kycjourneycount`: the events applied to the journey so far.
//!
//! An unrecognized event has no journey: it carries `kycjourneyeffect` only. Message group = the
//! journey (as the intake groups it), deduplication id = the event id; message attributes
//! `type`, `source` and `journey_state`. A message that would not fit SNS's 256 KiB goes out
//! without `data.payload` (`data.withheld: [""]`, `data.archive_key` naming the archived delivery).

use crate::fault::Fault;
use serde_json::value::RawValue;
use std::future::Future;

/// The largest message SNS publishes: body and message attributes, 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// The variable naming the topic.
pub const TOPIC_VARIABLE: &str = "JOURNEY_STREAM_TOPIC_ARN";
/// The stream message's extension attributes.
pub const STATE_EXTENSION: &str = "kycjourneystate";
pub const EFFECT_EXTENSION: &str = "kycjourneyeffect";
pub const COUNT_EXTENSION: &str = "kycjourneycount";
/// The message attribute a subscription can filter on besides `type` and `source`.
pub const STATE_ATTRIBUTE: &str = "journey_state";

/// A journey's state after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JourneyState {
    /// On the sweeper's list: more events are expected.
    Open,
    /// A terminal event or final status arrived.
    Closed,
    /// Reported stalled by the sweeper, until an event moves it.
    Stalled,
}

impl JourneyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Stalled => "stalled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Closed, Self::Stalled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What an event did to its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It became the journey's latest (a stall report or a reconciliation included).
    Applied,
    /// Counted, not the latest (or a stall report about an event the journey has moved past).
    Older,
    /// Acknowledged, not stored: no journey.
    Unrecognized,
    /// Applied by an earlier delivery: published again from what that one kept.
    Repeat,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Older => "older",
            Self::Unrecognized => "unrecognized",
            Self::Repeat => "repeat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Applied, Self::Older, Self::Unrecognized, Self::Repeat]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What the stream says about one event's journey: kept in the event's idempotency claim in the
/// same transaction as the apply, so a redelivery publishes the same again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub effect: Effect,
    /// `None` for an unrecognized event (no journey).
    pub state: Option<JourneyState>,
    /// Events applied to the journey so far; `None` for an unrecognized event.
    pub count: Option<u64>,
}

impl Published {
    /// The claim's `kept` value: `<effect> <state> <count>`.
    pub fn kept(&self) -> String {
        match (self.state, self.count) {
            (Some(state), Some(count)) => {
                format!("{} {} {count}", self.effect.as_str(), state.as_str())
            }
            _ => self.effect.as_str().to_owned(),
        }
    }

    /// What a claim kept, published again on a redelivery (effect `repeat`); `None` for a claim
    /// written before the stream existed (it kept nothing).
    pub fn repeat_of(kept: &str) -> Option<Self> {
        let mut words = kept.split(' ');
        Effect::parse(words.next()?)?;
        let state = words.next().map(JourneyState::parse);
        let count = words.next().map(str::parse::<u64>);
        match (state, count) {
            (Some(Some(state)), Some(Ok(count))) => Some(Self {
                effect: Effect::Repeat,
                state: Some(state),
                count: Some(count),
            }),
            (None, None) => Some(Self {
                effect: Effect::Repeat,
                state: None,
                count: None,
            }),
            _ => None,
        }
    }
}

/// One message for the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMessage {
    pub body: String,
    /// The journey: `<source>#<subject>` as the intake groups it.
    pub group_id: String,
    /// The event id.
    pub deduplication_id: String,
    /// Message attribute `type`.
    pub event_type: String,
    /// Message attribute `source`.
    pub source: String,
    /// Message attribute `journey_state`; absent for an unrecognized event.
    pub journey_state: Option<&'static str>,
    /// The record's X-Ray trace header, set on the publish (`X-Amzn-Trace-Id`: SNS has no trace
    /// attribute).
    pub trace_header: Option<String>,
}

impl StreamMessage {
    /// The size SNS counts: the body and each message attribute's name, type and value.
    pub fn size(&self) -> usize {
        let state = self.journey_state.map_or(0, |s| {
            STATE_ATTRIBUTE.len() + s.len() + crate::intake::queue::ATTRIBUTE_DATA_TYPE.len()
        });
        self.body.len()
            + crate::intake::queue::attributes_size(&self.event_type, &self.source)
            + state
    }
}

/// Why a record cannot become a stream message (it is not a JSON object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the record is not a JSON object: {0}")]
pub struct NotAnObject(String);

type Members = Vec<(String, Box<RawValue>)>;

/// The top-level members of a JSON object, in order, each value as its raw text.
fn members(json: &str) -> Result<Members, NotAnObject> {
    struct Ordered;
    impl<'de> serde::de::Visitor<'de> for Ordered {
        type Value = Members;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let out = serde::Deserializer::deserialize_map(&mut de, Ordered)
        .map_err(|e| NotAnObject(e.to_string()))?;
    de.end().map_err(|e| NotAnObject(e.to_string()))?;
    Ok(out)
}

fn object(members: &Members) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A key is a JSON string: serde_json escapes it.
        out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".to_owned()));
        out.push(':');
        out.push_str(v.get());
    }
    out.push('}');
    out
}

fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json).unwrap_or_else(|_| {
        // Only ever called with JSON this module wrote.
        RawValue::from_string("null".to_owned()).unwrap_or_default()
    })
}

/// The stream message of `event` (the record's body, a CloudEvent), in `group`, saying
/// `published`. Every member is kept as received (the payload byte for byte) but a sender's
/// own `kycjourney*` members, which the worker's replace; one that would not fit SNS goes out
/// without `data.payload`.
pub fn message(
    body: &str,
    event: &crate::event::KycEvent,
    group_id: String,
    published: &Published,
    archive_key: Option<&str>,
) -> Result<StreamMessage, NotAnObject> {
    let mut top = members(body)?;
    top.retain(|(k, _)| {
        ![STATE_EXTENSION, EFFECT_EXTENSION, COUNT_EXTENSION].contains(&k.as_str())
    });
    if let Some(state) = published.state {
        top.push((
            STATE_EXTENSION.into(),
            raw(format!("\"{}\"", state.as_str())),
        ));
    }
    top.push((
        EFFECT_EXTENSION.into(),
        raw(format!("\"{}\"", published.effect.as_str())),
    ));
    if let Some(count) = published.count {
        top.push((COUNT_EXTENSION.into(), raw(count.to_string())));
    }
    let mut message = StreamMessage {
        body: object(&top),
        group_id,
        deduplication_id: event.id.clone(),
        event_type: event.event_type.clone(),
        source: event.source.clone(),
        journey_state: published.state.map(JourneyState::as_str),
        trace_header: None,
    };
    if message.size() > MAX_MESSAGE_BYTES {
        for (k, v) in top.iter_mut() {
            if k == "data" {
                *v = raw(object(&without_payload(v.get(), archive_key)?));
            }
        }
        message.body = object(&top);
    }
    Ok(message)
}

/// `data` without its payload: `withheld: [""]` (all of it) and the archived delivery's key.
fn without_payload(data: &str, archive_key: Option<&str>) -> Result<Members, NotAnObject> {
    let mut data = members(data)?;
    data.retain(|(k, _)| !["payload", "payload_encoding", "withheld"].contains(&k.as_str()));
    data.push(("withheld".into(), raw("[\"\"]".to_owned())));
    if let Some(key) = archive_key {
        if !data.iter().any(|(k, _)| k == "archive_key") {
            data.push((
                "archive_key".into(),
                raw(serde_json::to_string(key).unwrap_or_else(|_| "null".to_owned())),
            ));
        }
    }
    Ok(data)
}

/// The journey stream's port.
pub trait JourneyStream: Send + Sync {
    /// Publish one message; `Ok` once the topic has it.
    fn publish(&self, message: &StreamMessage) -> impl Future<Output = Result<(), Fault>> + Send;

    /// A record could not be published: have the events queue deliver it again in `secs`
    /// seconds rather than at once (its visibility extended), so an outage of minutes is waited
    /// out instead of dead-lettering applied events. Best effort.
    fn defer(&self, receipt_handle: &str, secs: i32) -> impl Future<Output = ()> + Send;
}

/// No stream configured (`JOURNEY_STREAM_TOPIC_ARN` unset): nothing is published.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStream;

impl JourneyStream for NoStream {
    async fn publish(&self, _message: &StreamMessage) -> Result<(), Fault> {
        Ok(())
    }
    async fn defer(&self, _receipt_handle: &str, _secs: i32) {}
}

/// A stream that may be absent (`JOURNEY_STREAM_TOPIC_ARN` unset): `None` publishes nothing.
impl<P: JourneyStream> JourneyStream for Option<P> {
    async fn publish(&self, message: &StreamMessage) -> Result<(), Fault> {
        match self {
            Some(stream) => stream.publish(message).await,
            None => Ok(()),
        }
    }
    async fn defer(&self, receipt_handle: &str, secs: i32) {
        if let Some(stream) = self {
            stream.defer(receipt_handle, secs).await;
        }
    }
}

/// How long a record whose publish failed waits before its next delivery: 30 s doubled per
/// earlier receive, at most 15 minutes. With the events queue's `maxReceiveCount` of 5 a record
/// is dead-lettered only after about 15 minutes of failing publishes (30+60+120+240+480 s).
pub fn backoff_secs(receive_count: u32) -> i32 {
    let doubled = 30_i64.saturating_mul(1_i64 << receive_count.saturating_sub(1).min(10));
    i32::try_from(doubled.min(900)).unwrap_or(900)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::KycEvent;

    fn event(payload: &str) -> (String, KycEvent) {
        let body = format!(
            r#"{{"specversion":"1.0","id":"e1","source":"cashfree/vkyc","type":"kyc.vkyc.call_completed","subject":"v1","time":"2025-05-22T04:10:00Z","datacontenttype":"application/json","data":{{"provider":"cashfree","product":"vkyc","provider_event":"E","received_at":"2025-05-22T04:10:01Z","auth_scheme":"cashfree_header_hmac","payload":{payload}}}}}"#
        );
        let e = serde_json::from_str(&body).expect("event");
        (body, e)
    }

    const CLOSED: Published = Published {
        effect: Effect::Applied,
        state: Some(JourneyState::Closed),
        count: Some(3),
    };

    #[test]
    fn the_message_is_the_event_as_received_plus_three_scalar_extensions() {
        let (body, e) = event(r#"{"amount": 1.50, "note":"a\u00e9"}"#);
        let m = message(&body, &e, "cashfree/vkyc#v1".into(), &CLOSED, None).expect("message");
        assert!(
            m.body
                .contains(r#""payload":{"amount": 1.50, "note":"a\u00e9"}"#),
            "the payload byte for byte: {}",
            m.body
        );
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
        assert_eq!(v[STATE_EXTENSION], "closed");
        assert_eq!(v[EFFECT_EXTENSION], "applied");
        assert_eq!(v[COUNT_EXTENSION], 3);
        assert_eq!(v["id"], "e1");
        assert_eq!(m.deduplication_id, "e1");
        assert_eq!(m.journey_state, Some("closed"));
        // Still a KycEvent for a Rust consumer.
        let back: KycEvent = serde_json::from_str(&m.body).expect("KycEvent");
        assert_eq!(back.id, "e1");
    }

    #[test]
    fn a_senders_own_extension_values_are_replaced_not_duplicated() {
        let (body, e) = event("{}");
        let forged = body.replacen(
            '{',
            r#"{"kycjourneystate":"closed","kycjourneycount":99,"#,
            1,
        );
        let open = Published {
            state: Some(JourneyState::Open),
            ..CLOSED
        };
        let m = message(&forged, &e, "g".into(), &open, None).expect("message");
        assert_eq!(m.body.matches(STATE_EXTENSION).count(), 1);
        assert_eq!(m.body.matches(COUNT_EXTENSION).count(), 1);
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
        assert_eq!(v[STATE_EXTENSION], "open");
        assert_eq!(v[COUNT_EXTENSION], 3);
    }

    #[test]
    fn a_message_over_sns_limit_goes_out_without_its_payload() {
        let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
        let (body, e) = event(&big);
        let key = "cashfree/vkyc/2025/05/22/e1.json";
        let m = message(&body, &e, "g".into(), &CLOSED, Some(key)).expect("message");
        assert!(m.size() <= MAX_MESSAGE_BYTES, "{}", m.size());
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
        assert!(v["data"].get("payload").is_none());
        assert_eq!(v["data"]["withheld"], serde_json::json!([""]));
        assert_eq!(v["data"]["archive_key"], key);
        assert_eq!(v["data"]["provider_event"], "E", "the rest of data is kept");
        assert_eq!(v[STATE_EXTENSION], "closed");
        // A Rust consumer reads it too: no payload, all of it withheld, the extensions typed.
        let back: KycEvent = serde_json::from_str(&m.body).expect("KycEvent");
        assert_eq!(back.data.withheld, Some(vec![String::new()]));
        assert_eq!(back.data.payload.get(), "null");
        assert_eq!(back.data.archive_key.as_deref(), Some(key));
        assert_eq!(back.kycjourneystate.as_deref(), Some("closed"));
        assert_eq!(back.kycjourneycount, Some(3));
    }

    #[test]
    fn what_a_claim_keeps_comes_back_as_a_repeat() {
        assert_eq!(
            Published::repeat_of(&CLOSED.kept()),
            Some(Published {
                effect: Effect::Repeat,
                ..CLOSED
            })
        );
        let unrecognized = Published {
            effect: Effect::Unrecognized,
            state: None,
            count: None,
        };
        assert_eq!(
            Published::repeat_of(&unrecognized.kept()).map(|p| p.state),
            Some(None)
        );
        for nothing in [
            "",
            "applied open",
            "applied shut 3",
            "applied open x",
            "bogus",
        ] {
            assert_eq!(Published::repeat_of(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn a_failing_publish_backs_off_longer_each_time_up_to_fifteen_minutes() {
        let waits: Vec<i32> = (1..=7).map(backoff_secs).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900]);
        assert!(
            waits[..4].iter().sum::<i32>() >= 5 * 60,
            "minutes of outage"
        );
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(u32::MAX), 900);
    }
}
