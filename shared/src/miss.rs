//! A worker failed to take an offered call (machine, busy, no answer, no key,
//! reservation timeout). Counted on the worker's profile; at the configured
//! threshold the worker is taken out of rotation (Unavailable) and told once
//! by SMS how to come back.

use crate::app::App;
use crate::deadline::Deadline;
use crate::store::{Attempt, Store};

#[derive(Debug, thiserror::Error)]
pub enum MissError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Twilio(#[from] crate::twilio::TwilioError),
}

/// Records that `attempt`'s worker missed the call for `reason`
/// (`machine_start`, `busy`, `no-answer`, `no-key`, `timeout`, ...).
/// Idempotent per attempt: a second call for the same reservation does nothing.
pub async fn record_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let _ = (app, attempt, reason, deadline);
    todo!("miss")
}
