//! `taskrouter-events`: the workspace event callback.
//!
//! - the task entered the queue nobody serves (or its workflow timed out):
//!   the caller is redirected to voicemail, then the task is canceled, each
//!   once per task;
//! - the task or a reservation ended while a worker's phone still rang or
//!   waited: the attempt is closed and the worker leg hung up, so nobody
//!   answers into silence; a reservation timeout counts as a miss;
//! - a worker's activity changed: the profile follows.
//!
//! Every effect sits behind a conditional write or a once-marker, so repeated
//! and re-ordered events act once. A failure a retry could fix gives its claim
//! back and answers 500; everything else answers 204.

use std::time::Duration;

use homeline_core::domain::events::{self, ReservationEnd, TaskRouterEvent};
use homeline_core::domain::inbound::GENERAL_MAILBOX;
use homeline_core::http;
use homeline_core::metrics::{self, Metric, VoicemailReason};
use homeline_core::miss::MissError;
use homeline_core::model::{Activity, Attempt, AttemptChange, AttemptState};
use homeline_core::store::{Marker, Store, StoreError, Write, at_most_once};
use homeline_core::twilio::{CallUpdate, TwilioError};
use homeline_core::{App, Deadline};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// TaskRouter waits 15 s for an answer; stay well inside it.
const BUDGET: Duration = Duration::from_secs(10);
/// Conditional writes retried when another callback changed the item first.
const WRITE_RETRIES: usize = 3;

/// Why an event could not be fully handled now; a redelivery may succeed.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error(transparent)]
    Miss(#[from] MissError),
}

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => {
            tracing::warn!(%rejection, "TaskRouter event refused");
            return rejection.into_response();
        }
    };
    let deadline = Deadline::after(BUDGET);
    let classified = events::classify(
        |name| request.param(name),
        &app.config.no_worker_queue_sid,
        &app.config.activities,
    );
    let event = match classified {
        Ok(event) => event,
        Err(missing) => {
            tracing::warn!(%missing, "TaskRouter event refused");
            return http::Rejection::BadRequest(missing.to_string()).into_response();
        }
    };
    let outcome = match event {
        TaskRouterEvent::NobodyAvailable {
            task_sid,
            call_sid,
            skill,
        } => nobody_available(&app, &task_sid, call_sid.as_deref(), skill, deadline).await,
        TaskRouterEvent::TaskCanceled { task_sid } => {
            task_canceled(&app, &task_sid, deadline).await
        }
        TaskRouterEvent::ReservationEnded {
            task_sid,
            reservation_sid,
            end,
        } => reservation_ended(&app, &task_sid, &reservation_sid, end, deadline).await,
        TaskRouterEvent::WorkerActivity {
            worker_sid,
            phone,
            activity,
        } => worker_activity(&app, &worker_sid, phone.as_deref(), activity).await,
        TaskRouterEvent::Ignored { event_type } => {
            tracing::debug!(event_type, "TaskRouter event ignored");
            Ok(())
        }
    };
    match outcome {
        Ok(()) => http::no_content(),
        Err(error) => {
            tracing::error!(
                %error,
                event_type = request.param("EventType"),
                task_sid = request.param("TaskSid"),
                reservation_sid = request.param("ReservationSid"),
                "TaskRouter event not fully handled; a redelivery can finish it"
            );
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// Voicemail for the caller, then the task canceled: each once per task.
async fn nobody_available<S: Store>(
    app: &App<S>,
    task_sid: &str,
    call_sid: Option<&str>,
    skill: Option<String>,
    deadline: Deadline,
) -> Result<(), Retry> {
    let mailbox = skill
        .filter(|s| app.config.has_skill(s))
        .unwrap_or_else(|| GENERAL_MAILBOX.to_string());
    match call_sid {
        Some(call_sid) => {
            let query =
                serde_urlencoded::to_string([("skill", mailbox.as_str())]).unwrap_or_default();
            let redirect =
                CallUpdate::Redirect(app.config.url(&format!("/inbound/voicemail?{query}")));
            once(app, Marker::NobodyRedirected { task_sid }, async {
                let settled = app.twilio.update_call(call_sid, &redirect, deadline).await?;
                tracing::info!(task_sid, call_sid, ?settled, skill = %mailbox, "caller sent to voicemail");
                metrics::emit(Metric::Voicemail(VoicemailReason::NobodyOnDuty));
                Ok(())
            })
            .await?;
        }
        None => tracing::warn!(
            task_sid,
            "task has no call_sid; nobody to send to voicemail"
        ),
    }
    once(app, Marker::NobodyCanceled { task_sid }, async {
        let settled = app
            .twilio
            .cancel_task(
                task_sid,
                "no worker available; caller sent to voicemail",
                deadline,
            )
            .await?;
        tracing::info!(task_sid, ?settled, "task canceled");
        Ok(())
    })
    .await
}

/// Runs `effect` unless `marker` was claimed before. A retryable failure
/// gives the claim back, so a redelivered event tries again; any other
/// failure keeps it (trying again would not help) and is only logged.
async fn once<S: Store>(
    app: &App<S>,
    marker: Marker<'_>,
    effect: impl Future<Output = Result<(), TwilioError>>,
) -> Result<(), Retry> {
    let retryable = |e: &Retry| matches!(e, Retry::Twilio(t) if t.is_retryable());
    match at_most_once(&app.store, &marker, retryable, async { Ok(effect.await?) }).await {
        Ok(Some(())) => Ok(()),
        Ok(None) => {
            tracing::debug!(?marker, "already done");
            Ok(())
        }
        Err(Retry::Twilio(error)) if !error.is_retryable() => {
            tracing::error!(%error, ?marker, "Twilio refused; not retried");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The caller is gone: every attempt still ringing or waiting is closed.
async fn task_canceled<S: Store>(
    app: &App<S>,
    task_sid: &str,
    deadline: Deadline,
) -> Result<(), Retry> {
    let mut result = Ok(());
    for attempt in app.store.list_attempts(task_sid).await? {
        if attempt.state.is_open() {
            let closed = close_attempt(app, attempt, "task-canceled", deadline).await;
            result = result.and(closed.map(drop));
        }
    }
    result
}

async fn reservation_ended<S: Store>(
    app: &App<S>,
    task_sid: &str,
    reservation_sid: &str,
    end: ReservationEnd,
    deadline: Deadline,
) -> Result<(), Retry> {
    let Some(attempt) = app.store.get_attempt(task_sid, reservation_sid).await? else {
        tracing::info!(
            task_sid,
            reservation_sid,
            ?end,
            "no attempt for this reservation"
        );
        return Ok(());
    };
    let attempt = close_attempt(app, attempt, end.as_str(), deadline).await?;
    if end == ReservationEnd::Timeout {
        // Idempotent per attempt, so a redelivery or an earlier no-answer miss is not counted twice.
        homeline_core::miss::record_miss(app, &attempt, end.as_str(), deadline).await?;
    }
    Ok(())
}

/// Moves an open attempt to Canceled and hangs up its worker leg; returns
/// the attempt as it now stands. The transition is conditional, so only one
/// of several racing events hangs up. If the hang-up fails retryably the
/// transition is undone, so a redelivered event can try again.
async fn close_attempt<S: Store>(
    app: &App<S>,
    mut attempt: Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<Attempt, Retry> {
    let (task_sid, reservation_sid) = (attempt.task_sid.clone(), attempt.reservation_sid.clone());
    let change = AttemptChange {
        outcome: Some(reason.to_string()),
        ..AttemptChange::default()
    };
    for _ in 0..WRITE_RETRIES {
        let Some(hangup) = events::leg_hangup(attempt.state) else {
            return Ok(attempt);
        };
        let before = attempt.state;
        let write = app
            .store
            .transition(
                &task_sid,
                &reservation_sid,
                &[before],
                AttemptState::Canceled,
                &change,
            )
            .await?;
        if write == Write::Applied {
            attempt.state = AttemptState::Canceled;
            attempt.outcome = Some(reason.to_string());
            let Some(call_sid) = attempt.call_sid.clone() else {
                tracing::info!(%task_sid, %reservation_sid, reason, "attempt closed before its call existed");
                return Ok(attempt);
            };
            return match app.twilio.update_call(&call_sid, &hangup, deadline).await {
                Ok(settled) => {
                    tracing::info!(%task_sid, %reservation_sid, %call_sid, reason, ?hangup, ?settled, "worker leg hung up");
                    Ok(attempt)
                }
                Err(error) if error.is_retryable() => {
                    let undo = app
                        .store
                        .transition(
                            &task_sid,
                            &reservation_sid,
                            &[AttemptState::Canceled],
                            before,
                            &AttemptChange::default(),
                        )
                        .await?;
                    tracing::warn!(%task_sid, %reservation_sid, %call_sid, ?undo, "worker leg not hung up; attempt reopened for a retry");
                    Err(error.into())
                }
                Err(error) => {
                    tracing::error!(%error, %task_sid, %reservation_sid, %call_sid, "Twilio refused the hang-up");
                    Ok(attempt)
                }
            };
        }
        // Another callback moved it first: look again.
        match app.store.get_attempt(&task_sid, &reservation_sid).await? {
            Some(current) => attempt = current,
            None => return Ok(attempt),
        }
    }
    tracing::warn!(%task_sid, %reservation_sid, "attempt kept changing; left as is");
    Ok(attempt)
}

/// Keeps the profile's activity in step with TaskRouter. Unknown workers and
/// activities are ignored.
async fn worker_activity<S: Store>(
    app: &App<S>,
    worker_sid: &str,
    phone: Option<&str>,
    activity: Option<Activity>,
) -> Result<(), Retry> {
    let (Some(phone), Some(activity)) = (phone, activity) else {
        tracing::info!(
            worker_sid,
            "activity update for an unknown phone or activity; ignored"
        );
        return Ok(());
    };
    for _ in 0..WRITE_RETRIES {
        let Some(mut profile) = app.store.get_worker(phone).await? else {
            tracing::info!(
                worker_sid,
                "activity update for a worker not enrolled; ignored"
            );
            return Ok(());
        };
        if profile
            .worker_sid
            .as_deref()
            .is_some_and(|sid| sid != worker_sid)
        {
            tracing::info!(
                worker_sid,
                "activity update for a replaced TaskRouter worker; ignored"
            );
            return Ok(());
        }
        if profile.activity == Some(activity) && profile.worker_sid.is_some() {
            return Ok(());
        }
        profile.activity = Some(activity);
        profile.worker_sid = Some(worker_sid.to_string());
        if app.store.put_worker(&profile).await? == Write::Applied {
            tracing::info!(
                worker_sid,
                activity = activity.as_str(),
                "worker activity stored"
            );
            return Ok(());
        }
    }
    tracing::warn!(
        worker_sid,
        "worker profile kept changing; activity not stored"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use homeline_core::store::MemoryStore;

    use super::*;

    fn app() -> App<MemoryStore> {
        App::new(testkit::test_config(&[]), MemoryStore::new())
    }

    fn api(status: u16) -> TwilioError {
        TwilioError::Api {
            status,
            code: 20001,
            message: "test".into(),
        }
    }

    #[tokio::test]
    async fn once_runs_an_effect_once_and_gives_the_claim_back_only_for_a_retryable_failure() {
        let app = app();
        let runs = AtomicUsize::new(0);
        for _ in 0..2 {
            let result = once(&app, Marker::NobodyRedirected { task_sid: "done" }, async {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
            assert!(result.is_ok());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        let slow = Marker::NobodyRedirected { task_sid: "slow" };
        let retryable = once(&app, slow, async { Err(TwilioError::DeadlineExceeded) }).await;
        assert!(matches!(retryable, Err(Retry::Twilio(_))));
        let reclaimed = slow.claim(&app.store).await.expect("claim");
        assert_eq!(reclaimed, Write::Applied, "released for a redelivery");

        let refused_marker = Marker::NobodyCanceled {
            task_sid: "refused",
        };
        let refused = once(&app, refused_marker, async { Err(api(400)) }).await;
        assert!(refused.is_ok(), "nothing a redelivery could fix");
        let reclaimed = refused_marker.claim(&app.store).await.expect("claim");
        assert_eq!(reclaimed, Write::Lost, "kept: not tried again");
    }
}
