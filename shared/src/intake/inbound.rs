//! One HTTP delivery as the intake sees it, before anything about it is believed.

use http::{HeaderMap, Method};
use std::net::IpAddr;

/// One HTTP delivery, as the pipeline sees it: raw bytes, headers and the gateway's source IP.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub method: &'a Method,
    /// The raw request path; only its tail is matched.
    pub path: &'a str,
    /// The raw (URL-encoded) query string, if any. Never logged: it can carry a token.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// From the API Gateway request context, never from a header.
    pub source_ip: Option<IpAddr>,
    /// The invocation's deadline, epoch ms (Lambda context), when known.
    pub deadline_ms: Option<i64>,
    /// The invocation's X-Ray trace header (Lambda context), when Lambda gave one.
    pub trace: Option<&'a str>,
}

impl<'a> Inbound<'a> {
    /// A POST to `path` with no query, source IP or deadline: a base for tests and tools to
    /// fill in with struct-update syntax.
    pub fn post(path: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Self {
            method: &Method::POST,
            path,
            query: None,
            headers,
            body,
            source_ip: None,
            deadline_ms: None,
            trace: None,
        }
    }
}
