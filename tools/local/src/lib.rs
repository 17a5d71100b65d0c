//! The local emulators, for `make run`, the tests and the bench: start the local AWS-compatible
//! server (`server`) and create the tables, queue and bucket on it (`resources`); emulate API
//! Gateway in front of the functions (`gateway`), Lambda's Runtime API (`runtime_api`) and an SQS
//! event source mapping (`event_source`), all on one HTTP server loop (`http`); and a load on a
//! running stack, measured at the application queue (`load`). The sample events
//! are the `kyc-samples` crate and the bench is `kyc-bench`, which use these.
#![forbid(unsafe_code)]

pub mod event_source;
pub mod gateway;
pub mod generate;
pub mod http;
pub mod load;
pub mod resources;
pub mod runtime_api;
pub mod server;

/// Local defaults shared by `make run`, `make invoke` and the README.
pub mod defaults {
    pub const REGION: &str = "ap-south-1";
    pub const TABLE: &str = "kyc-webhook-idempotency";
    pub const JOURNEY_TABLE: &str = "kyc-journeys";
    pub const GATEWAY: &str = "127.0.0.1:3000";
    pub const EMULATOR_PORT: u16 = 4566;
}

/// What `make invoke` says when a sample signed with the local value is refused (401): sign with
/// the new value of the setting the serving function authenticates with.
pub fn rotation_hint(function: &kyc_intake::sources::FunctionSpec, file: &str) -> String {
    let settings = function.secret_variables().join(" or ");
    let example = function
        .secret_variables()
        .first()
        .copied()
        .unwrap_or("<SETTING>");
    format!(
        "{file} was refused (HTTP 401): after a rotation, sign with the new value of {settings}, \
         e.g. `{example}=<new> make invoke EVENT={file}` (docs/operations.md, \
         \"Rotating a secret locally\")"
    )
}

#[cfg(test)]
mod tests {
    use kyc_intake::sources::registry::FUNCTIONS;

    #[test]
    fn the_rotation_hint_names_the_serving_functions_own_settings() {
        for f in FUNCTIONS {
            let hint = super::rotation_hint(f, "events/x.json");
            for var in f.secret_variables() {
                assert!(hint.contains(var), "{}: {hint}", f.name);
            }
            for other in FUNCTIONS.iter().filter(|o| o.name != f.name) {
                for var in other.secret_variables() {
                    assert!(!hint.contains(var), "{} names {var}: {hint}", f.name);
                }
            }
        }
    }
}
