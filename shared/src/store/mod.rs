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

/// A worker's TaskRouter activity as Homeline knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    Available,
    Offline,
    Unavailable,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Available => "available",
            Activity::Offline => "offline",
            Activity::Unavailable => "unavailable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "available" => Some(Activity::Available),
            "offline" => Some(Activity::Offline),
            "unavailable" => Some(Activity::Unavailable),
            _ => None,
        }
    }
}

/// A worker's profile, keyed by phone (E.164). Only enrolled numbers have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerProfile {
    pub phone: String,
    pub name: String,
    /// Skills the worker last went online with (or was enrolled with).
    pub skills: Vec<String>,
    /// The TaskRouter worker, once created.
    pub worker_sid: Option<String>,
    /// Last known activity.
    pub activity: Option<Activity>,
    /// Consecutive missed calls since the worker last answered or went online.
    pub misses: u32,
    /// Calls answered and missed in all (per-worker counts for the operator).
    pub answered_total: u32,
    pub missed_total: u32,
    /// Optimistic concurrency: 0 for a profile not yet stored; the store
    /// bumps it on every successful `put_worker`.
    pub version: u64,
}

impl WorkerProfile {
    pub fn new(phone: impl Into<String>, name: impl Into<String>, skills: Vec<String>) -> Self {
        Self {
            phone: phone.into(),
            name: name.into(),
            skills,
            worker_sid: None,
            activity: None,
            misses: 0,
            answered_total: 0,
            missed_total: 0,
            version: 0,
        }
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

/// Where one attempt to reach a worker for a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptState {
    /// Recorded; the outbound call is being placed or is ringing.
    Dialing,
    /// The worker's phone answered; waiting for the AMD verdict or a key press.
    Answered,
    /// Decided: a person is on the line; the bridge TwiML was given.
    Bridging,
    /// Decided: no person (machine, busy, no answer, no key, failure).
    Missed,
    /// The reservation or task went away (caller hung up, timeout) before a decision.
    Canceled,
    /// The worker's call has ended after a decision.
    Completed,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Dialing => "dialing",
            AttemptState::Answered => "answered",
            AttemptState::Bridging => "bridging",
            AttemptState::Missed => "missed",
            AttemptState::Canceled => "canceled",
            AttemptState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "dialing" => AttemptState::Dialing,
            "answered" => AttemptState::Answered,
            "bridging" => AttemptState::Bridging,
            "missed" => AttemptState::Missed,
            "canceled" => AttemptState::Canceled,
            "completed" => AttemptState::Completed,
            _ => return None,
        })
    }

    /// Not yet decided: the worker leg may still ring or wait for a verdict.
    pub fn is_open(self) -> bool {
        matches!(self, AttemptState::Dialing | AttemptState::Answered)
    }
}

/// One attempt to reach a worker for a reservation, keyed by task and
/// reservation SID (every callback carries both), so the attempts of a task
/// can be listed when its caller hangs up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub reservation_sid: String,
    pub task_sid: String,
    pub worker_sid: String,
    /// The worker's phone (E.164).
    pub phone: String,
    pub skill: String,
    /// The caller's call (TaskAttributes `call_sid`), when known.
    pub caller_call_sid: Option<String>,
    /// The worker leg, once Twilio created it.
    pub call_sid: Option<String>,
    pub state: AttemptState,
    /// Why it ended as it did: `human`, `key`, `machine_start`, `busy`, `no-answer`, ...
    pub outcome: Option<String>,
    pub sip_response_code: Option<u16>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Fields written together with a state transition (`None` leaves a field as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptChange {
    pub outcome: Option<String>,
    pub sip_response_code: Option<u16>,
    pub call_sid: Option<String>,
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

/// A voicemail left by a caller, keyed by recording SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub recording_sid: String,
    pub call_sid: String,
    pub caller: String,
    pub skill: String,
    pub recording_url: String,
    pub duration_secs: u32,
    /// Unix seconds.
    pub received_at: i64,
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
