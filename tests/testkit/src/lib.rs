//! Test support shared by every crate's integration tests: a complete test
//! configuration, signed API Gateway events, the Twilio fake at the HTTP
//! boundary (and the HTTP layer every Twilio stand-in shares), and fresh
//! tables on DynamoDB Local.

pub mod dynamo;
pub mod events;
pub mod fixtures;
pub mod metrics;
pub mod provisioning;
pub mod response_url;
pub mod runtime_api;
pub mod secrets_manager;
pub mod spec;
pub mod twilio_fake;
pub mod twilio_http;

use std::collections::HashMap;

use homeline_core::Config;

/// The test auth token (the official signature vectors use it too: docs/twilio.md,
/// "Request signatures").
pub const AUTH_TOKEN: &str = "12345";
/// `PUBLIC_BASE_URL` of tests and of the events/ fixtures.
pub const PUBLIC_BASE_URL: &str = "https://homeline.example.com";

/// A fake SID: `prefix` + 32 hex digits from `n` (Prism checks the shape).
pub fn sid(prefix: &str, n: u64) -> String {
    format!("{prefix}{n:032x}")
}

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const WORKSPACE_SID: &str = "WS00000000000000000000000000000002";
pub const WORKFLOW_SID: &str = "WW00000000000000000000000000000003";
pub const ACTIVITY_AVAILABLE: &str = "WA0000000000000000000000000000000a";
pub const ACTIVITY_OFFLINE: &str = "WA0000000000000000000000000000000b";
pub const ACTIVITY_UNAVAILABLE: &str = "WA0000000000000000000000000000000c";
pub const NO_WORKER_QUEUE_SID: &str = "WQ0000000000000000000000000000000f";
pub const CALLER_ID: &str = "+15005550006";

/// Every required variable, with fake SIDs and the test token; skills
/// `sales,support`; Twilio pointed at an unroutable placeholder until a test
/// points it at its fake.
pub fn test_env() -> HashMap<String, String> {
    [
        ("TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("TWILIO_WORKSPACE_SID", WORKSPACE_SID),
        ("TWILIO_WORKFLOW_SID", WORKFLOW_SID),
        ("TWILIO_ACTIVITY_AVAILABLE_SID", ACTIVITY_AVAILABLE),
        ("TWILIO_ACTIVITY_OFFLINE_SID", ACTIVITY_OFFLINE),
        ("TWILIO_ACTIVITY_UNAVAILABLE_SID", ACTIVITY_UNAVAILABLE),
        ("NO_WORKER_QUEUE_SID", NO_WORKER_QUEUE_SID),
        ("TWILIO_CALLER_ID", CALLER_ID),
        ("SKILLS", "sales,support"),
        ("TABLE_NAME", "homeline-test"),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        ("TWILIO_API_URL", "http://127.0.0.1:9"),
        ("TWILIO_TASKROUTER_URL", "http://127.0.0.1:9"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The test configuration with `overrides` applied (an empty value unsets).
pub fn test_config(overrides: &[(&str, &str)]) -> Config {
    let mut env = test_env();
    for (k, v) in overrides {
        env.insert((*k).to_string(), (*v).to_string());
    }
    match Config::from_lookup(|k| env.get(k).cloned()) {
        Ok(config) => config,
        Err(e) => panic!("test configuration is invalid: {e}"),
    }
}
