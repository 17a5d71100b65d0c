//! One module per provider, as `kyc_intake::sources` has one folder per provider: what kycctl
//! does with that provider's own API or dashboard.

pub(crate) mod cashfree;
pub(crate) mod digio;
pub(crate) mod hyperverge;
