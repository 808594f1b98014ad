//! Logging set-up shared by every binary: JSON lines (CloudWatch-friendly),
//! level from `RUST_LOG` (default `info`). Secrets are never passed to
//! `tracing`: log SIDs and outcomes, not tokens or bodies.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // `try_init` so that tests (and a second call) do not panic.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
