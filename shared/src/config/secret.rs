//! Secrets that never print.

use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
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

/// Several accepted secrets (rotation): any one matching is enough. Clones share one list, so a
/// refresh from Secrets Manager (`replace`) reaches every source that holds it.
#[derive(Clone, Default)]
pub struct SecretList(Arc<RwLock<Arc<Vec<Secret>>>>);

impl std::fmt::Debug for SecretList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretList({} x [redacted])", self.current().len())
    }
}

impl SecretList {
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(secrets))))
    }

    /// The secrets as they are now (a refresh does not change a snapshot already taken).
    pub fn current(&self) -> Arc<Vec<Secret>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swap in a new list, for every holder at once.
    pub fn replace(&self, secrets: Vec<Secret>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(secrets);
    }

    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// True when any secret matches. Every secret is compared, so the time taken does not
    /// tell which one matched.
    pub fn any_matches(&self, presented: &[u8]) -> bool {
        self.current()
            .iter()
            .fold(false, |found, s| s.matches(presented) | found)
    }
}

/// The shortest secret value accepted: a short token on a public URL can be guessed at the
/// API's rate.
pub const MIN_SECRET_CHARS: usize = 16;

/// Split a comma-separated list of secrets, blanks skipped, and check each value: at least
/// `MIN_SECRET_CHARS` characters, no white space, quotes or braces (a key/value JSON secret, as
/// the console makes by default, split on commas would otherwise install fragments of JSON and
/// turn every delivery into a 401). The reason never repeats a value. An empty list is valid
/// here (an unset variable: the source fails closed).
pub fn parse_list(text: &str) -> Result<Vec<Secret>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Err(
            "the value is JSON, not a comma-separated list (store the list itself as the plain-text secret, not a key/value pair)"
                .to_owned(),
        );
    }
    let mut list = Vec::new();
    for (i, value) in trimmed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        if value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'{}".contains(c))
        {
            return Err(format!(
                "value {} holds white space, a quote or a brace: not a comma-separated list",
                i + 1
            ));
        }
        if value.chars().count() < MIN_SECRET_CHARS {
            return Err(format!(
                "value {} is shorter than {MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)",
                i + 1
            ));
        }
        list.push(Secret::new(value));
    }
    Ok(list)
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

    #[test]
    fn clones_share_a_replaced_list() {
        let a = SecretList::new(vec![Secret::new("old")]);
        let b = a.clone();
        a.replace(vec![Secret::new("new")]);
        assert!(b.any_matches(b"new") && !b.any_matches(b"old"));
        assert!(!format!("{b:?}").contains("new"));
    }
}
