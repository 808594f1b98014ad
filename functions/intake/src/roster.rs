//! The effects of going online or offline: TaskRouter first, then the table.
//!
//! Order matters for consistency. TaskRouter is changed first; only when it
//! has accepted the change is the profile written. If Twilio fails, the
//! table is untouched and the worker is asked to try again. If the table
//! write fails after TaskRouter changed, repeating the command converges:
//! `on` finds the worker by FriendlyName (the phone), `off` looks it up the
//! same way when the table has no worker SID.

use homeline_core::App;
use homeline_core::Deadline;
use homeline_core::domain::intake as domain;
use homeline_core::domain::worker::{OFF_DUTY, WorkerEvent};
use homeline_core::model::WorkerProfile;
use homeline_core::service;
use homeline_core::store::{Store, StoreError, now_secs};
use homeline_core::twilio::{TwilioError, WorkerUpdate};

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    /// Other writers kept winning the conditional write.
    #[error("the profile of {0} kept changing under concurrent updates")]
    Contended(String),
    /// The operator removed the worker while the command was applied.
    #[error("{0} was removed from the roster during the update")]
    Removed(String),
}

/// Makes the worker Available in TaskRouter with `skills`, creating the
/// TaskRouter worker on the first `on`, then records it in the profile,
/// with `until` (Unix seconds) when the worker said how long; any earlier
/// `until` is forgotten.
pub async fn go_online<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    skills: &[String],
    until: Option<i64>,
    deadline: Deadline,
) -> Result<(), IntakeError> {
    let attributes = domain::worker_attributes(profile, skills, now_secs());
    let update = WorkerUpdate {
        activity_sid: Some(app.config.activities.available.clone()),
        attributes: Some(attributes.clone()),
        reject_pending_reservations: false,
    };
    let known = match &profile.worker_sid {
        Some(sid) => match app.twilio.update_worker(sid, &update, deadline).await {
            Ok(worker) => Some(worker.sid),
            // Deleted in the console: make a new one below.
            Err(e) if e.status() == Some(404) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let worker_sid = match known {
        Some(sid) => sid,
        None => {
            match app
                .twilio
                .create_worker(
                    &profile.phone,
                    &attributes,
                    Some(&app.config.activities.available),
                    deadline,
                )
                .await
            {
                Ok(worker) => worker.sid,
                // FriendlyName is unique in the workspace: a concurrent `on`,
                // or an earlier one whose table write failed, made it.
                Err(e) if e.is_conflict() => {
                    let Some(existing) = app.twilio.find_worker(&profile.phone, deadline).await?
                    else {
                        return Err(e.into());
                    };
                    app.twilio
                        .update_worker(&existing.sid, &update, deadline)
                        .await?;
                    existing.sid
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    tracing::info!(phone = %profile.phone, worker_sid, ?skills, "worker is available");
    let on_duty = WorkerEvent::OnDuty {
        worker_sid: &worker_sid,
        skills,
        until,
    };
    let saved = save(app, &profile.phone, &on_duty).await;
    if let Err(IntakeError::Removed(_)) = &saved {
        // Not enrolled any more: it must not take calls.
        let offline = service::worker_update(OFF_DUTY, &app.config.activities.offline);
        if let Err(error) = app
            .twilio
            .update_worker(&worker_sid, &offline, deadline)
            .await
        {
            tracing::error!(worker_sid, %error, "removed worker could not be set offline");
        }
    }
    saved
}

/// Makes the worker Offline in TaskRouter (rejecting pending reservations),
/// then records it, with `until` as for [`go_online`]. A worker never
/// online has nothing to change.
pub async fn go_offline<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    until: Option<i64>,
    deadline: Deadline,
) -> Result<(), IntakeError> {
    let worker_sid = match &profile.worker_sid {
        Some(sid) => Some(sid.clone()),
        // An earlier `on` may have reached TaskRouter but not the table.
        None => app
            .twilio
            .find_worker(&profile.phone, deadline)
            .await?
            .map(|w| w.sid),
    };
    let Some(worker_sid) = worker_sid else {
        return Ok(());
    };
    let update = service::worker_update(OFF_DUTY, &app.config.activities.offline);
    let kept = match app
        .twilio
        .update_worker(&worker_sid, &update, deadline)
        .await
    {
        Ok(_) => Some(worker_sid.as_str()),
        // Deleted in the console: it takes no calls; forget its SID.
        Err(e) if e.status() == Some(404) => None,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(phone = %profile.phone, worker_sid, "worker is offline");
    let off_duty = WorkerEvent::OffDuty {
        worker_sid: kept,
        until,
    };
    save(app, &profile.phone, &off_duty).await
}

/// STOP from a worker: the profile is marked SMS blocked first (so nothing
/// texts them from now on, even if TaskRouter fails below), then they go off
/// duty at once (Offline, pending reservations rejected).
pub async fn opt_out<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    deadline: Deadline,
) -> Result<(), IntakeError> {
    save(app, &profile.phone, &WorkerEvent::OptedOut).await?;
    tracing::info!(phone = %profile.phone, "worker opted out of SMS; taking them off duty");
    go_offline(app, profile, None, deadline).await
}

/// START from a worker: SMS reach them again; their duty is unchanged
/// (their next `on` puts them on duty).
pub async fn opt_in<S: Store>(app: &App<S>, profile: &WorkerProfile) -> Result<(), IntakeError> {
    tracing::info!(phone = %profile.phone, "worker opted in to SMS again");
    save(app, &profile.phone, &WorkerEvent::OptedIn).await
}

/// Records the change on the profile through the profile's one writer.
async fn save<S: Store>(
    app: &App<S>,
    phone: &str,
    event: &WorkerEvent<'_>,
) -> Result<(), IntakeError> {
    match service::worker::apply(&app.store, phone, event).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(IntakeError::Removed(phone.to_string())),
        Err(StoreError::Contention(_)) => Err(IntakeError::Contended(phone.to_string())),
        Err(error) => Err(error.into()),
    }
}
