//! Returning callers (`STICKY_DAYS`): a caller a worker answered recently is
//! offered to that worker first. What is remembered of an answer, and whom a
//! later call's task names as the caller's last worker (TaskAttributes
//! `last_worker_sid`, read by the workflow's known-worker target).

use super::screening;
use crate::model::{Attempt, LastWorker};

/// The task attribute naming the caller's last worker: the workflow's
/// known-worker target reads it (`known_worker_sid`).
pub const LAST_WORKER_ATTRIBUTE: &str = "last_worker_sid";
/// The task attribute (`true`) that sends a task to its skill's returning
/// filter: a plain filter expression, so a task without a last worker never
/// meets a known-worker target (docs/twilio.md, "Returning callers").
pub const RETURNING_ATTRIBUTE: &str = "returning";

const DAY_SECS: u64 = 24 * 3600;

/// How long an answer is remembered, in seconds; `None`: `STICKY_DAYS=0`,
/// returning callers are off.
pub fn remember_secs(sticky_days: u32) -> Option<u64> {
    (sticky_days > 0).then(|| u64::from(sticky_days) * DAY_SECS)
}

/// What the answer of `attempt` at `answered_at` leaves to remember: who
/// took the caller, when stickiness is on and the caller showed a number
/// (a withheld caller ID is nobody's returning caller).
pub fn remembered(attempt: &Attempt, answered_at: i64, sticky_days: u32) -> Option<LastWorker> {
    remember_secs(sticky_days)?;
    let caller = attempt.caller.as_deref().filter(|c| is_number(c))?;
    if attempt.worker_sid.is_empty() || attempt.phone.is_empty() {
        return None;
    }
    Some(LastWorker {
        caller: caller.to_string(),
        worker_sid: attempt.worker_sid.clone(),
        phone: attempt.phone.clone(),
        skill: attempt.skill.clone(),
        answered_at,
    })
}

/// Whether `caller` is a number worth remembering or looking up: E.164 and
/// not a withheld caller ID ([`screening::is_withheld`]).
pub fn is_number(caller: &str) -> bool {
    crate::phone::is_e164(caller) && !screening::is_withheld(Some(caller))
}

/// The worker a task for `skill` names at `now`: the caller's last worker,
/// when they answered within `sticky_days` and for the same skill (the
/// known-worker target sits in the skill's queue, and a worker outside that
/// queue is an error, docs/twilio.md "Returning callers").
pub fn previous_worker(
    last: Option<&LastWorker>,
    skill: &str,
    now: i64,
    sticky_days: u32,
) -> Option<String> {
    let window = i64::try_from(remember_secs(sticky_days)?).ok()?;
    last.filter(|last| last.skill == skill && now - last.answered_at <= window)
        .map(|last| last.worker_sid.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attempt::dialing;

    const DAY: i64 = 24 * 3600;

    fn answered(caller: Option<&str>) -> Attempt {
        Attempt {
            caller: caller.map(str::to_string),
            ..dialing("WR1", "WT1", "WK1", "+15551230001", "sales", None, 0)
        }
    }

    #[test]
    fn an_answer_is_remembered_for_a_caller_who_showed_a_number() {
        let last = remembered(&answered(Some("+15557654321")), 100, 30).expect("remembered");
        assert_eq!(last.caller, "+15557654321");
        assert_eq!(last.worker_sid, "WK1");
        assert_eq!(last.phone, "+15551230001");
        assert_eq!(last.skill, "sales");
        assert_eq!(last.answered_at, 100);
        assert_eq!(remember_secs(30), Some(30 * 24 * 3600));
    }

    #[test]
    fn withheld_callers_and_sticky_days_zero_leave_nothing_to_remember() {
        for withheld in [
            None,
            Some("anonymous"),
            Some("Restricted"),
            Some("+266696687"),
        ] {
            assert_eq!(
                remembered(&answered(withheld), 100, 30),
                None,
                "{withheld:?}"
            );
        }
        assert_eq!(remembered(&answered(Some("+15557654321")), 100, 0), None);
        assert_eq!(remember_secs(0), None);
    }

    #[test]
    fn the_task_names_the_last_worker_only_within_sticky_days_and_for_the_same_skill() {
        let last = remembered(&answered(Some("+15557654321")), 1_000, 30).expect("remembered");
        let named = |skill, now, days| previous_worker(Some(&last), skill, now, days);
        assert_eq!(named("sales", 1_000 + 30 * DAY, 30).as_deref(), Some("WK1"));
        assert_eq!(
            named("sales", 1_000 + 30 * DAY + 1, 30),
            None,
            "too long ago"
        );
        assert_eq!(
            named("sales", 1_000 + 2 * DAY, 1),
            None,
            "a shorter STICKY_DAYS since"
        );
        assert_eq!(named("support", 1_000, 30), None, "another skill's queue");
        assert_eq!(named("sales", 1_000, 0), None, "STICKY_DAYS=0");
        assert_eq!(previous_worker(None, "sales", 1_000, 30), None);
    }
}
