//! The entities Homeline keeps and decides over. The domain decides with
//! them, the store persists them, the adapters translate them; this module
//! depends on nothing else in the crate.

/// How the worker's answer is confirmed before the caller is bridged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// Async AMD under a whisper; a `human` verdict or a key press bridges.
    Hybrid,
    /// Sync AMD: Twilio holds the call until the verdict, then runs our TwiML.
    Sync,
    /// Always ask the worker to press 1 (call screening).
    Screen,
}

/// `WORKER_CALLER_ID`: the number a worker's phone shows when Homeline rings
/// it for a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerCallerId {
    /// The business's Twilio number (`TWILIO_CALLER_ID`).
    #[default]
    Business,
    /// The customer's own number, through the inbound call's `CallToken`;
    /// the business's number when there is none to show (docs/twilio.md,
    /// "Forwarded caller ID").
    Caller,
}

impl WorkerCallerId {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "business" => Ok(Self::Business),
            "caller" => Ok(Self::Caller),
            other => Err(format!("{other:?} is not one of business, caller")),
        }
    }
}

/// The `CallToken` Twilio gives an inbound call: passed on the Calls create of
/// a forwarded call, it lets that call present the caller's own number. It is
/// a credential for that number while the call lasts, so `Debug` shows
/// `[call token]` and there is no `Display`: it is read only through
/// [`CallToken::expose`], by the code that sends it to Twilio.
#[derive(Clone, PartialEq, Eq)]
pub struct CallToken(String);

impl CallToken {
    /// A token as Twilio sent it; blank is none.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        (!value.is_empty()).then(|| Self(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CallToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[call token]")
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
    /// The worker texted STOP or a synonym: Twilio delivers no SMS to them
    /// until they text START, so Homeline sends none (docs/twilio.md,
    /// "Carrier keywords").
    pub sms_blocked: bool,
    /// The keypad PIN, salted and hashed (`domain::pin`); `None` until the
    /// worker texts `pin 4821`.
    pub pin: Option<PinHash>,
    /// Wrong PINs entered since the last right one or the last lock-out.
    pub pin_failures: u32,
    /// The keypad refuses this number's PIN until then (Unix seconds).
    pub pin_locked_until: Option<i64>,
    /// Out of rotation after a miss until then (Unix seconds); the
    /// scheduler puts the worker back to Available once it has passed.
    pub cooldown_until: Option<i64>,
    /// A duty change the worker asked for at a time (`on sales until 5pm`,
    /// `off until 1pm`); the scheduler makes it once the time has passed. A
    /// later plain `on` or `off` forgets it.
    pub duty_until: Option<DutyUntil>,
    /// How the worker's last offers ended: what the workflow orders
    /// workers by (`domain::answers`).
    pub answers: AnswerRecord,
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
            sms_blocked: false,
            pin: None,
            pin_failures: 0,
            pin_locked_until: None,
            cooldown_until: None,
            duty_until: None,
            answers: AnswerRecord::default(),
            version: 0,
        }
    }
}

/// The outcomes of a worker's last offers and when they last missed one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Oldest first: `true` a person answered, `false` a miss.
    pub recent: Vec<bool>,
    /// The last miss (Unix seconds).
    pub last_miss_at: Option<i64>,
}

impl AnswerRecord {
    /// `recent` as letters, oldest first: `a` answered, `m` missed.
    pub fn letters(&self) -> String {
        self.recent
            .iter()
            .map(|&answered| if answered { 'a' } else { 'm' })
            .collect()
    }

    /// The outcomes [`AnswerRecord::letters`] wrote; `None` for any other letter.
    pub fn parse_letters(letters: &str) -> Option<Vec<bool>> {
        letters
            .chars()
            .map(|c| match c {
                'a' => Some(true),
                'm' => Some(false),
                _ => None,
            })
            .collect()
    }
}

/// What the worker asked to become at `at` (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DutyUntil {
    pub at: i64,
    pub then: Duty,
}

/// On or off duty, as a worker asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// `off until T`: back on duty at T, with the last skills.
    On,
    /// `on … until T`: off duty at T.
    Off,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::On => "on",
            Duty::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "on" => Some(Duty::On),
            "off" => Some(Duty::Off),
            _ => None,
        }
    }
}

/// A keypad PIN as stored: `v1$<salt>$<HMAC-SHA256>`, both base64. Its
/// `Debug` shows nothing of it, so no log or error carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct PinHash(pub String);

impl std::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinHash(..)")
    }
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
    /// The caller's number (TaskAttributes `from`), when known: an answer
    /// remembers who took this caller ([`LastWorker`]).
    pub caller: Option<String>,
    /// The task named this worker as the caller's last (TaskAttributes
    /// `last_worker_sid`): the whisper says "returning caller".
    pub returning: bool,
    /// When the caller's task was created (Unix seconds: the assignment
    /// callback's clock less its `TaskAge`), when known: an answer's wait
    /// runs from here ([`AnswerWait`]).
    pub queued_at: Option<i64>,
    /// What the task asks: take a waiting caller, or call one back.
    pub kind: TaskKind,
    /// The worker leg, once Twilio created it.
    pub call_sid: Option<String>,
    pub state: AttemptState,
    /// Why it ended as it did: `human`, `key`, `machine_start`, `busy`, `no-answer`, ...
    pub outcome: Option<String>,
    pub sip_response_code: Option<u16>,
    /// Unix seconds.
    pub created_at: i64,
}

/// What a task asks of the worker who takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TaskKind {
    /// A caller waiting in the queue: the bridge dequeues them.
    #[default]
    Call,
    /// A caller who asked to be called back: the bridge dials them.
    Callback(Callback),
}

/// A callback task's attributes (`service::callback`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The number to call (E.164).
    pub number: String,
    /// The call that waited in the queue.
    pub original_call_sid: String,
    /// When that caller first entered the queue (Unix seconds).
    pub queued_at: i64,
    /// 1 for the first try, 2 for the retry after `CALLBACK_RETRY_MINS`.
    pub try_no: u32,
}

/// Fields written together with a state transition (`None` leaves a field as is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptChange {
    pub outcome: Option<String>,
    pub sip_response_code: Option<u16>,
    pub call_sid: Option<String>,
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

/// Why a caller is owed a call back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUpReason {
    /// The caller left a voicemail.
    Voicemail,
    /// The caller hung up after waiting in the queue.
    Abandoned,
    /// The caller asked to be called back and was not reached.
    CallbackMissed,
}

impl FollowUpReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpReason::Voicemail => "voicemail",
            FollowUpReason::Abandoned => "abandoned",
            FollowUpReason::CallbackMissed => "callback-missed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "voicemail" => Some(FollowUpReason::Voicemail),
            "abandoned" => Some(FollowUpReason::Abandoned),
            "callback-missed" => Some(FollowUpReason::CallbackMissed),
            _ => None,
        }
    }
}

/// Where a follow-up stands: open → claimed (the claimer's phone rings) →
/// calling (the claimer pressed 1; the customer is dialled) → done, or back
/// to open when the claimer or the customer did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUpState {
    Open,
    Claimed,
    Calling,
    Done,
}

impl FollowUpState {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpState::Open => "open",
            FollowUpState::Claimed => "claimed",
            FollowUpState::Calling => "calling",
            FollowUpState::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => FollowUpState::Open,
            "claimed" => FollowUpState::Claimed,
            "calling" => FollowUpState::Calling,
            "done" => FollowUpState::Done,
            _ => return None,
        })
    }
}

/// A caller somebody must call back, keyed by the customer's call SID (one
/// call owes at most one follow-up). `number` is the short number workers
/// text (`claim 7`): unique among follow-ups that are not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub call_sid: String,
    pub number: u32,
    /// The customer's number (E.164, or Twilio's text for a withheld one).
    pub caller: String,
    /// The skill (mailbox) the caller asked for.
    pub skill: String,
    pub reason: FollowUpReason,
    /// Unix seconds.
    pub created_at: i64,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub state: FollowUpState,
    /// The worker (phone) who claimed it, while claimed or calling, and who
    /// closed it once done.
    pub owner: Option<String>,
    /// Claims so far: each claim rings the claimer once, and the callbacks
    /// of that ring carry its number, so a late one from an earlier ring
    /// changes nothing.
    pub claims: u32,
    /// Call-backs that did not reach the customer.
    pub failed_calls: u32,
    /// Optimistic concurrency, as for [`WorkerProfile::version`].
    pub version: u64,
}

/// A number on the blocklist: its calls get `<Reject>`, never a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedNumber {
    /// E.164.
    pub number: String,
    /// Who blocked it: an admin's phone, or `cli` for the operator tool.
    pub blocked_by: String,
    /// Unix seconds.
    pub blocked_at: i64,
}

/// The worker who last answered a caller, keyed by the caller's number, so
/// their next call is offered to that worker first (`STICKY_DAYS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWorker {
    /// The caller's number (E.164).
    pub caller: String,
    /// The TaskRouter worker who answered (what the workflow's known-worker
    /// target reads).
    pub worker_sid: String,
    /// That worker's phone (E.164).
    pub phone: String,
    /// The skill the caller was queued for: the known worker is a member of
    /// that skill's queue.
    pub skill: String,
    /// Unix seconds.
    pub answered_at: i64,
}

/// How long one answered caller of a skill waited: from their task's
/// creation to a worker's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerWait {
    /// Unix seconds.
    pub answered_at: i64,
    pub wait_secs: i64,
}

/// A skill's most recent answer waits, oldest first, bounded: what the wait
/// URL's estimate reads with one GetItem. `version` is for optimistic
/// concurrency (0: not stored yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentWaits {
    pub skill: String,
    pub waits: Vec<AnswerWait>,
    pub version: u64,
}

/// What Homeline saw of one customer call, keyed by the customer's call SID
/// and filed under the local day it arrived. Each function that sees a step
/// of the call fills the fields of that step; a field once set is kept, so a
/// repeated or late webhook changes nothing. Kept 90 days (TTL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRecord {
    pub call_sid: String,
    /// The customer's number (E.164, or Twilio's text for a withheld one).
    pub caller: Option<String>,
    /// Unix seconds, as every time below.
    pub arrived_at: Option<i64>,
    /// The call came outside business hours (straight to voicemail).
    pub after_hours: bool,
    /// The skill the caller chose (or the line's only one).
    pub skill: Option<String>,
    pub queued_at: Option<i64>,
    /// Every worker's answer to this call (pressed 1, or was heard as a
    /// person), each once: the bridge follows unless the caller is gone by
    /// then or the answer's reservation is [`Self::unbridged`].
    pub answers: Vec<Answer>,
    /// Reservations whose bridge did not happen: the `<Dial><Queue>` failed
    /// (the caller had left the queue, or the reservation was no longer
    /// pending), so their answer put nobody through.
    pub unbridged: Vec<String>,
    /// Workers (phones) rung for this call who missed it, sorted, each once.
    pub missed_by: Vec<String>,
    /// The caller hung up in the queue, however long they waited: never
    /// bridged, whoever took the call a moment before.
    pub hung_up_in_queue_at: Option<i64>,
    /// The caller left the queue for voicemail (pressed 2, the last offer,
    /// nobody to take the call): never bridged either, whoever took the
    /// call a moment before.
    pub sent_to_voicemail_at: Option<i64>,
    /// The caller hung up after waiting `ABANDON_SECS` or more in the queue:
    /// in it, or later in voicemail without a message.
    pub abandoned_at: Option<i64>,
    /// The caller left a voicemail (its recording completed).
    pub voicemail_at: Option<i64>,
    /// The caller pressed 1 while waiting and confirmed a number: a
    /// callback task keeps their place.
    pub callback_requested_at: Option<i64>,
    /// The number they are to be called back on.
    pub callback_number: Option<String>,
    /// The first callback did not reach them: the `scheduler` tries once
    /// more `CALLBACK_RETRY_MINS` later.
    pub callback_missed_at: Option<i64>,
}

impl CallRecord {
    /// A record of `call_sid` with nothing seen yet.
    pub fn new(call_sid: impl Into<String>) -> Self {
        Self {
            call_sid: call_sid.into(),
            ..Self::default()
        }
    }

    /// The answer that put the caller through: the first whose bridge did
    /// not fail. A worker who answered just as the caller left, or as the
    /// reservation went to another, did not take the call.
    pub fn answer(&self) -> Option<&Answer> {
        self.answers
            .iter()
            .filter(|a| !self.unbridged.contains(&a.reservation_sid))
            .min_by_key(|a| (a.at, &a.reservation_sid))
    }
}

/// A worker's answer to a customer's call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Answer {
    /// Unix seconds.
    pub at: i64,
    /// The worker's phone.
    pub phone: String,
    /// The reservation (the offer of the caller's task) they answered.
    pub reservation_sid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_token_never_prints_and_blank_is_none() {
        let token = CallToken::parse(" tok-4f1e-distinct ").expect("a token");
        assert_eq!(token.expose(), "tok-4f1e-distinct");
        assert_eq!(format!("{token:?}"), "[call token]");
        assert_eq!(format!("{:?}", Some(&token)), "Some([call token])");
        assert_eq!(CallToken::parse("  "), None);
    }

    #[test]
    fn worker_caller_id_reads_business_or_caller() {
        assert_eq!(WorkerCallerId::default(), WorkerCallerId::Business);
        assert_eq!(WorkerCallerId::parse("Caller"), Ok(WorkerCallerId::Caller));
        assert_eq!(
            WorkerCallerId::parse("business"),
            Ok(WorkerCallerId::Business)
        );
        let refused = WorkerCallerId::parse("customer").expect_err("not a choice");
        assert!(refused.contains("business, caller"), "{refused}");
    }
}
