//! `kycctl cashfree`: Cashfree has no configuration API; the dashboard steps and the URLs to paste.

use crate::http::check_url;
use crate::report::{Failure, Finding, Report};
use serde::Serialize;

pub(crate) fn cashfree(api_url: &str) -> Result<Report, Failure> {
    check_url("--api-url", api_url)?;
    let base = api_url.trim_end_matches('/');
    let urls: Vec<String> = kyc_intake::sources::cashfree::FUNCTION
        .sources
        .iter()
        .map(|s| format!("{base}{}", s.route))
        .collect();
    Ok(Report::of(&CashfreeSetup {
        cashfree_webhook_urls: urls,
        base: base.to_owned(),
    }))
}

/// `kycctl cashfree`: the URL of each Cashfree source, to paste in its dashboard, and the steps.
#[derive(Serialize)]
struct CashfreeSetup {
    cashfree_webhook_urls: Vec<String>,
    /// The API's base URL, for the smoke test.
    #[serde(skip)]
    base: String,
}

impl Finding for CashfreeSetup {
    fn lines(&self) -> Vec<String> {
        let mut text = vec![
            "Cashfree has no configuration API. In the Merchant Dashboard:".to_owned(),
            "  1. Developers → Webhooks → Secure ID → Add Webhook URL, once per product:"
                .to_owned(),
        ];
        text.extend(
            self.cashfree_webhook_urls
                .iter()
                .map(|u| format!("       {u}")),
        );
        text.push(
            "  2. Keep the client secret in CashfreeClientSecrets (Secrets Manager by default)."
                .to_owned(),
        );
        text.push(format!(
            "  3. Smoke-test: kycctl send events/cashfree/vkyc/link_generated.json --url {}",
            self.base
        ));
        text
    }
}
