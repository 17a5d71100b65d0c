//! `kycctl digio`: Digio's webhooks are set in its Enterprise dashboard; the steps and the URL.

use crate::http::check_url;
use crate::report::{Failure, Report};
use serde_json::json;

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
    let mut text = vec![
        "Digio's webhooks are set in its Enterprise dashboard (sandbox and production are separate accounts, each with its own secret):".to_owned(),
        "  1. Profile → Webhooks: enable webhooks for the KYC service with this URL:".to_owned(),
        format!("       {url}"),
        "  2. Set a webhook secret of 16+ characters there, and the same in DigioWebhookSecrets (Secrets Manager by default;".to_owned(),
        "     during a rotation both values, comma-separated). Digio signs each body with it (x-digio-checksum).".to_owned(),
        "  3. Enable these events:".to_owned(),
    ];
    text.extend(events.iter().map(|e| format!("       {e}")));
    text.push(
        "  4. Answer 200 or Digio disables the whole account's webhooks after a day: watch AuthFailureBurstAlarm."
            .to_owned(),
    );
    text.push(format!(
        "  5. Smoke-test: kycctl send events/digio/kyc/created.json --url {base} --secret -"
    ));
    Ok(Report::ok(
        text,
        json!({ "digio_webhook_url": url, "events": events }),
    ))
}
