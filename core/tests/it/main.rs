//! homeline-core's integration tests, in one binary (one link per crate, not one per file).
//!
//! Modules under `local_stack` need DynamoDB Local and/or Prism: run them with
//! `scripts/local-stack.sh run -- cargo test -p homeline-core` (or `make test`);
//! `make check` skips every test whose name contains `local_stack`.

mod env_example;
mod http_events;
mod secrets;
mod store_contract;
mod twiml_golden;

mod local_stack {
    mod sms_block;
    mod twilio_client;
}
