//! The one writer of worker profiles: [`enroll`] creates one; [`apply`]
//! reads it, lets [`worker::decide`] choose, and writes the result with a
//! conditional write (retried on contention); the miss and answer services
//! carry out the intents. Every SMS to a worker goes through [`text`], which
//! keeps to the worker's SMS block.

use crate::app::App;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::domain::answers;
use crate::domain::intake;
use crate::domain::pin::{self, Check, Pin};
use crate::domain::worker::{self, Intent, MissRule, WorkerEvent};
use crate::model::{Activity, Attempt, WorkerProfile};
use crate::store::{
    Marker, Round, Store, StoreError, WorkerStore, Write, at_most_once, read_modify_write,
};
use crate::twilio::{TwilioError, WorkerUpdate};

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

/// A miss counted on a worker's profile.
#[derive(Debug)]
pub struct Counted {
    /// The profile as written (`None`: the worker has none).
    pub profile: Option<WorkerProfile>,
    /// What the miss rule asks for.
    pub intents: Vec<Intent>,
}

/// Counts `attempt`'s miss on the worker's profile, once per attempt
/// (`Ok(None)`: counted already).
/// `event` is [`WorkerEvent::Missed`] or [`WorkerEvent::Unreachable`].
/// Store-only, so the assignment callback can use it inside its 5 s budget
/// and put the activity in its reject instruction.
pub async fn count_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    event: &WorkerEvent<'_>,
) -> Result<Option<Counted>, StoreError> {
    let marker = Marker::MissCounted {
        reservation_sid: &attempt.reservation_sid,
    };
    // Any failure gives the claim back, so a retry can count it.
    at_most_once(&app.store, &marker, |_: &StoreError| true, async {
        match apply(&app.store, &attempt.phone, event).await? {
            Some((profile, decision)) => Ok(Counted {
                profile: Some(profile),
                intents: decision.intents,
            }),
            None => {
                tracing::warn!(phone_known = false, reservation_sid = %attempt.reservation_sid,
                    "missed call by a worker without a profile");
                Ok(Counted {
                    profile: None,
                    intents: worker::missed_without_profile(),
                })
            }
        }
    })
    .await
}

/// The miss rule as configured.
pub fn miss_rule(config: &Config) -> MissRule {
    MissRule {
        cooldown_secs: i64::try_from(config.miss_cooldown.as_secs()).unwrap_or(i64::MAX),
        offline_at: config.misses_before_offline,
    }
}

/// Records that `attempt`'s worker missed the call for `reason`
/// (`machine_start`, `busy`, `no-answer`, `no-key`, `timeout`, `failed`, ...):
/// counts it (a failed leg whose SIP answer says the number does not exist
/// as unreachable), moves the worker over REST with their answer score
/// lowered in the same update, and sends the texts the change calls for.
/// Idempotent per attempt.
pub async fn record_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Result<(), MissError> {
    let now = crate::store::now_secs();
    let event = if worker::unreachable_leg(reason, attempt.sip_response_code) {
        WorkerEvent::Unreachable { now }
    } else {
        WorkerEvent::Missed {
            now,
            rule: miss_rule(&app.config),
        }
    };
    let Some(counted) = count_miss(app, attempt, &event).await? else {
        return Ok(());
    };
    crate::metrics::emit(crate::metrics::Metric::Miss { reason });
    let mut result = Ok(());
    for intent in &counted.intents {
        if let Intent::MoveWorker(move_to) = intent {
            let mut update = super::worker_update(
                *move_to,
                super::activity_sid(&app.config.activities, move_to.activity),
            );
            update.attributes = counted.profile.as_ref().map(|p| attributes(app, p, now));
            match app
                .twilio
                .update_worker(&attempt.worker_sid, &update, deadline)
                .await
            {
                Ok(_) => {
                    tracing::info!(worker_sid = %attempt.worker_sid, reservation_sid = %attempt.reservation_sid,
                    activity_sid = ?update.activity_sid, score = ?update.attributes.as_ref().map(|a| &a[answers::SCORE_ATTRIBUTE]),
                    "worker moved after a miss")
                }
                Err(error) => {
                    tracing::error!(%error, worker_sid = %attempt.worker_sid,
                        reservation_sid = %attempt.reservation_sid, "could not set the worker's activity after a miss");
                    result = Err(error.into());
                }
            }
        }
    }
    tell_of_miss(app, attempt, reason, &counted.intents, deadline).await?;
    result
}

/// The worker's TaskRouter attributes as `profile` makes them at `now`:
/// the skills still configured and the answer score.
fn attributes<S: Store>(app: &App<S>, profile: &WorkerProfile, now: i64) -> serde_json::Value {
    let skills: Vec<String> = profile
        .skills
        .iter()
        .filter(|s| app.config.has_skill(s))
        .cloned()
        .collect();
    intake::worker_attributes(profile, &skills, now)
}

/// Sends the texts a miss's `intents` ask for: the worker's "off duty,
/// text ON", the admins' "the number may be wrong".
async fn tell_of_miss<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    intents: &[Intent],
    deadline: Deadline,
) -> Result<(), MissError> {
    if intents.contains(&Intent::TextOutOfRotation) && !attempt.phone.is_empty() {
        notify_out_of_rotation(app, attempt, reason, deadline).await?;
    }
    if intents.contains(&Intent::TextAdminsUnreachable) {
        notify_admins_unreachable(app, attempt, deadline).await?;
    }
    Ok(())
}

/// The assignment callback's miss: the phone could not be rung, so the
/// worker is off duty at once and the admins told; returns the (offline)
/// activity for the reject instruction.
pub async fn miss_in_answer<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    reason: &str,
    deadline: Deadline,
) -> Activity {
    let unreachable = WorkerEvent::Unreachable {
        now: crate::store::now_secs(),
    };
    let intents = count_miss(app, attempt, &unreachable)
        .await
        .map(|counted| counted.map(|c| c.intents))
        .unwrap_or_else(|error| {
            tracing::error!(%error, reservation_sid = %attempt.reservation_sid, "could not count the miss");
            None
        });
    if let Some(intents) = &intents {
        crate::metrics::emit(crate::metrics::Metric::Miss { reason });
        // Best effort inside what is left of the 5 s: the answer matters more.
        let _ = tell_of_miss(app, attempt, reason, intents, deadline).await;
    }
    worker::activity_after_miss(intents.as_deref())
}

/// What a scheduler job over worker profiles did (cooldowns, untils,
/// closing).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Profiles this run changed.
    pub due: usize,
    /// TaskRouter workers this run moved.
    pub moved: usize,
    /// Profiles not changed, or workers not moved after their profile
    /// changed (the profile is put back: the next run tries them again),
    /// or not told after the move (logged, not retried: the profile's
    /// write is the once-key, as for a miss).
    pub failed: usize,
    /// Stopped before the deadline with profiles left for the next run.
    pub cut_short: bool,
}

/// Time a REST update may need; a run stops when less is left.
const REST_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// How late a scheduler tick may come and still take workers off at
/// closing: a few missed minutes are caught up, a stale tick hours later is not.
pub const CLOSE_GRACE_SECS: i64 = 30 * 60;

/// Ends every cooldown that has passed by `now` (the run's clock): the
/// profile first (a conditional write, so overlapping runs end each once),
/// then the TaskRouter worker back to Available when still Unavailable.
pub async fn end_cooldowns<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<Sweep, StoreError> {
    let due = |p: &WorkerProfile| worker::cooldown_over(p, now);
    sweep(
        app,
        due,
        &WorkerEvent::CooldownEnded { now },
        None,
        now,
        deadline,
    )
    .await
}

/// Makes every pending `until` whose time has passed by `now`: off duty
/// for `on … until`, back on duty with the last skills for `off until`
/// (unless the line is closed and `OFF_AT_CLOSE` on), each worker texted
/// once. The profile's conditional write is the once-key: a repeated or
/// overlapping run finds the `until` gone.
pub async fn make_untils<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<Sweep, StoreError> {
    let config = &app.config;
    let closed = config.off_at_close
        && config
            .business_hours
            .as_ref()
            .is_some_and(|hours| !hours.is_open_at(now));
    let due = |p: &WorkerProfile| worker::until_due(p, now);
    sweep(
        app,
        due,
        &WorkerEvent::UntilDue { now, closed },
        None,
        now,
        deadline,
    )
    .await
}

/// With `BUSINESS_HOURS` and `OFF_AT_CLOSE`, in the [`CLOSE_GRACE_SECS`]
/// after the day's closing: takes everyone still on duty off and texts
/// them once. Every profile is claimed once per closing
/// (`Marker::OffAtClose`), on duty or not, so a worker who goes on again
/// after closing is not taken off again that evening.
pub async fn off_at_close<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<Sweep, StoreError> {
    let config = &app.config;
    let closing = config
        .business_hours
        .as_ref()
        .filter(|_| config.off_at_close)
        .and_then(|hours| hours.just_closed(now, CLOSE_GRACE_SECS));
    let Some(day) = closing else {
        return Ok(Sweep::default());
    };
    sweep(
        app,
        |_| true,
        &WorkerEvent::Closed,
        Some(&day),
        now,
        deadline,
    )
    .await
}

/// Applies `event` to each profile that is `due` and carries out what it
/// decides at `now`; with `closing`, once per profile and closing day.
async fn sweep<S: Store>(
    app: &App<S>,
    due: impl Fn(&WorkerProfile) -> bool,
    event: &WorkerEvent<'_>,
    closing: Option<&str>,
    now: i64,
    deadline: Deadline,
) -> Result<Sweep, StoreError> {
    let profiles = app.store.list_workers().await?;
    let mut run = Sweep::default();
    for profile in profiles.iter().filter(|p| due(p)) {
        if deadline.remaining() < REST_TIME {
            run.cut_short = true;
            break;
        }
        let phone = profile.phone.as_str();
        let applied = match closing {
            None => apply(&app.store, phone, event).await,
            Some(day) => {
                let marker = Marker::OffAtClose { day, phone };
                at_most_once(
                    &app.store,
                    &marker,
                    |_| true,
                    apply(&app.store, phone, event),
                )
                .await
                .map(Option::flatten)
            }
        };
        let (written, decision) = match applied {
            Ok(Some(applied)) if applied.1.profile.is_some() => applied,
            Ok(_) => continue,
            Err(error) => {
                tracing::error!(%error, phone, ?event, "profile not changed");
                run.failed += 1;
                continue;
            }
        };
        run.due += 1;
        match carry_out(app, &written, &decision.intents, now, deadline).await {
            Ok(moved) => run.moved += usize::from(moved),
            Err(unfinished) => {
                run.failed += 1;
                if unfinished == Unfinished::NotMoved {
                    put_back(app, profile, &written).await;
                }
            }
        }
    }
    Ok(run)
}

/// Where [`carry_out`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unfinished {
    /// TaskRouter was not moved: the profile says what never happened.
    NotMoved,
    /// Moved, but the worker was not texted.
    NotTold,
    /// The profile names no TaskRouter worker: a retry would not help.
    NoWorker,
}

/// Puts `before` (the profile as listed) back in place of `written` after
/// the TaskRouter move failed, so the next run finds it due and tries
/// again, rather than leaving a worker benched, or on duty, against what
/// the profile says (`WorkerEvent::MoveFailed`: not over a later write).
/// At closing the once-marker is spent: that worker stays on duty, the
/// profile and TaskRouter agreeing.
async fn put_back<S: Store>(app: &App<S>, before: &WorkerProfile, written: &WorkerProfile) {
    let phone = written.phone.as_str();
    let event = WorkerEvent::MoveFailed { before, written };
    match apply(&app.store, phone, &event).await {
        Ok(Some((_, decision))) if decision.profile.is_some() => {
            tracing::info!(phone, "profile put back for the next run");
        }
        Ok(_) => tracing::warn!(phone, "profile written over since; not put back"),
        Err(error) => tracing::error!(%error, phone, "profile not put back"),
    }
}

/// Carries out a scheduler job's `intents` for the worker `written` (the
/// profile as written) at `now`: the TaskRouter move first, then the text,
/// so no worker is told of a move that failed. `Ok(true)`: moved.
async fn carry_out<S: Store>(
    app: &App<S>,
    written: &WorkerProfile,
    intents: &[Intent],
    now: i64,
    deadline: Deadline,
) -> Result<bool, Unfinished> {
    let phone = written.phone.as_str();
    let mut moved = false;
    for intent in intents {
        let update = match intent {
            Intent::MoveWorker(move_to) => {
                let mut update = super::worker_update(
                    *move_to,
                    super::activity_sid(&app.config.activities, move_to.activity),
                );
                // Back in rotation (a cooldown's end): with the score as
                // the time since the miss has forgiven it so far.
                if move_to.activity == Activity::Available {
                    update.attributes = Some(attributes(app, written, now));
                }
                update
            }
            Intent::PutOnDuty => on_duty_update(app, written, now),
            Intent::Tell(notice) => {
                let body = worker::notice_sms(&app.config.business_name, *notice, &written.skills);
                if let Err(error) = text(app, phone, &body, deadline).await {
                    tracing::error!(%error, phone, ?notice, "duty change not texted");
                    return Err(Unfinished::NotTold);
                }
                continue;
            }
            _ => continue,
        };
        let Some(worker_sid) = written.worker_sid.as_deref() else {
            tracing::error!(phone, "no TaskRouter worker to move");
            return Err(Unfinished::NoWorker);
        };
        if let Err(error) = app
            .twilio
            .update_worker(worker_sid, &update, deadline)
            .await
        {
            tracing::error!(%error, phone, worker_sid, "worker not moved");
            return Err(Unfinished::NotMoved);
        }
        tracing::info!(phone, worker_sid, activity_sid = ?update.activity_sid, "worker moved");
        moved = true;
    }
    Ok(moved)
}

/// Back on duty: Available, with the profile's skills (those still
/// configured) as the attributes the workflow matches on.
fn on_duty_update<S: Store>(app: &App<S>, profile: &WorkerProfile, now: i64) -> WorkerUpdate {
    WorkerUpdate {
        activity_sid: Some(app.config.activities.available.clone()),
        attributes: Some(attributes(app, profile, now)),
        reject_pending_reservations: false,
    }
}

/// The assignment callback could not record the attempt (the state store
/// failed): the reject takes the worker off duty, nothing is counted,
/// and they are texted once how to come back, when their phone is known
/// and SMS works. Each outage offers a worker one task at most: Offline,
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

/// Texts each admin, once per change of state (`decide` asks once), that
/// `attempt`'s worker could not be reached.
async fn notify_admins_unreachable<S: Store>(
    app: &App<S>,
    attempt: &Attempt,
    deadline: Deadline,
) -> Result<(), MissError> {
    let config = &app.config;
    if config.admin_numbers.is_empty() {
        tracing::warn!(reservation_sid = %attempt.reservation_sid,
            "worker unreachable and no ADMIN_NUMBERS to tell");
        return Ok(());
    }
    let body = worker::unreachable_sms(&config.business_name, &attempt.phone, &attempt.skill);
    let mut result = Ok(());
    for to in &config.admin_numbers {
        if let Err(error) = text(app, to, &body, deadline).await {
            tracing::error!(%error, to, reservation_sid = %attempt.reservation_sid,
                "could not tell an admin the worker is unreachable");
            result = Err(error.into());
        }
    }
    result
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

/// The bridge of the reservation ended: the worker's TaskRouter attributes
/// get the answer score their answer raised. Not at the answer itself,
/// where a REST round trip would hold up the caller's bridge: the worker
/// holds the task until it is completed, so no offer reads the score before
/// this runs (`amd-result`'s bridge action, ahead of completing the task).
/// Best effort: a failure is logged and the next update carries the score.
pub async fn publish_score<S: Store>(app: &App<S>, attempt: &Attempt, deadline: Deadline) {
    let (task_sid, reservation_sid) = (&attempt.task_sid, &attempt.reservation_sid);
    let profile = match app.store.get_worker(&attempt.phone).await {
        Ok(Some(profile)) => profile,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, task_sid, reservation_sid, "answer score not published: profile not read");
            return;
        }
    };
    let update = WorkerUpdate {
        activity_sid: None,
        attributes: Some(attributes(app, &profile, crate::store::now_secs())),
        reject_pending_reservations: false,
    };
    let worker_sid = &attempt.worker_sid;
    match app
        .twilio
        .update_worker(worker_sid, &update, deadline)
        .await
    {
        Ok(_) => tracing::info!(%worker_sid, task_sid, reservation_sid,
            score = ?update.attributes.as_ref().map(|a| &a[answers::SCORE_ATTRIBUTE]),
            "answer score published"),
        Err(error) => tracing::error!(%error, %worker_sid, task_sid, reservation_sid,
            "answer score not published"),
    }
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
