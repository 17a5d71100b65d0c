//! Run an operation at most once per key from AWS Lambda, however often the event that asks for
//! it is delivered: the idempotency utility of [Powertools for AWS Lambda], for Rust.
//!
//! Lambda's event sources deliver at least once, and callers retry. This crate keeps one record
//! per key in a DynamoDB table and runs your operation under it:
//!
//! 1. claim the key with a conditional put of an `IN_PROGRESS` record carrying a random owner and
//!    a lease (the invocation's deadline plus [`Config::lease_margin`]);
//! 2. a record already `COMPLETED` ⇒ [`Run::AlreadyDone`] with what it kept; a live claim of another attempt ⇒
//!    [`Run::InProgress`]; a claim carrying our own owner is our own earlier put (an SDK retry)
//!    and counts as ours;
//! 3. run the operation;
//! 4. mark the record `COMPLETED` (keeping what the operation returned, e.g. a message id) on
//!    condition that it is still our claim, or let the operation do it in the same DynamoDB
//!    transaction as its own write ([`DynamoDbStore::complete_with`], whose proof the operation
//!    returns in [`Completion::Done`]), which closes the window between the effect and its record;
//! 5. if the operation failed, delete our claim (same condition), so a retry may run it at once.
//!
//! If the process dies between 1 and 4, the lease runs out and the next attempt takes over. Every
//! call is cut to what the invocation has left (keeping time for the steps still to come), so the
//! protocol ends before Lambda would stop the function.
//!
//! The persistence layer is a port, [`IdempotencyStore`]: [`DynamoDbStore`] in production,
//! `MemoryStore` (feature `test-util`) in unit tests. [`batch::process_batch`] turns an SQS batch into a partial batch
//! response and keeps each FIFO message group in order.
//!
//! Features: `dynamodb` (default: `DynamoDbStore`) and `sqs`
//! (default: `batch`, on `aws_lambda_events`); without them the crate is the protocol and its
//! port alone, for a store of your own. `test-util`: `MemoryStore`.
//!
//! ```no_run
//! use lambda_idempotency::{fingerprint, Attempt, Completion, Config, DynamoDbStore, Fault};
//! use lambda_idempotency::{RunError, Idempotency, Run};
//! use std::time::Duration;
//!
//! # async fn example(client: aws_sdk_dynamodb::Client, request: &[u8]) {
//! let config = Config::new(Duration::from_secs(86_400)).rejecting_payload_mismatch(true);
//! let idempotency = Idempotency::with_config(DynamoDbStore::new(client, "my-table"), config);
//! // Now, in an invocation that ends at the Lambda context's `deadline()`.
//! let deadline = std::time::SystemTime::now() + Duration::from_secs(10);
//! let attempt = Attempt::before("payments#order-42", fingerprint(request), deadline);
//! let outcome = idempotency
//!     .run(&attempt, |_claim| async {
//!         // Charge the card, send the e-mail, ... once.
//!         Ok::<_, Fault>((42, Completion::Keep("receipt-42".to_owned())))
//!     })
//!     .await;
//! match outcome {
//!     Ok(Run::Ran(value)) => println!("done now: {value}"),
//!     Ok(Run::AlreadyDone { kept, .. }) => println!("done earlier: {kept:?}"),
//!     Ok(_) => println!("another attempt is on it: retry later"),
//!     Err(RunError::Store(e)) => println!("the store failed, nothing ran: {e}"),
//!     Err(RunError::PayloadMismatch) => println!("the key was used for another request"),
//!     Err(e) => println!("the operation failed or timed out, the key is free again: {e}"),
//! }
//! # }
//! ```
//!
//! [Powertools for AWS Lambda]: https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
// Documentation built without a feature links what the feature adds to the complete
// documentation on docs.rs (built with every feature), so every link resolves in every build.
#![cfg_attr(
    not(feature = "dynamodb"),
    doc = "",
    doc = "[`DynamoDbStore`]: https://docs.rs/lambda-idempotency/latest/lambda_idempotency/struct.DynamoDbStore.html",
    doc = "[`DynamoDbStore::complete_with`]: https://docs.rs/lambda-idempotency/latest/lambda_idempotency/struct.DynamoDbStore.html#method.complete_with"
)]
#![cfg_attr(
    not(feature = "sqs"),
    doc = "",
    doc = "[`batch::process_batch`]: https://docs.rs/lambda-idempotency/latest/lambda_idempotency/batch/fn.process_batch.html"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "sqs")]
pub mod batch;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod run;
mod store;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbStore, DYNAMODB_ACTIONS};
#[cfg(feature = "dynamodb")]
pub use error::classify;
pub use error::{Fault, FaultKind};
#[cfg(any(test, feature = "test-util"))]
pub use memory::{MemoryStore, Record};
pub use run::{
    fingerprint, Attempt, Completed, Completion, Config, Idempotency, NotCommitted, Run, RunError,
    LEASE_MARGIN, MAX_INVOCATION,
};
pub use store::{Claim, ClaimOutcome, IdempotencyStore, Settled, COMPLETED, IN_PROGRESS};
