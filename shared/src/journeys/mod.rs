//! After the queue: the worker that keeps each journey's state (`worker`) and its timeline
//! (`timeline`), publishes every accepted event to the journey stream (`stream`), the senders it
//! believes (`senders`), the events a journey starts, ends and
//! stalls with (`completeness`), and the sweeper that reconciles or reports the journeys a
//! missing webhook left hanging (`sweeper`); in-memory fakes of its ports for the worker's tests
//! (`memory`).

pub mod bounds;
pub mod completeness;
#[cfg(test)]
mod memory;
pub mod senders;
pub mod stream;
pub mod sweeper;
pub mod timeline;
pub mod update;
pub mod worker;
