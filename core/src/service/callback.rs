//! Keep my place: a waiting caller who pressed 1 and confirmed a number is
//! called back in turn. [`request`] is the one place a callback task is
//! created: over REST, with `VirtualStartTime` the moment the caller's own
//! task was created, so it keeps the caller's place among the skill's tasks
//! (docs/twilio.md, "Callbacks"); then the caller's task is canceled (it
//! would ring a worker for a caller who left the queue). Once per call
//! (`Marker::CallbackRequested`). A callback that cannot be created becomes
//! a follow-up, so the caller who was promised a call is called all the same.

use serde_json::json;

use crate::app::App;
use crate::deadline::Deadline;
use crate::model::FollowUpReason;
use crate::service::call_record::{self, Step};
use crate::service::follow_up;
use crate::store::{Marker, Store, StoreError, at_most_once};
use crate::twilio::{ListedTask, NewTask, TwilioError};

/// The task attribute `type` of a callback task.
pub const CALLBACK_TYPE: &str = "callback";

/// A caller's confirmed wish to be called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackRequest<'a> {
    /// The caller's call (the one that waited in the queue).
    pub call_sid: &'a str,
    pub skill: &'a str,
    /// The number to call back (E.164, checked by `domain::inbound::callback_number`).
    pub number: &'a str,
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booked {
    /// The callback task was created (its SID).
    Task(String),
    /// A repeat of a request already booked.
    Already,
    /// No task could be created: a follow-up stands in for it.
    FollowUp,
}

/// Why the callback task was not created.
#[derive(Debug, thiserror::Error)]
enum CallbackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's task could not be looked up (nothing created yet).
    #[error("caller's task not looked up: {0}")]
    Lookup(TwilioError),
    #[error("callback task not created: {0}")]
    Create(TwilioError),
}

/// Books the callback of `request`, seen at `now` (Unix seconds).
pub async fn request<S: Store>(
    app: &App<S>,
    request: CallbackRequest<'_>,
    now: i64,
    deadline: Deadline,
) -> Booked {
    let call_sid = request.call_sid;
    let marker = Marker::CallbackRequested { call_sid };
    // Given back only when Twilio cannot have created the task, so a repeat
    // of the webhook may try again without a second task.
    let give_back = |error: &CallbackError| match error {
        CallbackError::Store(_) | CallbackError::Lookup(_) => true,
        CallbackError::Create(error) => error.is_refusal(),
    };
    let created = at_most_once(
        &app.store,
        &marker,
        give_back,
        create(app, request, now, deadline),
    )
    .await;
    let booked = match created {
        Ok(Some(task_sid)) => Booked::Task(task_sid),
        Ok(None) => {
            tracing::info!(call_sid, "callback already requested");
            return Booked::Already;
        }
        Err(error) => {
            tracing::error!(%error, call_sid, skill = request.skill, "callback task not created; a follow-up stands in");
            let new = follow_up::new(
                call_sid,
                request.number,
                request.skill,
                FollowUpReason::CallbackMissed,
                None,
            );
            if let Err(error) = follow_up::open(app, &new, deadline).await {
                tracing::error!(%error, call_sid, "callback's follow-up not opened");
            }
            Booked::FollowUp
        }
    };
    call_record::note(app, call_sid, now, &[Step::CallbackRequested], deadline).await;
    booked
}

/// Looks up the caller's task, creates the callback task in its place and
/// cancels the caller's; the callback task's SID.
async fn create<S: Store>(
    app: &App<S>,
    request: CallbackRequest<'_>,
    now: i64,
    deadline: Deadline,
) -> Result<String, CallbackError> {
    let call_sid = request.call_sid;
    let originals = app
        .twilio
        .tasks_of_call(call_sid, deadline)
        .await
        .map_err(CallbackError::Lookup)?;
    let queued_at = queued_at(&originals).unwrap_or_else(|| {
        tracing::warn!(
            call_sid,
            "caller's task not found: the callback waits from now"
        );
        now
    });
    let task = NewTask {
        workflow_sid: app.config.twilio.workflow_sid.clone(),
        attributes: json!({
            "type": CALLBACK_TYPE,
            "skill": request.skill,
            "callback_number": request.number,
            "original_call_sid": call_sid,
            "queued_at": queued_at,
        }),
        virtual_start_time: iso8601(queued_at),
    };
    let task_sid = app
        .twilio
        .create_task(&task, deadline)
        .await
        .map_err(CallbackError::Create)?;
    tracing::info!(
        call_sid,
        task_sid,
        queued_at,
        skill = request.skill,
        "callback task created"
    );
    for original in &originals {
        // Logged only: a task left routing is canceled when it is offered
        // (`service::attempt::offer`: its caller left the queue).
        match app
            .twilio
            .cancel_task(
                &original.sid,
                "the caller asked to be called back",
                deadline,
            )
            .await
        {
            Ok(settled) => {
                tracing::info!(call_sid, task_sid = %original.sid, ?settled, "caller's task canceled")
            }
            Err(error) => {
                tracing::warn!(%error, call_sid, task_sid = %original.sid, "caller's task not canceled")
            }
        }
    }
    Ok(task_sid)
}

/// When the first of `tasks` was created (Unix seconds), if Twilio says.
fn queued_at(tasks: &[ListedTask]) -> Option<i64> {
    tasks
        .iter()
        .filter_map(|task| chrono::DateTime::parse_from_rfc3339(&task.date_created).ok())
        .map(|created| created.timestamp())
        .min()
}

/// `at` (Unix seconds) as ISO 8601 in UTC, the form `VirtualStartTime` takes.
fn iso8601(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(date_created: &str) -> ListedTask {
        ListedTask {
            sid: "WT1".into(),
            date_created: date_created.into(),
        }
    }

    #[test]
    fn the_place_is_the_first_task_s_creation() {
        let tasks = [
            listed("2026-11-25T14:03:00Z"),
            listed("2026-11-25T14:00:00Z"),
            listed("garbage"),
        ];
        assert_eq!(queued_at(&tasks), Some(1_795_615_200));
        assert_eq!(iso8601(1_795_615_200), "2026-11-25T14:00:00Z");
        assert_eq!(queued_at(&[listed("")]), None);
        assert_eq!(queued_at(&[]), None);
    }
}
