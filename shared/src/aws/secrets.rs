//! Secrets Manager as `secrets::manager` reads it: a secret's `SecretString`.

use crate::fault::{Fault, FaultKind};
use crate::secrets::manager::SecretReader;

impl SecretReader for aws_sdk_secretsmanager::Client {
    async fn read(&self, secret_id: &str) -> Result<String, Fault> {
        let out = self
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            // The error names the secret and the cause, never a value.
            .map_err(|e| super::fault("Secrets Manager GetSecretValue", e))?;
        out.secret_string().map(str::to_owned).ok_or_else(|| {
            Fault::new(
                "Secrets Manager GetSecretValue",
                FaultKind::Rejected,
                "the secret has no SecretString (a binary secret)",
            )
        })
    }
}
