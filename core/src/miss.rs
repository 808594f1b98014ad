//! A worker failed to take an offered call (machine, busy, no answer, no key,
//! reservation timeout). Counted on the worker's profile; at the configured
//! threshold the worker is taken out of rotation (Unavailable) and told once
//! by SMS how to come back.
//!
//! Below the threshold the worker is put back to Available right after the
//! reject (which used the unavailable activity, pitfall 4). TaskRouter may
//! then offer the same task to the same worker again if nobody else is free:
//! that is wanted (they are the only one who can take it), and it is bounded,
//! because every new miss counts towards the threshold.

use crate::app::App;
use crate::deadline::Deadline;
use crate::model::{Activity, Attempt, WorkerProfile};
use crate::store::{Marker, Store, StoreError};
use crate::twilio::WorkerUpdate;

#[derive(Debug, thiserror::Error)]
pub enum MissError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Twilio(#[from] crate::twilio::TwilioError),
}

/// Records that `attempt`'s worker missed the call for `reason`
/// (`machine_start`, `busy`, `no-answer`, `no-key`, `timeout`, ...).
/// Idempotent per attempt: a second call for the same reservation does nothing.
pub async fn record_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let Some(counted) = count_miss(app, attempt).await? else {
        return Ok(());
    };
    crate::metrics::emit(crate::metrics::Metric::Miss { reason });
    let activities = &app.config.activities;
    let activity_sid = if counted.out_of_rotation {
        &activities.unavailable
    } else if counted.went_offline {
        // They texted `off` meanwhile: the reject's activity must not stick.
        &activities.offline
    } else {
        &activities.available
    };
    let update = WorkerUpdate {
        activity_sid: Some(activity_sid.clone()),
        attributes: None,
        reject_pending_reservations: counted.out_of_rotation,
    };
    let mut result = Ok(());
    if let Err(error) = app
        .twilio
        .update_worker(&attempt.worker_sid, &update, deadline)
        .await
    {
        tracing::error!(%error, worker_sid = %attempt.worker_sid,
            reservation_sid = %attempt.reservation_sid, "could not set the worker's activity after a miss");
        result = Err(error.into());
    }
    if counted.out_of_rotation {
        notify_out_of_rotation(app, attempt, reason, deadline).await?;
    }
    result
}

/// The outcome of counting one miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissCount {
    /// The threshold is reached: the worker goes Unavailable and gets the SMS.
    pub out_of_rotation: bool,
    /// The worker's profile says Offline (they texted `off`).
    pub went_offline: bool,
}

/// Counts the miss on the worker's profile, once per attempt (`None`: it was
/// counted already). Store-only, so the assignment callback can use it inside
/// its 5 s budget and put the answer in its reject instruction.
pub async fn count_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
) -> Result<Option<MissCount>, StoreError> {
    let marker = Marker::MissCounted {
        reservation_sid: &attempt.reservation_sid,
    };
    if !marker.claim(&app.store).await?.applied() {
        return Ok(None);
    }
    let threshold = app.config.misses_before_unavailable;
    let counted = update_profile(app, &attempt.phone, |profile| {
        profile.misses = profile.misses.saturating_add(1);
        profile.missed_total = profile.missed_total.saturating_add(1);
        // A worker who texted `off` meanwhile stays Offline, and is not told.
        let offline = profile.activity == Some(Activity::Offline);
        let out = profile.misses >= threshold && !offline;
        if out {
            profile.activity = Some(Activity::Unavailable);
        }
        MissCount {
            out_of_rotation: out,
            went_offline: offline,
        }
    })
    .await;
    match counted {
        Ok(Some(count)) => Ok(Some(count)),
        // No profile (removed from the roster meanwhile): nothing to count;
        // the reject already took them out, so tell them.
        Ok(None) => {
            tracing::warn!(phone_known = false, reservation_sid = %attempt.reservation_sid,
                "missed call by a worker without a profile");
            Ok(Some(MissCount {
                out_of_rotation: true,
                went_offline: false,
            }))
        }
        Err(error) => {
            // Give the claim back so a retry can count it.
            if let Err(release) = marker.release(&app.store).await {
                tracing::error!(error = %release, "could not release the miss marker");
            }
            Err(error)
        }
    }
}

/// Sends the one SMS telling a worker they are out of rotation and how to come back.
pub async fn notify_out_of_rotation<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let body = miss_sms(&app.config.business_name, &attempt.skill, reason);
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
    update_profile(app, &attempt.phone, |profile| {
        profile.misses = 0;
        profile.answered_total = profile.answered_total.saturating_add(1);
    })
    .await
    .map(|_| ())
}

/// Read-modify-write of a profile with optimistic concurrency, retried when
/// another writer got there first. `None` when there is no profile.
async fn update_profile<S: Store, T>(
    app: &App<S>,
    phone: &str,
    mut change: impl FnMut(&mut WorkerProfile) -> T,
) -> Result<Option<T>, StoreError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let Some(mut profile) = app.store.get_worker(phone).await? else {
            return Ok(None);
        };
        let result = change(&mut profile);
        if app.store.put_worker(&profile).await?.applied() {
            return Ok(Some(result));
        }
    }
    Err(StoreError::Unavailable(format!(
        "worker profile kept changing during {ATTEMPTS} attempts"
    )))
}

/// What the worker reads: what happened and how to come back.
pub fn miss_sms(business_name: &str, skill: &str, reason: &str) -> String {
    let what = match reason {
        r if r.starts_with("machine") => "your voicemail answered it",
        "fax" => "a fax machine answered it",
        "busy" => "your line was busy",
        "no-key" => "1 was not pressed to take it",
        "hung-up" => "it was hung up before it was taken",
        "failed" | "call-failed" => "it could not get through to your phone",
        "no-phone" => "there is no phone number to call for you",
        "canceled" => "it stopped before it was answered",
        _ => "it was not answered in time",
    };
    format!(
        "{business_name}: you missed a {skill} call ({what}), so you will not get calls for now. \
         Text ON to this number to take calls again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_says_what_happened_and_how_to_come_back() {
        let text = miss_sms("Acme", "sales", "machine_start");
        assert!(text.starts_with("Acme: you missed a sales call"));
        assert!(text.contains("voicemail"));
        assert!(text.contains("Text ON"));
        assert!(miss_sms("Acme", "sales", "busy").contains("busy"));
        assert!(miss_sms("Acme", "sales", "no-key").contains("1 was not pressed"));
        assert!(miss_sms("Acme", "sales", "timeout").contains("not answered in time"));
    }
}
