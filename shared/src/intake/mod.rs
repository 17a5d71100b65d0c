//! One delivery, from the request to the queue: what arrives (`inbound`), who sent it (`auth`),
//! what it says (`normalize`), the raw record kept of it (`archive`), its proof (`attest`) and
//! its seal (`seal`), what it came to and the HTTP answer (`outcome`), the events queue's message and port (`queue`), and the pipeline that runs them in order with its settings (`pipeline`,
//! `settings`). What a provider must give it is the contract in `source`.

pub mod archive;
pub mod attest;
pub mod auth;
pub mod inbound;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod normalize;
pub mod outcome;
pub mod pipeline;
pub mod queue;
pub mod seal;
pub mod settings;
pub mod source;
pub mod verdict;
pub mod withhold;
