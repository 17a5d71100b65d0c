//! `kycctl digio`: Digio's webhooks are set in its Enterprise dashboard; the steps and the URL.

use crate::http::check_url;
use crate::report::{Failure, Finding, Report};
use serde::Serialize;

pub(crate) fn digio(api_url: &str) -> Result<Report, Failure> {
    use kyc_intake::sources::digio;
    check_url("--api-url", api_url)?;
    let base = api_url.trim_end_matches('/');
    let url = format!("{base}{}", digio::kyc::SOURCE.route);
    let events = [
        "kyc.request.created",
        "kyc.request.completed",
        "kyc.request.review.ready",
        "kyc.request.approved",
        "kyc.request.rejected",
        "kyc.request.expired",
        "kyc.request.terminated",
        "documents.pulled.successfully",
    ];
    Ok(Report::of(&DigioSetup {
        digio_webhook_url: url,
        events: events.to_vec(),
        base: base.to_owned(),
    }))
}

/// `kycctl digio`: the URL to set in Digio's dashboard, the events to enable, and the steps.
#[derive(Serialize)]
struct DigioSetup {
    digio_webhook_url: String,
    events: Vec<&'static str>,
    /// The API's base URL, for the smoke test.
    #[serde(skip)]
    base: String,
}

impl Finding for DigioSetup {
    fn lines(&self) -> Vec<String> {
        let mut text = vec![
            "Digio's webhooks are set in its Enterprise dashboard (sandbox and production are separate accounts, each with its own secret):".to_owned(),
            "  1. Profile → Webhooks: enable webhooks for the KYC service with this URL:".to_owned(),
            format!("       {}", self.digio_webhook_url),
            "  2. Set a webhook secret of 16+ characters there, and the same in DigioWebhookSecrets (Secrets Manager by default;".to_owned(),
            "     during a rotation both values, comma-separated). Digio signs each body with it (x-digio-checksum).".to_owned(),
            "  3. Enable these events:".to_owned(),
        ];
        text.extend(self.events.iter().map(|e| format!("       {e}")));
        text.push(
            "  4. Answer 200 or Digio disables the whole account's webhooks after a day: watch AuthFailureBurstAlarm."
                .to_owned(),
        );
        text.push(format!(
            "  5. Smoke-test: kycctl send events/digio/kyc/created.json --url {} --secret -",
            self.base
        ));
        text
    }
}
