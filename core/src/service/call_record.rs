//! The one writer of call records: [`note`] merges what one step of a
//! customer call saw into its record. Records are bookkeeping: a failed or
//! slow write is logged and never holds up the webhook that made it.
//! [`summary`] reads a day of them back in figures.

use std::time::Duration;

use chrono::TimeZone as _;

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::report::{self, DaySummary};
use crate::domain::zone::Zone;
use crate::model::{Answer, CallRecord, FollowUpState};
use crate::store::{CallRecordStore, FollowUpStore, StoreError};

/// The most a record write may add to a webhook's answer.
pub const RECORD_BUDGET: Duration = Duration::from_secs(1);

/// One step of a customer call, as the function that saw it knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The call reached the line (`after_hours`: outside business hours).
    Arrived { caller: &'a str, after_hours: bool },
    /// The caller was queued for `skill` (chosen, or the line's only one).
    Queued { skill: &'a str },
    /// A worker (phone) took the call offered by `reservation` (the bridge
    /// follows, unless it is [`Step::Unbridged`]).
    Answered { by: &'a str, reservation: &'a str },
    /// The bridge of `reservation`'s answer failed: that worker never
    /// reached the caller.
    Unbridged { reservation: &'a str },
    /// A worker (phone) rung for the caller missed them.
    Missed { by: &'a str },
    /// The caller hung up in the queue.
    HungUpInQueue,
    /// The caller was sent from the queue to voicemail.
    SentToVoicemail,
    /// The caller hung up after waiting `ABANDON_SECS` or more in the
    /// queue: in it, or later in voicemail without a message.
    Abandoned,
    /// The caller's voicemail was recorded.
    Voicemail,
    /// The caller asked to be called back in turn (a callback task) on `number`.
    CallbackRequested { number: &'a str },
    /// The first callback did not reach the caller.
    CallbackMissed,
}

/// The record fields `steps`, seen at `at` (Unix seconds), fill.
pub fn change(call_sid: &str, at: i64, steps: &[Step<'_>]) -> CallRecord {
    let mut record = CallRecord::new(call_sid);
    for step in steps {
        match *step {
            Step::Arrived {
                caller,
                after_hours,
            } => {
                record.caller = Some(caller.to_string());
                record.arrived_at = Some(at);
                record.after_hours = after_hours;
            }
            Step::Queued { skill } => {
                record.skill = Some(skill.to_string());
                record.queued_at = Some(at);
            }
            Step::Answered { by, reservation } => record.answers.push(Answer {
                at,
                phone: by.to_string(),
                reservation_sid: reservation.to_string(),
            }),
            Step::Unbridged { reservation } => record.unbridged.push(reservation.to_string()),
            Step::Missed { by } => record.missed_by.push(by.to_string()),
            Step::HungUpInQueue => record.hung_up_in_queue_at = Some(at),
            Step::SentToVoicemail => record.sent_to_voicemail_at = Some(at),
            Step::Abandoned => record.abandoned_at = Some(at),
            Step::Voicemail => record.voicemail_at = Some(at),
            Step::CallbackRequested { number } => {
                record.callback_requested_at = Some(at);
                record.callback_number = Some(number.to_string());
            }
            Step::CallbackMissed => record.callback_missed_at = Some(at),
        }
    }
    record
}

/// The local day (`YYYY-MM-DD`) of `at` (Unix seconds) in the business's
/// time zone: the partition of the calls that arrived then.
pub fn day(zone: Zone, at: i64) -> String {
    local_date(zone, at).format("%Y-%m-%d").to_string()
}

fn local_date(zone: Zone, at: i64) -> chrono::NaiveDate {
    let utc = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    zone.from_utc_datetime(&utc.naive_utc()).date_naive()
}

/// Notes `steps` of the call `call_sid`, seen at `at`, within
/// [`RECORD_BUDGET`] (and `deadline`). A failure is logged, never returned.
pub async fn note<S: CallRecordStore>(
    app: &App<S>,
    call_sid: &str,
    at: i64,
    steps: &[Step<'_>],
    deadline: Deadline,
) {
    let record = change(call_sid, at, steps);
    let arrival = steps.iter().any(|s| matches!(s, Step::Arrived { .. }));
    let write = merge(&app.store, app.config.time_zone, at, &record, arrival);
    let budget = RECORD_BUDGET.min(deadline.remaining());
    match tokio::time::timeout(budget, write).await {
        Ok(Ok(day)) => tracing::debug!(call_sid, day, ?steps, "call record noted"),
        Ok(Err(error)) => tracing::warn!(call_sid, %error, ?steps, "call record not written"),
        Err(_) => tracing::warn!(call_sid, ?steps, "call record write timed out"),
    }
}

/// Files the arrival under its day. A later step finds the record under the
/// day of `at` or the day before (a call that began before midnight);
/// when neither holds it (its arrival was never written) it starts one
/// under the day of `at`. The day written to.
async fn merge<S: CallRecordStore>(
    store: &S,
    zone: Zone,
    at: i64,
    record: &CallRecord,
    arrival: bool,
) -> Result<String, StoreError> {
    if !arrival {
        for day in later_step_days(zone, at) {
            if store
                .merge_call_record(&day, record, false)
                .await?
                .applied()
            {
                return Ok(day);
            }
        }
    }
    let day = day(zone, at);
    // Applied: with `create` the merge always writes.
    let _ = store.merge_call_record(&day, record, true).await?;
    Ok(day)
}

/// Where a step seen at `at` looks for its call's record: the day of `at`,
/// then the day before (a call that began before midnight).
fn later_step_days(zone: Zone, at: i64) -> Vec<String> {
    let today = local_date(zone, at);
    [Some(today), today.pred_opt()]
        .into_iter()
        .flatten()
        .map(|date| date.format("%Y-%m-%d").to_string())
        .collect()
}

/// The record of `call_sid`, looked up at `at` as [`note`] files a later
/// step: under the day of `at`, else the day before.
pub async fn find<S: CallRecordStore>(
    store: &S,
    zone: Zone,
    at: i64,
    call_sid: &str,
) -> Result<Option<CallRecord>, StoreError> {
    for day in later_step_days(zone, at) {
        if let Some(record) = store.get_call_record(&day, call_sid).await? {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// The local days (`YYYY-MM-DD`) from `days - 1` days before `at` to the
/// day of `at`, oldest first.
pub fn days_until(zone: Zone, at: i64, days: u32) -> Vec<String> {
    let last = local_date(zone, at);
    (0..days)
        .rev()
        .filter_map(|back| last.checked_sub_days(chrono::Days::new(u64::from(back))))
        .map(|date| date.format("%Y-%m-%d").to_string())
        .collect()
}

/// The figures of `day`: its calls, and whoever closed a follow-up one of
/// them is owed (the follow-up is kept, done, under the call's SID).
pub async fn summary<S: CallRecordStore + FollowUpStore>(
    store: &S,
    day: &str,
) -> Result<DaySummary, StoreError> {
    let records = store.list_call_records(day).await?;
    let mut done_by = Vec::new();
    for record in &records {
        if record.voicemail_at.is_none() && record.abandoned_at.is_none() {
            continue;
        }
        if let Some(follow_up) = store.get_follow_up(&record.call_sid).await?
            && follow_up.state == FollowUpState::Done
            && let Some(owner) = follow_up.owner
        {
            done_by.push(owner);
        }
    }
    Ok(report::summarize(&records, &done_by))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn chicago() -> Zone {
        "America/Chicago".parse().expect("a zone")
    }
    const CALL: &str = "CA0000000000000000000000000000c001";
    // 2026-12-03T23:58:00-06:00 (Chicago), 05:58Z on the 4th.
    const BEFORE_MIDNIGHT: i64 = 1_796_363_880;

    async fn noted(store: &MemoryStore, at: i64, steps: &[Step<'_>]) -> String {
        let arrival = steps.iter().any(|s| matches!(s, Step::Arrived { .. }));
        merge(store, chicago(), at, &change(CALL, at, steps), arrival)
            .await
            .expect("merged")
    }

    #[test]
    fn a_range_of_days_ends_today() {
        assert_eq!(
            days_until(chicago(), BEFORE_MIDNIGHT, 3),
            ["2026-12-01", "2026-12-02", "2026-12-03"]
        );
        assert_eq!(days_until(chicago(), BEFORE_MIDNIGHT, 1), ["2026-12-03"]);
    }

    #[tokio::test]
    async fn callbacks_are_the_done_follow_ups_of_the_day_s_calls() {
        use crate::model::FollowUpReason;
        use crate::service::follow_up;
        let store = MemoryStore::new();
        let ann = "+15550000001";
        for (call, step) in [("CA1", Step::Voicemail), ("CA2", Step::Abandoned)] {
            let record = change(call, BEFORE_MIDNIGHT, &[step]);
            let _ = store.merge_call_record("2026-12-03", &record, true).await;
            let new = follow_up::new(
                call,
                "+15557654321",
                "sales",
                FollowUpReason::Voicemail,
                None,
            );
            store.open_follow_up(&new).await.expect("opened");
        }
        let mut done = store
            .get_follow_up("CA1")
            .await
            .expect("read")
            .expect("stored");
        done.state = FollowUpState::Done;
        done.owner = Some(ann.into());
        assert!(store.put_follow_up(&done).await.expect("written").applied());

        let day = summary(&store, "2026-12-03").await.expect("summed");
        assert_eq!((day.calls, day.voicemails, day.abandoned), (2, 1, 1));
        assert_eq!(day.workers.len(), 1);
        assert_eq!(
            (day.workers[0].phone.as_str(), day.workers[0].callbacks),
            (ann, 1)
        );
    }

    #[test]
    fn days_are_local() {
        assert_eq!(day(chicago(), BEFORE_MIDNIGHT), "2026-12-03");
        assert_eq!(day(chicago(), BEFORE_MIDNIGHT + 120), "2026-12-04");
        assert_eq!(day(Zone::UTC, BEFORE_MIDNIGHT), "2026-12-04");
    }

    #[tokio::test]
    async fn a_call_across_midnight_stays_on_its_arrival_day() {
        let store = MemoryStore::new();
        let arrived = Step::Arrived {
            caller: "+15557654321",
            after_hours: false,
        };
        assert_eq!(
            noted(&store, BEFORE_MIDNIGHT, &[arrived]).await,
            "2026-12-03"
        );
        let answered = Step::Answered {
            by: "+15550001111",
            reservation: "WR1",
        };
        let later = BEFORE_MIDNIGHT + 180;
        assert_eq!(noted(&store, later, &[answered]).await, "2026-12-03");

        let stored = store.list_call_records("2026-12-03").await.expect("listed");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].arrived_at, Some(BEFORE_MIDNIGHT));
        assert_eq!(
            stored[0].answer(),
            Some(&Answer {
                at: later,
                phone: "+15550001111".into(),
                reservation_sid: "WR1".into()
            })
        );
        let next = store.list_call_records("2026-12-04").await.expect("listed");
        assert_eq!(next, Vec::new(), "no stub on the next day");

        let found = find(&store, chicago(), later, CALL).await.expect("read");
        assert_eq!(found.as_ref(), stored.first(), "found the next day");
        let two_days_on = BEFORE_MIDNIGHT + 2 * 86_400;
        let gone = find(&store, chicago(), two_days_on, CALL)
            .await
            .expect("read");
        assert_eq!(gone, None, "two days on, not looked for");
    }

    #[tokio::test]
    async fn a_step_without_its_arrival_starts_the_record() {
        let store = MemoryStore::new();
        assert_eq!(
            noted(&store, BEFORE_MIDNIGHT, &[Step::Voicemail]).await,
            "2026-12-03"
        );
        let stored = store.list_call_records("2026-12-03").await.expect("listed");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].voicemail_at, Some(BEFORE_MIDNIGHT));
        assert_eq!(stored[0].arrived_at, None);
    }
}
