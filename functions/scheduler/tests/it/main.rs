//! scheduler's integration tests, in one binary.
//!
//! Modules under `local_stack` need DynamoDB Local and Prism: run them with
//! `scripts/local-stack.sh run -- cargo test -p scheduler` (or `make test`).

mod local_stack {
    mod cooldown;
    mod coverage;
    mod digest;
    mod duty;
    mod escalation;
}
