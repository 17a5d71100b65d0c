//! Replay as kycctl, the console and `dlq redrive` ask for it: the `archive-replay` function
//! invoked with the request, again with each `continue` token it answers, and its answers added
//! up. kycctl never sends a replay itself: the function's role alone may.

use crate::report::{given, Failure};
use aws_sdk_lambda::primitives::Blob;
use kyc_intake::replay::{ReplayRun, Request};
use std::time::Duration;

/// How long one Invoke may take: the function answers after about 90 s of work, within its
/// 120 s timeout.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(150);
/// The most calls one replay makes (each reads at most 500 deliveries): a function that keeps
/// answering `continue` without moving on is stopped.
const MAX_CALLS: usize = 1000;

/// The `archive-replay` function's name: the flag every replaying command takes, with its
/// variable.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct ReplayFunction {
    /// The archive-replay function (the stack's `ArchiveReplayFunctionName` output).
    #[arg(long = "function", env = "REPLAY_FUNCTION", global = true)]
    pub(crate) function: Option<String>,
}

impl ReplayFunction {
    /// An invoker of the function on `sdk`; no name is a usage failure.
    pub(crate) fn invoker(self, sdk: &aws_config::SdkConfig) -> Result<Invoker, Failure> {
        let function = given(self.function).ok_or_else(|| {
            Failure::usage("no replay function: give --function or set REPLAY_FUNCTION (the stack's ArchiveReplayFunctionName output)")
        })?;
        let config = aws_sdk_lambda::config::Builder::from(sdk)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(INVOKE_TIMEOUT)
                    .operation_timeout(INVOKE_TIMEOUT)
                    .build(),
            )
            // A call that timed out may still be replaying: it is not started twice.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build();
        Ok(Invoker {
            client: aws_sdk_lambda::Client::from_conf(config),
            function,
        })
    }
}

/// The `archive-replay` function, as the operator invokes it.
pub(crate) struct Invoker {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl Invoker {
    /// The whole replay `request` asks for: the function invoked until it answers no `continue`.
    pub(crate) async fn replay(&self, request: &Request) -> Result<ReplayRun, Failure> {
        let mut all = ReplayRun::default();
        let mut request = request.clone();
        for _ in 0..MAX_CALLS {
            let answer = self.call(&request).await?;
            let next = answer.continue_after.clone();
            all.absorb(answer);
            match next {
                Some(token) if Some(&token) != request.continue_after.as_ref() => {
                    request.continue_after = Some(token);
                }
                Some(token) => {
                    return Err(Failure::failed(format!(
                        "the replay function answered the same continue token twice ({token}): it is not moving on"
                    )))
                }
                None => return Ok(all),
            }
        }
        Err(Failure::failed(format!(
            "the replay function still had more after {MAX_CALLS} calls: narrow the range"
        )))
    }

    /// One Invoke: the function's answer, or what its error says.
    async fn call(&self, request: &Request) -> Result<ReplayRun, Failure> {
        let payload = serde_json::to_vec(request)
            .map_err(|e| Failure::failed(format!("the replay request: {e}")))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                let service = e.as_service_error().map(|s| {
                    use aws_sdk_lambda::error::ProvideErrorMetadata;
                    format!(
                        "{}: {}",
                        s.code().unwrap_or("error"),
                        s.message().unwrap_or_default()
                    )
                });
                Failure::failed(format!(
                    "invoking {}: {} (check REPLAY_FUNCTION, AWS_ENDPOINT_URL and the credentials; locally, is `make run` running?)",
                    self.function,
                    service.unwrap_or_else(|| aws_sdk_lambda::error::DisplayErrorContext(&e).to_string())
                ))
            })?;
        let body = out.payload().map(Blob::as_ref).unwrap_or_default();
        if out.function_error().is_some() {
            #[derive(serde::Deserialize)]
            struct FunctionError {
                #[serde(rename = "errorMessage")]
                message: String,
            }
            let message = serde_json::from_slice::<FunctionError>(body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
            return Err(match message.strip_prefix("refused: ") {
                Some(why) => Failure::usage(why.to_owned()),
                None => Failure::failed(format!("the replay function failed: {message}")),
            });
        }
        serde_json::from_slice(body).map_err(|e| {
            Failure::failed(format!(
                "the replay function's answer is not a replay ({e})"
            ))
        })
    }
}
