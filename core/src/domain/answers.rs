//! The answer score: the one integer TaskRouter orders a skill's workers by
//! (the workflow's [`ORDER_BY`], written by `homeline provision`), so the
//! phone most likely to answer is rung first.
//!
//! It is made from the worker's record ([`AnswerRecord`]): how their last
//! [`RECENT_OFFERS`] offers ended (a person answered, or a miss: no answer,
//! busy, a machine, no key, a failed or unplaceable call) and when they last
//! missed. The share answered counts with one answer given in advance, so
//! a worker with no record scores 100 and one miss alone does not sink a
//! newcomer to the bottom. Misses are forgiven with time: the gap to 100
//! closes linearly over [`FORGIVEN_AFTER_SECS`] since the last miss, so a
//! worker who missed is not last forever. The score is rounded to the
//! nearest [`SCORE_STEP`]: workers close in score tie (one miss in the last
//! ten does not put a reliable phone behind every phone that never missed),
//! and TaskRouter breaks a tie by longest idle (docs/twilio.md, "Ordering
//! workers"), so reliable phones share the calls among themselves rather
//! than the best one taking all.

use crate::model::AnswerRecord;

/// The worker attribute holding the score.
pub const SCORE_ATTRIBUTE: &str = "answer_score";

/// The workflow's `order_by` on a skill's queue: highest score first, then
/// (TaskRouter's default) longest idle.
pub const ORDER_BY: &str = "worker.answer_score DESC";

/// How many of the last offers the record keeps.
pub const RECENT_OFFERS: usize = 10;

/// Time after the last miss by which every miss is forgiven.
pub const FORGIVEN_AFTER_SECS: i64 = 30 * 60;

/// Scores are multiples of this (0, 25, 50, 75, 100).
pub const SCORE_STEP: u32 = 25;

/// How an offer ended for the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// A person took the call.
    Answered,
    /// A miss at this time (Unix seconds).
    Missed { at: i64 },
}

/// The record after `offer`: the oldest outcome beyond [`RECENT_OFFERS`]
/// dropped.
pub fn noted(record: &AnswerRecord, offer: Offer) -> AnswerRecord {
    let mut next = record.clone();
    next.recent.push(offer == Offer::Answered);
    let over = next.recent.len().saturating_sub(RECENT_OFFERS);
    next.recent.drain(..over);
    if let Offer::Missed { at } = offer {
        next.last_miss_at = Some(at);
    }
    next
}

/// The score (0-100, a multiple of [`SCORE_STEP`]) of `record` at `now`.
pub fn score(record: &AnswerRecord, now: i64) -> u32 {
    let offers = record.recent.len() as u64;
    let answered = record.recent.iter().filter(|&&a| a).count() as u64;
    // In thousandths, with one answer given in advance.
    let share = (answered + 1) * 1000 / (offers + 1);
    let since = record
        .last_miss_at
        .map_or(FORGIVEN_AFTER_SECS, |at| now.saturating_sub(at))
        .clamp(0, FORGIVEN_AFTER_SECS) as u64;
    let forgiven = (1000 - share) * since / FORGIVEN_AFTER_SECS as u64;
    let step = u64::from(SCORE_STEP) * 10;
    // Nearest step, a half rounded up.
    (((share + forgiven + step / 2) / step) * step / 10) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn record(letters: &str, last_miss_ago: Option<i64>) -> AnswerRecord {
        AnswerRecord {
            recent: AnswerRecord::parse_letters(letters).unwrap(),
            last_miss_at: last_miss_ago.map(|ago| NOW - ago),
        }
    }

    #[test]
    fn a_worker_without_offers_scores_full() {
        assert_eq!(score(&AnswerRecord::default(), NOW), 100);
    }

    #[test]
    fn recent_answers_raise_the_score_and_misses_lower_it() {
        let just = Some(0);
        assert_eq!(score(&record("aaaaaaaaaa", None), NOW), 100);
        // 10 of 11 with the answer given in advance: with the perfect ones.
        assert_eq!(score(&record("aaaaamaaaa", just), NOW), 100);
        // 8 of 11.
        assert_eq!(score(&record("aamaaaamaa", just), NOW), 75);
        assert_eq!(score(&record("m", just), NOW), 50);
        assert_eq!(score(&record("amamamamam", just), NOW), 50);
        assert_eq!(score(&record("mmmmmmmmmm", just), NOW), 0);
        assert!(score(&record("amm", just), NOW) < score(&record("aam", just), NOW));
    }

    #[test]
    fn misses_are_forgiven_with_time_since_the_last() {
        let at = |ago| score(&record("mmmmmmmmmm", Some(ago)), NOW);
        assert_eq!(at(0), 0);
        assert_eq!(at(FORGIVEN_AFTER_SECS / 2), 50);
        assert_eq!(at(FORGIVEN_AFTER_SECS), 100);
        assert_eq!(at(FORGIVEN_AFTER_SECS * 10), 100);
        // A clock behind the miss forgives nothing.
        assert_eq!(at(-60), 0);
        let mut scores: Vec<u32> = (0..=6).map(|i| at(i * 300)).collect();
        assert!(scores.is_sorted(), "{scores:?}");
        scores.dedup();
        assert_eq!(scores, [0, 25, 50, 75, 100], "recovers in steps");
    }

    #[test]
    fn scores_are_steps_so_close_workers_tie() {
        for letters in ["", "a", "m", "am", "aaam", "amamam", "mmmmmmmmmm"] {
            for ago in [0, 60, 600, 1799] {
                let s = score(&record(letters, Some(ago)), NOW);
                assert!(
                    s <= 100 && s.is_multiple_of(SCORE_STEP),
                    "{letters} {ago}: {s}"
                );
            }
        }
        assert_eq!(
            score(&record("aaaaaaaaam", Some(0)), NOW),
            score(&record("aaaaaaaama", Some(0)), NOW)
        );
    }

    #[test]
    fn the_record_keeps_the_last_offers_and_the_last_miss() {
        let mut r = AnswerRecord::default();
        r = noted(&r, Offer::Missed { at: 100 });
        for _ in 0..RECENT_OFFERS {
            r = noted(&r, Offer::Answered);
        }
        assert_eq!(
            r.recent,
            vec![true; RECENT_OFFERS],
            "the oldest miss dropped"
        );
        assert_eq!(r.last_miss_at, Some(100), "an answer keeps the last miss");
        let r = noted(&r, Offer::Missed { at: 200 });
        assert_eq!(r.letters(), "aaaaaaaaam");
        assert_eq!(r.last_miss_at, Some(200));
    }

    #[test]
    fn the_order_is_on_the_attribute() {
        assert_eq!(ORDER_BY, format!("worker.{SCORE_ATTRIBUTE} DESC"));
    }
}
