//! The HTTP helpers every provider's client and `send` share: a URL checked before it is used,
//! printed without its token, and a redirect reported instead of followed.

use crate::report::Failure;

/// A URL with any `token` query value replaced by `<redacted>`, for printing.
pub fn redact(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            if k == "token" {
                format!("{k}=<redacted>")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

/// Whether `url` names this machine (the local stack, a test's fake).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// HTTPS, or plain HTTP to loopback (the local stack, a test's fake).
pub fn check_url(what: &str, url: &str) -> Result<reqwest::Url, Failure> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Failure::usage(format!("{what} `{}` is not a URL: {e}", redact(url))))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        _ => Err(Failure::usage(format!(
            "{what} `{}` is not HTTPS: HyperVerge and API Gateway take HTTPS only (plain HTTP is allowed to loopback, for local use)",
            redact(url)
        ))),
    }
}

/// Where a redirect answer points (its `Location`, token redacted), or `None` for any other
/// answer.
pub fn redirect_location(res: &reqwest::Response) -> Option<String> {
    res.status().is_redirection().then(|| {
        res.headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map_or_else(|| "(no Location)".to_owned(), redact)
    })
}
