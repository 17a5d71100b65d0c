//! The normalized event: a CloudEvents 1.0 event in structured JSON mode, the SQS message body.
//! A Rust worker deserializes it with `serde_json::from_str::<KycEvent>(&message.body)`; workers in
//! other languages validate against `schema/kyc-event.schema.json`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

pub const SPEC_VERSION: &str = "1.0";
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// A time of this system's own clock (a receipt, an update, a due time) as every record writes
/// it: RFC 3339 in UTC to the millisecond, e.g. `2026-12-03T07:20:00.123Z`. Provider times keep
/// their own offset and precision (`normalize`).
/// How far ahead of the reader's clock a time from elsewhere may be (clocks differ a little): a
/// provider's signed time, an event's `time`, an archived `received_at` or certificate. The one
/// limit every reader holds times to.
pub const MAX_FUTURE_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// [`MAX_FUTURE_SKEW`] in milliseconds.
pub const MAX_FUTURE_SKEW_MS: i64 = MAX_FUTURE_SKEW.num_milliseconds();

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KycEvent {
    pub specversion: String,
    /// Lowercase hex SHA-256 of the source and the event's identity fields: the same for every
    /// delivery of one provider event, and the idempotency key.
    pub id: String,
    /// `<provider>/<product>`, e.g. `cashfree/vkyc`.
    pub source: String,
    /// `kyc.<product>.<event>`, e.g. `kyc.vkyc.call_completed`, or `kyc.<product>.unrecognized`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The provider's journey reference (`refId`, `transactionId`, `verification_id`); absent for
    /// unrecognized payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The provider's event time as RFC 3339; the receipt time when it is absent, unparseable or
    /// more than 5 minutes after `data.received_at` (`data.provider_time` keeps it as sent).
    pub time: String,
    pub datacontenttype: String,
    /// CloudEvents extension attribute: the replay id, on an event `kycctl replay` sent again
    /// from the audit archive. Absent on events from a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kycreplay: Option<String>,
    /// CloudEvents distributed-tracing extension: the W3C form of the trace of the invocation
    /// that made the event (`trace::TraceHeader::traceparent`), for consumers outside AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// CloudEvents extension attributes of the journey stream (`journeys::stream`): the
    /// journey's state after this event, what the event did to it, and the events applied so
    /// far. Absent on the events queue (and state and count on an unrecognized event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kycjourneystate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kycjourneyeffect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kycjourneycount: Option<u64>,
    pub data: EventData,
}

/// What authenticated the delivery an event came from (`data.auth_scheme`), by name: each source
/// names its own schemes in its folder (`sources::<provider>`), and `schema/kyc-event.schema.json`
/// lists every name the registry's sources carry (a test holds the two together). A name, once
/// published, keeps its spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthScheme(Cow<'static, str>);

impl AuthScheme {
    /// The application announced the journey (`kyc.journey.started`) or the sweeper reported it
    /// (`kyc.journey.stalled`): nothing a provider sent.
    pub const APPLICATION: Self = Self::named("application");

    /// A scheme's published name: lowercase, `<provider>_<how>`.
    pub const fn named(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventData {
    /// `cashfree` or `hyperverge`.
    pub provider: String,
    /// `digilocker`, `vkyc` or `application`.
    pub product: String,
    #[serde(default)]
    pub provider_event: Option<String>,
    #[serde(default)]
    pub provider_status: Option<String>,
    #[serde(default)]
    pub provider_sub_status: Option<String>,
    /// The provider's time field exactly as sent (it is not always valid ISO 8601).
    #[serde(default)]
    pub provider_time: Option<String>,
    /// When the intake received the delivery that was forwarded, RFC 3339.
    pub received_at: String,
    /// What authenticated the delivery.
    pub auth_scheme: AuthScheme,
    /// `base64` when `payload` is the Base64 of the raw body: the body was not UTF-8, or SQS
    /// would have refused it as is (characters outside SQS's set, or too large once escaped).
    /// Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<String>,
    /// `kyc.journey.started`: how long the journey may go without an event before it is stalled
    /// (instead of its source's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_within_s: Option<u64>,
    /// `kyc.journey.reconciled`: when the status was read from the provider's API, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    /// The provider's JSON exactly as received, the raw body as a string when it is not JSON, or
    /// its Base64 (see `payload_encoding`). `null` when the message withholds it all
    /// (`withheld: [""]`).
    #[serde(default = "withheld_payload")]
    pub payload: Box<RawValue>,
    /// The JSON pointers of the payload fields this message leaves out; `[""]`: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Vec<String>>,
    /// The S3 key of the archived delivery this event came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_key: Option<String>,
}

/// The payload of a message that withholds it all.
fn withheld_payload() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

impl KycEvent {
    /// The CloudEvents envelope around `data`: spec version 1.0, JSON content, not a replay.
    pub fn new(
        id: String,
        source: &str,
        event_type: String,
        subject: Option<String>,
        time: String,
        data: EventData,
    ) -> Self {
        Self {
            specversion: SPEC_VERSION.into(),
            id,
            source: source.into(),
            event_type,
            subject,
            time,
            datacontenttype: DATA_CONTENT_TYPE.into(),
            kycreplay: None,
            traceparent: None,
            kycjourneystate: None,
            kycjourneyeffect: None,
            kycjourneycount: None,
            data,
        }
    }

    /// The payload as a JSON value (for workers that want to inspect it).
    pub fn payload_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(self.data.payload.get())
    }

    /// The raw body when it travels as Base64 (`payload_encoding: "base64"`), decoded; `None`
    /// when the payload is the body itself, or is not valid Base64.
    pub fn base64_payload(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        if self.data.payload_encoding.as_deref() != Some("base64") {
            return None;
        }
        let text: String = serde_json::from_str(self.data.payload.get()).ok()?;
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    }
}

/// FIFO `MessageGroupId` of an event, on the events queue and the journey stream alike:
/// `<source>#<subject>` keeps one journey's events in order. Unrecognized events have no subject
/// and get their own group, so they never hold up a journey. A value over 128 characters or with
/// characters SQS refuses is replaced by its SHA-256.
pub fn message_group(source: &str, subject: Option<&str>, id: &str) -> String {
    use sha2::Digest;
    let raw = match subject {
        Some(s) => format!("{source}#{s}"),
        None => format!("{source}#{id}"),
    };
    let valid = raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        raw
    } else {
        hex::encode(sha2::Sha256::digest(raw.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::AuthScheme;
    use serde_json::Value;

    #[test]
    fn a_scheme_is_its_name_on_the_wire_and_back() {
        let scheme = AuthScheme::named("acme_header_hmac");
        assert_eq!(
            serde_json::to_value(&scheme).expect("ser"),
            Value::from("acme_header_hmac")
        );
        let back: AuthScheme = serde_json::from_str("\"acme_header_hmac\"").expect("de");
        assert_eq!(back, scheme);
        assert_eq!(AuthScheme::APPLICATION.to_string(), "application");
    }

    /// The JSON Schema workers validate against and the struct the pipeline serializes name the
    /// same fields.
    #[test]
    fn schema_matches_the_struct() {
        let schema: Value =
            serde_json::from_str(include_str!("../../schema/kyc-event.schema.json"))
                .expect("schema is JSON");
        let event = r#"{"specversion":"1.0","id":"0000000000000000000000000000000000000000000000000000000000000000","source":"cashfree/vkyc","type":"kyc.vkyc.call_completed","subject":"v","time":"2025-05-22T03:51:14Z","datacontenttype":"application/json","kycreplay":"r1","traceparent":"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01","kycjourneystate":"open","kycjourneyeffect":"applied","kycjourneycount":1,"data":{"provider":"cashfree","product":"vkyc","provider_event":"E","provider_status":"S","provider_sub_status":null,"provider_time":null,"received_at":"2025-05-22T03:51:14Z","auth_scheme":"cashfree_header_hmac","payload_encoding":"base64","expect_within_s":60,"fetched_at":"2025-05-22T03:51:14Z","payload":"AA==","withheld":["/data"],"archive_key":"cashfree/vkyc/2025/05/22/0.json"}}"#;
        // Every optional field set, so every field the schema names is compared.
        let parsed: super::KycEvent = serde_json::from_str(event).expect("deserializes");
        let round: Value = serde_json::to_value(&parsed).expect("serializes");
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&round), keys(&schema["properties"]));
        assert_eq!(
            keys(&round["data"]),
            keys(&schema["properties"]["data"]["properties"])
        );
        for required in schema["required"].as_array().expect("required") {
            assert!(
                round.get(required.as_str().expect("name")).is_some(),
                "{required}"
            );
        }
        for required in schema["properties"]["data"]["required"]
            .as_array()
            .expect("required")
        {
            assert!(
                round["data"]
                    .get(required.as_str().expect("name"))
                    .is_some(),
                "{required}"
            );
        }
    }
}
