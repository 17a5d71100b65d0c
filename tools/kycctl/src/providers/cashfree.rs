//! `kycctl cashfree`: Cashfree has no configuration API; the dashboard steps and the URLs to paste.

use crate::http::check_url;
use crate::report::{Failure, Report};
use serde_json::json;

pub(crate) fn cashfree(api_url: &str) -> Result<Report, Failure> {
    check_url("--api-url", api_url)?;
    let base = api_url.trim_end_matches('/');
    let urls: Vec<String> = kyc_intake::sources::cashfree::FUNCTION
        .sources
        .iter()
        .map(|s| format!("{base}{}", s.route))
        .collect();
    let mut text = vec![
        "Cashfree has no configuration API. In the Merchant Dashboard:".to_owned(),
        "  1. Developers → Webhooks → Secure ID → Add Webhook URL, once per product:".to_owned(),
    ];
    text.extend(urls.iter().map(|u| format!("       {u}")));
    text.push(
        "  2. Keep the client secret in CashfreeClientSecrets (Secrets Manager by default)."
            .to_owned(),
    );
    text.push(
        "  3. Smoke-test: kycctl send events/cashfree/vkyc/link_generated.json --url ".to_owned()
            + base,
    );
    Ok(Report::ok(text, json!({ "cashfree_webhook_urls": urls })))
}
