//! State in one DynamoDB table (`pk`, `sk`, TTL `expires_at`).
//!
//! One narrow trait per need. Every state change is a conditional write, so a
//! repeated or late callback cannot apply twice: a lost race comes back as
//! [`Write::Lost`], not as an error. [`memory::MemoryStore`] is the fake for
//! unit tests; [`dynamo::DynamoStore`] is the real adapter. Both pass the
//! same contract suite.

pub mod capacity;
pub mod dynamo;
pub mod memory;

use std::future::Future;

use crate::model::{
    Attempt, AttemptChange, AttemptState, BlockedNumber, CallRecord, FollowUp, FollowUpReason,
    LastWorker, RecentWaits, Voicemail, WorkerProfile,
};

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB failed (after the SDK's own retries). The text never carries secrets.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// An item in the table could not be read back (a bug or a manual edit).
    #[error("stored item {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
    /// A read-modify-write kept losing to other writers.
    #[error("{0} kept changing under concurrent writers")]
    Contention(String),
}

/// The result of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Write {
    Applied,
    /// The condition did not hold: someone else got there first.
    Lost,
}

impl Write {
    pub fn applied(self) -> bool {
        self == Write::Applied
    }
}

pub trait WorkerStore: Send + Sync {
    fn get_worker(
        &self,
        phone: &str,
    ) -> impl Future<Output = Result<Option<WorkerProfile>, StoreError>> + Send;

    /// Writes `profile` if the stored version still equals `profile.version`
    /// (0: only if no profile exists). On success the stored version is
    /// `profile.version + 1`.
    fn put_worker(
        &self,
        profile: &WorkerProfile,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Removes the profile, returning what was stored.
    fn remove_worker(
        &self,
        phone: &str,
    ) -> impl Future<Output = Result<Option<WorkerProfile>, StoreError>> + Send;

    /// Every enrolled worker, ordered by phone.
    fn list_workers(&self) -> impl Future<Output = Result<Vec<WorkerProfile>, StoreError>> + Send;
}

pub trait AttemptStore: Send + Sync {
    /// Records a new attempt; [`Write::Lost`] if one exists for that reservation.
    fn create_attempt(
        &self,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Strongly consistent read.
    fn get_attempt(
        &self,
        task_sid: &str,
        reservation_sid: &str,
    ) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send;

    /// Every attempt of a task (strongly consistent), oldest first.
    fn list_attempts(
        &self,
        task_sid: &str,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send;

    /// Moves the attempt to `to` if its state is one of `from`, writing
    /// `change` in the same conditional write.
    fn transition(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        from: &[AttemptState],
        to: AttemptState,
        change: &AttemptChange,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Stores the worker leg's call SID (without a state condition).
    fn set_call_sid(
        &self,
        task_sid: &str,
        reservation_sid: &str,
        call_sid: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait VoicemailStore: Send + Sync {
    /// Stores a new voicemail; [`Write::Lost`] if that recording is already stored.
    fn put_voicemail(
        &self,
        voicemail: &Voicemail,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Most recent first.
    fn list_voicemails(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Voicemail>, StoreError>> + Send;
}

/// Follow-ups, keyed by the customer's call SID, with a short number each
/// that is unique among those not done (workers text `claim 7`).
pub trait FollowUpStore: Send + Sync {
    /// Stores `follow_up` under the lowest number no other open follow-up
    /// holds (its `number` and `version` are ignored; the stored version is
    /// one) and returns it as stored. A follow-up already stored for that
    /// call comes back as it stands, so a repeated callback opens one.
    fn open_follow_up(
        &self,
        follow_up: &FollowUp,
    ) -> impl Future<Output = Result<FollowUp, StoreError>> + Send;

    /// Strongly consistent read.
    fn get_follow_up(
        &self,
        call_sid: &str,
    ) -> impl Future<Output = Result<Option<FollowUp>, StoreError>> + Send;

    /// The follow-up that holds `number`; a done one no longer does.
    fn follow_up_numbered(
        &self,
        number: u32,
    ) -> impl Future<Output = Result<Option<FollowUp>, StoreError>> + Send;

    /// Writes `follow_up` if the stored version still equals its version;
    /// the stored version is then one more. Writing it done frees its number.
    fn put_follow_up(
        &self,
        follow_up: &FollowUp,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Every follow-up not done, oldest first.
    fn list_follow_ups(&self) -> impl Future<Output = Result<Vec<FollowUp>, StoreError>> + Send;
}

/// The blocklist, keyed by number (E.164).
pub trait BlocklistStore: Send + Sync {
    /// Adds `blocked`; [`Write::Lost`] if its number is blocked already
    /// (the first entry is kept).
    fn block(
        &self,
        blocked: &BlockedNumber,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Removes `number`, returning whether it was blocked.
    fn unblock(&self, number: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether `number` is blocked (a strongly consistent read).
    fn is_blocked(&self, number: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every blocked number, ordered by number.
    fn list_blocked(&self) -> impl Future<Output = Result<Vec<BlockedNumber>, StoreError>> + Send;
}

/// Who last answered each caller, keyed by the caller's number (E.164):
/// `inbound` reads one item per enqueued call.
pub trait LastWorkerStore: Send + Sync {
    /// Remembers `last` until `ttl_secs` after its `answered_at`, unless
    /// the stored answer is as recent or more ([`Write::Lost`]): the latest
    /// answer wins whatever order the writes arrive in.
    fn remember_last_worker(
        &self,
        last: &LastWorker,
        ttl_secs: u64,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// The worker who last answered `caller`, while remembered (an expired
    /// item not yet deleted counts as gone). Strongly consistent.
    fn last_worker(
        &self,
        caller: &str,
    ) -> impl Future<Output = Result<Option<LastWorker>, StoreError>> + Send;
}

/// Each skill's recent answer waits, one small item per skill: the wait
/// URL reads it once per caller for the estimate.
pub trait WaitStore: Send + Sync {
    /// The skill's recent waits (none stored: empty, version 0). Strongly
    /// consistent.
    fn recent_waits(
        &self,
        skill: &str,
    ) -> impl Future<Output = Result<RecentWaits, StoreError>> + Send;

    /// Writes `waits` if the stored version still equals `waits.version`
    /// (0: only if none is stored); the stored version is then one more.
    fn put_recent_waits(
        &self,
        waits: &RecentWaits,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;
}

/// Call records, filed by the local day the call arrived (`YYYY-MM-DD`).
pub trait CallRecordStore: Send + Sync {
    /// Merges `record` into the record of its call filed under `day`: each
    /// field `record` sets that the stored one lacks is written, a field
    /// already set is kept, `missed_by` gains its phones, `after_hours` once
    /// true stays true. With `create` a record not yet stored is created;
    /// without, that is [`Write::Lost`] and nothing is written.
    fn merge_call_record(
        &self,
        day: &str,
        record: &CallRecord,
        create: bool,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// The record of `call_sid` filed under `day`, if any (a strongly
    /// consistent read).
    fn get_call_record(
        &self,
        day: &str,
        call_sid: &str,
    ) -> impl Future<Output = Result<Option<CallRecord>, StoreError>> + Send;

    /// Every record filed under `day`, in order of arrival (unknown first),
    /// then of call SID.
    fn list_call_records(
        &self,
        day: &str,
    ) -> impl Future<Output = Result<Vec<CallRecord>, StoreError>> + Send;
}

/// Once-only markers, for effects that must happen at most once per key
/// (a task redirected to voicemail, a follow-up announced, a miss SMS sent).
pub trait OnceStore: Send + Sync {
    /// [`Write::Applied`] the first time `key` is claimed, [`Write::Lost`] after.
    /// The marker expires after `ttl_secs`.
    fn claim_once(
        &self,
        key: &str,
        ttl_secs: u64,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;

    /// Gives a claim back, so a retry can try again (the effect failed).
    fn release_once(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether `key` is claimed and not expired (a strongly consistent read).
    fn is_claimed(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Every once-marker the product takes: its key and how long it lives, in
/// one place. Markers outlive any redelivery or retry of what they guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker<'a> {
    /// A worker's miss was counted for this reservation.
    MissCounted { reservation_sid: &'a str },
    /// The task's caller was redirected to voicemail (nobody available).
    NobodyRedirected { task_sid: &'a str },
    /// The task was canceled after its caller went to voicemail.
    NobodyCanceled { task_sid: &'a str },
    /// The caller of this call should not wait in the queue any longer
    /// (their task reached the nobody queue or TaskRouter canceled it): the
    /// wait URL's next fetch answers `<Leave/>`.
    CallerLeaves { call_sid: &'a str },
    /// The caller who pressed 2 while waiting was redirected to voicemail.
    CallerRedirected { call_sid: &'a str },
    /// The caller pressed 1 while waiting: asked for the number to call back.
    CallbackChosen { call_sid: &'a str },
    /// The callback task of this caller's call was created.
    CallbackRequested { call_sid: &'a str },
    /// The second (last) callback task of this caller's call was created.
    CallbackRetried { call_sid: &'a str },
    /// A follow-up was announced to one number as what it then was: a
    /// missed call that turns out to have left a message is announced once
    /// more, as a voicemail.
    FollowUpAnnounced {
        call_sid: &'a str,
        reason: FollowUpReason,
        to: &'a str,
    },
    /// A follow-up nobody claimed was escalated to one admin.
    FollowUpEscalated { call_sid: &'a str, to: &'a str },
    /// The caller was texted `CALLER_TEXT_BACK` on this day (`YYYY-MM-DD`).
    TextedBack { caller: &'a str, day: &'a str },
    /// The daily digest of this local day (`YYYY-MM-DD`) was texted to one admin.
    DigestSent { day: &'a str, to: &'a str },
    /// Nobody covered the skill in this alert window (`domain::coverage::window`)
    /// and one admin was told.
    CoverageAlerted {
        skill: &'a str,
        window: i64,
        to: &'a str,
    },
    /// The scheduler handled this worker at the closing of this local day
    /// (`YYYY-MM-DD`), `OFF_AT_CLOSE`: taken off if on duty, left alone
    /// for the rest of the evening either way.
    OffAtClose { day: &'a str, phone: &'a str },
}

impl Marker<'_> {
    pub fn key(&self) -> String {
        match self {
            Marker::MissCounted { reservation_sid } => format!("miss#{reservation_sid}"),
            Marker::NobodyRedirected { task_sid } => format!("nobody#{task_sid}"),
            Marker::NobodyCanceled { task_sid } => format!("nobody-cancel#{task_sid}"),
            Marker::CallerLeaves { call_sid } => format!("leave#{call_sid}"),
            Marker::CallerRedirected { call_sid } => format!("leave-redirect#{call_sid}"),
            Marker::CallbackChosen { call_sid } => format!("callback-chosen#{call_sid}"),
            Marker::CallbackRequested { call_sid } => format!("callback#{call_sid}"),
            Marker::CallbackRetried { call_sid } => format!("callback-retry#{call_sid}"),
            Marker::FollowUpAnnounced {
                call_sid,
                reason,
                to,
            } => {
                format!("follow-up-sms#{call_sid}#{}#{to}", reason.as_str())
            }
            Marker::FollowUpEscalated { call_sid, to } => {
                format!("follow-up-escalated#{call_sid}#{to}")
            }
            Marker::TextedBack { caller, day } => format!("text-back#{caller}#{day}"),
            Marker::DigestSent { day, to } => format!("digest#{day}#{to}"),
            Marker::CoverageAlerted { skill, window, to } => {
                format!("coverage#{skill}#{window}#{to}")
            }
            Marker::OffAtClose { day, phone } => format!("off-at-close#{day}#{phone}"),
        }
    }

    pub fn ttl_secs(&self) -> u64 {
        const DAY: u64 = 24 * 3600;
        match self {
            // As long as the attempt it counts for is kept.
            Marker::MissCounted { .. } => ATTEMPT_TTL_SECS.unsigned_abs(),
            Marker::NobodyRedirected { .. }
            | Marker::NobodyCanceled { .. }
            | Marker::CallerLeaves { .. }
            | Marker::CallerRedirected { .. }
            | Marker::CallbackChosen { .. }
            | Marker::CallbackRequested { .. } => DAY,
            // Outlives the two days of records the retry job reads.
            Marker::CallbackRetried { .. } => 3 * DAY,
            // The day it is named for, and the next one whatever the time zone.
            Marker::TextedBack { .. } | Marker::DigestSent { .. } | Marker::OffAtClose { .. } => {
                2 * DAY
            }
            // Outlives its window (at most a day) whatever TTL deletion's delay.
            Marker::CoverageAlerted { .. } => 2 * DAY,
            // As long as the follow-up: it is escalated once in its life.
            Marker::FollowUpEscalated { .. } => FOLLOW_UP_TTL_SECS.unsigned_abs(),
            Marker::FollowUpAnnounced { .. } => 7 * DAY,
        }
    }

    /// [`Write::Applied`] the first time, [`Write::Lost`] while the marker lives.
    pub async fn claim<S: OnceStore>(&self, store: &S) -> Result<Write, StoreError> {
        store.claim_once(&self.key(), self.ttl_secs()).await
    }

    /// Gives the claim back, so a later try can claim it again.
    pub async fn release<S: OnceStore>(&self, store: &S) -> Result<(), StoreError> {
        store.release_once(&self.key()).await
    }

    /// Whether the marker was claimed (and has not expired).
    pub async fn is_claimed<S: OnceStore>(&self, store: &S) -> Result<bool, StoreError> {
        store.is_claimed(&self.key()).await
    }
}

/// Runs `effect` unless `marker` was claimed before (`Ok(None)`). When the
/// effect fails and `give_back` says a later try could succeed, the claim is
/// released for that try; otherwise it is kept (trying again would not help).
pub async fn at_most_once<S, T, E>(
    store: &S,
    marker: &Marker<'_>,
    give_back: impl Fn(&E) -> bool,
    effect: impl Future<Output = Result<T, E>>,
) -> Result<Option<T>, E>
where
    S: OnceStore,
    E: From<StoreError>,
{
    if !marker.claim(store).await?.applied() {
        return Ok(None);
    }
    match effect.await {
        Ok(done) => Ok(Some(done)),
        Err(error) => {
            if give_back(&error) {
                marker.release(store).await?;
            }
            Err(error)
        }
    }
}

/// One round of a read-modify-write: done, or lost to another writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round<T> {
    Done(T),
    /// The conditional write lost: read again and retry.
    Lost,
}

/// Rounds of read, change, conditional write, until one is done; after
/// [`RMW_ROUNDS`] lost rounds, [`StoreError::Contention`] naming `what`.
pub async fn read_modify_write<T, Fut>(
    what: &str,
    mut round: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<Round<T>, StoreError>>,
{
    for _ in 0..RMW_ROUNDS {
        if let Round::Done(done) = round().await? {
            return Ok(done);
        }
    }
    Err(StoreError::Contention(what.to_string()))
}

/// Lost rounds before a read-modify-write gives up: each loss means another
/// writer finished, so a handful is plenty for one item.
pub const RMW_ROUNDS: usize = 5;

/// Everything a function may need; implemented by both stores.
pub trait Store:
    WorkerStore
    + AttemptStore
    + VoicemailStore
    + FollowUpStore
    + CallRecordStore
    + OnceStore
    + BlocklistStore
    + LastWorkerStore
    + WaitStore
    + Clone
    + 'static
{
}

impl<T> Store for T where
    T: WorkerStore
        + AttemptStore
        + VoicemailStore
        + FollowUpStore
        + CallRecordStore
        + OnceStore
        + BlocklistStore
        + LastWorkerStore
        + WaitStore
        + Clone
        + 'static
{
}

tokio::task_local! {
    /// The instant (Unix seconds) a simulation runs a handler at, in place
    /// of the wall clock: the stand-in's day is faster than real time.
    static SIMULATED_NOW: i64;
}

/// Seconds since the Unix epoch (the simulated instant inside [`at_instant`]).
pub fn now_secs() -> i64 {
    SIMULATED_NOW
        .try_with(|now| *now)
        .unwrap_or_else(|_| chrono::Utc::now().timestamp())
}

/// Runs `work` with [`now_secs`] reading `now`.
pub async fn at_instant<F: std::future::Future>(now: i64, work: F) -> F::Output {
    SIMULATED_NOW.scope(now, work).await
}

/// How long attempts and markers are kept (TTL), in seconds.
pub const ATTEMPT_TTL_SECS: i64 = 7 * 24 * 3600;

/// How long a follow-up is kept (TTL), in seconds: 90 days.
pub const FOLLOW_UP_TTL_SECS: i64 = 90 * 24 * 3600;

/// How long a call record is kept (TTL), in seconds: 90 days.
pub const CALL_RECORD_TTL_SECS: i64 = 90 * 24 * 3600;

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn the_clock_reads_a_simulated_instant_only_inside_its_scope() {
        assert_eq!(
            at_instant(1_796_317_200, async { now_secs() }).await,
            1_796_317_200
        );
        assert!(now_secs() > 1_700_000_000);
    }

    #[tokio::test]
    async fn read_modify_write_retries_lost_rounds_then_reports_contention() {
        let rounds = Cell::new(0);
        let done = read_modify_write("item", || {
            rounds.set(rounds.get() + 1);
            let lost = rounds.get() < 3;
            async move { Ok(if lost { Round::Lost } else { Round::Done(7) }) }
        })
        .await;
        assert_eq!(done.expect("done on the third round"), 7);
        assert_eq!(rounds.get(), 3);

        rounds.set(0);
        let never = read_modify_write("the profile", || {
            rounds.set(rounds.get() + 1);
            async { Ok::<Round<()>, _>(Round::Lost) }
        })
        .await;
        assert!(matches!(never, Err(StoreError::Contention(what)) if what == "the profile"));
        assert_eq!(rounds.get(), RMW_ROUNDS);
    }

    #[tokio::test]
    async fn at_most_once_runs_once_and_gives_the_claim_back_only_when_asked() {
        let store = MemoryStore::new();
        let marker = Marker::NobodyRedirected { task_sid: "WT1" };
        let runs = Cell::new(0);
        for _ in 0..2 {
            let ran = at_most_once(&store, &marker, |_: &StoreError| true, async {
                runs.set(runs.get() + 1);
                Ok(())
            })
            .await;
            assert!(ran.is_ok());
        }
        assert_eq!(runs.get(), 1, "the second call finds the marker");

        let failed = |give_back: bool| {
            let store = store.clone();
            async move {
                let marker = Marker::NobodyCanceled { task_sid: "WT2" };
                let _ = marker.release(&store).await;
                let result = at_most_once(&store, &marker, |_: &StoreError| give_back, async {
                    Err::<(), _>(StoreError::Unavailable("down".into()))
                })
                .await;
                assert!(result.is_err());
                marker.claim(&store).await.expect("claim")
            }
        };
        assert_eq!(failed(true).await, Write::Applied, "given back for a retry");
        assert_eq!(failed(false).await, Write::Lost, "kept: not tried again");
    }

    #[test]
    fn markers_of_different_kinds_never_share_a_key() {
        let sid = "WX1";
        let keys = [
            Marker::MissCounted {
                reservation_sid: sid,
            }
            .key(),
            Marker::NobodyRedirected { task_sid: sid }.key(),
            Marker::NobodyCanceled { task_sid: sid }.key(),
            Marker::CallerLeaves { call_sid: sid }.key(),
            Marker::CallerRedirected { call_sid: sid }.key(),
            Marker::FollowUpAnnounced {
                call_sid: sid,
                reason: FollowUpReason::Abandoned,
                to: "+15551230001",
            }
            .key(),
            Marker::FollowUpAnnounced {
                call_sid: sid,
                reason: FollowUpReason::Voicemail,
                to: "+15551230001",
            }
            .key(),
            Marker::TextedBack {
                caller: sid,
                day: "2026-12-03",
            }
            .key(),
            Marker::FollowUpEscalated {
                call_sid: sid,
                to: "+15551230001",
            }
            .key(),
            Marker::DigestSent {
                day: sid,
                to: "+15551230001",
            }
            .key(),
        ];
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(key), "{key} twice");
        }
    }
}
