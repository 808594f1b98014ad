//! inbound's integration tests, in one binary (one link per crate, not one per file).
//!
//! Modules under `local_stack` need DynamoDB Local and/or Prism: run them with
//! `scripts/local-stack.sh run -- cargo test -p inbound` (or `make test`);
//! `make check` skips every test whose name contains `local_stack`.

mod call_record_budget;
mod metrics;

mod local_stack {
    mod call_ended;
    mod call_records;
    mod customer_line;
    mod estimate;
    mod returning;
}
