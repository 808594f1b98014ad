//! Homeline end to end's integration tests, in one binary (one link per crate, not one per file).
//!
//! Modules under `local_stack` need DynamoDB Local and/or Prism: run them with
//! `scripts/local-stack.sh run -- cargo test -p homeline-tests` (or `make test`);
//! `make check` skips every test whose name contains `local_stack`.

mod fixtures_in_sync;

mod local_stack {
    mod dev_server;
    mod fixtures;
    mod follow_ups;
    mod keywords;
    mod lambda_env;
    mod load;
    mod odd_events;
    mod readings;
    mod sam_artifacts;
    mod scenarios;
    mod screening;
}
