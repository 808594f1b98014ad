//! The caller's task once its call ended: completed, so it stops holding the
//! worker's voice capacity (docs/twilio.md, "Task completion"). Two paths
//! complete it, the bridge's `<Dial action>` and `task.wrapup`; whichever
//! comes second finds it settled, and either repairs the other's failure.

use crate::app::App;
use crate::deadline::Deadline;
use crate::store::Store;
use crate::twilio::TwilioError;

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
