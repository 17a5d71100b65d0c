//! One delivery, from the request to the queue: what arrives (`inbound`), who sent it (`auth`),
//! what it says (`normalize`), the raw record kept of it (`archive`), its proof (`attest`) and
//! its seal (`seal`), and the pipeline that runs them in order with its settings (`pipeline`,
//! `settings`). What a provider must give it is the contract in `source`.

pub mod archive;
pub mod attest;
pub mod auth;
pub mod inbound;
pub mod normalize;
pub mod pipeline;
pub mod seal;
pub mod settings;
pub mod source;
pub mod verdict;
pub mod withhold;
