//! The estimated wait (`domain::estimate`): the only writer of each skill's
//! recent answer waits (an answer notes how long its caller waited), and
//! the wait URL's one read of them, on the caller's first fetch only.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::domain::estimate::{self, Estimate};
use crate::domain::inbound::{self, HOLD_STRETCH_SECS};
use crate::model::{AnswerWait, Attempt, RecentWaits};
use crate::store::{Round, WaitStore, now_secs, read_modify_write};

/// The most the estimate's read may delay the first wait document: past
/// it the caller hears the position and the music without an estimate.
pub const READ_BUDGET: Duration = Duration::from_millis(500);

/// Notes how long `attempt`'s caller waited, from their task's creation to
/// this answer, in the skill's recent waits. Nothing when the wait is not
/// known; a failure is logged, never fails the answer (the estimate only
/// has one sample fewer).
pub async fn note_answer<S: WaitStore>(store: &S, attempt: &Attempt, deadline: Deadline) {
    let Some(queued_at) = attempt.queued_at else {
        return;
    };
    let now = now_secs();
    let answered = AnswerWait {
        answered_at: now,
        wait_secs: (now - queued_at).max(0),
    };
    let write = read_modify_write("the skill's recent waits", || async {
        let stored = store.recent_waits(&attempt.skill).await?;
        let next = RecentWaits {
            waits: estimate::noted(&stored.waits, answered),
            ..stored
        };
        Ok(match store.put_recent_waits(&next).await?.applied() {
            true => Round::Done(()),
            false => Round::Lost,
        })
    });
    let reservation_sid = &attempt.reservation_sid;
    match tokio::time::timeout(deadline.remaining(), write).await {
        Ok(Ok(())) => tracing::debug!(%reservation_sid, ?answered, "answer wait noted"),
        Ok(Err(error)) => tracing::warn!(%reservation_sid, %error, "answer wait not noted"),
        Err(_) => tracing::warn!(%reservation_sid, "noting the answer wait timed out"),
    }
}

/// What the caller of the wait URL for `skill`, at `queue_position` after
/// `queue_time` (Twilio's `QueuePosition`, `QueueTime`), is told of their
/// wait: on the first fetch only, from one read bounded by [`READ_BUDGET`];
/// a failed or slow read says nothing.
pub async fn for_caller<S: WaitStore>(
    store: &S,
    max_wait: Duration,
    skill: Option<&str>,
    queue_position: Option<&str>,
    queue_time: Option<&str>,
) -> Option<Estimate> {
    let waited = estimate::first_fetch(queue_time, HOLD_STRETCH_SECS)?;
    let position = inbound::queue_position(queue_position)?;
    let skill = skill?;
    let waits = match tokio::time::timeout(READ_BUDGET, store.recent_waits(skill)).await {
        Ok(Ok(waits)) => waits,
        Ok(Err(error)) => {
            tracing::warn!(%error, skill, "recent waits unreadable; no estimate");
            return None;
        }
        Err(_) => {
            tracing::warn!(skill, "recent waits read timed out; no estimate");
            return None;
        }
    };
    estimate::estimate(
        position,
        &waits.waits,
        now_secs(),
        waited,
        max_wait.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attempt::dialing;
    use crate::store::{MemoryStore, at_instant};

    const NOW: i64 = 1_796_317_200;

    fn answered(n: u64, queued_at: Option<i64>) -> Attempt {
        Attempt {
            queued_at,
            ..dialing(
                &format!("WR{n}"),
                "WT1",
                "WK1",
                "+15551230001",
                "sales",
                None,
                NOW,
            )
        }
    }

    async fn note(store: &MemoryStore, attempt: &Attempt) {
        let deadline = Deadline::after(Duration::from_secs(1));
        at_instant(NOW, note_answer(store, attempt, deadline)).await;
    }

    #[tokio::test]
    async fn an_answer_notes_its_caller_s_wait_in_the_skill_s_recent_waits() {
        let store = MemoryStore::new();
        note(&store, &answered(1, Some(NOW - 42))).await;
        note(&store, &answered(2, None)).await;
        let sales = store.recent_waits("sales").await.expect("readable");
        assert_eq!(
            sales.waits,
            [AnswerWait {
                answered_at: NOW,
                wait_secs: 42
            }],
            "an answer whose queueing is unknown adds nothing"
        );
        for n in 0..30 {
            note(&store, &answered(n, Some(NOW - 5))).await;
        }
        let sales = store.recent_waits("sales").await.expect("readable");
        assert_eq!(sales.waits.len(), estimate::KEPT, "bounded");
    }

    /// A store whose read of the recent waits never answers, or fails.
    struct Unanswering {
        fails: bool,
    }

    impl WaitStore for Unanswering {
        async fn recent_waits(&self, _: &str) -> Result<RecentWaits, crate::store::StoreError> {
            if self.fails {
                return Err(crate::store::StoreError::Unavailable("down".into()));
            }
            std::future::pending().await
        }

        async fn put_recent_waits(
            &self,
            _: &RecentWaits,
        ) -> Result<crate::store::Write, crate::store::StoreError> {
            unreachable!("the wait URL never writes")
        }
    }

    #[tokio::test]
    async fn a_slow_or_failed_read_says_nothing_within_the_read_budget() {
        for fails in [false, true] {
            let store = Unanswering { fails };
            let max_wait = Duration::from_secs(180);
            let told = for_caller(&store, max_wait, Some("sales"), Some("1"), Some("0"));
            let started = tokio::time::Instant::now();
            let told = tokio::time::timeout(READ_BUDGET * 2, told).await;
            assert_eq!(told.ok(), Some(None), "fails: {fails}");
            assert!(started.elapsed() <= READ_BUDGET + Duration::from_millis(200));
        }
    }

    #[tokio::test]
    async fn only_the_first_fetch_reads_and_the_estimate_is_bounded_by_max_wait() {
        let store = MemoryStore::new();
        for n in 0..5 {
            note(&store, &answered(n, Some(NOW - 50))).await;
        }
        let max_wait = Duration::from_secs(180);
        let told = |position, queue_time| {
            let store = store.clone();
            async move {
                at_instant(
                    NOW,
                    for_caller(&store, max_wait, Some("sales"), position, queue_time),
                )
                .await
            }
        };
        assert_eq!(
            told(Some("1"), Some("0")).await,
            Some(Estimate::LessThanAMinute)
        );
        assert_eq!(told(Some("2"), Some("0")).await, Some(Estimate::Minutes(2)));
        assert_eq!(told(Some("2"), Some("25")).await, None, "a later heartbeat");
        assert_eq!(told(Some("4"), Some("0")).await, None, "past MAX_WAIT_SECS");
        assert_eq!(told(None, Some("0")).await, None, "no position");
    }
}
