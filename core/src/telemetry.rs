//! Logging set-up shared by every binary: JSON lines (CloudWatch-friendly),
//! levels from `RUST_LOG` (`info`, or `target=level` pairs; default `info`),
//! and the metric lines of
//! [`crate::metrics`] printed as they are. Secrets are never passed to
//! `tracing`: log SIDs and outcomes, not tokens or bodies.

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::metrics::{self, EmfLayer};

pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
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

/// The levels `RUST_LOG` sets (`info` when it is unset or unreadable).
/// `Targets`, not `EnvFilter`: the same level and `target=level` directives
/// without span and field filters, whose regular expressions every binary
/// carried.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
        // Metric lines are EMF documents, not log events: only EmfLayer writes them.
        .with_target(metrics::TARGET, LevelFilter::OFF)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_sets_the_levels_and_metrics_never_log() {
        let info = filter(None);
        assert!(info.would_enable("inbound", &Level::INFO));
        assert!(!info.would_enable("inbound", &Level::DEBUG));
        assert!(!info.would_enable(metrics::TARGET, &Level::ERROR));
        assert_eq!(filter(Some("inbound=[loud]")), info);

        let debug = filter(Some("homeline_core=debug,warn"));
        assert!(debug.would_enable("homeline_core::store", &Level::DEBUG));
        assert!(!debug.would_enable("inbound", &Level::INFO));
        assert!(debug.would_enable("inbound", &Level::WARN));
        assert!(!debug.would_enable(metrics::TARGET, &Level::ERROR));
    }
}
