//! `taskrouter-events`: the workspace event callback.
//!
//! - the task entered (or moved to) the queue nobody serves, or its workflow
//!   timed out: the caller is sent to voicemail (`service::caller`), then the
//!   task is canceled, each once per task;
//! - the task or a reservation ended while a worker's phone still rang or
//!   waited: the attempt is closed and the worker leg hung up, so nobody
//!   answers into silence; a reservation timeout counts as a miss; a task
//!   canceled for any reason but the caller hanging up sends the caller, who
//!   may still wait, to voicemail;
//! - the task wraps up: it is completed, freeing the worker's capacity;
//! - a worker's activity changed: the profile follows.
//!
//! Every effect sits behind a conditional write or a once-marker, so repeated
//! and re-ordered events act once. Nothing relies on a redelivery (Twilio
//! documents none): Twilio is retried inside the budget, and what still
//! failed the next callback repairs (the wait URL's heartbeat, the other
//! completion path). A failure answers 500, for the log; everything else 204.

use homeline_core::domain::events::{self, ReservationEnd, TaskRouterEvent, WaitingCaller};
use homeline_core::domain::worker::WorkerEvent;
use homeline_core::http;
use homeline_core::metrics::{self, Metric, VoicemailReason};
use homeline_core::model::Activity;
use homeline_core::routes::Budget;
use homeline_core::service::{self, attempt::EndError, worker::MissError};
use homeline_core::store::{Marker, Store, StoreError, at_most_once};
use homeline_core::twilio::TwilioError;
use homeline_core::{App, Deadline};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// Why an event could not be fully handled now; a redelivery may succeed.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error(transparent)]
    Miss(#[from] MissError),
    #[error(transparent)]
    End(#[from] EndError),
}

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => {
            tracing::warn!(%rejection, "TaskRouter event refused");
            return rejection.into_response();
        }
    };
    let deadline = Budget::Event.deadline();
    let classified = events::classify(
        |name| request.param(name),
        &app.config.no_worker_queue_sid,
        |sid| service::activity_of(&app.config.activities, sid),
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
        TaskRouterEvent::TaskCanceled { task_sid, waiting } => {
            let attributes = request
                .param("TaskAttributes")
                .and_then(|raw| serde_json::from_str(raw).ok())
                .unwrap_or_default();
            let callback = service::callback::canceled(&app, &task_sid, &attributes, deadline)
                .await
                .map_err(Retry::from);
            let closed = task_canceled(&app, &task_sid, waiting, deadline).await;
            callback.and(closed)
        }
        TaskRouterEvent::TaskWrapup { task_sid } => {
            service::task::complete(&app, &task_sid, "the call ended", deadline)
                .await
                .map_err(Retry::from)
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
    let mailbox = service::mailbox(&app.config, skill);
    match call_sid {
        Some(call_sid) => {
            service::caller::send_to_voicemail(app, task_sid, call_sid, &mailbox, deadline).await?;
            metrics::emit(Metric::Voicemail(VoicemailReason::NobodyOnDuty));
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

/// The task is gone: every attempt still ringing or waiting is closed, and
/// a caller who did not hang up is sent to voicemail.
async fn task_canceled<S: Store>(
    app: &App<S>,
    task_sid: &str,
    waiting: Option<WaitingCaller>,
    deadline: Deadline,
) -> Result<(), Retry> {
    let mut result = Ok(());
    if let Some(caller) = waiting {
        let mailbox = service::mailbox(&app.config, caller.skill);
        let sent =
            service::caller::send_to_voicemail(app, task_sid, &caller.call_sid, &mailbox, deadline)
                .await;
        result = sent.map_err(Retry::from);
    }
    for attempt in app.store.list_attempts(task_sid).await? {
        if attempt.state.is_open() {
            let reservation_sid = &attempt.reservation_sid;
            let closed =
                service::attempt::end(app, task_sid, reservation_sid, "task-canceled", deadline)
                    .await;
            result = result.and(closed.map(drop).map_err(Retry::from));
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
    let closed =
        service::attempt::end(app, task_sid, reservation_sid, end.as_str(), deadline).await?;
    let Some(attempt) = closed else {
        tracing::info!(
            task_sid,
            reservation_sid,
            ?end,
            "no attempt for this reservation"
        );
        return Ok(());
    };
    if end == ReservationEnd::Timeout {
        // Idempotent per attempt, so a redelivery or an earlier no-answer miss is not counted twice.
        service::worker::record_miss(app, &attempt, end.as_str(), deadline).await?;
    }
    Ok(())
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
    let changed = WorkerEvent::ActivityChanged {
        worker_sid,
        activity,
    };
    match service::worker::apply(&app.store, phone, &changed).await {
        Ok(None) => tracing::info!(
            worker_sid,
            "activity update for a worker not enrolled; ignored"
        ),
        Ok(Some((_, decision))) => match decision.kept_because {
            Some(why) => tracing::info!(worker_sid, why, "worker activity left as is"),
            None => tracing::info!(
                worker_sid,
                activity = activity.as_str(),
                "worker activity stored"
            ),
        },
        Err(StoreError::Contention(_)) => tracing::warn!(
            worker_sid,
            "worker profile kept changing; activity not stored"
        ),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use homeline_core::domain::inbound::WaitOption;
    use homeline_core::store::{MemoryStore, Write};

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

    #[tokio::test]
    async fn a_failed_voicemail_redirect_is_left_to_the_wait_urls_heartbeat() {
        use homeline_core::domain::inbound::{HoldStretch, WaitStep};
        // Twilio at a port nothing listens on: the redirect fails.
        let app = app();
        assert_eq!(
            service::caller::wait_step(&app, Some("CA1"), Some("0")).await,
            WaitStep::Hold(HoldStretch::Music)
        );
        let deadline = Deadline::after(std::time::Duration::from_millis(300));
        let sent = service::caller::send_to_voicemail(&app, "WT1", "CA1", "sales", deadline).await;
        assert!(sent.is_ok(), "the marker is written: {sent:?}");
        assert_eq!(
            service::caller::wait_step(&app, Some("CA1"), Some("0")).await,
            WaitStep::Leave
        );
        assert_eq!(
            service::caller::wait_step(&app, Some("CA2"), Some("0")).await,
            WaitStep::Hold(HoldStretch::Music)
        );
        let redirect = Marker::NobodyRedirected { task_sid: "WT1" };
        assert!(
            redirect.is_claimed(&app.store).await.expect("readable"),
            "kept: the heartbeat repairs, not a second redirect"
        );
    }

    #[tokio::test]
    async fn a_caller_who_chose_voicemail_while_waiting_is_not_redirected_there_again() {
        let app = app();
        let deadline = Deadline::after(std::time::Duration::from_millis(300));
        // Twilio unreachable here: the press's own redirect fails, the mark stays.
        service::caller::choose(&app, "CA1", WaitOption::Voicemail, "sales", deadline).await;
        let sent = service::caller::send_to_voicemail(&app, "WT1", "CA1", "sales", deadline).await;
        assert!(sent.is_ok(), "{sent:?}");
        let redirect = Marker::NobodyRedirected { task_sid: "WT1" };
        assert!(
            !redirect.is_claimed(&app.store).await.expect("readable"),
            "no redirect: it would restart the message under way"
        );
    }
}
