//! The worker-profile state machine: what each change of a worker's duty,
//! misses and TaskRouter activity does to the profile, and what it asks of
//! TaskRouter and the worker's phone. `service::worker` executes it and is the
//! only writer of profiles.
//!
//! The miss rule lives here once ([`MissRule`]). Every reject moves the
//! worker to an unavailable activity (docs/twilio.md, "Reject advice"). A
//! miss (voicemail, busy, no answer, no key) keeps them Unavailable for a
//! cooldown stored on the profile (`cooldown_until`): `MISS_COOLDOWN_SECS`
//! for the first, doubled for each further consecutive miss, never more than
//! [`COOLDOWN_CAP_SECS`]. The `scheduler` ends it ([`WorkerEvent::CooldownEnded`])
//! and puts them back to Available, unless they went off duty (or back on)
//! meanwhile. At `MISSES_BEFORE_OFFLINE` consecutive misses the worker goes
//! Offline and is told once by SMS how to come back (`on`).
//!
//! A phone that cannot be reached at all (no phone known, the call could not
//! be placed, or the leg failed with a SIP "no such number" answer,
//! [`unreachable_leg`]) takes the worker Offline at once, and the admins are
//! texted once that the number may be wrong: the next offer would fail the
//! same way. Texts follow changes of state, never misses: a worker already
//! Offline is not texted again.
//!
//! A worker who texted STOP (or whose SMS Twilio refused with 21610) is
//! "SMS blocked": nothing texts them until they text START.
//!
//! A worker may say how long (`on sales until 5pm`, `off until 1pm`): the
//! change is kept on the profile (`duty_until`) and the `scheduler` makes
//! it once its time has passed ([`WorkerEvent::UntilDue`]), texting the
//! worker once; a later plain `on` or `off` forgets it. With business hours
//! and `OFF_AT_CLOSE`, everyone on duty at closing is taken off and told
//! ([`WorkerEvent::Closed`]); closing wins over a pending `on … until`
//! past it (nothing is left for it to do), and the scheduler puts nobody
//! back on while the line is closed: an `off until` due then is dropped and
//! the worker told to text ON, so availability never drifts overnight.

use crate::domain::answers::{self, Offer};
use crate::domain::pin;
use crate::model::{Activity, Duty, DutyUntil, PinHash, WorkerProfile};

/// Everything that may change a worker's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent<'a> {
    /// The worker went on duty in TaskRouter with `skills`, until `until`
    /// (Unix seconds) when they said so; any earlier `until` is forgotten.
    OnDuty {
        worker_sid: &'a str,
        skills: &'a [String],
        until: Option<i64>,
    },
    /// The worker went off duty, until `until` when they said so; any
    /// earlier `until` is forgotten. `worker_sid` is `None` when TaskRouter
    /// no longer knows the worker (deleted in the console).
    OffDuty {
        worker_sid: Option<&'a str>,
        until: Option<i64>,
    },
    /// The worker missed an offered call at `now`.
    Missed { now: i64, rule: MissRule },
    /// The worker's phone could not be reached at all (no phone known, the
    /// call could not be placed, a SIP "no such number") at `now`: off duty
    /// at once.
    Unreachable { now: i64 },
    /// A scheduler run at `now`: a cooldown that has passed ends.
    CooldownEnded { now: i64 },
    /// A scheduler run at `now`: a pending `until` that has passed is made.
    /// `closed`: the line is closed and `OFF_AT_CLOSE` on, so nobody is put
    /// back on duty.
    UntilDue { now: i64, closed: bool },
    /// The business just closed for the day (`OFF_AT_CLOSE`).
    Closed,
    /// The worker texted STOP or a synonym, or Twilio refused an SMS to them
    /// as unsubscribed (21610).
    OptedOut,
    /// The worker texted START or a synonym: SMS reach them again. Their
    /// duty is unchanged; their next `on` puts them on it.
    OptedIn,
    /// The worker took a call.
    Answered,
    /// The worker texted `pin 4821`: a new PIN, and any lock-out lifted.
    PinSet { pin: &'a PinHash },
    /// The keypad took the worker's PIN.
    PinRight,
    /// A wrong PIN on the keypad at `now`; the last of
    /// [`pin::LOCK_AFTER`] in a row locks the keypad for [`pin::LOCK_SECS`].
    PinWrong { now: i64 },
    /// TaskRouter reports the worker's activity.
    ActivityChanged {
        worker_sid: &'a str,
        activity: Activity,
    },
    /// A scheduler run wrote `written` over `before` and then could not
    /// move the worker in TaskRouter: `before` goes back, so the next run
    /// finds it due and tries again.
    MoveFailed {
        before: &'a WorkerProfile,
        written: &'a WorkerProfile,
    },
}

/// How misses take a worker out of rotation (`MISS_COOLDOWN_SECS`,
/// `MISSES_BEFORE_OFFLINE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissRule {
    /// The first miss's cooldown, in seconds.
    pub cooldown_secs: i64,
    /// Consecutive misses that take the worker off duty.
    pub offline_at: u32,
}

/// No cooldown is longer than an hour (`MISS_COOLDOWN_SECS`' own maximum):
/// a worker that rarely misses is not benched for the day by a bad streak.
pub const COOLDOWN_CAP_SECS: i64 = 3600;

impl MissRule {
    /// The cooldown after the `misses`th consecutive miss: doubled per miss
    /// after the first, capped.
    pub fn cooldown_secs(&self, misses: u32) -> i64 {
        // 2^12 is past any cap already; the bound keeps the shift defined.
        let doublings = misses.saturating_sub(1).min(12);
        self.cooldown_secs
            .saturating_mul(1 << doublings)
            .min(COOLDOWN_CAP_SECS.max(self.cooldown_secs))
    }
}

/// Twilio's SIP answers that mean the number cannot be reached at all (404
/// not found, 410 gone, 484 address incomplete, 604 does not exist
/// anywhere), on a leg whose status is `failed` (docs/twilio.md,
/// "Calls"); any other failure is an ordinary miss.
pub fn unreachable_leg(reason: &str, sip_response_code: Option<u16>) -> bool {
    reason == "failed" && matches!(sip_response_code, Some(404 | 410 | 484 | 604))
}

/// `before` back over `written`, only while the stored `profile` is the
/// very one written (a write since stands: each write adds one to the
/// version) and `before` is what was written over.
fn move_failed(
    profile: &WorkerProfile,
    before: &WorkerProfile,
    written: &WorkerProfile,
) -> Decision {
    if before.version != written.version || profile.version != written.version + 1 {
        return Decision::keep("written over since; that write stands");
    }
    let back = WorkerProfile {
        version: profile.version,
        ..before.clone()
    };
    Decision::write(back, Vec::new())
}

/// Whether the scheduler at `now` ends `profile`'s cooldown.
pub fn cooldown_over(profile: &WorkerProfile, now: i64) -> bool {
    profile.cooldown_until.is_some_and(|until| until <= now)
}

/// Move the worker to `activity` in TaskRouter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveWorker {
    pub activity: Activity,
    /// Reject the reservations still pending, so their callers are offered
    /// to someone else at once.
    pub reject_pending: bool,
}

/// Going off duty: Offline, and any pending reservation rejected.
pub const OFF_DUTY: MoveWorker = MoveWorker {
    activity: Activity::Offline,
    reject_pending: true,
};

/// What a profile change asks of the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    MoveWorker(MoveWorker),
    /// Text the worker that they are off duty and how to come back.
    TextOutOfRotation,
    /// Text the admins that the worker's number may be wrong.
    TextAdminsUnreachable,
    /// Text the worker that wrong PINs locked their keypad.
    TextPinLocked,
    /// Put the worker back on duty in TaskRouter: Available, with the
    /// profile's skills as attributes.
    PutOnDuty,
    /// Text the worker what the scheduler did to their duty.
    Tell(Notice),
}

/// What the scheduler tells a worker about their duty ([`notice_sms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Their `on … until` came: off duty now.
    OffAsAsked,
    /// Their `off until` came: back on duty.
    BackOnAsAsked,
    /// Their `off until` came while the line is closed: they stay off.
    KeptOffClosed,
    /// The business closed: off duty for the day.
    OffAtClose,
}

/// The decision for one event: the profile to write (`None`: nothing
/// changes) and what to do once it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub profile: Option<WorkerProfile>,
    pub intents: Vec<Intent>,
    /// Why nothing is written, for the log.
    pub kept_because: Option<&'static str>,
}

impl Decision {
    fn write(profile: WorkerProfile, intents: Vec<Intent>) -> Self {
        Self {
            profile: Some(profile),
            intents,
            kept_because: None,
        }
    }

    fn keep(why: &'static str) -> Self {
        Self {
            profile: None,
            intents: Vec::new(),
            kept_because: Some(why),
        }
    }
}

pub fn decide(profile: &WorkerProfile, event: &WorkerEvent<'_>) -> Decision {
    match event {
        WorkerEvent::OnDuty {
            worker_sid,
            skills,
            until,
        } => {
            let mut next = went_online(profile, worker_sid, skills);
            // A plain `on` forgets an earlier `until`.
            next.duty_until = until.map(|at| DutyUntil {
                at,
                then: Duty::Off,
            });
            Decision::write(next, Vec::new())
        }
        WorkerEvent::OffDuty { worker_sid, until } => {
            let mut next = went_offline(profile, *worker_sid);
            // A plain `off` forgets an earlier `until`.
            next.duty_until = until.map(|at| DutyUntil { at, then: Duty::On });
            Decision::write(next, Vec::new())
        }
        WorkerEvent::UntilDue { now, closed } => until_made(profile, *now, *closed),
        WorkerEvent::Closed => {
            if !on_duty(profile) {
                return Decision::keep("not on duty at closing");
            }
            Decision::write(taken_off(profile), told(profile, Notice::OffAtClose))
        }
        WorkerEvent::Missed { now, rule } => missed(profile, *now, rule),
        WorkerEvent::Unreachable { now } => unreachable(profile, *now),
        WorkerEvent::CooldownEnded { now } => cooldown_ended(profile, *now),
        WorkerEvent::MoveFailed { before, written } => move_failed(profile, before, written),
        WorkerEvent::OptedOut | WorkerEvent::OptedIn => {
            let blocked = *event == WorkerEvent::OptedOut;
            if profile.sms_blocked == blocked {
                return Decision::keep("SMS block already stored");
            }
            let mut next = profile.clone();
            next.sms_blocked = blocked;
            Decision::write(next, Vec::new())
        }
        WorkerEvent::Answered => {
            let mut next = profile.clone();
            next.misses = 0;
            next.answered_total = next.answered_total.saturating_add(1);
            next.answers = answers::noted(&profile.answers, Offer::Answered);
            Decision::write(next, Vec::new())
        }
        WorkerEvent::PinSet { pin } => {
            let mut next = profile.clone();
            next.pin = Some((*pin).clone());
            next.pin_failures = 0;
            next.pin_locked_until = None;
            Decision::write(next, Vec::new())
        }
        WorkerEvent::PinRight => {
            if profile.pin_failures == 0 {
                return Decision::keep("no wrong PIN to forget");
            }
            let mut next = profile.clone();
            next.pin_failures = 0;
            Decision::write(next, Vec::new())
        }
        WorkerEvent::PinWrong { now } => {
            if profile.pin_locked_until.is_some_and(|until| *now < until) {
                return Decision::keep("keypad locked already");
            }
            let mut next = profile.clone();
            next.pin_failures = next.pin_failures.saturating_add(1);
            if next.pin_failures < pin::LOCK_AFTER {
                return Decision::write(next, Vec::new());
            }
            next.pin_failures = 0;
            next.pin_locked_until = Some(now.saturating_add(pin::LOCK_SECS));
            let tell = if profile.sms_blocked {
                Vec::new()
            } else {
                vec![Intent::TextPinLocked]
            };
            Decision::write(next, tell)
        }
        WorkerEvent::ActivityChanged {
            worker_sid,
            activity,
        } => {
            if profile
                .worker_sid
                .as_deref()
                .is_some_and(|sid| sid != *worker_sid)
            {
                return Decision::keep("activity update for a replaced TaskRouter worker");
            }
            if profile.activity == Some(*activity) && profile.worker_sid.is_some() {
                return Decision::keep("activity already stored");
            }
            let mut next = profile.clone();
            next.activity = Some(*activity);
            next.worker_sid = Some((*worker_sid).to_string());
            Decision::write(next, Vec::new())
        }
    }
}

/// A miss, counted: a cooldown, or off duty at the limit.
fn missed(profile: &WorkerProfile, now: i64, rule: &MissRule) -> Decision {
    let mut next = counted(profile, now);
    // A worker who texted `off` meanwhile stays Offline, and is not told;
    // the reject's activity must not stick.
    if profile.activity == Some(Activity::Offline) {
        return Decision::write(next, vec![moved(Activity::Offline, false)]);
    }
    if next.misses >= rule.offline_at {
        next.activity = Some(Activity::Offline);
        let mut intents = vec![moved(Activity::Offline, true)];
        if !profile.sms_blocked {
            intents.push(Intent::TextOutOfRotation);
        }
        return Decision::write(next, intents);
    }
    next.activity = Some(Activity::Unavailable);
    next.cooldown_until = Some(now.saturating_add(rule.cooldown_secs(next.misses)));
    Decision::write(next, vec![moved(Activity::Unavailable, true)])
}

/// An unreachable phone: off duty at once; the admins hear of it when this
/// changes the worker's state.
fn unreachable(profile: &WorkerProfile, now: i64) -> Decision {
    let mut next = counted(profile, now);
    next.activity = Some(Activity::Offline);
    if profile.activity == Some(Activity::Offline) {
        return Decision::write(next, vec![moved(Activity::Offline, false)]);
    }
    Decision::write(
        next,
        vec![
            moved(Activity::Offline, true),
            Intent::TextAdminsUnreachable,
        ],
    )
}

/// The miss at `now` counted and noted in the answer record, and any
/// running cooldown replaced by what it decides.
fn counted(profile: &WorkerProfile, now: i64) -> WorkerProfile {
    let mut next = profile.clone();
    next.misses = next.misses.saturating_add(1);
    next.missed_total = next.missed_total.saturating_add(1);
    next.answers = answers::noted(&profile.answers, Offer::Missed { at: now });
    next.cooldown_until = None;
    next
}

fn cooldown_ended(profile: &WorkerProfile, now: i64) -> Decision {
    if !cooldown_over(profile, now) {
        return Decision::keep("no cooldown over");
    }
    let mut next = profile.clone();
    next.cooldown_until = None;
    // Off duty, or back to Available (`on`, the console), meanwhile: only
    // the stale cooldown goes.
    if profile.activity != Some(Activity::Unavailable) {
        return Decision::write(next, Vec::new());
    }
    next.activity = Some(Activity::Available);
    Decision::write(next, vec![moved(Activity::Available, false)])
}

/// Whether the scheduler at `now` makes `profile`'s pending `until`.
pub fn until_due(profile: &WorkerProfile, now: i64) -> bool {
    profile.duty_until.is_some_and(|until| until.at <= now)
}

/// On duty: Available, or cooling down after a miss.
fn on_duty(profile: &WorkerProfile) -> bool {
    matches!(
        profile.activity,
        Some(Activity::Available | Activity::Unavailable)
    )
}

fn until_made(profile: &WorkerProfile, now: i64, closed: bool) -> Decision {
    let Some(until) = profile.duty_until.filter(|_| until_due(profile, now)) else {
        return Decision::keep("no until due");
    };
    let mut next = profile.clone();
    next.duty_until = None;
    // Already as asked (the console, a miss, closing): only the until goes.
    let done = match until.then {
        Duty::Off => !on_duty(profile),
        Duty::On => on_duty(profile),
    };
    if done {
        return Decision::write(next, Vec::new());
    }
    match until.then {
        Duty::Off => Decision::write(taken_off(profile), told(profile, Notice::OffAsAsked)),
        Duty::On if closed => Decision::write(next, told(profile, Notice::KeptOffClosed)),
        Duty::On => {
            next.activity = Some(Activity::Available);
            next.misses = 0;
            next.cooldown_until = None;
            let mut intents = vec![Intent::PutOnDuty];
            intents.extend(told(profile, Notice::BackOnAsAsked));
            Decision::write(next, intents)
        }
    }
}

/// Off duty by the scheduler: Offline, no cooldown, no pending `until`,
/// and TaskRouter moved (pending reservations rejected).
fn taken_off(profile: &WorkerProfile) -> WorkerProfile {
    WorkerProfile {
        activity: Some(Activity::Offline),
        cooldown_until: None,
        duty_until: None,
        ..profile.clone()
    }
}

/// The TaskRouter move [`taken_off`] asks for, then `notice` unless the
/// worker is SMS blocked; [`Notice::KeptOffClosed`] moves nobody.
fn told(profile: &WorkerProfile, notice: Notice) -> Vec<Intent> {
    let mut intents = Vec::new();
    if matches!(notice, Notice::OffAsAsked | Notice::OffAtClose) {
        intents.push(Intent::MoveWorker(OFF_DUTY));
    }
    if !profile.sms_blocked {
        intents.push(Intent::Tell(notice));
    }
    intents
}

fn moved(activity: Activity, reject_pending: bool) -> Intent {
    Intent::MoveWorker(MoveWorker {
        activity,
        reject_pending,
    })
}

/// A miss by a worker without a profile (removed from the roster meanwhile):
/// nothing to count, no cooldown to keep, so off duty, and told.
pub fn missed_without_profile() -> Vec<Intent> {
    vec![moved(Activity::Offline, true), Intent::TextOutOfRotation]
}

/// The activity a miss moves the worker to; a miss not counted (counted
/// before, or the count failed) has no cooldown to end, so off duty.
pub fn activity_after_miss(intents: Option<&[Intent]>) -> Activity {
    intents
        .into_iter()
        .flatten()
        .find_map(|intent| match intent {
            Intent::MoveWorker(m) => Some(m.activity),
            _ => None,
        })
        .unwrap_or(Activity::Offline)
}

/// The profile after the worker went online in TaskRouter: the consecutive
/// miss count starts again, so one old miss does not take them out at once.
pub fn went_online(profile: &WorkerProfile, worker_sid: &str, skills: &[String]) -> WorkerProfile {
    WorkerProfile {
        worker_sid: Some(worker_sid.to_string()),
        skills: skills.to_vec(),
        activity: Some(Activity::Available),
        misses: 0,
        cooldown_until: None,
        ..profile.clone()
    }
}

/// The profile after the worker went offline. `worker_sid` is `None` when
/// TaskRouter no longer knows the worker (deleted in the console).
pub fn went_offline(profile: &WorkerProfile, worker_sid: Option<&str>) -> WorkerProfile {
    WorkerProfile {
        worker_sid: worker_sid.map(str::to_string),
        activity: Some(Activity::Offline),
        cooldown_until: None,
        ..profile.clone()
    }
}

/// What the worker reads when the scheduler changed their duty. `skills`:
/// those they are back on duty for.
pub fn notice_sms(business_name: &str, notice: Notice, skills: &[String]) -> String {
    match notice {
        Notice::OffAsAsked => format!(
            "{business_name}: you are off duty now, as you asked. Text ON to take calls again."
        ),
        Notice::BackOnAsAsked => format!(
            "{business_name}: you are back on duty for {}, as you asked. Text OFF to stop.",
            skills.join(", ")
        ),
        Notice::KeptOffClosed => format!(
            "{business_name}: we are closed now, so you stay off duty. Text ON to take calls anyway."
        ),
        Notice::OffAtClose => format!(
            "{business_name}: we are closed for the day, so you are off duty. Text ON to take calls again."
        ),
    }
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

/// What the admins read when a worker's phone cannot be reached.
pub fn unreachable_sms(business_name: &str, phone: &str, skill: &str) -> String {
    let phone = if phone.is_empty() {
        "(no number)"
    } else {
        phone
    };
    format!(
        "{business_name}: a {skill} call could not reach the worker at {phone}, so they are off \
         duty. The number may be wrong: check it, then they text ON to take calls again."
    )
}

/// What a worker reads when a call was offered to them while Homeline could
/// not record it (a state store outage): they are out of rotation until `on`.
pub fn outage_sms(business_name: &str, skill: &str) -> String {
    format!(
        "{business_name}: a {skill} call could not be put through to you, so you will not get \
         calls for now. Text ON to this number to take calls again."
    )
}

/// Texted when wrong PINs lock the keypad: the worker may not have been
/// the one calling.
pub fn pin_locked_sms(business_name: &str) -> String {
    format!(
        "{business_name}: {} wrong PINs locked your keypad on the worker line for an hour. \
         Not you? Tell your manager and text PIN with new digits.",
        pin::LOCK_AFTER
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana(misses: u32, activity: Option<Activity>) -> WorkerProfile {
        WorkerProfile {
            misses,
            activity,
            ..WorkerProfile::new("+15551230001", "Ana", vec!["sales".into()])
        }
    }

    #[test]
    fn the_fifth_wrong_pin_in_a_row_locks_the_keypad_for_an_hour_and_tells_the_worker() {
        let hash = PinHash("v1$c2FsdA$dGFn".into());
        let set = decide(&ana(0, None), &WorkerEvent::PinSet { pin: &hash });
        let mut profile = set.profile.expect("written");
        assert_eq!(profile.pin.as_ref(), Some(&hash));
        for failures in 1..pin::LOCK_AFTER {
            let d = decide(&profile, &WorkerEvent::PinWrong { now: 1_000 });
            profile = d.profile.expect("counted");
            assert_eq!(profile.pin_failures, failures);
            assert_eq!(profile.pin_locked_until, None);
            assert!(d.intents.is_empty());
        }
        let d = decide(&profile, &WorkerEvent::PinWrong { now: 1_000 });
        assert_eq!(d.intents, vec![Intent::TextPinLocked]);
        let locked = d.profile.expect("locked");
        assert_eq!(locked.pin_locked_until, Some(1_000 + pin::LOCK_SECS));
        assert_eq!(locked.pin_failures, 0, "a fresh count after the lock");
        // Wrong tries while locked count nothing and text nothing again.
        let d = decide(&locked, &WorkerEvent::PinWrong { now: 2_000 });
        assert_eq!(d.profile, None);
        assert!(d.intents.is_empty());
        // A worker who opted out of SMS is not texted.
        let mut blocked = profile.clone();
        blocked.sms_blocked = true;
        let d = decide(&blocked, &WorkerEvent::PinWrong { now: 1_000 });
        assert!(d.intents.is_empty());
        // A right PIN forgets the wrong ones; a new PIN lifts the lock.
        let right = decide(&profile, &WorkerEvent::PinRight)
            .profile
            .expect("reset");
        assert_eq!(right.pin_failures, 0);
        assert_eq!(decide(&right, &WorkerEvent::PinRight).profile, None);
        let reset = decide(&locked, &WorkerEvent::PinSet { pin: &hash })
            .profile
            .expect("set");
        assert_eq!(reset.pin_locked_until, None);
    }

    const RULE: MissRule = MissRule {
        cooldown_secs: 120,
        offline_at: 3,
    };

    fn miss_at(now: i64) -> WorkerEvent<'static> {
        WorkerEvent::Missed { now, rule: RULE }
    }

    #[test]
    fn a_miss_cools_the_worker_down_doubling_per_consecutive_miss() {
        let d = decide(&ana(0, Some(Activity::Available)), &miss_at(1_000));
        let first = d.profile.expect("written");
        assert_eq!((first.misses, first.missed_total), (1, 1));
        assert_eq!(first.activity, Some(Activity::Unavailable));
        assert_eq!(first.cooldown_until, Some(1_120));
        assert_eq!(d.intents, vec![moved(Activity::Unavailable, true)]);
        assert_eq!(activity_after_miss(Some(&d.intents)), Activity::Unavailable);
        // Back on after the cooldown, then a second miss in a row: twice as long.
        let back = decide(&first, &WorkerEvent::CooldownEnded { now: 1_120 })
            .profile
            .expect("written");
        let second = decide(&back, &miss_at(2_000)).profile.expect("written");
        assert_eq!(second.cooldown_until, Some(2_240));
    }

    #[test]
    fn the_cooldown_doubles_up_to_an_hour() {
        let long = MissRule {
            cooldown_secs: 600,
            offline_at: 100,
        };
        let secs: Vec<i64> = (1..=5).map(|m| long.cooldown_secs(m)).collect();
        assert_eq!(secs, [600, 1_200, 2_400, 3_600, 3_600]);
        assert_eq!(long.cooldown_secs(u32::MAX), COOLDOWN_CAP_SECS);
        assert_eq!(RULE.cooldown_secs(3), 480);
    }

    #[test]
    fn the_scheduler_ends_a_cooldown_once_and_not_before_it_is_over() {
        let cooling = decide(&ana(0, Some(Activity::Available)), &miss_at(1_000))
            .profile
            .expect("written");
        let early = decide(&cooling, &WorkerEvent::CooldownEnded { now: 1_119 });
        assert_eq!(early.profile, None);
        assert!(early.intents.is_empty());
        let ended = decide(&cooling, &WorkerEvent::CooldownEnded { now: 1_120 });
        assert_eq!(ended.intents, vec![moved(Activity::Available, false)]);
        let back = ended.profile.expect("written");
        assert_eq!(
            (back.activity, back.cooldown_until, back.misses),
            (Some(Activity::Available), None, 1),
            "the miss still counts towards the next cooldown"
        );
        assert!(!cooldown_over(&back, 9_999));
        let again = decide(&back, &WorkerEvent::CooldownEnded { now: 1_180 });
        assert_eq!((again.profile, again.intents), (None, Vec::new()));
    }

    /// The scheduler ended a cooldown (the profile written), then TaskRouter
    /// refused the move: the cooling profile goes back, unless written
    /// over since.
    #[test]
    fn a_failed_move_puts_the_profile_back_unless_written_over_since() {
        let mut before = decide(&ana(0, Some(Activity::Available)), &miss_at(1_000))
            .profile
            .expect("cooling down");
        before.version = 4;
        let written = decide(&before, &WorkerEvent::CooldownEnded { now: 2_000 })
            .profile
            .expect("the cooldown ends");
        assert_eq!(written.version, 4, "written over version 4");
        let stored = WorkerProfile {
            version: 5,
            ..written.clone()
        };
        let failed = WorkerEvent::MoveFailed {
            before: &before,
            written: &written,
        };
        let back = decide(&stored, &failed).profile.expect("put back");
        assert_eq!(back.cooldown_until, before.cooldown_until);
        assert_eq!(
            back,
            WorkerProfile {
                version: 5,
                ..before.clone()
            }
        );
        let later = WorkerProfile {
            version: 6,
            ..stored.clone()
        };
        assert_eq!(
            decide(&later, &failed).profile,
            None,
            "a later write stands"
        );
    }

    #[test]
    fn a_worker_who_went_off_during_the_cooldown_stays_off() {
        let cooling = decide(&ana(0, Some(Activity::Available)), &miss_at(1_000))
            .profile
            .expect("written");
        // TaskRouter reports the console's (or `off`'s) Offline.
        let mut off = cooling.clone();
        off.activity = Some(Activity::Offline);
        let d = decide(&off, &WorkerEvent::CooldownEnded { now: 2_000 });
        assert!(d.intents.is_empty(), "no move back to Available");
        let kept = d.profile.expect("the stale cooldown goes");
        assert_eq!(
            (kept.activity, kept.cooldown_until),
            (Some(Activity::Offline), None)
        );
        // `off` by SMS clears it at once.
        assert_eq!(went_offline(&cooling, Some("WK1")).cooldown_until, None);
        assert_eq!(went_online(&cooling, "WK1", &[]).cooldown_until, None);
    }

    #[test]
    fn a_worker_who_answered_during_the_cooldown_is_unaffected_by_its_end() {
        let cooling = decide(&ana(1, Some(Activity::Available)), &miss_at(1_000))
            .profile
            .expect("written");
        let answered = decide(&cooling, &WorkerEvent::Answered)
            .profile
            .expect("written");
        assert_eq!(answered.misses, 0, "the streak is over");
        // TaskRouter reports them Available (a call of theirs, the console).
        let mut available = answered.clone();
        available.activity = Some(Activity::Available);
        let d = decide(&available, &WorkerEvent::CooldownEnded { now: 2_000 });
        assert!(d.intents.is_empty(), "no REST update");
        let kept = d.profile.expect("the stale cooldown goes");
        assert_eq!(
            (kept.activity, kept.misses, kept.answered_total),
            (Some(Activity::Available), 0, 1)
        );
        // Still Unavailable (the other reservation's reject): back on as planned.
        let d = decide(&answered, &WorkerEvent::CooldownEnded { now: 2_000 });
        assert_eq!(d.intents, vec![moved(Activity::Available, false)]);
    }

    #[test]
    fn the_last_miss_allowed_takes_the_worker_off_duty_and_texts_once() {
        let d = decide(&ana(2, Some(Activity::Available)), &miss_at(1_000));
        let off = d.profile.expect("written");
        assert_eq!(
            (off.activity, off.cooldown_until),
            (Some(Activity::Offline), None)
        );
        assert_eq!(
            d.intents,
            vec![moved(Activity::Offline, true), Intent::TextOutOfRotation]
        );
        assert_eq!(activity_after_miss(Some(&d.intents)), Activity::Offline);
        // A miss while Offline (a reservation still ringing) texts nothing more.
        let d = decide(&off, &miss_at(1_010));
        assert_eq!(d.intents, vec![moved(Activity::Offline, false)]);
        assert_eq!(d.profile.expect("counted").cooldown_until, None);
        assert_eq!(
            missed_without_profile(),
            vec![moved(Activity::Offline, true), Intent::TextOutOfRotation]
        );
        assert_eq!(activity_after_miss(None), Activity::Offline);
    }

    #[test]
    fn an_offline_worker_stays_offline_and_is_not_told() {
        let d = decide(&ana(5, Some(Activity::Offline)), &miss_at(1_000));
        let next = d.profile.expect("written");
        assert_eq!(
            (next.activity, next.cooldown_until),
            (Some(Activity::Offline), None)
        );
        assert_eq!(d.intents, vec![moved(Activity::Offline, false)]);
    }

    #[test]
    fn an_unreachable_phone_is_off_duty_at_once_and_the_admins_told_once() {
        let cooling = decide(&ana(0, Some(Activity::Available)), &miss_at(1_000))
            .profile
            .expect("written");
        let d = decide(&cooling, &WorkerEvent::Unreachable { now: 1_100 });
        let next = d.profile.expect("written");
        assert_eq!((next.misses, next.missed_total), (2, 2));
        assert_eq!(
            (next.answers.letters().as_str(), next.answers.last_miss_at),
            ("mm", Some(1_100)),
            "both misses noted in the answer record"
        );
        assert_eq!(
            (next.activity, next.cooldown_until),
            (Some(Activity::Offline), None)
        );
        assert_eq!(
            d.intents,
            vec![
                moved(Activity::Offline, true),
                Intent::TextAdminsUnreachable
            ]
        );
        assert_eq!(activity_after_miss(Some(&d.intents)), Activity::Offline);
        let again = decide(&next, &WorkerEvent::Unreachable { now: 1_200 });
        assert_eq!(again.intents, vec![moved(Activity::Offline, false)]);
    }

    #[test]
    fn only_a_failed_leg_with_a_no_such_number_answer_is_unreachable() {
        for sip in [404, 410, 484, 604] {
            assert!(unreachable_leg("failed", Some(sip)), "{sip}");
        }
        assert!(!unreachable_leg("failed", Some(503)));
        assert!(!unreachable_leg("failed", None));
        assert!(!unreachable_leg("busy", Some(404)));
        assert!(!unreachable_leg("no-answer", Some(487)));
    }

    #[test]
    fn a_blocked_worker_is_taken_off_but_not_texted() {
        let mut blocked = ana(2, Some(Activity::Available));
        blocked.sms_blocked = true;
        let d = decide(&blocked, &miss_at(1_000));
        assert_eq!(d.intents, vec![moved(Activity::Offline, true)]);
    }

    #[test]
    fn opting_out_and_in_flips_the_sms_block_and_nothing_else() {
        let on_duty = ana(0, Some(Activity::Available));
        let out = decide(&on_duty, &WorkerEvent::OptedOut)
            .profile
            .expect("written");
        assert!(out.sms_blocked);
        assert_eq!(out.activity, Some(Activity::Available), "duty is intake's");
        assert!(decide(&out, &WorkerEvent::OptedOut).profile.is_none());
        let back = decide(&out, &WorkerEvent::OptedIn)
            .profile
            .expect("written");
        assert_eq!(back, on_duty, "START clears the block, and only that");
        assert!(decide(&back, &WorkerEvent::OptedIn).profile.is_none());
    }

    #[test]
    fn answering_resets_the_misses() {
        let missed = decide(&ana(2, None), &miss_at(1_000))
            .profile
            .expect("written");
        let next = decide(&missed, &WorkerEvent::Answered)
            .profile
            .expect("written");
        assert_eq!((next.misses, next.answered_total), (0, 1));
        assert_eq!(
            (next.answers.letters().as_str(), next.answers.last_miss_at),
            ("ma", Some(1_000)),
            "the answer noted after the miss, whose time is kept"
        );
    }

    #[test]
    fn activity_updates_follow_taskrouter_for_the_current_worker_only() {
        let mut profile = ana(0, Some(Activity::Available));
        profile.worker_sid = Some("WK1".into());
        let to = |worker_sid, activity| WorkerEvent::ActivityChanged {
            worker_sid,
            activity,
        };
        assert_eq!(
            decide(&profile, &to("WK1", Activity::Offline))
                .profile
                .and_then(|p| p.activity),
            Some(Activity::Offline)
        );
        assert!(
            decide(&profile, &to("WK2", Activity::Offline))
                .profile
                .is_none()
        );
        assert!(
            decide(&profile, &to("WK1", Activity::Available))
                .profile
                .is_none()
        );
    }

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

    fn on_until(at: i64) -> WorkerProfile {
        let on = WorkerEvent::OnDuty {
            worker_sid: "WK1",
            skills: &[],
            until: Some(at),
        };
        let mut profile = decide(&ana(2, Some(Activity::Offline)), &on)
            .profile
            .expect("written");
        profile.skills = vec!["sales".into()];
        profile
    }

    fn off_until(at: i64) -> WorkerProfile {
        let off = WorkerEvent::OffDuty {
            worker_sid: Some("WK1"),
            until: Some(at),
        };
        decide(&ana(0, Some(Activity::Available)), &off)
            .profile
            .expect("written")
    }

    /// The profile `d` writes, checked: off duty, no `until` left, moved
    /// and told `notice`.
    fn taken_off_and_told(d: Decision, notice: Notice) -> WorkerProfile {
        assert_eq!(
            d.intents,
            vec![Intent::MoveWorker(OFF_DUTY), Intent::Tell(notice)]
        );
        let off = d.profile.expect("written");
        assert_eq!(
            (off.activity, off.duty_until),
            (Some(Activity::Offline), None)
        );
        off
    }

    fn due(now: i64) -> WorkerEvent<'static> {
        WorkerEvent::UntilDue { now, closed: false }
    }

    #[test]
    fn on_until_takes_the_worker_off_at_its_time_once_and_tells_them() {
        let profile = on_until(5_000);
        assert_eq!(
            profile.duty_until,
            Some(DutyUntil {
                at: 5_000,
                then: Duty::Off
            })
        );
        assert_eq!(profile.activity, Some(Activity::Available));
        assert!(!until_due(&profile, 4_999));
        assert_eq!(decide(&profile, &due(4_999)).profile, None, "not yet");
        let off = taken_off_and_told(decide(&profile, &due(5_000)), Notice::OffAsAsked);
        assert_eq!(decide(&off, &due(5_060)).profile, None, "once");
        // Cooling down after a miss is on duty too.
        let mut cooling = profile.clone();
        cooling.activity = Some(Activity::Unavailable);
        cooling.cooldown_until = Some(5_100);
        let off = decide(&cooling, &due(5_000)).profile.expect("written");
        assert_eq!(
            (off.activity, off.cooldown_until),
            (Some(Activity::Offline), None)
        );
    }

    #[test]
    fn off_until_brings_the_worker_back_with_their_skills_unless_the_line_is_closed() {
        let profile = off_until(5_000);
        assert_eq!(
            (profile.activity, profile.duty_until),
            (
                Some(Activity::Offline),
                Some(DutyUntil {
                    at: 5_000,
                    then: Duty::On
                })
            )
        );
        assert_eq!(decide(&profile, &due(4_940)).profile, None, "not yet");
        let d = decide(&profile, &due(5_030));
        assert_eq!(
            d.intents,
            vec![Intent::PutOnDuty, Intent::Tell(Notice::BackOnAsAsked)]
        );
        let back = d.profile.expect("written");
        assert_eq!(
            (back.activity, back.duty_until, back.skills.clone()),
            (Some(Activity::Available), None, vec!["sales".to_string()])
        );
        let closed = WorkerEvent::UntilDue {
            now: 5_030,
            closed: true,
        };
        let d = decide(&profile, &closed);
        assert_eq!(d.intents, vec![Intent::Tell(Notice::KeptOffClosed)]);
        let kept = d.profile.expect("the until goes");
        assert_eq!(
            (kept.activity, kept.duty_until),
            (Some(Activity::Offline), None)
        );
    }

    #[test]
    fn a_plain_on_or_off_forgets_a_pending_until_and_a_done_one_is_only_forgotten() {
        let plain_off = WorkerEvent::OffDuty {
            worker_sid: Some("WK1"),
            until: None,
        };
        let off = decide(&on_until(5_000), &plain_off)
            .profile
            .expect("written");
        assert_eq!(off.duty_until, None);
        let plain_on = WorkerEvent::OnDuty {
            worker_sid: "WK1",
            skills: &[],
            until: None,
        };
        let on = decide(&off_until(5_000), &plain_on)
            .profile
            .expect("written");
        assert_eq!(on.duty_until, None);
        // Off by the console meanwhile: nothing to move, nobody told.
        let mut console_off = on_until(5_000);
        console_off.activity = Some(Activity::Offline);
        let d = decide(&console_off, &due(5_000));
        assert!(d.intents.is_empty());
        assert_eq!(d.profile.expect("written").duty_until, None);
        let mut console_on = off_until(5_000);
        console_on.activity = Some(Activity::Available);
        assert!(decide(&console_on, &due(5_000)).intents.is_empty());
    }

    #[test]
    fn closing_takes_everyone_on_duty_off_once_and_wins_over_a_pending_on_until() {
        let closed = decide(&on_until(9_000), &WorkerEvent::Closed);
        let off = taken_off_and_told(closed, Notice::OffAtClose);
        assert_eq!(decide(&off, &WorkerEvent::Closed).profile, None);
        // Someone off with a pending `off until` keeps it.
        assert_eq!(
            decide(&off_until(9_000), &WorkerEvent::Closed).profile,
            None
        );
        // An SMS blocked worker is taken off but not texted.
        let mut blocked = on_until(9_000);
        blocked.sms_blocked = true;
        assert_eq!(
            decide(&blocked, &WorkerEvent::Closed).intents,
            vec![Intent::MoveWorker(OFF_DUTY)]
        );
    }

    #[test]
    fn duty_notices_say_what_happened_and_how_to_change_it() {
        let sales = vec!["sales".to_string()];
        let text = |n| notice_sms("Acme", n, &sales);
        assert!(text(Notice::OffAsAsked).contains("Text ON"));
        assert!(text(Notice::BackOnAsAsked).contains("on duty for sales"));
        assert!(text(Notice::KeptOffClosed).contains("closed"));
        assert!(text(Notice::OffAtClose).contains("closed for the day"));
    }
}
