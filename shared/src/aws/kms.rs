//! The archive signing key in KMS: `KmsSigner` certifies a webhook environment's key (`kms:Sign`,
//! ECDSA_SHA_256 over the raw message, once per environment); `trust` reads the public half that
//! every reader checks attestations with (`kms:GetPublicKey`, once per command).

use super::fault::fault;
use crate::fault::Fault;
use crate::intake::attest::{Certify, Trust};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use std::future::Future;
use std::pin::Pin;

/// The archive signing key as a webhook function uses it.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSigner {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

impl Certify for KmsSigner {
    fn sign<'a>(
        &'a self,
        message: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, Fault>> + Send + 'a>> {
        Box::pin(async move {
            let out = self
                .client
                .sign()
                .key_id(&self.key_id)
                .message(Blob::new(message))
                .message_type(MessageType::Raw)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await
                .map_err(|e| fault("KMS Sign", e))?;
            Ok(out
                .signature()
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default())
        })
    }
}

/// The archive signing key's public half (`key_id`: its ARN, id or alias), read with `sdk`'s
/// settings, or why it cannot be read.
pub async fn trust(sdk: &aws_config::SdkConfig, key_id: &str) -> Result<Trust, String> {
    let out = aws_sdk_kms::Client::new(sdk)
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the archive signing key {key_id} cannot be read (kms:GetPublicKey): {}",
                aws_sdk_kms::error::DisplayErrorContext(&e)
            )
        })?;
    let der = out
        .public_key()
        .ok_or_else(|| format!("KMS gave no public key for {key_id}"))?;
    Trust::from_spki(der.as_ref(), out.key_id().unwrap_or(key_id))
}
