//! Logging set-up shared by every binary: JSON lines (CloudWatch-friendly),
//! level from `RUST_LOG` (default `info`), and the metric lines of
//! [`crate::metrics`] printed as they are. Secrets are never passed to
//! `tracing`: log SIDs and outcomes, not tokens or bodies.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::metrics::{self, EmfLayer};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Metric lines are EMF documents, not log events: only EmfLayer writes them.
    let filter = match format!("{}=off", metrics::TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .with_filter(filter);
    // `try_init` so that tests (and a second call) do not panic.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(EmfLayer(|line: &str| println!("{line}")))
        .try_init();
}
