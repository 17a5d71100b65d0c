//! The journey table as DynamoDB holds it: its attribute names and its sparse index of open
//! journeys by due time. The worker's, the sweeper's and the readers' adapters, the local stack
//! and the template's drift tests all name them from here.

/// Attribute names of a journey item (docs/consuming.md, with `time_ms`: the event time as epoch ms, so
/// times with different offsets compare correctly).
pub mod attr {
    pub const PK: &str = "pk";
    pub const TYPE: &str = "type";
    pub const EVENT_ID: &str = "event_id";
    pub const TIME: &str = "time";
    pub const TIME_MS: &str = "time_ms";
    pub const PROVIDER_STATUS: &str = "provider_status";
    pub const PROVIDER_SUB_STATUS: &str = "provider_sub_status";
    pub const UPDATED_AT: &str = "updated_at";
    pub const EVENT_COUNT: &str = "event_count";
    /// Present (with `DUE_AT`) only while the journey is open and not yet reported stalled: the
    /// partition key of the sparse `DUE_INDEX`.
    pub const SWEEP_SHARD: &str = "sweep_shard";
    /// Epoch ms: when the open journey is stalled unless an event moves it; `DUE_INDEX`'s sort key.
    pub const DUE_AT: &str = "due_at";
    pub const OPENED_AT: &str = "opened_at";
    pub const CLOSED_AT: &str = "closed_at";
    pub const STALLED_AT: &str = "stalled_at";
    pub const RECONCILED_AT: &str = "reconciled_at";
    /// N: one more with every worker write, so a write holds only on the journey it read.
    pub const VERSION: &str = "version";
}

/// The journey table's sparse index of open journeys by due time: only items with both
/// `sweep_shard` and `due_at` are in it, so closed journeys cost the sweeper nothing.
pub const DUE_INDEX: &str = "due";
/// The attributes `DUE_INDEX` carries besides its keys and `pk`: what the sweeper reads.
pub const DUE_PROJECTION: [&str; 6] = [
    attr::TYPE,
    attr::EVENT_ID,
    attr::TIME,
    attr::PROVIDER_STATUS,
    attr::PROVIDER_SUB_STATUS,
    attr::OPENED_AT,
];
