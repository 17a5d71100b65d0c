//! One delivery, from the request to the queue: what arrives (`inbound`), who sent it (`auth`),
//! what it says (`normalize`), the raw record kept of it (`archive`) and its proof (`attest`), and the pipeline that runs
//! them in order with its settings (`pipeline`, `settings`).

pub mod archive;
pub mod attest;
pub mod auth;
pub mod inbound;
pub mod normalize;
pub mod pipeline;
pub mod seal;
pub mod settings;
pub mod withhold;
