//! Secrets that never print.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A configured secret (client secret, static token). `Debug` prints `[redacted]` and there is
/// no `Display`, so a secret cannot reach a log line or an error body by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for keying an HMAC. Deliberately not a `Display`.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Constant-time equality with a presented value. Both sides are hashed first, so neither
    /// the content nor the length of the secret leaks through timing.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(presented);
        a.ct_eq(&b).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Several accepted secrets (rotation): any one matching is enough.
#[derive(Clone, Debug, Default)]
pub struct SecretList(Vec<Secret>);

impl SecretList {
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self(secrets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }

    /// True when any secret matches. Every secret is compared, so the time taken does not
    /// tell which one matched.
    pub fn any_matches(&self, presented: &[u8]) -> bool {
        self.0
            .iter()
            .fold(false, |found, s| s.matches(presented) | found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let l = SecretList::new(vec![s]);
        assert!(!format!("{l:?}").contains("hunter2"));
    }

    #[test]
    fn matches_only_the_exact_value() {
        let l = SecretList::new(vec![Secret::new("old"), Secret::new("new")]);
        assert!(l.any_matches(b"old"));
        assert!(l.any_matches(b"new"));
        assert!(!l.any_matches(b"ne"));
        assert!(!l.any_matches(b"newer"));
        assert!(!l.any_matches(b""));
        assert!(!SecretList::default().any_matches(b""));
    }
}
