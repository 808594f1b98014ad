//! The metric lines code under test emits, through the functions' own
//! [`EmfLayer`], parsed as JSON.

use std::sync::{Arc, Mutex};

use homeline_core::metrics::EmfLayer;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

/// Runs `future` on this thread with a subscriber that keeps every metric
/// line; returns its output and the lines (tests run on tokio's
/// current-thread runtime, so the handler's events reach this subscriber).
pub async fn metric_lines<F: Future>(future: F) -> (F::Output, Vec<Value>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let subscriber = tracing_subscriber::registry().with(EmfLayer(move |line: &str| {
        sink.lock().expect("lines").push(line.to_string());
    }));
    let guard = tracing::subscriber::set_default(subscriber);
    let output = future.await;
    drop(guard);
    let lines = lines
        .lock()
        .expect("lines")
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    (output, lines)
}

/// The metric names of `lines`, in order (`CallsArrived`, `TimeToAnswer`, ...).
pub fn names(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|line| {
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["Name"].as_str().map(str::to_string))
        })
        .collect()
}
