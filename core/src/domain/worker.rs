//! The worker-profile state machine: what each change of a worker's duty,
//! misses and TaskRouter activity does to the profile, and what it asks of
//! TaskRouter and the worker's phone. `service::worker` executes it and is the
//! only writer of profiles.
//!
//! The miss rule lives here once. Every reject moves the worker to an
//! unavailable activity (docs/twilio.md, "Reject advice"). At `threshold`
//! consecutive misses the worker stays out of rotation (Unavailable) and is
//! told once by SMS how to come back (`on`). Below it they go back to
//! Available over REST once the reservation is settled (after the REST reject
//! of a rung phone, or the reservation's timeout), never in the assignment
//! answer. TaskRouter may then offer the same task to the same worker again if
//! nobody else is free: that is wanted (they are the only one who can take
//! it), and it is bounded, because every new miss counts towards the
//! threshold. A phone that could not be rung at all is out of rotation at
//! once: the next offer would fail the same way, in a loop.
//!
//! A worker who texted STOP (or whose SMS Twilio refused with 21610) is
//! "SMS blocked": nothing texts them until they text START.

use crate::domain::pin;
use crate::model::{Activity, PinHash, WorkerProfile};

/// Everything that may change a worker's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerEvent<'a> {
    /// The worker went on duty in TaskRouter with `skills`.
    OnDuty {
        worker_sid: &'a str,
        skills: &'a [String],
    },
    /// The worker went off duty; `worker_sid` is `None` when TaskRouter no
    /// longer knows the worker (deleted in the console).
    OffDuty { worker_sid: Option<&'a str> },
    /// The worker missed an offered call.
    Missed { threshold: u32 },
    /// The worker's phone could not be rung at all (no phone known, the call
    /// could not be placed): a miss that takes them out of rotation at once.
    Unreachable,
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
    /// Text the worker that they are out of rotation and how to come back.
    TextOutOfRotation,
    /// Text the worker that wrong PINs locked their keypad.
    TextPinLocked,
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
        WorkerEvent::OnDuty { worker_sid, skills } => {
            Decision::write(went_online(profile, worker_sid, skills), Vec::new())
        }
        WorkerEvent::OffDuty { worker_sid } => {
            Decision::write(went_offline(profile, *worker_sid), Vec::new())
        }
        WorkerEvent::Missed { threshold } => missed(profile, *threshold),
        WorkerEvent::Unreachable => missed(profile, 0),
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

/// A miss, counted; out of rotation from `out_at` consecutive misses.
fn missed(profile: &WorkerProfile, out_at: u32) -> Decision {
    let mut next = profile.clone();
    next.misses = next.misses.saturating_add(1);
    next.missed_total = next.missed_total.saturating_add(1);
    // A worker who texted `off` meanwhile stays Offline, and is not told.
    let offline = next.activity == Some(Activity::Offline);
    let out_of_rotation = next.misses >= out_at && !offline;
    let activity = if out_of_rotation {
        next.activity = Some(Activity::Unavailable);
        Activity::Unavailable
    } else if offline {
        // The reject's activity must not stick.
        Activity::Offline
    } else {
        Activity::Available
    };
    let tell = out_of_rotation && !profile.sms_blocked;
    Decision::write(next, after_miss(activity, out_of_rotation, tell))
}

/// A miss by a worker without a profile (removed from the roster meanwhile):
/// nothing to count; the reject already took them out, so tell them.
pub fn missed_without_profile() -> Vec<Intent> {
    after_miss(Activity::Unavailable, true, true)
}

fn after_miss(activity: Activity, out_of_rotation: bool, tell: bool) -> Vec<Intent> {
    let mut intents = vec![Intent::MoveWorker(MoveWorker {
        activity,
        reject_pending: out_of_rotation,
    })];
    if tell {
        intents.push(Intent::TextOutOfRotation);
    }
    intents
}

/// The activity a miss moves the worker to; a miss not counted (counted
/// before, or the count failed) leaves them out of rotation.
pub fn activity_after_miss(intents: Option<&[Intent]>) -> Activity {
    intents
        .into_iter()
        .flatten()
        .find_map(|intent| match intent {
            Intent::MoveWorker(m) => Some(m.activity),
            Intent::TextOutOfRotation | Intent::TextPinLocked => None,
        })
        .unwrap_or(Activity::Unavailable)
}

/// The profile after the worker went online in TaskRouter: the consecutive
/// miss count starts again, so one old miss does not take them out at once.
pub fn went_online(profile: &WorkerProfile, worker_sid: &str, skills: &[String]) -> WorkerProfile {
    WorkerProfile {
        worker_sid: Some(worker_sid.to_string()),
        skills: skills.to_vec(),
        activity: Some(Activity::Available),
        misses: 0,
        ..profile.clone()
    }
}

/// The profile after the worker went offline. `worker_sid` is `None` when
/// TaskRouter no longer knows the worker (deleted in the console).
pub fn went_offline(profile: &WorkerProfile, worker_sid: Option<&str>) -> WorkerProfile {
    WorkerProfile {
        worker_sid: worker_sid.map(str::to_string),
        activity: Some(Activity::Offline),
        ..profile.clone()
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

    fn moved(activity: Activity, reject_pending: bool) -> Intent {
        Intent::MoveWorker(MoveWorker {
            activity,
            reject_pending,
        })
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

    #[test]
    fn misses_below_the_threshold_put_the_worker_back() {
        let d = decide(
            &ana(0, Some(Activity::Available)),
            &WorkerEvent::Missed { threshold: 2 },
        );
        let next = d.profile.expect("written");
        assert_eq!((next.misses, next.missed_total), (1, 1));
        assert_eq!(d.intents, vec![moved(Activity::Available, false)]);
        assert_eq!(activity_after_miss(Some(&d.intents)), Activity::Available);
    }

    #[test]
    fn the_threshold_takes_the_worker_out_and_texts_once() {
        let d = decide(
            &ana(1, Some(Activity::Available)),
            &WorkerEvent::Missed { threshold: 2 },
        );
        assert_eq!(
            d.profile.expect("written").activity,
            Some(Activity::Unavailable)
        );
        assert_eq!(
            d.intents,
            vec![
                moved(Activity::Unavailable, true),
                Intent::TextOutOfRotation
            ]
        );
        assert_eq!(missed_without_profile(), d.intents);
        assert_eq!(activity_after_miss(None), Activity::Unavailable);
    }

    #[test]
    fn an_offline_worker_stays_offline_and_is_not_told() {
        let d = decide(
            &ana(5, Some(Activity::Offline)),
            &WorkerEvent::Missed { threshold: 2 },
        );
        assert_eq!(
            d.profile.expect("written").activity,
            Some(Activity::Offline)
        );
        assert_eq!(d.intents, vec![moved(Activity::Offline, false)]);
    }

    #[test]
    fn an_unreachable_phone_is_out_of_rotation_at_once_never_back_to_available() {
        let d = decide(
            &ana(0, Some(Activity::Available)),
            &WorkerEvent::Unreachable,
        );
        let next = d.profile.expect("written");
        assert_eq!((next.misses, next.missed_total), (1, 1));
        assert_eq!(next.activity, Some(Activity::Unavailable));
        assert_eq!(
            d.intents,
            vec![
                moved(Activity::Unavailable, true),
                Intent::TextOutOfRotation
            ]
        );
        assert_eq!(activity_after_miss(Some(&d.intents)), Activity::Unavailable);
        let offline = decide(&ana(0, Some(Activity::Offline)), &WorkerEvent::Unreachable);
        assert_eq!(
            activity_after_miss(Some(&offline.intents)),
            Activity::Offline
        );
    }

    #[test]
    fn a_blocked_worker_is_taken_out_but_not_texted() {
        let mut blocked = ana(1, Some(Activity::Available));
        blocked.sms_blocked = true;
        let d = decide(&blocked, &WorkerEvent::Missed { threshold: 2 });
        assert_eq!(d.intents, vec![moved(Activity::Unavailable, true)]);
        let d = decide(&blocked, &WorkerEvent::Unreachable);
        assert_eq!(d.intents, vec![moved(Activity::Unavailable, true)]);
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
        let next = decide(&ana(3, None), &WorkerEvent::Answered)
            .profile
            .expect("written");
        assert_eq!((next.misses, next.answered_total), (0, 1));
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
}
