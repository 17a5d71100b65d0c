//! Secret settings' refresh from Secrets Manager (`manager`). The values themselves, which never
//! print and compare in constant time, are configuration: `config::secret`, also here as
//! `secrets::secret`.

pub mod manager;
pub use crate::config::secret;
