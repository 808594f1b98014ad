//! The edge of the attempt state machine: read the attempt, let
//! [`attempt::decide`] choose, make its one conditional transition, and only
//! when that write applied perform the effects (reject, hang-up, redirect,
//! miss). Used by `amd-result` and `dial-status`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::attempt::{self, Effect, LegEvent, Reply, paths};
use crate::http::{Rejection, TwilioRequest};
use crate::miss;
use crate::model::Attempt;
use crate::store::{Store, StoreError};
use crate::twilio::CallUpdate;

/// Call webhooks have 15 s in all; keep a margin for the cold start and reply.
pub const CALL_WEBHOOK_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

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

/// What the webhook replies with, and the attempt as it stood when decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub reply: Reply,
    pub attempt: Option<Attempt>,
}

/// Decides `event` for the attempt and performs the decision's effects.
/// A lost conditional write means another callback decided first: read again
/// and decide again (the attempt is then settled, so this ends quickly).
pub async fn handle_event<S: Store>(
    app: &App<S>,
    leg: &LegCallback,
    event: &LegEvent,
    deadline: Deadline,
) -> Result<Decided, StoreError> {
    const ROUNDS: usize = 4;
    for _ in 0..ROUNDS {
        let current = app
            .store
            .get_attempt(&leg.task_sid, &leg.reservation_sid)
            .await?;
        let step = attempt::decide(app.config.answer_mode, current.as_ref(), event);
        let Some(transition) = step.transition else {
            return Ok(Decided {
                reply: step.reply,
                attempt: current,
            });
        };
        let Some(mut attempt) = current else {
            return Ok(Decided {
                reply: step.reply,
                attempt: None,
            });
        };
        let mut change = transition.change.clone();
        // A callback may beat `set_call_sid`; keep the leg's SID with the decision.
        if attempt.call_sid.is_none() {
            change.call_sid.clone_from(&leg.call_sid);
        }
        let write = app
            .store
            .transition(
                &leg.task_sid,
                &leg.reservation_sid,
                transition.from,
                transition.to,
                &change,
            )
            .await?;
        if !write.applied() {
            tracing::info!(reservation_sid = %leg.reservation_sid, ?event, "lost the race; deciding again");
            continue;
        }
        let from = attempt.state;
        // Read back what was written (strongly consistent) rather than
        // re-applying the change here.
        if let Some(stored) = app
            .store
            .get_attempt(&leg.task_sid, &leg.reservation_sid)
            .await?
        {
            attempt = stored;
        }
        tracing::info!(
            reservation_sid = %leg.reservation_sid,
            task_sid = %leg.task_sid,
            call_sid = ?attempt.call_sid,
            from = from.as_str(),
            to = attempt.state.as_str(),
            outcome = ?attempt.outcome,
            ?event,
            "attempt transition"
        );
        for effect in &step.effects {
            perform(app, &attempt, effect, deadline).await;
        }
        return Ok(Decided {
            reply: step.reply,
            attempt: Some(attempt),
        });
    }
    Err(StoreError::Unavailable(format!(
        "attempt {} kept changing during {ROUNDS} decisions",
        leg.reservation_sid
    )))
}

/// One effect; failures are logged with the SIDs (the decision stands: a
/// reservation left pending times out and is handled as a miss).
async fn perform<S: Store>(app: &App<S>, attempt: &Attempt, effect: &Effect, deadline: Deadline) {
    let sids = (
        &attempt.reservation_sid,
        &attempt.task_sid,
        &attempt.call_sid,
    );
    let result: Result<(), String> = match effect {
        Effect::RejectReservation => app
            .twilio
            .reject_reservation(
                &attempt.task_sid,
                &attempt.reservation_sid,
                &app.config.activities.unavailable,
                deadline,
            )
            .await
            .map(|settled| {
                tracing::info!(reservation_sid = %attempt.reservation_sid, ?settled, "reservation rejected");
            })
            .map_err(|e| e.to_string()),
        Effect::HangUpLeg | Effect::RedirectLegToBridge => {
            let update = if *effect == Effect::HangUpLeg {
                CallUpdate::Complete
            } else {
                CallUpdate::Redirect(app.config.url(&attempt::leg_url(
                    paths::BRIDGE,
                    &attempt.task_sid,
                    &attempt.reservation_sid,
                )))
            };
            match &attempt.call_sid {
                Some(call_sid) => app
                    .twilio
                    .update_call(call_sid, &update, deadline)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("the leg's call SID is unknown".to_string()),
            }
        }
        Effect::RecordMiss(reason) => miss::record_miss(app, attempt, reason, deadline)
            .await
            .map_err(|e| e.to_string()),
        Effect::RecordAnswered => miss::record_answered(app, attempt)
            .await
            .map_err(|e| e.to_string()),
    };
    if let Err(error) = result {
        tracing::error!(
            %error,
            reservation_sid = %sids.0,
            task_sid = %sids.1,
            call_sid = ?sids.2,
            ?effect,
            "effect failed"
        );
    }
}

/// 503 for a state store failure: Twilio logs it; nothing was decided.
pub fn store_failure(error: &StoreError, leg: &LegCallback) -> Response<Body> {
    tracing::error!(%error, reservation_sid = %leg.reservation_sid, task_sid = %leg.task_sid,
        "state store failed; nothing decided");
    let mut response = Response::new(Body::Text("state store unavailable".into()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}
