//! `S3Archive`: the audit archive in S3. Each object is written create-only (`If-None-Match: *`):
//! an object already there (412, an earlier attempt of the same event) counts as written, and
//! nothing is ever overwritten. The bucket's default encryption (SSE-KMS) and Object Lock
//! retention apply to every object; the SDK adds the checksum S3 requires for a locked bucket.

use super::fault::fault;
use crate::fault::Fault;
use crate::intake::archive::Archive;
use aws_sdk_s3::primitives::ByteStream;
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Archive {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The S3 client on `sdk`: path-style addressing when the SDK is pointed at another endpoint
    /// (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`: a local server has no per-bucket host names), virtual-hosted on AWS.
    pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(endpoint_overridden(sdk))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// Whether S3 calls go to another endpoint than AWS's (`AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL`): a local server, addressed by path.
fn endpoint_overridden(sdk: &aws_config::SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
        || std::env::var("AWS_ENDPOINT_URL_S3").is_ok_and(|v| !v.trim().is_empty())
}

impl Archive for S3Archive {
    fn put_new<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), Fault>> + Send + 'a>> {
        Box::pin(async move {
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/json")
                .if_none_match("*")
                .body(ByteStream::from(body))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                // Already there: an earlier attempt of this event wrote it.
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(()),
                Err(e) => Err(fault("S3 PutObject", e)),
            }
        })
    }
}
