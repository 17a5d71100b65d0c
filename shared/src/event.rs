//! The normalized event: a CloudEvents 1.0 event in structured JSON mode, the SQS message body.
//! A Rust worker deserializes it with `serde_json::from_str::<KycEvent>(&message.body)`; workers in
//! other languages validate against `schema/kyc-event.schema.json`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub const SPEC_VERSION: &str = "1.0";
pub const DATA_CONTENT_TYPE: &str = "application/json";

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
    /// The provider's event time as RFC 3339, or the receipt time when it is absent or unparseable.
    pub time: String,
    pub datacontenttype: String,
    pub data: EventData,
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
    /// `base64` when the body was not UTF-8 and `payload` is its Base64; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<String>,
    /// The provider's JSON exactly as received, or the raw body as a string when it is not JSON.
    pub payload: Box<RawValue>,
}

impl KycEvent {
    /// The payload as a JSON value (for workers that want to inspect it).
    pub fn payload_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(self.data.payload.get())
    }
}
