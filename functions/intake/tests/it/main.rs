//! intake's integration tests, in one binary (one link per crate, not one per file).
//!
//! Modules under `local_stack` need DynamoDB Local and/or Prism: run them with
//! `scripts/local-stack.sh run -- cargo test -p intake` (or `make test`);
//! `make check` skips every test whose name contains `local_stack`.

mod admin_reports;
mod common;
mod memory;

mod local_stack {
    mod acceptance;
    mod follow_ups;
    mod keypad;
}
