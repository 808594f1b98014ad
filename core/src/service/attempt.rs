//! The one writer of attempts: read the attempt, let [`attempt::decide`]
//! choose, make its one conditional write (create, transition), and only
//! when that write applied carry out the intents (reject, stop the leg,
//! redirect, miss, answered). Every function that changes an attempt comes
//! through [`execute`].

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::worker::{self, MissError};
use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::attempt::{self, AttemptEvent, Intent, LegEvent, NEW, Reply};
use crate::http::{Rejection, TwilioRequest};
use crate::model::{Activity, Attempt, AttemptState};
use crate::routes::paths;
use crate::store::{Round, Store, StoreError, read_modify_write};
use crate::twilio::{CallUpdate, TwilioError};

/// The attempt a leg webhook is about, from its signed query, and the leg's
/// call SID from the form (every call webhook carries `CallSid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegCallback {
    pub task_sid: String,
    pub reservation_sid: String,
    pub call_sid: Option<String>,
}

impl LegCallback {
    pub fn from_request(request: &TwilioRequest) -> Result<Self, Rejection> {
        Ok(Self {
            task_sid: request.require_query("TaskSid")?.to_string(),
            reservation_sid: request.require_query("ReservationSid")?.to_string(),
            call_sid: request
                .param("CallSid")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }
}

/// An intent that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum IntentError {
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error(transparent)]
    Miss(#[from] MissError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the leg's call SID is unknown")]
    NoCallSid,
}

/// What executing one event did.
#[derive(Debug)]
pub struct Executed {
    /// What the webhook replies with.
    pub reply: Reply,
    /// The attempt as it now stands (`None`: there is none).
    pub attempt: Option<Attempt>,
    /// The state the decision was made on (`None`: no attempt yet).
    pub before: Option<AttemptState>,
    /// The decision's write applied (so its intents were carried out).
    pub applied: bool,
    /// A miss rejected in the assignment answer: the activity to reject with.
    pub reject_with: Option<Activity>,
    /// Intents that failed (each is logged with the SIDs).
    pub failures: Vec<(Intent, IntentError)>,
}

/// Decides `event` for the attempt and carries out the decision. A lost
/// conditional write means another writer decided first: read again and
/// decide again (the attempt is then settled, so this ends quickly).
/// `call_sid` is the leg's, when the event comes from it: a callback may
/// beat the call SID's own write, so it is kept with the decision.
pub async fn execute<S: Store>(
    app: &App<S>,
    task_sid: &str,
    reservation_sid: &str,
    call_sid: Option<&str>,
    event: &AttemptEvent,
    deadline: Deadline,
) -> Result<Executed, StoreError> {
    let what = format!("attempt {reservation_sid}");
    let (step, before, attempt, applied) = read_modify_write(&what, || async {
        let current = app.store.get_attempt(task_sid, reservation_sid).await?;
        let step = attempt::decide(app.config.answer_mode, current.as_ref(), event);
        let before = current.as_ref().map(|a| a.state);
        let Some(transition) = &step.transition else {
            return Ok(Round::Done((step, before, current, false)));
        };
        let write = match (&current, event) {
            (None, AttemptEvent::Offered(new)) if transition.from == NEW => {
                app.store.create_attempt(new).await?
            }
            (Some(stored), _) => {
                let mut change = transition.change.clone();
                if stored.call_sid.is_none() && change.call_sid.is_none() {
                    change.call_sid = call_sid.map(str::to_string);
                }
                app.store
                    .transition(
                        task_sid,
                        reservation_sid,
                        transition.from,
                        transition.to,
                        &change,
                    )
                    .await?
            }
            // `decide` creates only from an offer.
            (None, _) => return Ok(Round::Done((step, before, current, false))),
        };
        if !write.applied() {
            tracing::info!(reservation_sid, ?event, "lost the race; deciding again");
            return Ok(Round::Lost);
        }
        // Read back what was written (strongly consistent) rather than
        // re-applying the change here.
        let stored = app.store.get_attempt(task_sid, reservation_sid).await?;
        Ok(Round::Done((step, before, stored, true)))
    })
    .await?;
    let mut executed = Executed {
        reply: step.reply,
        attempt: attempt.clone(),
        before,
        applied,
        reject_with: None,
        failures: Vec::new(),
    };
    let (Some(attempt), true) = (attempt, applied) else {
        return Ok(executed);
    };
    tracing::info!(
        reservation_sid,
        task_sid,
        call_sid = ?attempt.call_sid,
        from = before.map_or("none", AttemptState::as_str),
        to = attempt.state.as_str(),
        outcome = ?attempt.outcome,
        ?event,
        "attempt transition"
    );
    for intent in step.intents {
        match carry_out(app, &attempt, &intent, deadline).await {
            Ok(reject_with) => executed.reject_with = executed.reject_with.or(reject_with),
            Err(error) => {
                tracing::error!(
                    %error,
                    reservation_sid = %attempt.reservation_sid,
                    task_sid = %attempt.task_sid,
                    call_sid = ?attempt.call_sid,
                    ?intent,
                    "intent failed"
                );
                executed.failures.push((intent, error));
            }
        }
    }
    Ok(executed)
}

/// One intent. `Some(activity)`: the reservation is to be rejected in the
/// answer with that activity.
async fn carry_out<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    intent: &Intent,
    deadline: Deadline,
) -> Result<Option<Activity>, IntentError> {
    let leg = |update: CallUpdate| async move {
        match &attempt.call_sid {
            Some(call_sid) => {
                let settled = app.twilio.update_call(call_sid, &update, deadline).await?;
                tracing::info!(reservation_sid = %attempt.reservation_sid, %call_sid, ?update, ?settled, "worker leg updated");
                Ok(None)
            }
            None => Err(IntentError::NoCallSid),
        }
    };
    match intent {
        Intent::RejectReservation { activity } => {
            let settled = app
                .twilio
                .reject_reservation(
                    &attempt.task_sid,
                    &attempt.reservation_sid,
                    super::activity_sid(&app.config.activities, *activity),
                    deadline,
                )
                .await?;
            tracing::info!(reservation_sid = %attempt.reservation_sid, ?settled, "reservation rejected");
            Ok(None)
        }
        Intent::StopLeg(stop) if attempt.call_sid.is_none() => {
            // The call is still being placed; its placement stops it.
            tracing::info!(reservation_sid = %attempt.reservation_sid, ?stop, "attempt closed before its call existed");
            Ok(None)
        }
        Intent::StopLeg(stop) => leg(super::call_update(*stop)).await,
        Intent::RedirectLegToBridge => {
            let bridge = attempt::leg_url(
                paths::LEG_BRIDGE,
                &attempt.task_sid,
                &attempt.reservation_sid,
            );
            leg(CallUpdate::Redirect(app.config.url(&bridge))).await
        }
        Intent::RecordMiss(reason) => {
            worker::record_miss(app, attempt, reason, deadline).await?;
            Ok(None)
        }
        Intent::RejectInAnswer(reason) => Ok(Some(
            worker::miss_in_answer(app, attempt, reason, deadline).await,
        )),
        Intent::RecordAnswered => {
            worker::record_answered(app, attempt).await?;
            Ok(None)
        }
    }
}

/// A callback of the worker leg.
pub async fn leg_event<S: Store>(
    app: &App<S>,
    leg: &LegCallback,
    event: LegEvent,
    deadline: Deadline,
) -> Result<Executed, StoreError> {
    execute(
        app,
        &leg.task_sid,
        &leg.reservation_sid,
        leg.call_sid.as_deref(),
        &event.into(),
        deadline,
    )
    .await
}

/// Why closing an attempt must be tried again.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(#[from] TwilioError),
}

/// The task or the reservation ended: an open attempt is closed and its leg
/// stopped, so nobody answers into silence. If stopping the leg failed in a
/// way a retry could fix, the attempt is reopened and the error returned, so
/// a redelivered event can try again. Returns the attempt as it now stands.
pub async fn end<S: Store>(
    app: &App<S>,
    task_sid: &str,
    reservation_sid: &str,
    reason: &str,
    deadline: Deadline,
) -> Result<Option<Attempt>, EndError> {
    let ended = AttemptEvent::Ended {
        reason: reason.to_string(),
    };
    let mut executed = execute(app, task_sid, reservation_sid, None, &ended, deadline).await?;
    let retryable = executed
        .failures
        .drain(..)
        .find_map(|(_, error)| match error {
            IntentError::Twilio(error) if error.is_retryable() => Some(error),
            _ => None,
        });
    let (Some(error), Some(before)) = (retryable, executed.before) else {
        return Ok(executed.attempt);
    };
    let reopen = AttemptEvent::Reopen { to: before };
    let undo = execute(app, task_sid, reservation_sid, None, &reopen, deadline).await?;
    tracing::warn!(
        task_sid,
        reservation_sid,
        reopened = undo.applied,
        "worker leg not stopped; attempt reopened for a retry"
    );
    Err(error.into())
}

/// 503 for a state store failure: Twilio logs it; nothing was decided.
pub fn store_failure(error: &StoreError, leg: &LegCallback) -> Response<Body> {
    tracing::error!(%error, reservation_sid = %leg.reservation_sid, task_sid = %leg.task_sid,
        "state store failed; nothing decided");
    let mut response = Response::new(Body::Text("state store unavailable".into()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}
