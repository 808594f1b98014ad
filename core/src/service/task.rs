//! The caller's task once its call ended: completed, so it stops holding the
//! worker's voice capacity (docs/twilio.md, "Task completion"). Two paths
//! complete it, the bridge's `<Dial action>` and `task.wrapup`; whichever
//! comes second finds it settled, and either repairs the other's failure.

use crate::app::App;
use crate::deadline::Deadline;
use crate::store::Store;
use crate::twilio::TwilioError;

/// The bridge's `<Dial>` failed. TaskRouter may have accepted this
/// reservation all the same (the caller left the queue a moment before the
/// worker's 1): the task is then assigned with no call, and holds the
/// worker's capacity until completed, with no `task.wrapup` to come. A
/// reservation not accepted (timed out, the task moved on) is left alone:
/// its task may still be routing a caller who waits.
pub async fn settle_unbridged<S: Store>(
    app: &App<S>,
    task_sid: &str,
    reservation_sid: &str,
    deadline: Deadline,
) -> Result<(), TwilioError> {
    let status = app
        .twilio
        .reservation_status(task_sid, reservation_sid, deadline)
        .await?;
    if status != "accepted" {
        return Ok(());
    }
    complete(app, task_sid, "the bridge failed", deadline).await
}

/// Completes `task_sid` (retried inside `deadline`; already completed is success).
pub async fn complete<S: Store>(
    app: &App<S>,
    task_sid: &str,
    why: &str,
    deadline: Deadline,
) -> Result<(), TwilioError> {
    match app.twilio.complete_task(task_sid, why, deadline).await {
        Ok(settled) => {
            tracing::info!(task_sid, ?settled, why, "task completed");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, task_sid, why, "task not completed; the other completion path repairs it");
            Err(error)
        }
    }
}
