//! The one writer of attempts: read the attempt, let [`attempt::decide`]
//! choose, make its one conditional write (create, transition), and only
//! when that write applied carry out the intents (reject, stop the leg,
//! redirect, miss, answered). Every function that changes an attempt comes
//! through [`execute`].

use super::call_record::{self, Step};
use super::callback::{self, Dialed};
use super::task;
use super::worker::{self, MissError};
use crate::app::App;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::attempt::{
    self, AttemptEvent, Customer, Intent, LegCallback, LegEvent, NEW, Reply,
};
use crate::model::{Activity, AnswerMode, Attempt, AttemptState, TaskKind};
use crate::routes::paths;
use crate::store::{Round, Store, StoreError, now_secs, read_modify_write};
use crate::twilio::{CallUpdate, MachineDetection, NewCall, TwilioError};

/// The part of the assignment budget the Calls create may use (retries
/// included), so a slow Twilio still leaves time to answer with a reject
/// instruction.
pub const CALL_CREATE_BUDGET: std::time::Duration = std::time::Duration::from_millis(2500);

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
        // The record after the miss: the count and the answer come first.
        Intent::RecordMiss(reason) => {
            let counted = worker::record_miss(app, attempt, reason, deadline).await;
            note(app, attempt, Step::Missed { by: &attempt.phone }, deadline).await;
            counted?;
            Ok(None)
        }
        Intent::RejectInAnswer(reason) => {
            let activity = worker::miss_in_answer(app, attempt, reason, deadline).await;
            note(app, attempt, Step::Missed { by: &attempt.phone }, deadline).await;
            Ok(Some(activity))
        }
        Intent::RecordAnswered => {
            let answered = Step::Answered {
                by: &attempt.phone,
                reservation: &attempt.reservation_sid,
            };
            note(app, attempt, answered, deadline).await;
            tokio::join!(
                super::returning::remember(app, attempt, deadline),
                super::estimate::note_answer(&app.store, attempt, deadline)
            );
            worker::record_answered(app, attempt).await?;
            Ok(None)
        }
    }
}

/// How the worker leg's bridge ended, by its `<Dial action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEnd {
    /// A callback's `<Dial><Number>` to the customer.
    Callback(Dialed),
    /// The `<Dial><Queue>` to the caller: `reached` when they talked.
    Queue { reached: bool },
}

/// The `<Dial action>` on the worker leg of `task_sid`'s `reservation_sid`
/// (`reached`: the worker talked to the other party, from `at`, Unix
/// seconds). The worker's answer score is published before the task
/// completes and frees them for the next offer; a callback's outcome goes
/// to [`callback::dialed`]; a queue bridge that failed is noted on the
/// caller's record, so the answer before it does not count as theirs.
/// Then the task completes (reached), or is settled (not). Failures are
/// logged: the bridge is over either way.
pub async fn bridge_ended<S: Store>(
    app: &App<S>,
    task_sid: &str,
    reservation_sid: &str,
    reached: bool,
    at: i64,
    deadline: Deadline,
) -> BridgeEnd {
    let attempt = app
        .store
        .get_attempt(task_sid, reservation_sid)
        .await
        .inspect_err(|error| {
            tracing::error!(%error, task_sid, reservation_sid, "bridge's end not recorded: attempt not read");
        })
        .ok()
        .flatten();
    if let Some(attempt) = &attempt {
        worker::publish_score(app, attempt, deadline).await;
        if let TaskKind::Callback(callback) = &attempt.kind {
            match callback::dialed(app, attempt, callback, reached, at, deadline).await {
                Ok(dialed) => return BridgeEnd::Callback(dialed),
                Err(error) => tracing::error!(%error, task_sid, "callback's outcome not recorded"),
            }
        } else if !reached {
            let unbridged = Step::Unbridged {
                reservation: reservation_sid,
            };
            note(app, attempt, unbridged, deadline).await;
        }
    }
    if reached {
        // Failure is logged; `task.wrapup` completes it too.
        let _ = task::complete(app, task_sid, "the call ended", deadline).await;
    } else if let Err(error) =
        task::settle_unbridged(app, task_sid, reservation_sid, deadline).await
    {
        tracing::error!(%error, task_sid, reservation_sid, "unbridged task not settled");
    }
    BridgeEnd::Queue { reached }
}

/// Notes `step` of the worker in the record of the caller's call, when the
/// attempt knows that call and the worker's phone.
async fn note<S: Store>(app: &App<S>, attempt: &Attempt, step: Step<'_>, deadline: Deadline) {
    if let Some(call_sid) = &attempt.caller_call_sid
        && !attempt.phone.is_empty()
    {
        call_record::note(app, call_sid, now_secs(), &[step], deadline).await;
    }
}

/// The assignment callback's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `{}`: the reservation stays pending; the leg's webhooks settle it.
    Pending,
    /// A reject instruction moving the worker to this activity.
    Reject(Activity),
}

/// TaskRouter offered the reservation: record `attempt` (built by
/// [`attempt::dialing`]; an empty phone means none is known), ring the
/// worker's phone with answering machine detection, showing the caller ID
/// `WORKER_CALLER_ID` and the `customer` allow, and answer at once.
pub async fn offer<S: Store>(
    app: &App<S>,
    attempt: Attempt,
    customer: Customer,
    deadline: Deadline,
) -> Answer {
    let (task_sid, reservation_sid) = (&attempt.task_sid, &attempt.reservation_sid);
    if let Some(caller) = &attempt.caller_call_sid
        && super::caller::has_left(app, caller).await
    {
        return caller_left(app, &attempt, deadline).await;
    }
    let offered = AttemptEvent::Offered(Box::new(attempt.clone()));
    match execute(app, task_sid, reservation_sid, None, &offered, deadline).await {
        Ok(executed) if executed.applied => {}
        Ok(_) => {
            tracing::info!(reservation_sid = %attempt.reservation_sid, "repeated assignment callback; the worker is already being called");
            return Answer::Pending;
        }
        Err(error) => {
            // Without a record no callback could be trusted: pass the task
            // on. The worker is not blamed (no miss counted) but goes off
            // duty as a miss not counted does (no cooldown could be stored):
            // back to Available, every worker would be offered the same
            // task again and again while the outage lasts (docs/twilio.md,
            // "Reject advice").
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid, "could not record the attempt");
            worker::not_recorded(app, &attempt, deadline).await;
            return Answer::Reject(crate::domain::worker::activity_after_miss(None));
        }
    }
    if attempt.phone.is_empty() {
        tracing::warn!(reservation_sid = %attempt.reservation_sid, worker_sid = %attempt.worker_sid, "worker has no phone to ring");
        return not_placed(app, &attempt, "no-phone", deadline).await;
    }
    let (from, call_token) = attempt::leg_caller_id(
        app.config.worker_caller_id,
        &app.config.twilio.caller_id,
        customer,
    );
    let call = NewCall {
        from,
        call_token,
        ..new_call(&app.config, &attempt)
    };
    let call_deadline = Deadline::at(
        deadline
            .instant()
            .min(tokio::time::Instant::now() + CALL_CREATE_BUDGET),
    );
    match place_call(app, &attempt, call, call_deadline).await {
        Ok(call_sid) => {
            tracing::info!(reservation_sid = %attempt.reservation_sid, task_sid = %attempt.task_sid,
                %call_sid, worker_sid = %attempt.worker_sid, "ringing the worker");
            // The caller may hang up (task.canceled) while the call is being
            // placed: the close then had no call SID to stop, so the placed
            // call's step stops the new leg rather than leave it ringing.
            let placed = AttemptEvent::CallPlaced { call_sid };
            if let Err(error) =
                execute(app, task_sid, reservation_sid, None, &placed, deadline).await
            {
                // The leg's webhooks carry CallSid and store it with their decision.
                tracing::warn!(%error, reservation_sid = %attempt.reservation_sid, "could not store the call SID");
            }
            Answer::Pending
        }
        Err(error) => {
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid, task_sid = %attempt.task_sid,
                "could not place the call to the worker");
            not_placed(app, &attempt, "call-failed", deadline).await
        }
    }
}

/// Creates the worker leg. A leg that presents the customer's number and is
/// refused (Twilio documents no code for a refused `CallToken`: any 4xx,
/// which places no call) is placed once more from the business's number
/// within the same deadline, so the caller is not left unrung for the
/// worker's display (docs/twilio.md, "Forwarded caller ID").
async fn place_call<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    call: NewCall,
    deadline: Deadline,
) -> Result<String, TwilioError> {
    let error = match app.twilio.create_call(&call, deadline).await {
        Err(error) if call.call_token.is_some() && error.is_refusal() => error,
        placed => return placed,
    };
    tracing::warn!(%error, reservation_sid = %attempt.reservation_sid, task_sid = %attempt.task_sid,
        caller_call_sid = ?attempt.caller_call_sid,
        "the customer's caller ID was refused; ringing the worker from the business's number");
    let business = NewCall {
        from: app.config.twilio.caller_id.clone(),
        call_token: None,
        ..call
    };
    app.twilio.create_call(&business, deadline).await
}

/// The task's caller left the queue (pressed 2, the last offer, the nobody
/// queue) while it still routes: TaskRouter documents no cancel for a call
/// that leaves a queue alive, so the task is canceled here and nobody is
/// rung. No attempt is recorded and the worker is not blamed; if the cancel
/// fails, the reject keeps them Available and the next offer tries again.
async fn caller_left<S: Store>(app: &App<S>, attempt: &Attempt, deadline: Deadline) -> Answer {
    let task_sid = &attempt.task_sid;
    match app
        .twilio
        .cancel_task(task_sid, "the caller left the queue", deadline)
        .await
    {
        Ok(settled) => {
            tracing::info!(%task_sid, reservation_sid = %attempt.reservation_sid, ?settled,
                "caller left the queue: task canceled, nobody rung");
            Answer::Pending
        }
        Err(error) => {
            tracing::warn!(%error, %task_sid, reservation_sid = %attempt.reservation_sid,
                "caller left the queue; task not canceled: reservation rejected, nobody rung");
            Answer::Reject(crate::model::Activity::Available)
        }
    }
}

/// The worker cannot be rung: the attempt is a miss, and TaskRouter is told
/// to pass the task on, moving the worker to the activity the miss count
/// calls for (the reject instruction sets it; a REST update would race it).
async fn not_placed<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Answer {
    let not_placed = AttemptEvent::NotPlaced {
        reason: reason.to_string(),
    };
    let (task_sid, reservation_sid) = (&attempt.task_sid, &attempt.reservation_sid);
    match execute(app, task_sid, reservation_sid, None, &not_placed, deadline).await {
        Ok(executed) if executed.applied => Answer::Reject(
            executed
                .reject_with
                .unwrap_or_else(|| crate::domain::worker::activity_after_miss(None)),
        ),
        // A leg webhook decided already (a call created despite the error).
        Ok(_) => Answer::Pending,
        Err(error) => {
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid, "could not record the miss");
            Answer::Reject(crate::domain::worker::activity_after_miss(None))
        }
    }
}

/// The outbound call to the worker, from the business's number. Ring time and AMD stay well under the
/// reservation timeout: 20 s + 5 s (+ 8 s press-1) by default against
/// TaskRouter's 120 s (docs/twilio.md, "Pitfall: ring time vs reservation
/// timeout").
pub fn new_call(config: &Config, attempt: &Attempt) -> NewCall {
    let url = |path: &str| {
        config.url(&attempt::leg_url(
            path,
            &attempt.task_sid,
            &attempt.reservation_sid,
        ))
    };
    let async_callback = match config.answer_mode {
        AnswerMode::Sync => None,
        AnswerMode::Hybrid | AnswerMode::Screen => Some(url(paths::LEG_VERDICT)),
    };
    NewCall {
        to: attempt.phone.clone(),
        from: config.twilio.caller_id.clone(),
        url: url(paths::LEG_ANSWER),
        status_callback: url(paths::LEG_STATUS),
        // None named: Twilio's default is `completed` only, the final event
        // that also reports busy, no-answer, failed and canceled. (Prism
        // refuses a single repeated-param value as "must be array".)
        status_callback_events: Vec::new(),
        timeout_secs: attempt::whole_secs(config.ring_timeout),
        machine_detection: Some(MachineDetection {
            mode: "Enable",
            timeout_secs: attempt::whole_secs(config.amd_timeout),
            async_callback,
        }),
        call_token: None,
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
