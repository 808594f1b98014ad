//! A claimed follow-up's call back, on the claimer's own phone: Homeline
//! calls the claimer from the business number, whispers who to call, and on
//! 1 dials the customer with `CALLBACK_CALLER_ID`, so the customer sees the
//! business and never the worker's number. Every step carries the
//! follow-up's call SID and the claim's ordinal (`?call=CA..&claim=N`), so a
//! late step of an earlier ring changes nothing. `service::follow_up` writes
//! every change.

use homeline_core::domain::follow_up::{FollowUpEvent, Outcome, texts};
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::model::{FollowUp, FollowUpState};
use homeline_core::routes::paths;
use homeline_core::service::{follow_up, worker};
use homeline_core::store::{Store, StoreError};
use homeline_core::twiml::{self, Dial, Gather};
use homeline_core::{App, Deadline, phone};
use lambda_http::{Body, Response};

/// A step of the call back, by the path Twilio requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The claimer answered: the whisper.
    Answered,
    /// The whisper's key (or none).
    Key,
    /// The dial to the customer ended.
    Dialed,
    /// The claimer's call ended, answered or not.
    Status,
}

impl Step {
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            paths::CALL_BACK => Some(Step::Answered),
            paths::CALL_BACK_KEY => Some(Step::Key),
            paths::CALL_BACK_DIALED => Some(Step::Dialed),
            paths::CALL_BACK_STATUS => Some(Step::Status),
            _ => None,
        }
    }
}

pub async fn handle<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    step: Step,
    deadline: Deadline,
) -> Result<Response<Body>, Rejection> {
    let call_sid = request.require_query("call")?;
    let claim = request.require_query("claim")?;
    let claim: u32 = claim
        .parse()
        .map_err(|_| Rejection::BadRequest(format!("claim={claim:?} is not a number")))?;
    let answer = match step {
        Step::Answered => answered(app, call_sid, claim).await,
        Step::Key => key(app, call_sid, claim, request.param("Digits")).await,
        Step::Dialed => {
            let reached = request.param("DialCallStatus") == Some("completed");
            dialed(app, call_sid, claim, reached).await
        }
        Step::Status => {
            status(app, request, call_sid, claim, deadline).await;
            Ok(twiml::Response::new())
        }
    };
    let answer = answer.unwrap_or_else(|error| {
        tracing::error!(call_sid, claim, %error, ?step, "call back step failed");
        // The follow-up stays as it was; the claimer's call status reopens it.
        twiml::Response::new().say(texts::try_later()).hangup()
    });
    tracing::info!(call_sid, claim, ?step, "call back step answered");
    Ok(http::twiml(answer.to_xml()))
}

/// The whisper, while this claim's ring is the follow-up's latest.
async fn answered<S: Store>(
    app: &App<S>,
    call_sid: &str,
    claim: u32,
) -> Result<twiml::Response, StoreError> {
    let current = app.store.get_follow_up(call_sid).await?;
    let Some(follow_up) =
        current.filter(|f| f.state == FollowUpState::Claimed && f.claims == claim)
    else {
        return Ok(no_longer_needed());
    };
    let config = &app.config;
    let action = config.url(&follow_up::call_back_path(paths::CALL_BACK_KEY, &follow_up));
    let timeout = u32::try_from(config.press1_timeout.as_secs()).unwrap_or(8);
    Ok(twiml::Response::new().gather(
        Gather::new()
            .input("dtmf")
            .num_digits(1)
            .timeout(timeout)
            .action(&action)
            .action_on_empty_result(true)
            .say(texts::whisper(&follow_up)),
    ))
}

/// 1 dials the customer; anything else (or nothing) opens it again.
async fn key<S: Store>(
    app: &App<S>,
    call_sid: &str,
    claim: u32,
    digits: Option<&str>,
) -> Result<twiml::Response, StoreError> {
    let event = if digits == Some("1") {
        FollowUpEvent::Connect { claim }
    } else {
        FollowUpEvent::ClaimerMissed { claim }
    };
    let Some((follow_up, decision)) = follow_up::apply(&app.store, call_sid, &event).await? else {
        return Ok(no_longer_needed());
    };
    Ok(match decision.outcome {
        Outcome::Connecting => dial_customer(app, &follow_up, twiml::Response::new()).await?,
        Outcome::Reopened => twiml::Response::new()
            .say(texts::reopened_by_key(follow_up.number))
            .hangup(),
        _ => no_longer_needed(),
    })
}

/// The `<Dial>` to the customer from the business caller ID, after what
/// `before` says. A withheld number cannot be dialled: the follow-up is
/// closed by its claimer.
pub(crate) async fn dial_customer<S: Store>(
    app: &App<S>,
    follow_up: &FollowUp,
    before: twiml::Response,
) -> Result<twiml::Response, StoreError> {
    let config = &app.config;
    let Ok(customer) = phone::normalize(&follow_up.caller) else {
        let by = follow_up.owner.as_deref().unwrap_or_default();
        follow_up::apply(
            &app.store,
            &follow_up.call_sid,
            &FollowUpEvent::Close { by },
        )
        .await?;
        return Ok(before.say(texts::withheld(follow_up.number)).hangup());
    };
    let action = config.url(&follow_up::call_back_path(
        paths::CALL_BACK_DIALED,
        follow_up,
    ));
    let timeout = u32::try_from(config.ring_timeout.as_secs()).unwrap_or(20);
    Ok(before.dial(
        Dial::new()
            .caller_id(&config.callback_caller_id)
            .action(&action)
            .method("POST")
            .timeout(timeout)
            .number(customer),
    ))
}

/// The dial's outcome settles the follow-up: answered is done, anything
/// else opens it again.
async fn dialed<S: Store>(
    app: &App<S>,
    call_sid: &str,
    claim: u32,
    reached: bool,
) -> Result<twiml::Response, StoreError> {
    let event = FollowUpEvent::Dialed { claim, reached };
    let Some((follow_up, decision)) = follow_up::apply(&app.store, call_sid, &event).await? else {
        return Ok(twiml::Response::new().hangup());
    };
    let said = match decision.outcome {
        Outcome::Reached => texts::closed(follow_up.number),
        Outcome::NotReached => texts::not_reached(&follow_up),
        _ => return Ok(twiml::Response::new().hangup()),
    };
    Ok(twiml::Response::new().say(said).hangup())
}

/// The claimer's call ended. If its ring is still the follow-up's latest and
/// the claimer never pressed 1 (not answered, busy, hung up on the whisper),
/// the follow-up is open again and the claimer is texted.
async fn status<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    call_sid: &str,
    claim: u32,
    deadline: Deadline,
) {
    let call_status = request.param("CallStatus").unwrap_or_default();
    if !matches!(
        call_status,
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    ) {
        return;
    }
    let event = FollowUpEvent::ClaimerMissed { claim };
    let follow_up = match follow_up::apply(&app.store, call_sid, &event).await {
        Ok(Some((follow_up, decision))) if decision.outcome == Outcome::Reopened => follow_up,
        Ok(_) => return,
        Err(error) => {
            tracing::error!(call_sid, call_status, %error, "claimer's miss not applied");
            return;
        }
    };
    tracing::info!(call_sid, call_status, "claimer missed the call back");
    let Some(claimer) = request.param("To") else {
        return;
    };
    let text = texts::missed_ring(follow_up.number);
    if let Err(error) = worker::text(app, claimer, &text, deadline).await {
        tracing::error!(call_sid, %error, "claimer not told of the missed ring");
    }
}

pub(crate) fn no_longer_needed() -> twiml::Response {
    twiml::Response::new()
        .say(texts::no_longer_needed())
        .hangup()
}
