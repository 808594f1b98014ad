//! Decisions as pure functions: each takes the parsed callback and the
//! current state and returns what to do, as intents of its own. The domain
//! depends only on the model; `service` carries the intents out (`layers.rs`
//! holds every file to that).

pub mod answers;
pub mod attempt;
pub mod coverage;
pub mod estimate;
pub mod events;
pub mod follow_up;
pub mod hours;
pub mod inbound;
pub mod intake;
pub mod pin;
pub mod report;
pub mod returning;
pub mod screening;
pub mod worker;
pub mod zone;
mod zones;
