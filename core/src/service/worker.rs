//! The one writer of worker profiles: [`enroll`] creates one; [`apply`]
//! reads it, lets [`worker::decide`] choose, and writes the result with a
//! conditional write (retried on contention); the miss and answer services
//! carry out the intents.

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::worker::{self, Intent, WorkerEvent};
use crate::model::{Activity, Attempt, WorkerProfile};
use crate::store::{
    Marker, Round, Store, StoreError, WorkerStore, Write, at_most_once, read_modify_write,
};
use crate::twilio::TwilioError;

#[derive(Debug, thiserror::Error)]
pub enum MissError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(#[from] TwilioError),
}

/// Enrolls a worker (a profile as [`WorkerProfile::new`] builds it): the one
/// creation of a profile. [`Write::Lost`] if that phone is enrolled already.
pub async fn enroll<S: WorkerStore>(
    store: &S,
    profile: &WorkerProfile,
) -> Result<Write, StoreError> {
    store.put_worker(profile).await
}

/// Applies `event` to the stored profile of `phone`. `Ok(None)`: nobody with
/// that phone is enrolled. The decision comes back with the profile as
/// written (or as it stood, when nothing changed).
pub async fn apply<S: WorkerStore>(
    store: &S,
    phone: &str,
    event: &WorkerEvent<'_>,
) -> Result<Option<(WorkerProfile, worker::Decision)>, StoreError> {
    read_modify_write("worker profile", || async {
        let Some(current) = store.get_worker(phone).await? else {
            return Ok(Round::Done(None));
        };
        let decision = worker::decide(&current, event);
        let Some(next) = &decision.profile else {
            return Ok(Round::Done(Some((current, decision))));
        };
        if store.put_worker(next).await?.applied() {
            Ok(Round::Done(Some((next.clone(), decision))))
        } else {
            Ok(Round::Lost)
        }
    })
    .await
}

/// Counts `attempt`'s miss on the worker's profile, once per attempt
/// (`Ok(None)`: counted already), and returns what the miss rule asks for.
/// Store-only, so the assignment callback can use it inside its 5 s budget
/// and put the activity in its reject instruction.
pub async fn count_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
) -> Result<Option<Vec<Intent>>, StoreError> {
    let marker = Marker::MissCounted {
        reservation_sid: &attempt.reservation_sid,
    };
    let threshold = app.config.misses_before_unavailable;
    // Any failure gives the claim back, so a retry can count it.
    at_most_once(&app.store, &marker, |_: &StoreError| true, async {
        let missed = WorkerEvent::Missed { threshold };
        match apply(&app.store, &attempt.phone, &missed).await? {
            Some((_, decision)) => Ok(decision.intents),
            None => {
                tracing::warn!(phone_known = false, reservation_sid = %attempt.reservation_sid,
                    "missed call by a worker without a profile");
                Ok(worker::missed_without_profile())
            }
        }
    })
    .await
}

/// Records that `attempt`'s worker missed the call for `reason`
/// (`machine_start`, `busy`, `no-answer`, `no-key`, `timeout`, ...): counts it
/// and moves the worker over REST. Idempotent per attempt.
pub async fn record_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let Some(intents) = count_miss(app, attempt).await? else {
        return Ok(());
    };
    let mut result = Ok(());
    for intent in intents {
        match intent {
            Intent::MoveWorker(move_to) => {
                let update = super::worker_update(
                    move_to,
                    super::activity_sid(&app.config.activities, move_to.activity),
                );
                if let Err(error) = app
                    .twilio
                    .update_worker(&attempt.worker_sid, &update, deadline)
                    .await
                {
                    tracing::error!(%error, worker_sid = %attempt.worker_sid,
                        reservation_sid = %attempt.reservation_sid, "could not set the worker's activity after a miss");
                    result = Err(error.into());
                }
            }
            Intent::TextOutOfRotation => {
                notify_out_of_rotation(app, attempt, reason, deadline).await?;
            }
        }
    }
    result
}

/// The assignment callback's miss: counted like any other, the worker told
/// when out of rotation; returns the activity for the reject instruction.
pub async fn miss_in_answer<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Activity {
    let intents = count_miss(app, attempt).await.unwrap_or_else(|error| {
        tracing::error!(%error, reservation_sid = %attempt.reservation_sid, "could not count the miss");
        None
    });
    if intents
        .as_deref()
        .is_some_and(|i| i.contains(&Intent::TextOutOfRotation))
        && !attempt.phone.is_empty()
    {
        // Best effort inside what is left of the 5 s: the answer matters more.
        let _ = notify_out_of_rotation(app, attempt, reason, deadline).await;
    }
    worker::activity_after_miss(intents.as_deref())
}

/// Sends the one SMS telling a worker they are out of rotation and how to come back.
async fn notify_out_of_rotation<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let body = worker::miss_sms(&app.config.business_name, &attempt.skill, reason);
    app.twilio
        .send_sms(
            &app.config.twilio.caller_id,
            &attempt.phone,
            &body,
            deadline,
        )
        .await
        .inspect_err(|error| {
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid,
                "could not send the missed-call SMS");
        })?;
    Ok(())
}

/// The worker took a call: their consecutive misses start again from zero.
/// Called once per attempt (after the one transition to bridging).
pub async fn record_answered<S: Store>(app: &App<S>, attempt: &Attempt) -> Result<(), StoreError> {
    apply(&app.store, &attempt.phone, &WorkerEvent::Answered)
        .await
        .map(drop)
}

/// The phone of the profile whose TaskRouter worker is `worker_sid`
/// (profiles are keyed by phone, so this lists the roster: fine for a small
/// business, and only a fallback when TaskRouter sends no `contact_uri`).
pub async fn phone_of<S: Store>(app: &App<S>, worker_sid: &str) -> Option<String> {
    match app.store.list_workers().await {
        Ok(profiles) => profiles
            .into_iter()
            .find(|p| p.worker_sid.as_deref() == Some(worker_sid))
            .map(|p| p.phone),
        Err(error) => {
            tracing::error!(%error, %worker_sid, "could not look up the worker's profile");
            None
        }
    }
}
