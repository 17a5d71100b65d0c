//! Source-IP allowlists. The address comes from the API Gateway request context, never from a
//! header a client can set.

use super::AuthError;
use crate::config::{err, ConfigError, Env};
use ipnet::IpNet;
use std::net::IpAddr;

/// Allowed networks; a single IP is a /32 (or /128).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    /// Parse `"65.0.82.147, 10.0.0.0/8"`. Blank entries are skipped; any other bad entry is an
    /// error naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("`{entry}` is not an IP address or CIDR"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Refuse a request whose source IP is unknown or outside the list.
    pub fn check(&self, source_ip: Option<IpAddr>) -> Result<(), AuthError> {
        match source_ip {
            Some(ip) if self.allows(ip) => Ok(()),
            _ => Err(AuthError::SourceIpNotAllowed),
        }
    }
}

/// A comma-separated list of IPs/CIDRs; `None` when unset.
pub fn allowlist(env: &dyn Env, var: &'static str) -> Result<Option<IpAllowlist>, ConfigError> {
    env.get(var)
        .map(|v| IpAllowlist::parse(&v).map_err(|reason| err(var, reason)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ips_and_cidrs() {
        let l = IpAllowlist::parse("65.0.82.147, 10.1.0.0/16,,2001:db8::/32").expect("valid");
        for ok in [
            "65.0.82.147",
            "10.1.200.3",
            "2001:db8::1",
            "::ffff:65.0.82.147",
        ] {
            assert!(l.allows(ok.parse().expect("ip")), "{ok}");
        }
        for no in ["65.0.82.148", "10.2.0.1", "2001:db9::1", "127.0.0.1"] {
            assert!(!l.allows(no.parse().expect("ip")), "{no}");
        }
        assert_eq!(l.check(None), Err(AuthError::SourceIpNotAllowed));
    }

    #[test]
    fn bad_entries_are_named() {
        let err = IpAllowlist::parse("1.2.3.4, nope").expect_err("invalid");
        assert!(err.contains("nope"));
        assert!(IpAllowlist::parse("10.0.0.0/33").is_err());
        assert!(IpAllowlist::parse(" , ").expect("blank").is_empty());
    }

    #[test]
    fn an_allowlist_variable_is_split_trimmed_and_named_when_bad() {
        let e = crate::config::fake_env(&[("IPS", "1.2.3.4, 10.0.0.0/8")]);
        assert!(allowlist(&e, "IPS").expect("valid").is_some());
        assert_eq!(allowlist(&e, "NONE").expect("unset"), None);
        assert_eq!(
            allowlist(&crate::config::fake_env(&[("X", "nope")]), "X")
                .expect_err("bad")
                .var,
            "X"
        );
    }
}
