//! Homeline's core crate: everything the Lambda functions and the
//! `homeline` operator tool have in common, in layers:
//!
//! - [`model`]: the entities; depends on nothing else here.
//! - [`domain`]: pure decisions over the model, returning intents of their
//!   own; one state machine per entity ([`domain::attempt`],
//!   [`domain::worker`], [`domain::follow_up`]).
//! - [`service`]: executes the decisions: reads the [`store`], makes the one
//!   write a decision calls for, carries out its intents through [`twilio`].
//!   [`service::attempt::execute`] is the only writer of attempts,
//!   [`service::worker`] the only writer of worker profiles,
//!   [`service::follow_up`] the only writer of follow-ups.
//! - Adapters: [`store`] (DynamoDB and the in-memory fake), [`twilio`] (the
//!   REST client), [`http`] and [`signature`] (requests in), [`twiml`]
//!   (answers out), [`routes`] (every path and budget), [`config`], [`app`].
//!
//! Every function follows the same shape: parse and verify the request,
//! call a service, render what it returns.

pub mod app;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod hold_music;
pub mod http;
pub mod https;
#[cfg(test)]
mod layers;
pub mod metrics;
pub mod model;
pub mod phone;
pub mod routes;
pub mod runtime;
mod secret;
pub mod secrets;
pub mod service;
pub mod signature;
pub mod store;
pub mod telemetry;
pub mod twilio;
pub mod twiml;

pub use app::App;
pub use config::Config;
pub use deadline::Deadline;
pub use secret::Secret;
