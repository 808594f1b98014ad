//! The one writer of worker profiles: [`enroll`] creates one; [`apply`]
//! reads it, lets [`worker::decide`] choose, and writes the result with a
//! conditional write (retried on contention); the miss and answer services
//! carry out the intents. Every SMS to a worker goes through [`text`], which
//! keeps to the worker's SMS block.

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::pin::{self, Check, Pin};
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

/// What became of an SMS to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Texted {
    /// Twilio took it; its message SID.
    Sent(String),
    /// Not sent: the worker is SMS blocked (as stored, or as Twilio just
    /// answered with 21610, which is then stored).
    Blocked,
}

/// Texts `body` to `to` from the business's number, unless `to` is a worker
/// who is SMS blocked. A 21610 answer marks the profile blocked and is no
/// error (nothing to retry). When the store cannot be read the SMS is sent
/// anyway: Twilio refuses it if the number opted out.
pub async fn text<S: Store>(
    app: &App<S>,
    to: &str,
    body: &str,
    deadline: Deadline,
) -> Result<Texted, TwilioError> {
    match app.store.get_worker(to).await {
        Ok(Some(profile)) if profile.sms_blocked => {
            tracing::info!(to, "worker is SMS blocked; not texted");
            return Ok(Texted::Blocked);
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, to, "SMS block not read; texting anyway"),
    }
    match app
        .twilio
        .send_sms(&app.config.twilio.caller_id, to, body, deadline)
        .await
    {
        Ok(message_sid) => Ok(Texted::Sent(message_sid)),
        Err(error) if error.is_unsubscribed() => {
            tracing::warn!(
                to,
                "Twilio reports the number unsubscribed; marking it SMS blocked"
            );
            if let Err(error) = apply(&app.store, to, &WorkerEvent::OptedOut).await {
                tracing::error!(%error, to, "SMS block not stored");
            }
            Ok(Texted::Blocked)
        }
        Err(error) => Err(error),
    }
}

/// Counts `attempt`'s miss on the worker's profile, once per attempt
/// (`Ok(None)`: counted already), and returns what the miss rule asks for.
/// `event` is [`WorkerEvent::Missed`] or [`WorkerEvent::Unreachable`].
/// Store-only, so the assignment callback can use it inside its 5 s budget
/// and put the activity in its reject instruction.
pub async fn count_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    event: &WorkerEvent<'_>,
) -> Result<Option<Vec<Intent>>, StoreError> {
    let marker = Marker::MissCounted {
        reservation_sid: &attempt.reservation_sid,
    };
    // Any failure gives the claim back, so a retry can count it.
    at_most_once(&app.store, &marker, |_: &StoreError| true, async {
        match apply(&app.store, &attempt.phone, event).await? {
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
    let missed = WorkerEvent::Missed {
        threshold: app.config.misses_before_unavailable,
    };
    let Some(intents) = count_miss(app, attempt, &missed).await? else {
        return Ok(());
    };
    crate::metrics::emit(crate::metrics::Metric::Miss { reason });
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
            // A miss never locks the keypad.
            Intent::TextPinLocked => {}
        }
    }
    result
}

/// The assignment callback's miss: the phone could not be rung, so the
/// worker is out of rotation at once and told how to come back; returns the
/// (unavailable) activity for the reject instruction.
pub async fn miss_in_answer<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Activity {
    let unreachable = WorkerEvent::Unreachable;
    let intents = count_miss(app, attempt, &unreachable)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid, "could not count the miss");
            None
        });
    if intents.is_some() {
        crate::metrics::emit(crate::metrics::Metric::Miss { reason });
    }
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

/// The assignment callback could not record the attempt (the state store
/// failed): the reject leaves the worker Unavailable, nothing is counted,
/// and they are texted once how to come back, when their phone is known
/// and SMS works. Each outage offers a worker one task at most: Unavailable,
/// they are offered nothing more until they text `on`.
pub async fn not_recorded<S: Store>(app: &App<S>, attempt: &Attempt, deadline: Deadline) {
    if attempt.phone.is_empty() {
        return;
    }
    let body = worker::outage_sms(&app.config.business_name, &attempt.skill);
    if let Err(error) = text(app, &attempt.phone, &body, deadline).await {
        tracing::error!(%error, reservation_sid = %attempt.reservation_sid,
            "could not text the worker how to come back");
    }
}

/// Sends the one SMS telling a worker they are out of rotation and how to come back.
async fn notify_out_of_rotation<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let body = worker::miss_sms(&app.config.business_name, &attempt.skill, reason);
    text(app, &attempt.phone, &body, deadline)
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

/// Sets the worker's keypad PIN under a new random salt. `Ok(false)`: the
/// number is not enrolled.
pub async fn set_pin<S: WorkerStore>(
    store: &S,
    phone: &str,
    pin: &Pin,
) -> Result<bool, StoreError> {
    // A salt must differ per worker and per PIN, not be secret: fastrand's
    // OS-seeded generator is enough.
    let salt: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    let hash = pin.hash(&salt);
    Ok(apply(store, phone, &WorkerEvent::PinSet { pin: &hash })
        .await?
        .is_some())
}

/// What the keypad makes of a PIN, once counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    /// No PIN set: nothing guarded is offered.
    NotSet,
    /// Locked out: nothing was compared.
    Locked,
    Right,
    /// Wrong, with this many tries left before the lock-out.
    Wrong {
        left: u32,
    },
    /// Wrong, and the last try: the keypad is locked and the worker texted.
    LockedNow,
}

/// Checks the PIN `entered` on the keypad by `profile`'s phone at `now`,
/// counting a wrong one (the lock-out counts across calls) and texting the
/// worker when it locks the keypad.
pub async fn check_pin<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    entered: &str,
    now: i64,
    deadline: Deadline,
) -> Result<PinVerdict, StoreError> {
    let phone = profile.phone.as_str();
    let event = match pin::check(profile, entered, now) {
        Check::NotSet => return Ok(PinVerdict::NotSet),
        Check::Locked { .. } => return Ok(PinVerdict::Locked),
        Check::Right => WorkerEvent::PinRight,
        Check::Wrong => WorkerEvent::PinWrong { now },
    };
    let right = event == WorkerEvent::PinRight;
    let Some((written, decision)) = apply(&app.store, phone, &event).await? else {
        return Ok(PinVerdict::NotSet);
    };
    if right {
        return Ok(PinVerdict::Right);
    }
    if written.pin_locked_until.is_some_and(|until| now < until) {
        if decision.intents.contains(&Intent::TextPinLocked) {
            tracing::warn!(phone, "wrong PINs locked the keypad");
            let text_body = worker::pin_locked_sms(&app.config.business_name);
            if let Err(error) = text(app, phone, &text_body, deadline).await {
                tracing::error!(%error, phone, "keypad lock-out not texted");
            }
            return Ok(PinVerdict::LockedNow);
        }
        return Ok(PinVerdict::Locked);
    }
    tracing::info!(phone, failures = written.pin_failures, "wrong PIN");
    Ok(PinVerdict::Wrong {
        left: pin::LOCK_AFTER.saturating_sub(written.pin_failures),
    })
}
