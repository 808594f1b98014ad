//! Homeline's core crate: everything the six Lambda functions and the
//! `homeline` operator tool have in common.
//!
//! Every function follows the same shape:
//! `parse -> verify signature -> decide (pure, in `domain`) -> effects -> respond`.

pub mod app;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod http;
pub mod leg;
pub mod metrics;
pub mod miss;
pub mod model;
pub mod phone;
pub mod routes;
pub mod secret;
pub mod secrets;
pub mod signature;
pub mod store;
pub mod telemetry;
pub mod twilio;
pub mod twiml;

pub use app::App;
pub use config::Config;
pub use deadline::Deadline;
pub use secret::Secret;
