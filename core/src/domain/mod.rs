//! Decisions as pure functions: each takes the parsed callback and the
//! current state and returns what to do. Effects happen at the edge (the
//! function crates); nothing here does I/O.

pub mod attempt;
pub mod events;
pub mod hours;
pub mod inbound;
pub mod intake;
