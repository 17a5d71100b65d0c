//! A setting as a deployment declares it: the variable a function reads, the template parameter
//! that sets it, its default and its description. The registry lists these for every function
//! and status API, and `kyc-local generate` writes the template's parameters, secrets and
//! variables from them, so nothing provider-specific is written by hand in `template.yaml`.

/// One setting of a function (or of a status API the sweeper asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable the code reads, e.g. `CASHFREE_CLIENT_SECRETS`.
    pub variable: &'static str,
    /// The template parameter that sets it, e.g. `CashfreeClientSecrets`. Renaming one would
    /// drop an existing stack's value (and replace a secret's resource), so it is written here,
    /// not derived from the variable.
    pub parameter: &'static str,
    /// The parameter's description (what it is, what empty means).
    pub description: &'static str,
    /// What values it takes.
    pub kind: Kind,
}

/// What values a setting takes, and its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A secret: a NoEcho parameter, empty by default, kept in a Secrets Manager secret the stack
    /// generates when the parameter is empty. `list`: comma-separated values of 16+ characters
    /// (rotation: any one matches); otherwise one value of any length.
    Secret { list: bool },
    /// Text, with its default (may be empty) and, when set, the pattern a value must match.
    Text {
        default: &'static str,
        pattern: Option<&'static str>,
    },
    /// A whole number, with its default and its least value.
    Number { default: u64, min: u64 },
    /// One of `values`, with its default.
    Choice {
        default: &'static str,
        values: &'static [&'static str],
    },
}

impl Setting {
    const fn new(
        variable: &'static str,
        parameter: &'static str,
        description: &'static str,
        kind: Kind,
    ) -> Self {
        Self {
            variable,
            parameter,
            description,
            kind,
        }
    }

    /// A list of secrets (16+ characters each), as the webhook functions take them.
    pub const fn secrets(
        variable: &'static str,
        parameter: &'static str,
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Secret { list: true },
        )
    }

    /// One secret value (a status API's client secret).
    pub const fn secret(
        variable: &'static str,
        parameter: &'static str,
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Secret { list: false },
        )
    }

    /// Text with a default.
    pub const fn text(
        variable: &'static str,
        parameter: &'static str,
        default: &'static str,
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Text {
                default,
                pattern: None,
            },
        )
    }

    /// Text with a default, which must match `pattern`.
    pub const fn matching(
        variable: &'static str,
        parameter: &'static str,
        default: &'static str,
        pattern: &'static str,
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Text {
                default,
                pattern: Some(pattern),
            },
        )
    }

    /// A whole number of at least `min`, with a default.
    pub const fn number(
        variable: &'static str,
        parameter: &'static str,
        default: u64,
        min: u64,
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Number { default, min },
        )
    }

    /// One of `values`, with a default.
    pub const fn choice(
        variable: &'static str,
        parameter: &'static str,
        default: &'static str,
        values: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        Self::new(
            variable,
            parameter,
            description,
            Kind::Choice { default, values },
        )
    }

    /// Whether it holds a secret.
    pub const fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret { .. })
    }

    /// Its default as the template writes it (a secret's is empty).
    pub fn default_value(&self) -> String {
        match self.kind {
            Kind::Secret { .. } => String::new(),
            Kind::Text { default, .. } | Kind::Choice { default, .. } => default.to_owned(),
            Kind::Number { default, .. } => default.to_string(),
        }
    }
}

/// The variables of `settings`.
pub fn variables(settings: &[Setting]) -> impl Iterator<Item = &'static str> + '_ {
    settings.iter().map(|s| s.variable)
}

/// The variables of `settings` that hold secrets.
pub fn secret_variables(settings: &[Setting]) -> impl Iterator<Item = &'static str> + '_ {
    settings
        .iter()
        .filter(|s| s.is_secret())
        .map(|s| s.variable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_defaults_to_empty_and_the_others_to_their_value() {
        assert_eq!(Setting::secrets("A", "A", "").default_value(), "");
        assert_eq!(
            Setting::number("B", "B", 86_400, 1, "").default_value(),
            "86400"
        );
        assert_eq!(
            Setting::choice("C", "C", "off", &["off", "on"], "").default_value(),
            "off"
        );
        let all = [
            Setting::secrets("A", "A", ""),
            Setting::text("B", "B", "x", ""),
        ];
        assert_eq!(secret_variables(&all).collect::<Vec<_>>(), ["A"]);
        assert_eq!(variables(&all).collect::<Vec<_>>(), ["A", "B"]);
    }
}
