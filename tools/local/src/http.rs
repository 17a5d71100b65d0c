//! The one HTTP/1.1 server loop of the emulators (the API Gateway and the Runtime API) and of the
//! tests' fakes of a provider's API: accept, answer each request with `answer`, keep the
//! connection alive as the client wishes.

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
            // A connection that ends mid-request concerns only that client.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
