//! The local API Gateway in front of the real functions, over HTTP on loopback, where it must
//! take what API Gateway takes.

use kyc_intake::sources::registry::FUNCTIONS;
use kyc_intake_tests::{raw_post, Stack, DIGILOCKER_TOKEN};

const DIGILOCKER: &str = "/webhooks/hyperverge/digilocker";
const BODY: &str = r#"{"refId":"r-quote","event":{"name":"digilocker.user.denied","code":"user_cancelled"},"timeStamp":"2024-01-15T10:30:45.123Z"}"#;

/// curl sends a `"`, `<` or `>` in a query as typed and API Gateway passes it on; hyper's URL
/// rules alone would refuse it with an empty 400. Locally it reaches the function, which decodes
/// the query: the delivery with the right token is accepted, a wrong token with a quote refused
/// with the function's own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_quote_or_angle_bracket_in_a_query_reaches_the_function() {
    let stack = Stack::new(true).await;
    let base = stack.gateway(FUNCTIONS, &[]).await;
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let raw = format!(r#"{DIGILOCKER}?token={DIGILOCKER_TOKEN}&note="a<b>""#);
    let (status, reply) = raw_post(addr, &raw, "", BODY).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"accepted\""), "{reply}");
    let (status, reply) = raw_post(addr, &format!("{DIGILOCKER}?token=a\"b"), "", BODY).await;
    assert_eq!(
        (status, reply.as_str()),
        (401, r#"{"error":"invalid_token"}"#)
    );
    // Encoded by the client, it is the same delivery.
    let encoded = format!("{DIGILOCKER}?token={DIGILOCKER_TOKEN}&note=%22a%3Cb%3E%22");
    let (status, reply) = raw_post(addr, &encoded, "", BODY).await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"duplicate\""), "{reply}");
}
