//! Erasure without breaking the lock: each archived delivery's raw body and event are sealed
//! under a data key of their own, so one journey's deliveries can be made unreadable (its keys
//! deleted) while every object stays locked and every attestation still holds.
//!
//! - The webhook function asks KMS for a data key under the archive key (`ARCHIVE_KMS_KEY_ID`)
//!   with the encryption context `{"journey": <journey hash>}`, keeps the wrapped key in the
//!   archive keys table (`ARCHIVE_KEYS_TABLE`: pk the journey hash, sk the event id) **before** it
//!   writes the object, and seals `{"body_base64", "event"}` with AES-256-GCM, the object key as
//!   associated data. The object keeps in clear what verification needs (and the journey hash).
//! - A reader fetches the wrapped key, has KMS decrypt it (same context) and opens the seal.
//! - `kycctl erase` deletes a journey's key items and writes an erasure record beside them; the
//!   deliveries then read as erased.
//!
//! The journey hash is the full hex SHA-256 of `<source>#<subject>`: its first 16 digits are how
//! logs name the journey (`journeys::worker::journey_hash`). A delivery whose event names no
//! journey (an unrecognized payload) is keyed as its own: `<source>#event:<event id>`.

use crate::fault::{Fault, FaultKind};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// The seal's algorithm, as the object names it.
pub const ALG: &str = "AES-256-GCM";
/// The encryption context's one key: the journey hash.
pub const CONTEXT_KEY: &str = "journey";
/// The sort key prefix of an erasure record (event ids never contain `#`).
pub const ERASURE_PREFIX: &str = "#erasure#";

/// The hash of a journey reference (`<source>#<subject>`), hex: what names a journey without
/// its customer reference. Logs show its first 16 digits (`journeys::worker::journey_hash`).
pub fn reference_hash(reference: &str) -> String {
    hex::encode(Sha256::digest(reference.as_bytes()))
}

/// The archive keys table's partition of a journey: `<source>#<journey hash>`, so each webhook
/// role may write only under its own sources (IAM's `dynamodb:LeadingKeys`). Items written
/// before the table was partitioned by source have the journey hash alone; readers and erasure
/// read both.
pub fn partition(source: &str, journey: &str) -> String {
    format!("{source}#{journey}")
}

/// The journey hash of a delivery: of its journey reference, or, for a delivery that names no
/// subject, of `<source>#event:<id>` (a journey of its own).
pub fn journey(source: &str, subject: Option<&str>, event_id: &str) -> String {
    reference_hash(&match subject {
        Some(subject) => format!("{source}#{subject}"),
        None => format!("{source}#event:{event_id}"),
    })
}

/// The raw body and event of a delivery, sealed (as the object keeps them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// `AES-256-GCM`.
    pub alg: String,
    /// The 96-bit nonce (Base64).
    pub nonce: String,
    /// Ciphertext and tag (Base64).
    pub ciphertext: String,
}

/// A delivery's data key: its plaintext, used once and dropped, and as KMS wrapped it.
pub struct DataKey {
    pub plaintext: [u8; 32],
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, String> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| "not an AES-256 key".to_owned())
}

/// Seal `plaintext` under `key`, bound to the object key `aad`.
pub fn seal(key: &[u8; 32], aad: &str, plaintext: &[u8]) -> Result<Sealed, Fault> {
    let fault = |what: &str| Fault::new("archive seal", FaultKind::Rejected, what);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| fault("no randomness for a nonce"))?;
    let mut in_out = plaintext.to_vec();
    aead_key(key)
        .map_err(|e| fault(&e))?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| fault("sealing failed"))?;
    Ok(Sealed {
        alg: ALG.to_owned(),
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(in_out),
    })
}

/// Open `sealed` with `key`, bound to the object key `aad`, or why not.
pub fn open(key: &[u8; 32], aad: &str, sealed: &Sealed) -> Result<Vec<u8>, String> {
    if sealed.alg != ALG {
        return Err(format!("the seal's algorithm is {}, not {ALG}", sealed.alg));
    }
    let nonce: [u8; NONCE_LEN] = BASE64
        .decode(&sealed.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or("the seal's nonce is not 12 bytes of Base64")?;
    let mut in_out = BASE64
        .decode(&sealed.ciphertext)
        .map_err(|_| "the seal's ciphertext is not Base64".to_owned())?;
    let plain = aead_key(key)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| "the seal does not open with its data key (moved, altered or another key)")?;
    Ok(plain.to_vec())
}

/// Where a webhook function gets each delivery's data key and keeps it wrapped: KMS and the
/// archive keys table in production (`aws::ArchiveKeyTable`), memory in unit tests.
pub trait KeyVault: Send + Sync {
    /// A new data key under the archive key, bound to `journey` (KMS `GenerateDataKey`).
    fn generate<'a>(
        &'a self,
        journey: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<DataKey, Fault>> + Send + 'a>>;

    /// Keep `wrapped` as a key of `event_id` in the journey's `partition` (added to any an
    /// earlier attempt of the same event kept: the object names none, a reader tries each);
    /// where an erasure left a tombstone, nothing is kept: the delivery was erased, and a
    /// provider's retry never keys it again.
    fn keep<'a>(
        &'a self,
        partition: &'a str,
        event_id: &'a str,
        wrapped: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_with_its_key_and_object_key_only() {
        let key = [7u8; 32];
        let sealed = seal(&key, "deliveries/a/1.json", b"{\"pan\":\"ABCDE1234F\"}").expect("seal");
        assert_eq!(sealed.alg, ALG);
        let bytes = BASE64.decode(&sealed.ciphertext).expect("b64");
        assert!(
            !bytes.windows(10).any(|w| w == b"ABCDE1234F"),
            "no plaintext"
        );
        assert_eq!(
            open(&key, "deliveries/a/1.json", &sealed).expect("opens"),
            b"{\"pan\":\"ABCDE1234F\"}"
        );
        assert!(open(&[8u8; 32], "deliveries/a/1.json", &sealed).is_err());
        assert!(open(&key, "deliveries/a/2.json", &sealed).is_err(), "moved");
        let mut altered = sealed.clone();
        altered.ciphertext = BASE64.encode([0u8; 40]);
        assert!(open(&key, "deliveries/a/1.json", &altered).is_err());
        let other = seal(&key, "deliveries/a/1.json", b"x").expect("seal");
        assert_ne!(other.nonce, sealed.nonce, "a fresh nonce each time");
    }

    #[test]
    fn journeys_are_named_by_hash_the_logs_prefix_of_which_they_share() {
        let j = journey("cashfree/vkyc", Some("VKYC-1"), "e1");
        assert_eq!(j.len(), 64);
        assert_eq!(j, hex::encode(Sha256::digest(b"cashfree/vkyc#VKYC-1")));
        assert!(!j.contains("VKYC"));
        assert_ne!(
            journey("cashfree/vkyc", None, "e1"),
            journey("cashfree/vkyc", None, "e2")
        );
    }
}
