//! State in one DynamoDB table (`pk`, `sk`, TTL `expires_at`).
//!
//! One narrow trait per need. Every state change is a conditional write, so a
//! repeated or late callback cannot apply twice: a lost race comes back as
//! [`Write::Lost`], not as an error. [`memory::MemoryStore`] is the fake for
//! unit tests; [`dynamo::DynamoStore`] is the real adapter. Both pass the
//! same contract suite.

pub mod dynamo;
pub mod memory;

use std::future::Future;

use crate::model::{Attempt, AttemptChange, AttemptState, Voicemail, WorkerProfile};

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

/// One round of a read-modify-write: done, or the conditional write lost.
pub enum Round<T> {
    Done(T),
    Lost,
}

/// Runs `round` until it is done, at most 5 times, then gives up with
/// [`StoreError::Contention`].
pub async fn read_modify_write<T, Fut>(
    what: &str,
    mut round: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<Round<T>, StoreError>>,
{
    for _ in 0..5 {
        if let Round::Done(value) = round().await? {
            return Ok(value);
        }
    }
    Err(StoreError::Contention(what.to_string()))
}

/// Every once-marker, with its key and lifetime.
pub enum Marker<'a> {
    /// A miss counted on the worker's profile.
    MissCounted { reservation_sid: &'a str },
}

impl Marker<'_> {
    fn key(&self) -> String {
        match self {
            Marker::MissCounted { reservation_sid } => format!("miss#{reservation_sid}"),
        }
    }

    fn ttl_secs(&self) -> u64 {
        u64::try_from(ATTEMPT_TTL_SECS).unwrap_or(u64::MAX)
    }
}

/// Runs `effect` unless `marker` was claimed before (`Ok(None)`). On an
/// error for which `give_back` is true the claim is released.
pub async fn at_most_once<S: OnceStore, T, E: From<StoreError>>(
    store: &S,
    marker: &Marker<'_>,
    give_back: impl Fn(&E) -> bool,
    effect: impl Future<Output = Result<T, E>>,
) -> Result<Option<T>, E> {
    let key = marker.key();
    if !store.claim_once(&key, marker.ttl_secs()).await?.applied() {
        return Ok(None);
    }
    match effect.await {
        Ok(value) => Ok(Some(value)),
        Err(error) => {
            if give_back(&error) {
                store.release_once(&key).await?;
            }
            Err(error)
        }
    }
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

/// Once-only markers, for effects that must happen at most once per key
/// (a task redirected to voicemail, a voicemail announced, a miss SMS sent).
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
}

/// Everything a function may need; implemented by both stores.
pub trait Store: WorkerStore + AttemptStore + VoicemailStore + OnceStore + Clone + 'static {}

impl<T> Store for T where
    T: WorkerStore + AttemptStore + VoicemailStore + OnceStore + Clone + 'static
{
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// How long attempts and markers are kept (TTL), in seconds.
pub const ATTEMPT_TTL_SECS: i64 = 7 * 24 * 3600;
