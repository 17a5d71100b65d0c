//! The archive's attestation: proof that an archived delivery is what a webhook function
//! received, which anyone holding the archive signing key's public key can check, and nobody
//! holding an operator's credentials can forge.
//!
//! Each environment of a webhook function makes a throwaway Ed25519 key pair when it first
//! archives (never stored) and has its public key certified once by the stack's KMS signing key
//! (`ARCHIVE_SIGNING_KEY_ID`, ECC_NIST_P256, ECDSA_SHA_256 over the raw message). It then signs
//! each delivery it archives with that key: microseconds, no AWS call. Only the webhook roles may
//! `kms:Sign`, and CloudTrail records every certification.
//!
//! What is signed (version 2, what every environment writes), each field framed as its UTF-8
//! byte length (8 bytes, big-endian) followed by its bytes, so no field can move text into its
//! neighbour:
//! - the certificate: `kyc-intake archive key v2`, the function's registry name
//!   (`cashfree-webhook`), the Base64 public key, the certificate's time (RFC 3339);
//! - a delivery: `kyc-intake archive v2`, the object key, `event_id`, `source`, `received_at`,
//!   `auth_scheme`, the request's `path`, its `source_ip` (empty when none), the hex SHA-256 of its
//!   headers (each lower-case name and its value framed the same way, sorted by name then value),
//!   and the object's `body_sha256` and `event_sha256` (salted: `archive`).
//!
//! Version 1 (objects written before) joined the same fields as lines with `\n`, headers as
//! `name:value` lines, and named the deployed function: readers still verify it and say so.

use crate::fault::{Fault, FaultKind};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// The signature scheme of the environments' keys.
pub const ALG: &str = "Ed25519";
/// The version every environment writes.
pub const CURRENT: u32 = 2;
const CERTIFICATE_CONTEXT_V1: &str = "kyc-intake archive key v1";
const DELIVERY_CONTEXT_V1: &str = "kyc-intake archive v1";
const CERTIFICATE_CONTEXT: &str = "kyc-intake archive key v2";
const DELIVERY_CONTEXT: &str = "kyc-intake archive v2";
/// The DER prefix of a P-256 public key's SubjectPublicKeyInfo (what KMS `GetPublicKey` returns
/// for an ECC_NIST_P256 key), before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An archived delivery's attestation, as the object keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// How its fields are signed: 2, or 1 for an object written before (absent: 1).
    #[serde(default = "version_1")]
    pub version: u32,
    /// `Ed25519`.
    pub alg: String,
    /// The environment's public key (Base64 of its 32 bytes).
    pub public_key: String,
    pub certificate: Certificate,
    /// The environment key's signature over the delivery's lines (Base64).
    pub signature: String,
}

fn version_1() -> u32 {
    1
}

/// The KMS signing key's statement that `public_key` belongs to an environment of `function`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The function's registry name (`cashfree-webhook`); the deployed name in version 1.
    pub function: String,
    /// When it was certified (RFC 3339).
    pub issued_at: String,
    /// ECDSA P-256 SHA-256 over the certificate's lines, DER, Base64.
    pub signature: String,
}

/// What an attestation says about one delivery: the object's fields it signs, hashes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested<'a> {
    pub key: &'a str,
    pub event_id: &'a str,
    pub source: &'a str,
    pub received_at: &'a str,
    pub auth_scheme: &'a str,
    pub path: &'a str,
    pub source_ip: &'a str,
    pub headers_sha256: String,
    pub body_sha256: &'a str,
    pub event_sha256: &'a str,
}

impl Attested<'_> {
    /// The bytes signed, in `version`'s form.
    fn message(&self, version: u32) -> Vec<u8> {
        let fields = [
            self.key,
            self.event_id,
            self.source,
            self.received_at,
            self.auth_scheme,
            self.path,
            self.source_ip,
            &self.headers_sha256,
            self.body_sha256,
            self.event_sha256,
        ];
        if version == 1 {
            let mut lines = vec![DELIVERY_CONTEXT_V1];
            lines.extend(fields);
            return lines.join("\n").into_bytes();
        }
        let mut framed = Framed::default();
        framed.push(DELIVERY_CONTEXT.as_bytes());
        for field in fields {
            framed.push(field.as_bytes());
        }
        framed.0
    }
}

/// Fields, each its length (8 bytes, big-endian) and its bytes.
#[derive(Default)]
struct Framed(Vec<u8>);

impl Framed {
    fn push(&mut self, field: &[u8]) {
        self.0
            .extend_from_slice(&(field.len() as u64).to_be_bytes());
        self.0.extend_from_slice(field);
    }
}

/// The certificate's bytes, in `version`'s form.
fn certificate_message(version: u32, function: &str, public_key: &str, issued_at: &str) -> Vec<u8> {
    if version == 1 {
        return [CERTIFICATE_CONTEXT_V1, function, public_key, issued_at]
            .join("\n")
            .into_bytes();
    }
    let mut framed = Framed::default();
    for field in [CERTIFICATE_CONTEXT, function, public_key, issued_at] {
        framed.push(field.as_bytes());
    }
    framed.0
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of `salt` followed by `bytes`: the digest a version 2 object keeps of
/// its body and event, which nobody without the salt can test a guess against.
pub fn salted_sha256_hex(salt: &[u8], bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(bytes);
    hex::encode(h.finalize())
}

/// The hash of a request's headers as `version` attests them: version 2 frames each name and
/// value, by name (a `BTreeMap`'s order of the lower-case names the archive keeps; a name is there
/// once, repeated values joined); version 1
/// hashed `name:value` lines sorted as bytes and joined by `\n`.
pub fn headers_sha256(version: u32, headers: &BTreeMap<String, String>) -> String {
    if version == 1 {
        let mut lines: Vec<String> = headers.iter().map(|(n, v)| format!("{n}:{v}")).collect();
        lines.sort();
        return sha256_hex(lines.join("\n").as_bytes());
    }
    let mut framed = Framed::default();
    for (name, value) in headers {
        framed.push(name.as_bytes());
        framed.push(value.as_bytes());
    }
    sha256_hex(&framed.0)
}

/// The archive signing key, as a webhook function uses it: `kms:Sign` (`aws::KmsSigner`), a key
/// in memory in unit tests.
pub trait Certify: Send + Sync {
    /// The DER ECDSA P-256 SHA-256 signature of `message`.
    fn sign<'a>(
        &'a self,
        message: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>>;
}

/// An environment's key, certified.
struct Certified {
    pair: Ed25519KeyPair,
    public_key: String,
    certificate: Certificate,
}

/// What attests a function's archived deliveries: its environment key, certified on first use
/// (or at start-up, `certify`), once per environment; a failed certification is tried again by
/// the next delivery.
pub struct Attestor {
    signer: std::sync::Arc<dyn Certify>,
    function: String,
    certified: tokio::sync::OnceCell<Certified>,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestor")
            .field("function", &self.function)
            .field("certified", &self.certified.initialized())
            .finish()
    }
}

fn fault(reason: impl Into<String>) -> Fault {
    Fault::new("archive attestation", FaultKind::Rejected, reason.into())
}

impl Attestor {
    /// Attest as `function` with a key `signer` certifies.
    pub fn new(signer: std::sync::Arc<dyn Certify>, function: impl Into<String>) -> Self {
        Self {
            signer,
            function: function.into(),
            certified: tokio::sync::OnceCell::new(),
        }
    }

    /// Make and certify the environment's key now, if not done (start-up calls it, so the KMS
    /// call is off the warm path).
    pub async fn certify(&self) -> Result<(), Fault> {
        self.certified().await.map(|_| ())
    }

    async fn certified(&self) -> Result<&Certified, Fault> {
        self.certified
            .get_or_try_init(|| async {
                let rng = ring::rand::SystemRandom::new();
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| fault("no randomness for the environment's key"))?;
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                    .map_err(|_| fault("the environment's key cannot be read back"))?;
                let public_key = BASE64.encode(pair.public_key().as_ref());
                let issued_at = crate::event::timestamp(Utc::now());
                let message = certificate_message(CURRENT, &self.function, &public_key, &issued_at);
                let der = self.signer.sign(&message).await?;
                tracing::info!(
                    function = %self.function,
                    issued_at = %issued_at,
                    "the archive key of this environment is certified"
                );
                Ok(Certified {
                    pair,
                    public_key,
                    certificate: Certificate {
                        function: self.function.clone(),
                        issued_at,
                        signature: BASE64.encode(der),
                    },
                })
            })
            .await
    }

    /// The attestation of `what` (its headers hashed as `CURRENT` does): certified first if
    /// need be.
    pub async fn attest(&self, what: &Attested<'_>) -> Result<Attestation, Fault> {
        let certified = self.certified().await?;
        Ok(Attestation {
            version: CURRENT,
            alg: ALG.to_owned(),
            public_key: certified.public_key.clone(),
            certificate: certified.certificate.clone(),
            signature: BASE64.encode(certified.pair.sign(&what.message(CURRENT))),
        })
    }
}

/// The archive signing key's public half, which every reader checks attestations with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// The uncompressed P-256 point.
    point: Vec<u8>,
    /// What names the key in a refusal (its ARN or id).
    pub key: String,
}

impl Trust {
    /// The key from its DER SubjectPublicKeyInfo (KMS `GetPublicKey`'s `PublicKey`).
    pub fn from_spki(der: &[u8], key: impl Into<String>) -> Result<Self, String> {
        match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
            Some(point) if point.len() == 65 && point[0] == 4 => Ok(Self {
                point: point.to_vec(),
                key: key.into(),
            }),
            _ => Err("the archive signing key is not an ECC_NIST_P256 public key".to_owned()),
        }
    }

    /// Check `attestation` of `what` (its headers hashed as the attestation's version does): the
    /// certificate with this key, then the environment key's signature over the fields. The
    /// certificate on success; the reason otherwise.
    pub fn check<'a>(
        &self,
        attestation: &'a Attestation,
        what: &Attested<'_>,
    ) -> Result<&'a Certificate, String> {
        let version = attestation.version;
        if !(1..=CURRENT).contains(&version) {
            return Err(format!(
                "the attestation's version is {version}, not 1 or 2"
            ));
        }
        if attestation.alg != ALG {
            return Err(format!(
                "the attestation's algorithm is `{}`, not {ALG}",
                attestation.alg
            ));
        }
        let cert = &attestation.certificate;
        let cert_signature = BASE64
            .decode(&cert.signature)
            .map_err(|_| "the certificate's signature is not Base64".to_owned())?;
        let message = certificate_message(
            version,
            &cert.function,
            &attestation.public_key,
            &cert.issued_at,
        );
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(&message, &cert_signature)
            .map_err(|_| {
                format!(
                    "the certificate does not verify with the archive signing key ({})",
                    self.key
                )
            })?;
        let public_key = BASE64
            .decode(&attestation.public_key)
            .map_err(|_| "the attestation's public key is not Base64".to_owned())?;
        let delivery_signature = BASE64
            .decode(&attestation.signature)
            .map_err(|_| "the attestation's signature is not Base64".to_owned())?;
        UnparsedPublicKey::new(&signature::ED25519, &public_key)
            .verify(&what.message(version), &delivery_signature)
            .map_err(|_| {
                "the attestation's signature does not hold for this object (changed since it was signed)"
                    .to_owned()
            })?;
        Ok(cert)
    }
}

/// When a certificate was issued.
pub fn issued_at(cert: &Certificate) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&cert.issued_at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A signing key in memory standing for KMS, for unit tests and the bench's in-process runs.
#[cfg(any(test, feature = "test-util"))]
pub struct MemorySigner {
    pair: ring::signature::EcdsaKeyPair,
}

#[cfg(any(test, feature = "test-util"))]
impl MemorySigner {
    /// A new P-256 key.
    pub fn generate() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("a P-256 key");
        Self {
            pair: ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
                .expect("a P-256 key"),
        }
    }

    /// Its public half, as readers hold it.
    pub fn trust(&self) -> Trust {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        Trust::from_spki(&der, "memory signing key").expect("a P-256 key")
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Certify for MemorySigner {
    fn sign<'a>(
        &'a self,
        message: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>> {
        Box::pin(async move {
            self.pair
                .sign(&ring::rand::SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| fault("memory signer"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn what(headers_sha256: String) -> Attested<'static> {
        Attested {
            key: "deliveries/cashfree/vkyc/2026/12/04/ab.json",
            event_id: "ab",
            source: "cashfree/vkyc",
            received_at: "2026-12-04T10:00:00.000Z",
            auth_scheme: "cashfree_hmac_sha256",
            path: "/webhooks/cashfree/vkyc",
            source_ip: "",
            headers_sha256,
            body_sha256: "00",
            event_sha256: "11",
        }
    }

    #[tokio::test]
    async fn an_attestation_verifies_with_the_signing_key_alone_and_every_line_counts() {
        let signer = Arc::new(MemorySigner::generate());
        let trust = signer.trust();
        let attestor = Attestor::new(signer.clone(), "kyc-CashfreeFunction-1");
        let headers: BTreeMap<String, String> =
            [("content-type".to_owned(), "application/json".to_owned())].into();
        let genuine = what(headers_sha256(CURRENT, &headers));
        let a = attestor.attest(&genuine).await.expect("attested");
        assert_eq!(a.version, CURRENT);
        let cert = trust.check(&a, &genuine).expect("verifies");
        assert_eq!(cert.function, "kyc-CashfreeFunction-1");
        assert!(issued_at(cert).is_some());
        // One environment key: the second delivery carries the same certificate.
        let again = attestor.attest(&genuine).await.expect("attested");
        assert_eq!(again.certificate, a.certificate);

        let changed = [
            Attested {
                key: "deliveries/cashfree/vkyc/2026/12/05/ab.json",
                ..genuine.clone()
            },
            Attested {
                event_id: "ac",
                ..genuine.clone()
            },
            Attested {
                source: "cashfree/digilocker",
                ..genuine.clone()
            },
            Attested {
                received_at: "2026-12-04T10:00:00.001Z",
                ..genuine.clone()
            },
            Attested {
                auth_scheme: "none",
                ..genuine.clone()
            },
            Attested {
                path: "/webhooks/cashfree/vkyc/",
                ..genuine.clone()
            },
            Attested {
                source_ip: "203.0.113.9",
                ..genuine.clone()
            },
            Attested {
                headers_sha256: headers_sha256(CURRENT, &BTreeMap::new()),
                ..genuine.clone()
            },
            Attested {
                body_sha256: "01",
                ..genuine.clone()
            },
            Attested {
                event_sha256: "12",
                ..genuine.clone()
            },
        ];
        for c in &changed {
            let why = trust.check(&a, c).expect_err("a changed line");
            assert!(why.contains("signature does not hold"), "{why}");
        }
    }

    #[tokio::test]
    async fn a_forged_certificate_or_another_key_is_refused_with_the_reason() {
        let signer = Arc::new(MemorySigner::generate());
        let trust = signer.trust();
        let genuine = what(headers_sha256(CURRENT, &BTreeMap::new()));
        let a = Attestor::new(signer.clone(), "f")
            .attest(&genuine)
            .await
            .expect("attested");

        // Certified by another key (a stack's, or one of the attacker's).
        let other = Arc::new(MemorySigner::generate());
        let foreign = Attestor::new(other, "f")
            .attest(&genuine)
            .await
            .expect("attested");
        let why = trust.check(&foreign, &genuine).expect_err("unknown key");
        assert!(why.starts_with("the certificate does not verify"), "{why}");

        // The genuine certificate on a key of the attacker's own.
        let mut swapped = foreign.clone();
        swapped.certificate = a.certificate.clone();
        let why = trust.check(&swapped, &genuine).expect_err("swapped key");
        assert!(why.starts_with("the certificate does not verify"), "{why}");

        // The certificate's function or time changed.
        let mut renamed = a.clone();
        renamed.certificate.function = "g".to_owned();
        assert!(trust.check(&renamed, &genuine).is_err());
        let mut redated = a.clone();
        redated.certificate.issued_at = "2020-01-01T00:00:00.000Z".to_owned();
        assert!(trust.check(&redated, &genuine).is_err());

        let mut alg = a.clone();
        alg.alg = "none".to_owned();
        assert_eq!(
            trust.check(&alg, &genuine).expect_err("alg"),
            "the attestation's algorithm is `none`, not Ed25519"
        );
        let mut garbled = a.clone();
        garbled.signature = "%%".to_owned();
        assert!(trust.check(&garbled, &genuine).is_err());
    }

    #[test]
    fn only_a_p256_public_key_is_trusted() {
        assert!(Trust::from_spki(&[0x30, 0x2a], "k").is_err());
        let trust = MemorySigner::generate().trust();
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&trust.point);
        assert!(Trust::from_spki(&der, "k").is_ok());
        der.push(0);
        assert!(Trust::from_spki(&der, "k").is_err());
    }

    #[test]
    fn version_1_hashed_headers_as_sorted_lines() {
        // `a-b:…` sorts before `a:…` as lines, after it as names: the lines decided.
        let headers: BTreeMap<String, String> = [
            ("a".to_owned(), "1".to_owned()),
            ("a-b".to_owned(), "2".to_owned()),
        ]
        .into();
        assert_eq!(headers_sha256(1, &headers), sha256_hex(b"a-b:2\na:1"));
    }

    #[test]
    fn version_2_frames_every_field_so_no_text_moves_across_a_boundary() {
        // As lines, `x:y` + `z` and `x` + `y:z`... and a header `a:b` = `c` against `a` = `b:c`
        // hash alike; framed, they do not.
        let one: BTreeMap<String, String> = [("a".to_owned(), "b:c".to_owned())].into();
        let other: BTreeMap<String, String> = [("a:b".to_owned(), "c".to_owned())].into();
        assert_eq!(headers_sha256(1, &one), headers_sha256(1, &other));
        assert_ne!(headers_sha256(2, &one), headers_sha256(2, &other));
        let moved = |path: &'static str, source_ip: &'static str| Attested {
            path,
            source_ip,
            ..what(String::new())
        };
        assert_eq!(
            moved("/p\n1", "2").message(1),
            moved("/p", "1\n2").message(1),
            "version 1: a newline moves text from one line to the next"
        );
        assert_ne!(
            moved("/p\n1", "2").message(2),
            moved("/p", "1\n2").message(2)
        );
        let mut framed = Framed::default();
        framed.push(b"ab");
        assert_eq!(framed.0, [0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
        assert_ne!(
            salted_sha256_hex(b"s1", b"body"),
            salted_sha256_hex(b"s2", b"body")
        );
        assert_eq!(salted_sha256_hex(b"", b"body"), sha256_hex(b"body"));
    }
}
