//! Returning callers (`STICKY_DAYS`): the only writer of who last answered
//! a caller, and the one read `inbound` makes before it enqueues them.

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::returning;
use crate::model::Attempt;
use crate::store::{LastWorkerStore, Store, now_secs};

/// Remembers that `attempt`'s worker answered its caller, for `STICKY_DAYS`
/// (nothing with `STICKY_DAYS=0` or a withheld caller). A failure is
/// logged, never fails the answer: the caller's next call is only not sticky.
pub async fn remember<S: Store>(app: &App<S>, attempt: &Attempt, deadline: Deadline) {
    let sticky_days = app.config.sticky_days;
    let (Some(last), Some(ttl_secs)) = (
        returning::remembered(attempt, now_secs(), sticky_days),
        returning::remember_secs(sticky_days),
    ) else {
        return;
    };
    let write = app.store.remember_last_worker(&last, ttl_secs);
    match tokio::time::timeout(deadline.remaining(), write).await {
        Ok(Ok(written)) => {
            tracing::info!(reservation_sid = %attempt.reservation_sid, ?written, "caller's last worker remembered");
        }
        Ok(Err(error)) => {
            tracing::warn!(reservation_sid = %attempt.reservation_sid, %error, "caller's last worker not remembered");
        }
        Err(_) => {
            tracing::warn!(reservation_sid = %attempt.reservation_sid, "remembering the caller's last worker timed out");
        }
    }
}

/// The worker the task of `caller` (Twilio's `From`), queued for `skill`,
/// should name as their last: one read, bounded by `deadline`; a failed or
/// slow read names nobody (the caller is queued like anyone).
pub async fn previous_worker<S: LastWorkerStore>(
    store: &S,
    sticky_days: u32,
    caller: Option<&str>,
    skill: &str,
    deadline: Deadline,
) -> Option<String> {
    returning::remember_secs(sticky_days)?;
    let caller = caller.filter(|c| returning::is_number(c))?;
    let last = match tokio::time::timeout(deadline.remaining(), store.last_worker(caller)).await {
        Ok(Ok(last)) => last,
        Ok(Err(error)) => {
            tracing::warn!(%error, "caller's last worker unreadable; queued like anyone");
            None
        }
        Err(_) => {
            tracing::warn!("caller's last worker read timed out; queued like anyone");
            None
        }
    };
    returning::previous_worker(last.as_ref(), skill, now_secs(), sticky_days)
}
