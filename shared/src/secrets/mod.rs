//! Secret values that never print and compare in constant time (`secret`), and their refresh
//! from Secrets Manager (`manager`).

pub mod manager;
pub mod secret;
