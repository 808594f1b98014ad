//! The estimated wait the wait URL announces (issue #15, point 3): from
//! the skill's recent answer waits, said only when it is honest.
//!
//! The choice: the last [`KEPT`] answers of the skill, of which those in the
//! last [`WINDOW_SECS`] count; with fewer than [`MIN_SAMPLES`] of them
//! nothing is said. The estimate is the [`PERCENTILE`]th percentile of their
//! waits (nearest rank) for each caller up to and including this one
//! (position 3: three times it), so the figure leans long: a caller told
//! "about N minutes" should be answered within N. It is rounded up to whole
//! minutes ("less than a minute" under 60 s), and never said when the
//! minutes it names go past what is left of `MAX_WAIT_SECS`: the caller
//! gets the last offer then, so nothing is promised.

use crate::model::AnswerWait;

/// Answer waits a skill keeps (oldest dropped first).
pub const KEPT: usize = 20;
/// Only answers this recent count.
pub const WINDOW_SECS: i64 = 3600;
/// Fewer recent answers than this: no estimate.
pub const MIN_SAMPLES: usize = 5;
/// The percentile of recent waits one caller's share is taken as.
pub const PERCENTILE: usize = 80;

/// What the caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimate {
    LessThanAMinute,
    /// About this many whole minutes, rounded up.
    Minutes(u32),
}

impl Estimate {
    /// The sentence said after the position.
    pub fn announcement(self) -> String {
        match self {
            Estimate::LessThanAMinute => "Your wait is less than a minute.".into(),
            Estimate::Minutes(1) => "Your wait is about 1 minute.".into(),
            Estimate::Minutes(n) => format!("Your wait is about {n} minutes."),
        }
    }

    /// The bound the sentence names, in seconds: the caller should be
    /// answered within it.
    pub fn bound_secs(self) -> u64 {
        match self {
            Estimate::LessThanAMinute => 60,
            Estimate::Minutes(n) => u64::from(n) * 60,
        }
    }

    /// The estimate a sentence of [`Estimate::announcement`] said, read back
    /// (the simulated day checks the promise with it).
    pub fn heard(said: &str) -> Option<Self> {
        let rest = said.strip_prefix("Your wait is ")?;
        if rest == "less than a minute." {
            return Some(Estimate::LessThanAMinute);
        }
        let minutes = rest.strip_prefix("about ")?.split(' ').next()?;
        minutes.parse().ok().map(Estimate::Minutes)
    }
}

/// `waits` (oldest first) with `new` added in order of answer, the oldest
/// dropped past [`KEPT`].
pub fn noted(waits: &[AnswerWait], new: AnswerWait) -> Vec<AnswerWait> {
    let mut all: Vec<AnswerWait> = waits.iter().copied().chain([new]).collect();
    all.sort_by_key(|w| w.answered_at);
    let drop = all.len().saturating_sub(KEPT);
    all.split_off(drop)
}

/// The seconds waited (Twilio's `QueueTime`) when this wait fetch is the
/// caller's first (under one heartbeat in): the only one that reads and
/// says the estimate, so every later heartbeat stays one read.
pub fn first_fetch(queue_time: Option<&str>, heartbeat_secs: u64) -> Option<u64> {
    queue_time
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|waited| *waited < heartbeat_secs)
}

/// The estimate for the caller at `position` (Twilio's `QueuePosition`, 1
/// first) who has waited `waited` secs of `max_wait_secs`, at `now`, from
/// the skill's recent answer `waits`; `None` when it would not be honest.
pub fn estimate(
    position: u32,
    waits: &[AnswerWait],
    now: i64,
    waited: u64,
    max_wait_secs: u64,
) -> Option<Estimate> {
    if position == 0 {
        return None;
    }
    let mut recent: Vec<i64> = waits
        .iter()
        .filter(|w| now - w.answered_at <= WINDOW_SECS && w.answered_at <= now)
        .map(|w| w.wait_secs.max(0))
        .collect();
    if recent.len() < MIN_SAMPLES {
        return None;
    }
    recent.sort_unstable();
    let rank = (recent.len() * PERCENTILE).div_ceil(100).max(1);
    let share = u64::try_from(recent[rank - 1]).ok()?;
    let secs = share.saturating_mul(u64::from(position));
    let said = if secs < 60 {
        Estimate::LessThanAMinute
    } else {
        Estimate::Minutes(u32::try_from(secs.div_ceil(60)).ok()?)
    };
    let left = max_wait_secs.saturating_sub(waited);
    (said.bound_secs() <= left).then_some(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_317_200;

    fn waits(secs: &[i64]) -> Vec<AnswerWait> {
        secs.iter()
            .enumerate()
            .map(|(i, &wait_secs)| AnswerWait {
                answered_at: NOW - 60 * i64::try_from(i).expect("small"),
                wait_secs,
            })
            .collect()
    }

    #[test]
    fn too_few_recent_answers_say_nothing() {
        assert_eq!(estimate(1, &waits(&[30, 30, 30, 30]), NOW, 0, 600), None);
        let mut old = waits(&[30, 30, 30, 30, 30]);
        old[4].answered_at = NOW - WINDOW_SECS - 1;
        assert_eq!(estimate(1, &old, NOW, 0, 600), None, "one is too old");
        old[4].answered_at = NOW - WINDOW_SECS;
        assert_eq!(
            estimate(1, &old, NOW, 0, 600),
            Some(Estimate::LessThanAMinute)
        );
    }

    #[test]
    fn the_80th_percentile_per_caller_rounded_up_to_whole_minutes() {
        // Sorted 10 20 30 40 100: the 80th percentile by nearest rank is 40.
        let five = waits(&[100, 10, 40, 20, 30]);
        assert_eq!(
            estimate(1, &five, NOW, 0, 600),
            Some(Estimate::LessThanAMinute)
        );
        assert_eq!(estimate(2, &five, NOW, 0, 600), Some(Estimate::Minutes(2)));
        assert_eq!(estimate(3, &five, NOW, 0, 600), Some(Estimate::Minutes(2)));
        assert_eq!(estimate(4, &five, NOW, 0, 600), Some(Estimate::Minutes(3)));
        let minute = waits(&[60, 60, 60, 60, 60]);
        assert_eq!(
            estimate(1, &minute, NOW, 0, 600),
            Some(Estimate::Minutes(1))
        );
        let just_over = waits(&[61, 61, 61, 61, 61]);
        assert_eq!(
            estimate(1, &just_over, NOW, 0, 600),
            Some(Estimate::Minutes(2))
        );
        assert_eq!(estimate(0, &five, NOW, 0, 600), None, "no position");
    }

    #[test]
    fn never_past_what_is_left_of_the_longest_wait() {
        let five = waits(&[100, 10, 40, 20, 30]);
        // Position 4: 160 s, about 3 minutes, which is 180 s.
        assert_eq!(estimate(4, &five, NOW, 0, 180), Some(Estimate::Minutes(3)));
        assert_eq!(estimate(4, &five, NOW, 1, 180), None, "179 s are left");
        assert_eq!(estimate(4, &five, NOW, 0, 120), None);
        assert_eq!(
            estimate(1, &five, NOW, 130, 180),
            None,
            "less than a minute, with 50 s left"
        );
        assert_eq!(
            estimate(1, &five, NOW, 120, 180),
            Some(Estimate::LessThanAMinute)
        );
    }

    #[test]
    fn a_skill_keeps_its_latest_answers_in_order() {
        let mut kept = Vec::new();
        for i in (0..KEPT + 3).rev() {
            let at = NOW - i64::try_from(i).expect("small");
            kept = noted(
                &kept,
                AnswerWait {
                    answered_at: at,
                    wait_secs: 5,
                },
            );
        }
        assert_eq!(kept.len(), KEPT);
        assert_eq!(
            kept[0].answered_at,
            NOW - i64::try_from(KEPT - 1).expect("small")
        );
        assert_eq!(kept[KEPT - 1].answered_at, NOW);
        let late = noted(
            &kept,
            AnswerWait {
                answered_at: NOW - 1_000,
                wait_secs: 9,
            },
        );
        assert_eq!(late.len(), KEPT);
        assert!(
            late.iter().all(|w| w.wait_secs == 5),
            "an older answer than all kept is dropped"
        );
    }

    #[test]
    fn only_the_first_fetch_reads_the_estimate() {
        assert_eq!(first_fetch(Some("0"), 25), Some(0));
        assert_eq!(first_fetch(Some("24"), 25), Some(24));
        assert_eq!(first_fetch(Some("25"), 25), None);
        assert_eq!(first_fetch(None, 25), None);
        assert_eq!(first_fetch(Some("soon"), 25), None);
    }

    #[test]
    fn announcements_read_back() {
        for said in [
            Estimate::LessThanAMinute,
            Estimate::Minutes(1),
            Estimate::Minutes(4),
        ] {
            assert_eq!(Estimate::heard(&said.announcement()), Some(said));
        }
        assert_eq!(
            Estimate::Minutes(4).announcement(),
            "Your wait is about 4 minutes."
        );
        assert_eq!(Estimate::heard("You are caller number 2."), None);
    }
}
