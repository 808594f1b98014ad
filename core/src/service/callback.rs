//! Keep my place: a waiting caller who pressed 1 and confirmed a number is
//! called back in turn. [`request`] is the one place a callback task is
//! created: over REST, with `VirtualStartTime` the moment the caller's own
//! task was created, so it keeps the caller's place among the skill's tasks
//! (docs/twilio.md, "Callbacks"); then the caller's task is canceled (it
//! would ring a worker for a caller who left the queue). Once per call
//! (`Marker::CallbackRequested`). A callback that cannot be created becomes
//! a follow-up, so the caller who was promised a call is called all the same.

use serde_json::{Value, json};

use crate::app::App;
use crate::deadline::Deadline;
use crate::model::{Attempt, Callback, FollowUpReason, TaskKind};
use crate::service::call_record::{self, Step};
use crate::service::follow_up;
use crate::store::{Marker, Store, StoreError, at_most_once};
use crate::twilio::{ListedTask, NewTask, Settled, TwilioError};

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
            if let Err(error) =
                not_reached(app, call_sid, request.number, request.skill, deadline).await
            {
                tracing::error!(%error, call_sid, "callback's follow-up not opened");
            }
            Booked::FollowUp
        }
    };
    let step = Step::CallbackRequested {
        number: request.number,
    };
    call_record::note(app, call_sid, now, &[step], deadline).await;
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
        attributes: attributes(
            &Callback {
                number: request.number.to_string(),
                original_call_sid: call_sid.to_string(),
                queued_at,
                try_no: 1,
            },
            request.skill,
        ),
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

/// The worker pressed 1 for a callback: its reservation is accepted over
/// REST (a `<Dial><Number>` accepts nothing, unlike `<Dial><Queue>`), so
/// the task is theirs before the customer is dialled. `false` when it is
/// no longer pending (timed out, canceled) or Twilio failed: then nobody
/// dials, and TaskRouter offers the task again.
pub async fn accept<S: Store>(app: &App<S>, attempt: &Attempt, deadline: Deadline) -> bool {
    let (task_sid, reservation_sid) = (&attempt.task_sid, &attempt.reservation_sid);
    match app
        .twilio
        .accept_reservation(task_sid, reservation_sid, deadline)
        .await
    {
        Ok(Settled::Done) => {
            tracing::info!(task_sid, reservation_sid, worker = %attempt.phone, "callback accepted: dialling the customer");
            true
        }
        Ok(Settled::Already) => {
            tracing::warn!(
                task_sid,
                reservation_sid,
                "callback's reservation no longer pending: not dialled"
            );
            false
        }
        Err(error) => {
            tracing::warn!(%error, task_sid, reservation_sid, "callback's reservation not accepted: not dialled");
            false
        }
    }
}

/// What the callback's `<Dial>` came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialed {
    /// The customer answered.
    Reached,
    /// Not answered; tried again after `CALLBACK_RETRY_MINS`.
    Retry,
    /// Not answered on the retry: a follow-up.
    FollowUp,
}

/// The `<Dial action>` of `attempt`, a callback's: the task is completed
/// either way (the worker is free again); a customer not reached is noted
/// on their call's record for the `scheduler`'s retry ([`retry_due`]), or
/// after the retry becomes a follow-up. `at`: when the customer answered
/// (Unix seconds), or when the Dial ended unanswered.
pub async fn dialed<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    callback: &Callback,
    reached: bool,
    at: i64,
    deadline: Deadline,
) -> Result<Dialed, StoreError> {
    let task_sid = attempt.task_sid.as_str();
    let why = if reached {
        "the customer was called back"
    } else {
        "the customer did not answer the callback"
    };
    // Failure is logged; `task.wrapup` completes it too.
    let _ = super::task::complete(app, task_sid, why, deadline).await;
    let call_sid = callback.original_call_sid.as_str();
    let dialed = match (reached, callback.try_no) {
        (true, _) => Dialed::Reached,
        (false, 1) => Dialed::Retry,
        (false, _) => Dialed::FollowUp,
    };
    tracing::info!(
        task_sid,
        call_sid,
        try_no = callback.try_no,
        ?dialed,
        "callback dialled"
    );
    match dialed {
        Dialed::Reached => {
            let step = Step::Answered {
                by: &attempt.phone,
                reservation: &attempt.reservation_sid,
            };
            call_record::note(app, call_sid, at, &[step], deadline).await;
        }
        Dialed::Retry => {
            call_record::note(app, call_sid, at, &[Step::CallbackMissed], deadline).await;
        }
        Dialed::FollowUp => {
            not_reached(app, call_sid, &callback.number, &attempt.skill, deadline).await?;
        }
    }
    Ok(dialed)
}

/// TaskRouter canceled a task (`TaskAttributes` as the event carries them):
/// a callback nobody took before its TTL becomes a follow-up, so the caller
/// who was promised a call is not forgotten. Other tasks: nothing.
pub async fn canceled<S: Store>(
    app: &App<S>,
    task_sid: &str,
    task: &Value,
    deadline: Deadline,
) -> Result<(), StoreError> {
    let TaskKind::Callback(callback) = kind_of(task) else {
        return Ok(());
    };
    let skill = task
        .get("skill")
        .and_then(Value::as_str)
        .unwrap_or_default();
    tracing::warn!(task_sid, call_sid = %callback.original_call_sid, "callback canceled before anyone took it; a follow-up stands in");
    let call_sid = &callback.original_call_sid;
    not_reached(app, call_sid, &callback.number, skill, deadline).await
}

/// The caller of `call_sid`, promised a call on `number` for `skill` and
/// not reached, becomes a follow-up (announced like the others).
async fn not_reached<S: Store>(
    app: &App<S>,
    call_sid: &str,
    number: &str,
    skill: &str,
    deadline: Deadline,
) -> Result<(), StoreError> {
    let reason = FollowUpReason::CallbackMissed;
    let new = follow_up::new(call_sid, number, skill, reason, None);
    follow_up::open(app, &new, deadline).await.map(drop)
}

/// What one run of [`retry_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryRun {
    /// Callback tasks created again.
    pub retried: usize,
    /// Retries Twilio refused: follow-ups instead.
    pub failed: usize,
}

/// The `scheduler`'s job: each caller whose first callback missed
/// `CALLBACK_RETRY_MINS` or more before `now` gets a second callback task,
/// once (`Marker::CallbackRetried`), in the place the first one had.
pub async fn retry_due<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<RetryRun, StoreError> {
    let config = &app.config;
    let retry_after = i64::try_from(config.callback_retry.as_secs()).unwrap_or(i64::MAX);
    let mut records = Vec::new();
    // A miss late yesterday (local) is due today.
    for day in call_record::days_until(config.time_zone, now, 2) {
        records.extend(app.store.list_call_records(&day).await?);
    }
    let mut run = RetryRun::default();
    for record in &records {
        let (Some(missed_at), Some(number), Some(skill)) = (
            record.callback_missed_at,
            record.callback_number.as_deref(),
            record.skill.as_deref(),
        ) else {
            continue;
        };
        if now.saturating_sub(missed_at) < retry_after {
            continue;
        }
        let call_sid = record.call_sid.as_str();
        let marker = Marker::CallbackRetried { call_sid };
        let callback = Callback {
            number: number.to_string(),
            original_call_sid: call_sid.to_string(),
            queued_at: record
                .queued_at
                .or(record.callback_requested_at)
                .unwrap_or(missed_at),
            try_no: 2,
        };
        let task = NewTask {
            workflow_sid: config.twilio.workflow_sid.clone(),
            attributes: attributes(&callback, skill),
            virtual_start_time: iso8601(callback.queued_at),
        };
        // Never given back: a retry that may have been created is not sent twice.
        let created = at_most_once(&app.store, &marker, |_| false, async {
            app.twilio
                .create_task(&task, deadline)
                .await
                .map_err(CallbackError::Create)
        })
        .await;
        match created {
            Ok(Some(task_sid)) => {
                tracing::info!(call_sid, task_sid, "callback retried");
                run.retried += 1;
            }
            Ok(None) => {}
            Err(CallbackError::Store(error)) => return Err(error),
            Err(error) => {
                tracing::error!(%error, call_sid, "callback retry not created; a follow-up stands in");
                run.failed += 1;
                not_reached(app, call_sid, number, skill, deadline).await?;
            }
        }
    }
    Ok(run)
}

/// A callback task's attributes: its skill routes it; the rest comes back
/// in the assignment callback ([`kind_of`]).
fn attributes(callback: &Callback, skill: &str) -> Value {
    json!({
        "type": CALLBACK_TYPE,
        "skill": skill,
        "callback_number": callback.number,
        "original_call_sid": callback.original_call_sid,
        "queued_at": callback.queued_at,
        "try": callback.try_no,
    })
}

/// What a task's attributes ask: a callback when [`attributes`] wrote
/// them (complete), else a waiting caller.
pub fn kind_of(task: &Value) -> TaskKind {
    if task.get("type").and_then(Value::as_str) != Some(CALLBACK_TYPE) {
        return TaskKind::Call;
    }
    let text = |key: &str| task.get(key).and_then(Value::as_str).map(str::to_string);
    let callback = (|| {
        Some(Callback {
            number: text("callback_number")?,
            original_call_sid: text("original_call_sid")?,
            queued_at: task.get("queued_at")?.as_i64()?,
            try_no: u32::try_from(task.get("try")?.as_u64()?).ok()?,
        })
    })();
    match callback {
        Some(callback) => TaskKind::Callback(callback),
        None => {
            tracing::warn!(%task, "callback task without its attributes: treated as a call");
            TaskKind::Call
        }
    }
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
