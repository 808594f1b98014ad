//! Fresh tables on DynamoDB Local (started by `scripts/local-stack.sh`).
//!
//! Every call creates its own table, so tests never see each other's items.
//! Tables live until DynamoDB Local (in memory) stops.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use homeline_core::store::DynamoStore;
use homeline_core::store::dynamo::create_table;

/// Where the local stack exports DynamoDB Local's URL.
pub const DYNAMODB_URL_VAR: &str = "HOMELINE_TEST_DYNAMODB_URL";

/// DynamoDB Local's URL; panics with how to start it when the stack is not up.
pub fn dynamodb_url() -> String {
    match std::env::var(DYNAMODB_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{DYNAMODB_URL_VAR} is not set: this test needs DynamoDB Local. \
             Run it with `scripts/local-stack.sh run -- cargo test ...` or `make test`."
        ),
    }
}

/// A name no other test (in this or a concurrent process) uses.
fn unique_table_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("homeline-test-{}-{n}-{nanos:09}", std::process::id())
}

/// A store on a new, empty table of the real layout (TTL on).
pub async fn fresh_store() -> DynamoStore {
    let store = DynamoStore::local(&dynamodb_url(), unique_table_name());
    if let Err(e) = create_table(store.client(), store.table()).await {
        panic!("creating table {} on DynamoDB Local: {e}", store.table());
    }
    store
}
