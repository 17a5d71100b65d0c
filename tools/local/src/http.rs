//! The one HTTP/1.1 server loop of the emulators (the API Gateway and the Runtime API) and of the
//! tests' fakes of a provider's API: accept, answer each request with `answer`, keep the
//! connection alive as the client wishes.
//!
//! API Gateway takes a request target with a raw `"`, `<` or `>` in its query (curl sends them as
//! typed), which hyper's URL rules refuse with an empty 400 before any code of ours runs. So a
//! connection whose first request line hyper would refuse has that target percent-encoded first
//! (the functions decode a query either way), and serves that one request.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

pub type Response = hyper::Response<Full<Bytes>>;

/// Serve `listener` until accepting fails (the error is returned); each request is answered by
/// `answer` with the request and the peer's address.
pub async fn serve<F, Fut>(listener: tokio::net::TcpListener, answer: F) -> std::io::Error
where
    F: Fn(hyper::Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => return e,
        };
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = answer.clone();
                async move { Ok::<_, Infallible>(answer(req, peer).await) }
            });
            let Ok((head, lenient)) = first_line(stream).await else {
                return;
            };
            // A connection that ends mid-request concerns only that client.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(!lenient)
                .serve_connection(TokioIo::new(head), service)
                .await;
        });
    }
}

/// The bytes a URL may not hold raw (controls, space, `"`, `<`, `>`, backslash, `^`, backtick,
/// `|`; and non-ASCII), encoded in a target `http`'s URL rules refuse.
const RAW: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'|');

/// The connection, its first request line read and given back to hyper as it came, or with its
/// target percent-encoded when hyper would refuse it as it came (then `true`: that connection
/// serves one request).
async fn first_line(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(
    impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    bool,
)> {
    use tokio::io::AsyncReadExt;
    /// Longer request lines are left to hyper as they are.
    const MAX_LINE: usize = 16 * 1024;
    let (mut reader, writer) = stream.into_split();
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = head.windows(2).position(|w| w == b"\r\n") {
            break Some(i);
        }
        if head.len() >= MAX_LINE {
            break None;
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            break None;
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let rewritten = end.and_then(|end| lenient_line(&head[..end]));
    let lenient = rewritten.is_some();
    if let (Some(end), Some(line)) = (end, rewritten) {
        head.splice(..end, line);
    }
    let replayed = std::io::Cursor::new(head).chain(reader);
    Ok((tokio::io::join(replayed, writer), lenient))
}

/// `METHOD TARGET VERSION` with the target percent-encoded, when hyper would refuse the target as
/// it is and accept it encoded; `None` otherwise (the line goes to hyper as it came).
fn lenient_line(line: &[u8]) -> Option<Vec<u8>> {
    let line = std::str::from_utf8(line).ok()?;
    let (method, rest) = line.split_once(' ')?;
    let (target, version) = rest.rsplit_once(' ')?;
    if !target.starts_with('/') || http::uri::PathAndQuery::try_from(target).is_ok() {
        return None;
    }
    let encoded = percent_encoding::utf8_percent_encode(target, RAW).to_string();
    http::uri::PathAndQuery::try_from(encoded.as_str()).ok()?;
    Some(format!("{method} {encoded} {version}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::lenient_line;

    #[test]
    fn only_a_target_hyper_would_refuse_is_encoded() {
        let line =
            |s: &str| lenient_line(s.as_bytes()).map(|l| String::from_utf8(l).expect("utf-8"));
        assert_eq!(
            line(r#"POST /webhooks/hyperverge/digilocker?token=a"b<c>d HTTP/1.1"#).as_deref(),
            Some("POST /webhooks/hyperverge/digilocker?token=a%22b%3Cc%3Ed HTTP/1.1")
        );
        assert_eq!(line("POST /webhooks/cashfree/vkyc?x=%22 HTTP/1.1"), None);
        assert_eq!(
            line("GET /2018-06-01/runtime/invocation/next HTTP/1.1"),
            None
        );
        assert_eq!(line("not a request line"), None);
    }
}
