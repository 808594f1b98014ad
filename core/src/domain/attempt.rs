//! The attempt state machine: one attempt to reach a worker for one
//! reservation, from the offer to the bridge, the miss or the cancel.
//!
//! [`decide`] takes the answer mode, the attempt as stored and one
//! [`AttemptEvent`] (the reservation offered, the call placed or not, a
//! callback of the worker leg, the task or reservation ended, the reopen
//! after a failed hang-up) and returns a [`Step`]: at most one conditional
//! transition, the intents to carry out once that transition has applied,
//! and the reply to the webhook. `service::attempt` executes steps and is
//! the only writer of attempts. A caller whose transition is lost re-reads
//! the attempt and decides again, so the losing side of a race sees a
//! settled attempt and does nothing.
//!
//! Every decision's side effect (reject, redirect, miss, answered) hangs off
//! a transition out of an open state, and only one such transition can apply
//! per attempt: that is what keeps one decision per reservation.

use crate::model::{Activity, AnswerMode, CallToken, WorkerCallerId};
use crate::model::{Attempt, AttemptChange, AttemptState, TaskKind};

/// `path?TaskSid=..&ReservationSid=..`: every leg webhook carries the attempt's
/// key in its (signed) query. SIDs are `[A-Za-z0-9]`, so nothing needs escaping.
pub fn leg_url(path: &str, task_sid: &str, reservation_sid: &str) -> String {
    format!("{path}?TaskSid={task_sid}&ReservationSid={reservation_sid}")
}

/// The attempt recorded when a reservation is offered: dialing, undecided,
/// no leg yet.
pub fn dialing(
    reservation_sid: &str,
    task_sid: &str,
    worker_sid: &str,
    phone: &str,
    skill: &str,
    caller_call_sid: Option<String>,
    created_at: i64,
) -> Attempt {
    Attempt {
        reservation_sid: reservation_sid.to_string(),
        task_sid: task_sid.to_string(),
        worker_sid: worker_sid.to_string(),
        phone: phone.to_string(),
        skill: skill.to_string(),
        caller_call_sid,
        caller: None,
        returning: false,
        queued_at: None,
        kind: TaskKind::Call,
        call_sid: None,
        state: AttemptState::Dialing,
        outcome: None,
        sip_response_code: None,
        created_at,
    }
}

/// The whisper of a callback: "Callback for sales, caller waited 4
/// minutes." (`waited_secs` since the caller first queued, at least a minute).
pub fn callback_whisper(skill: &str, waited_secs: i64) -> String {
    let minutes = ((waited_secs + 30) / 60).max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Callback for {skill}, caller waited {minutes} {unit}.")
}

/// What the assignment callback knows of the customer's call, from the
/// task's attributes: the number it came from and its `CallToken`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    pub number: Option<String>,
    pub call_token: Option<CallToken>,
}

/// The worker leg's caller ID, and the token to send with it: the
/// customer's number under `WORKER_CALLER_ID=caller` when they showed a
/// readable one and their call gave a token; the business's otherwise, so a
/// withheld number or a missing token never stops the leg (docs/twilio.md,
/// "Forwarded caller ID").
pub fn leg_caller_id(
    mode: WorkerCallerId,
    business: &str,
    customer: Customer,
) -> (String, Option<CallToken>) {
    match (mode, customer.number, customer.call_token) {
        (WorkerCallerId::Caller, Some(number), Some(token))
            if !super::screening::is_withheld(Some(&number)) && crate::phone::is_e164(&number) =>
        {
            (number, Some(token))
        }
        _ => (business.to_string(), None),
    }
}

/// A duration as the whole seconds TwiML and the REST API take.
pub fn whole_secs(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// The attempt a leg webhook is about, from its signed query, and the leg's
/// call SID from the form (every call webhook carries `CallSid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegCallback {
    pub task_sid: String,
    pub reservation_sid: String,
    pub call_sid: Option<String>,
}

/// `AnsweredBy` from answering machine detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnsweredBy {
    Human,
    /// `machine_start`, `machine_end_beep`, `machine_end_silence`, `machine_end_other`.
    Machine(&'static str),
    Fax,
    Unknown,
}

impl AnsweredBy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "human" => AnsweredBy::Human,
            "machine_start" => AnsweredBy::Machine("machine_start"),
            "machine_end_beep" => AnsweredBy::Machine("machine_end_beep"),
            "machine_end_silence" => AnsweredBy::Machine("machine_end_silence"),
            "machine_end_other" => AnsweredBy::Machine("machine_end_other"),
            "fax" => AnsweredBy::Fax,
            "unknown" => AnsweredBy::Unknown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredBy::Human => "human",
            AnsweredBy::Machine(kind) => kind,
            AnsweredBy::Fax => "fax",
            AnsweredBy::Unknown => "unknown",
        }
    }
}

/// `CallStatus` of the worker leg's status callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 9] = [
        CallStatus::Queued,
        CallStatus::Initiated,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Failed,
        CallStatus::Canceled,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        CallStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    /// The call is over: completed, or never answered.
    pub fn is_final(self) -> bool {
        self == CallStatus::Completed || self.unreached()
    }

    /// The phone was never answered: busy, no answer, failed, canceled.
    fn unreached(self) -> bool {
        matches!(
            self,
            CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Failed | CallStatus::Canceled
        )
    }
}

/// One callback about the worker leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// The leg's answer URL. Sync AMD sends the verdict with it; async AMD
    /// (hybrid, screen) runs it at once, before any verdict.
    Answered { answered_by: Option<AnsweredBy> },
    /// An async AMD verdict.
    Verdict(AnsweredBy),
    /// The press-1 prompt: `Some(digits)` from the `<Gather>` action, `None`
    /// when it timed out without a key.
    Key(Option<String>),
    /// The bridge URL a `human` verdict redirected the leg to.
    BridgeRequested,
    /// The leg's status callback.
    Status {
        status: CallStatus,
        sip_response_code: Option<u16>,
    },
}

/// Everything that may change an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEvent {
    /// TaskRouter offered the reservation: record the attempt (as built by
    /// [`dialing`]) unless it exists already.
    Offered(Box<Attempt>),
    /// The call to the worker was placed: keep its SID.
    CallPlaced { call_sid: String },
    /// The worker cannot be rung (`no-phone`, `call-failed`).
    NotPlaced { reason: String },
    /// A callback of the worker leg.
    Leg(LegEvent),
    /// The task or the reservation ended (`task-canceled`, a
    /// [`ReservationEnd`](crate::domain::events::ReservationEnd)) before a decision.
    Ended { reason: String },
    /// Stopping the leg after [`AttemptEvent::Ended`] failed and may work
    /// later: back to the open state it was closed from, for a redelivery.
    Reopen { to: AttemptState },
}

impl From<LegEvent> for AttemptEvent {
    fn from(event: LegEvent) -> Self {
        AttemptEvent::Leg(event)
    }
}

/// A conditional write: move the attempt to `to` if its state is in `from`
/// ([`NEW`]: create it, if there is none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: &'static [AttemptState],
    pub to: AttemptState,
    pub change: AttemptChange,
}

/// How to stop a worker leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegStop {
    /// It may still ring: cancel it.
    Cancel,
    /// It was answered: hang it up.
    Complete,
}

/// What to do once the transition applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Reject the reservation over REST with `activity`, so routing goes on
    /// without offering it to this worker again (docs/twilio.md, "Pitfall:
    /// reject without unavailable activity").
    RejectReservation { activity: Activity },
    /// Stop the worker leg over REST.
    StopLeg(LegStop),
    /// Point the leg at the bridge URL over REST (Calls update `Url`).
    RedirectLegToBridge,
    /// Count the miss on the worker (and maybe take them out of rotation).
    RecordMiss(String),
    /// Count the miss and reject the reservation in the assignment answer,
    /// with the activity the count calls for (a REST update would race it).
    RejectInAnswer(String),
    /// The worker took the call: reset their misses.
    RecordAnswered,
}

/// The TwiML (or empty answer) the webhook replies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Whisper, then `<Dial><Queue reservationSid>`: accepts and bridges.
    Bridge,
    /// Whisper inside `<Gather numDigits=1>`: "press 1 to take it".
    Prompt,
    /// Keep the leg waiting: a redirect to the bridge is on its way.
    Hold,
    /// `<Hangup/>`.
    Hangup,
    /// A polite "this call is no longer waiting for you", then hang up.
    Goodbye,
    /// An empty `<Response/>` (status and AMD callbacks).
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub transition: Option<Transition>,
    pub intents: Vec<Intent>,
    pub reply: Reply,
}

impl Step {
    fn reply(reply: Reply) -> Self {
        Self {
            transition: None,
            intents: Vec::new(),
            reply,
        }
    }

    fn go(
        from: &'static [AttemptState],
        to: AttemptState,
        change: AttemptChange,
        intents: Vec<Intent>,
        reply: Reply,
    ) -> Self {
        Self {
            transition: Some(Transition { from, to, change }),
            intents,
            reply,
        }
    }
}

/// States in which the attempt is still undecided.
pub const OPEN: &[AttemptState] = &[AttemptState::Dialing, AttemptState::Answered];
/// No attempt stored yet: a transition from here creates it.
pub const NEW: &[AttemptState] = &[];
const DIALING: &[AttemptState] = &[AttemptState::Dialing];
const ANSWERED: &[AttemptState] = &[AttemptState::Answered];
const BRIDGING: &[AttemptState] = &[AttemptState::Bridging];
const MISSED: &[AttemptState] = &[AttemptState::Missed];
const CANCELED: &[AttemptState] = &[AttemptState::Canceled];
const COMPLETED: &[AttemptState] = &[AttemptState::Completed];

/// Outcome of a bridge decided by the worker's key.
pub const OUTCOME_KEY: &str = "key";
/// Outcome of a prompt that timed out without a key.
pub const OUTCOME_NO_KEY: &str = "no-key";
/// Outcome of a leg that ended while still undecided (the worker hung up).
pub const OUTCOME_HUNG_UP: &str = "hung-up";

fn outcome(o: &str) -> AttemptChange {
    AttemptChange {
        outcome: Some(o.to_string()),
        ..AttemptChange::default()
    }
}

/// A person took the call: bridge (the reply or a redirect does it).
fn bridge(outcome_name: &str, intents: Vec<Intent>, reply: Reply) -> Step {
    let mut all = intents;
    all.push(Intent::RecordAnswered);
    Step::go(
        OPEN,
        AttemptState::Bridging,
        outcome(outcome_name),
        all,
        reply,
    )
}

/// Nobody took the call: reject, maybe hang up, count the miss.
fn miss(change: AttemptChange, hang_up: bool, reply: Reply) -> Step {
    let reason = change.outcome.clone().unwrap_or_default();
    let mut intents = vec![Intent::RejectReservation {
        activity: Activity::Unavailable,
    }];
    if hang_up {
        intents.push(Intent::StopLeg(LegStop::Complete));
    }
    intents.push(Intent::RecordMiss(reason));
    Step::go(OPEN, AttemptState::Missed, change, intents, reply)
}

/// The one decision for `event` given the attempt as stored (`None`: no
/// attempt for this reservation: not offered yet, or a forged or stale callback).
pub fn decide(mode: AnswerMode, attempt: Option<&Attempt>, event: &AttemptEvent) -> Step {
    match event {
        AttemptEvent::Offered(_) => match attempt {
            None => Step::go(
                NEW,
                AttemptState::Dialing,
                AttemptChange::default(),
                Vec::new(),
                Reply::Empty,
            ),
            // A repeated assignment callback: the worker is already being called.
            Some(_) => Step::reply(Reply::Empty),
        },
        AttemptEvent::Leg(event) => on_leg(mode, attempt, event),
        _ => match attempt {
            Some(attempt) => on_lifecycle(attempt.state, event),
            None => Step::reply(Reply::Empty),
        },
    }
}

/// The events that are no callback of the leg, on a stored attempt.
fn on_lifecycle(state: AttemptState, event: &AttemptEvent) -> Step {
    match (event, state) {
        (AttemptEvent::CallPlaced { call_sid }, _) => {
            let change = AttemptChange {
                call_sid: Some(call_sid.clone()),
                ..AttemptChange::default()
            };
            // The task ended while the call was placed: the close had no
            // call SID to stop, so the new leg is stopped here.
            let intents = if state == AttemptState::Canceled {
                vec![Intent::StopLeg(LegStop::Cancel)]
            } else {
                Vec::new()
            };
            Step::go(just(state), state, change, intents, Reply::Empty)
        }
        (AttemptEvent::NotPlaced { reason }, AttemptState::Dialing | AttemptState::Answered) => {
            Step::go(
                OPEN,
                AttemptState::Missed,
                outcome(reason),
                vec![Intent::RejectInAnswer(reason.clone())],
                Reply::Empty,
            )
        }
        (AttemptEvent::Ended { reason }, AttemptState::Dialing) => Step::go(
            DIALING,
            AttemptState::Canceled,
            outcome(reason),
            vec![Intent::StopLeg(LegStop::Cancel)],
            Reply::Empty,
        ),
        (AttemptEvent::Ended { reason }, AttemptState::Answered) => Step::go(
            ANSWERED,
            AttemptState::Canceled,
            outcome(reason),
            vec![Intent::StopLeg(LegStop::Complete)],
            Reply::Empty,
        ),
        (AttemptEvent::Reopen { to }, AttemptState::Canceled) if to.is_open() => Step::go(
            CANCELED,
            *to,
            AttemptChange::default(),
            Vec::new(),
            Reply::Empty,
        ),
        // Decided or not open any more: nothing to place, close or reopen.
        _ => Step::reply(Reply::Empty),
    }
}

/// The states a write may start from when it keeps the attempt where it is.
fn just(state: AttemptState) -> &'static [AttemptState] {
    match state {
        AttemptState::Dialing => DIALING,
        AttemptState::Answered => ANSWERED,
        AttemptState::Bridging => BRIDGING,
        AttemptState::Missed => MISSED,
        AttemptState::Canceled => CANCELED,
        AttemptState::Completed => COMPLETED,
    }
}

fn on_leg(mode: AnswerMode, attempt: Option<&Attempt>, event: &LegEvent) -> Step {
    let Some(attempt) = attempt else {
        return Step::reply(match event {
            LegEvent::Verdict(_) | LegEvent::Status { .. } => Reply::Empty,
            _ => Reply::Hangup,
        });
    };
    let state = attempt.state;
    match event {
        LegEvent::Answered { answered_by } => on_answered(mode, attempt, *answered_by),
        LegEvent::Verdict(verdict) => on_verdict(mode, state, *verdict),
        LegEvent::Key(digits) => on_key(attempt, digits.as_deref()),
        LegEvent::BridgeRequested => Step::reply(match state {
            AttemptState::Bridging => Reply::Bridge,
            _ => Reply::Goodbye,
        }),
        LegEvent::Status {
            status,
            sip_response_code,
        } => on_status(state, *status, *sip_response_code),
    }
}

fn on_answered(mode: AnswerMode, attempt: &Attempt, answered_by: Option<AnsweredBy>) -> Step {
    let state = attempt.state;
    // Sync AMD: the verdict comes with the answer URL and decides at once.
    // Async AMD (hybrid, screen): never bridge in the first TwiML
    // (docs/twilio.md, "Pitfall: async AMD runs TwiML first");
    // play the prompt while the verdict is worked out.
    let verdict = match mode {
        AnswerMode::Sync => answered_by,
        AnswerMode::Hybrid | AnswerMode::Screen => None,
    };
    match (state, verdict) {
        (AttemptState::Dialing | AttemptState::Answered, Some(AnsweredBy::Human)) => {
            bridge(AnsweredBy::Human.as_str(), Vec::new(), Reply::Bridge)
        }
        (
            AttemptState::Dialing | AttemptState::Answered,
            Some(v @ (AnsweredBy::Machine(_) | AnsweredBy::Fax)),
        ) => miss(outcome(v.as_str()), false, Reply::Hangup),
        (AttemptState::Dialing, _) => Step::go(
            DIALING,
            AttemptState::Answered,
            AttemptChange::default(),
            Vec::new(),
            Reply::Prompt,
        ),
        (AttemptState::Answered, _) => Step::reply(Reply::Prompt),
        // A repeat of the answer URL whose first reply was lost: bridge again.
        (AttemptState::Bridging, Some(AnsweredBy::Human))
            if attempt.outcome.as_deref() == Some(AnsweredBy::Human.as_str()) =>
        {
            Step::reply(Reply::Bridge)
        }
        // Decided by an async verdict: its redirect to the bridge takes over.
        (AttemptState::Bridging, _) => Step::reply(Reply::Hold),
        (AttemptState::Missed | AttemptState::Canceled | AttemptState::Completed, _) => {
            Step::reply(Reply::Hangup)
        }
    }
}

fn on_verdict(mode: AnswerMode, state: AttemptState, verdict: AnsweredBy) -> Step {
    if !state.is_open() {
        return Step::reply(Reply::Empty);
    }
    match verdict {
        AnsweredBy::Human => match mode {
            // Screening always waits for the key.
            AnswerMode::Screen => Step::reply(Reply::Empty),
            AnswerMode::Hybrid | AnswerMode::Sync => bridge(
                AnsweredBy::Human.as_str(),
                vec![Intent::RedirectLegToBridge],
                Reply::Empty,
            ),
        },
        AnsweredBy::Machine(_) | AnsweredBy::Fax => {
            miss(outcome(verdict.as_str()), true, Reply::Empty)
        }
        // The worker already hears "press 1": a silent person is often
        // `unknown`, so the prompt's timeout decides, not this verdict.
        AnsweredBy::Unknown => Step::reply(Reply::Empty),
    }
}

fn on_key(attempt: &Attempt, digits: Option<&str>) -> Step {
    match (attempt.state, digits) {
        (AttemptState::Dialing | AttemptState::Answered, Some("1")) => {
            bridge(OUTCOME_KEY, Vec::new(), Reply::Bridge)
        }
        // Another key: ask again (the prompt's own timeout still bounds it).
        (AttemptState::Dialing | AttemptState::Answered, Some(_)) => Step::reply(Reply::Prompt),
        (AttemptState::Dialing | AttemptState::Answered, None) => {
            miss(outcome(OUTCOME_NO_KEY), false, Reply::Hangup)
        }
        // A repeated key press whose first reply was lost: bridge again.
        (AttemptState::Bridging, Some("1")) if attempt.outcome.as_deref() == Some(OUTCOME_KEY) => {
            Step::reply(Reply::Bridge)
        }
        // A `human` verdict won: its redirect to the bridge takes over.
        (AttemptState::Bridging, _) => Step::reply(Reply::Hold),
        (AttemptState::Missed | AttemptState::Canceled | AttemptState::Completed, _) => {
            Step::reply(Reply::Goodbye)
        }
    }
}

fn on_status(state: AttemptState, status: CallStatus, sip_response_code: Option<u16>) -> Step {
    let sip_only = AttemptChange {
        sip_response_code,
        ..AttemptChange::default()
    };
    let with_outcome = |o: &str| AttemptChange {
        outcome: Some(o.to_string()),
        sip_response_code,
        ..AttemptChange::default()
    };
    match (state, status) {
        (AttemptState::Dialing | AttemptState::Answered, s) if s.unreached() => {
            miss(with_outcome(s.as_str()), false, Reply::Empty)
        }
        // The leg ended before anything decided: the worker hung up.
        (AttemptState::Dialing | AttemptState::Answered, CallStatus::Completed) => {
            miss(with_outcome(OUTCOME_HUNG_UP), false, Reply::Empty)
        }
        (AttemptState::Bridging, s) if s == CallStatus::Completed || s.unreached() => Step::go(
            BRIDGING,
            AttemptState::Completed,
            sip_only,
            Vec::new(),
            Reply::Empty,
        ),
        // Settled already: keep the final SIP code for the record, nothing else.
        (AttemptState::Missed, s) if s == CallStatus::Completed || s.unreached() => Step::go(
            MISSED,
            AttemptState::Missed,
            sip_only,
            Vec::new(),
            Reply::Empty,
        ),
        (AttemptState::Canceled, s) if s == CallStatus::Completed || s.unreached() => Step::go(
            CANCELED,
            AttemptState::Canceled,
            sip_only,
            Vec::new(),
            Reply::Empty,
        ),
        // Progress events (ringing, in-progress, ...) and a completed attempt.
        _ => Step::reply(Reply::Empty),
    }
}

/// The bridge's `<Dial action>`: did the worker talk to the caller?
/// `DialCallStatus` is `completed` (or `answered`) after a bridge; anything
/// else means the reservation could not be accepted (errors 14215/14217:
/// the caller hung up, the reservation timed out).
pub fn bridge_happened(dial_call_status: Option<&str>) -> bool {
    matches!(dial_call_status, Some("completed" | "answered"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_over_once_completed_or_never_answered() {
        let over: Vec<&str> = CallStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(CallStatus::as_str)
            .collect();
        assert_eq!(
            over,
            ["completed", "busy", "no-answer", "failed", "canceled"]
        );
    }

    #[test]
    fn a_callback_s_whisper_says_how_long_the_caller_waited() {
        assert_eq!(
            callback_whisper("sales", 240),
            "Callback for sales, caller waited 4 minutes."
        );
        assert_eq!(
            callback_whisper("sales", 5),
            "Callback for sales, caller waited 1 minute."
        );
        assert_eq!(
            callback_whisper("support", 89),
            "Callback for support, caller waited 1 minute."
        );
        assert_eq!(
            callback_whisper("support", 91),
            "Callback for support, caller waited 2 minutes."
        );
    }

    #[test]
    fn the_leg_shows_the_customer_only_with_caller_a_number_and_a_token() {
        const BUSINESS: &str = "+15005550006";
        let token = || CallToken::parse("tok-1");
        let customer = |number: &str| Customer {
            number: Some(number.to_string()),
            call_token: token(),
        };
        assert_eq!(
            leg_caller_id(WorkerCallerId::Caller, BUSINESS, customer("+15557654321")),
            ("+15557654321".to_string(), token())
        );
        let business = (BUSINESS.to_string(), None);
        assert_eq!(
            leg_caller_id(WorkerCallerId::Business, BUSINESS, customer("+15557654321")),
            business
        );
        for withheld in ["anonymous", "Restricted", "+266696687", "", "client:ann"] {
            assert_eq!(
                leg_caller_id(WorkerCallerId::Caller, BUSINESS, customer(withheld)),
                business,
                "{withheld}"
            );
        }
        let no_token = Customer {
            number: Some("+15557654321".into()),
            call_token: None,
        };
        assert_eq!(
            leg_caller_id(WorkerCallerId::Caller, BUSINESS, no_token),
            business
        );
        assert_eq!(
            leg_caller_id(WorkerCallerId::Caller, BUSINESS, Customer::default()),
            business
        );
    }

    const MODES: [AnswerMode; 3] = [AnswerMode::Hybrid, AnswerMode::Sync, AnswerMode::Screen];
    const STATES: [AttemptState; 6] = [
        AttemptState::Dialing,
        AttemptState::Answered,
        AttemptState::Bridging,
        AttemptState::Missed,
        AttemptState::Canceled,
        AttemptState::Completed,
    ];
    const VERDICTS: [AnsweredBy; 7] = [
        AnsweredBy::Human,
        AnsweredBy::Machine("machine_start"),
        AnsweredBy::Machine("machine_end_beep"),
        AnsweredBy::Machine("machine_end_silence"),
        AnsweredBy::Machine("machine_end_other"),
        AnsweredBy::Fax,
        AnsweredBy::Unknown,
    ];

    fn attempt(state: AttemptState, outcome: Option<&str>) -> Attempt {
        Attempt {
            state,
            outcome: outcome.map(str::to_string),
            ..dialing("WR1", "WT1", "WK1", "+15551230001", "sales", None, 0)
        }
    }

    fn all_events() -> Vec<LegEvent> {
        let mut events = vec![
            LegEvent::Answered { answered_by: None },
            LegEvent::Key(None),
            LegEvent::Key(Some("1".into())),
            LegEvent::Key(Some("7".into())),
            LegEvent::BridgeRequested,
        ];
        for v in VERDICTS {
            events.push(LegEvent::Answered {
                answered_by: Some(v),
            });
            events.push(LegEvent::Verdict(v));
        }
        for status in CallStatus::ALL {
            events.push(LegEvent::Status {
                status,
                sip_response_code: Some(200),
            });
        }
        events
    }

    fn step(mode: AnswerMode, state: AttemptState, event: LegEvent) -> Step {
        decide(mode, Some(&attempt(state, None)), &event.into())
    }

    fn is_miss(step: &Step, reason: &str) -> bool {
        step.transition.as_ref().is_some_and(|t| {
            t.from == OPEN
                && t.to == AttemptState::Missed
                && t.change.outcome.as_deref() == Some(reason)
        }) && step.intents.first()
            == Some(&Intent::RejectReservation {
                activity: Activity::Unavailable,
            })
            && step.intents.last() == Some(&Intent::RecordMiss(reason.to_string()))
    }

    #[test]
    fn parsing_round_trips() {
        for v in VERDICTS {
            assert_eq!(AnsweredBy::parse(v.as_str()), Some(v));
        }
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AnsweredBy::parse("robot"), None);
        assert_eq!(CallStatus::parse("done"), None);
    }

    #[test]
    fn leg_urls_carry_the_attempt_key() {
        assert_eq!(
            leg_url(crate::routes::paths::LEG_KEY, "WT1", "WR1"),
            "/amd-result/key?TaskSid=WT1&ReservationSid=WR1"
        );
    }

    /// Invariants over every mode, state and event.
    #[test]
    fn side_effects_only_leave_open_states_and_settled_attempts_do_nothing() {
        for mode in MODES {
            for state in STATES {
                for event in all_events() {
                    let step = step(mode, state, event.clone());
                    let ctx = format!("{mode:?} {state:?} {event:?} -> {step:?}");
                    match &step.transition {
                        Some(t) => {
                            assert!(t.from.contains(&state), "{ctx}");
                            if !step.intents.is_empty() {
                                assert_eq!(t.from, OPEN, "{ctx}");
                                assert!(!t.to.is_open(), "{ctx}");
                            }
                        }
                        None => assert!(step.intents.is_empty(), "{ctx}"),
                    }
                    if !state.is_open() {
                        assert!(step.intents.is_empty(), "{ctx}");
                        assert_ne!(step.reply, Reply::Prompt, "{ctx}");
                        if let Some(t) = &step.transition {
                            assert!(t.change.outcome.is_none(), "{ctx}");
                        }
                    }
                    // Callbacks that are not the leg's TwiML never return TwiML verbs.
                    if matches!(event, LegEvent::Verdict(_) | LegEvent::Status { .. }) {
                        assert_eq!(step.reply, Reply::Empty, "{ctx}");
                    }
                    // A bridge reply only ever accompanies the bridging decision
                    // or a repeat of the request that made it.
                    if step.reply == Reply::Bridge {
                        assert!(
                            step.transition
                                .as_ref()
                                .is_some_and(|t| t.to == AttemptState::Bridging)
                                || state == AttemptState::Bridging,
                            "{ctx}"
                        );
                    }
                    // Async AMD: the answer URL never bridges (docs/twilio.md,
                    // "Pitfall: async AMD runs TwiML first").
                    if mode != AnswerMode::Sync && matches!(event, LegEvent::Answered { .. }) {
                        assert_ne!(step.reply, Reply::Bridge, "{ctx}");
                    }
                }
            }
        }
    }

    #[test]
    fn sync_answer_decides_by_the_verdict() {
        for state in [AttemptState::Dialing, AttemptState::Answered] {
            let human = step(
                AnswerMode::Sync,
                state,
                LegEvent::Answered {
                    answered_by: Some(AnsweredBy::Human),
                },
            );
            assert_eq!(
                human,
                Step::go(
                    OPEN,
                    AttemptState::Bridging,
                    outcome("human"),
                    vec![Intent::RecordAnswered],
                    Reply::Bridge
                )
            );
            for v in [AnsweredBy::Machine("machine_start"), AnsweredBy::Fax] {
                let s = step(
                    AnswerMode::Sync,
                    state,
                    LegEvent::Answered {
                        answered_by: Some(v),
                    },
                );
                assert!(is_miss(&s, v.as_str()), "{s:?}");
                // The reply hangs up; no REST hang-up is needed.
                assert_eq!(s.reply, Reply::Hangup);
                assert!(!s.intents.contains(&Intent::StopLeg(LegStop::Complete)));
            }
        }
        let unknown = step(
            AnswerMode::Sync,
            AttemptState::Dialing,
            LegEvent::Answered {
                answered_by: Some(AnsweredBy::Unknown),
            },
        );
        assert_eq!(unknown.reply, Reply::Prompt);
        assert_eq!(
            unknown.transition.map(|t| (t.from, t.to)),
            Some((DIALING, AttemptState::Answered))
        );
    }

    #[test]
    fn async_answer_plays_the_prompt_and_never_decides() {
        for mode in [AnswerMode::Hybrid, AnswerMode::Screen] {
            for by in [None, Some(AnsweredBy::Human), Some(AnsweredBy::Fax)] {
                let s = step(
                    mode,
                    AttemptState::Dialing,
                    LegEvent::Answered { answered_by: by },
                );
                assert_eq!(s.reply, Reply::Prompt);
                assert_eq!(
                    s.transition.as_ref().map(|t| t.to),
                    Some(AttemptState::Answered)
                );
                assert!(s.intents.is_empty());
                let again = step(
                    mode,
                    AttemptState::Answered,
                    LegEvent::Answered { answered_by: by },
                );
                assert_eq!(again, Step::reply(Reply::Prompt));
            }
        }
    }

    #[test]
    fn answer_url_after_a_decision() {
        let answered = LegEvent::Answered { answered_by: None };
        // A human verdict got there first: hold until its redirect lands.
        assert_eq!(
            step(AnswerMode::Hybrid, AttemptState::Bridging, answered.clone()).reply,
            Reply::Hold
        );
        for state in [
            AttemptState::Missed,
            AttemptState::Canceled,
            AttemptState::Completed,
        ] {
            assert_eq!(
                step(AnswerMode::Hybrid, state, answered.clone()),
                Step::reply(Reply::Hangup)
            );
        }
        // Sync: a repeat of the request that bridged bridges again (its first
        // reply never ran), anything else holds.
        let human = LegEvent::Answered {
            answered_by: Some(AnsweredBy::Human),
        };
        let bridged = attempt(AttemptState::Bridging, Some("human"));
        assert_eq!(
            decide(AnswerMode::Sync, Some(&bridged), &human.clone().into()).reply,
            Reply::Bridge
        );
        let by_key = attempt(AttemptState::Bridging, Some(OUTCOME_KEY));
        assert_eq!(
            decide(AnswerMode::Sync, Some(&by_key), &human.into()).reply,
            Reply::Hold
        );
    }

    #[test]
    fn hybrid_verdicts() {
        for state in [AttemptState::Dialing, AttemptState::Answered] {
            let human = step(
                AnswerMode::Hybrid,
                state,
                LegEvent::Verdict(AnsweredBy::Human),
            );
            assert_eq!(
                human,
                Step::go(
                    OPEN,
                    AttemptState::Bridging,
                    outcome("human"),
                    vec![Intent::RedirectLegToBridge, Intent::RecordAnswered],
                    Reply::Empty
                )
            );
            for v in VERDICTS
                .into_iter()
                .filter(|v| matches!(v, AnsweredBy::Machine(_) | AnsweredBy::Fax))
            {
                let s = step(AnswerMode::Hybrid, state, LegEvent::Verdict(v));
                assert!(is_miss(&s, v.as_str()), "{s:?}");
                assert!(s.intents.contains(&Intent::StopLeg(LegStop::Complete)));
            }
            assert_eq!(
                step(
                    AnswerMode::Hybrid,
                    state,
                    LegEvent::Verdict(AnsweredBy::Unknown)
                ),
                Step::reply(Reply::Empty)
            );
        }
    }

    #[test]
    fn screen_mode_waits_for_the_key_even_for_a_human() {
        let s = step(
            AnswerMode::Screen,
            AttemptState::Answered,
            LegEvent::Verdict(AnsweredBy::Human),
        );
        assert_eq!(s, Step::reply(Reply::Empty));
        let machine = step(
            AnswerMode::Screen,
            AttemptState::Answered,
            LegEvent::Verdict(AnsweredBy::Machine("machine_start")),
        );
        assert!(is_miss(&machine, "machine_start"));
    }

    #[test]
    fn late_verdicts_do_nothing() {
        for mode in MODES {
            for state in [
                AttemptState::Bridging,
                AttemptState::Missed,
                AttemptState::Canceled,
                AttemptState::Completed,
            ] {
                for v in VERDICTS {
                    assert_eq!(
                        step(mode, state, LegEvent::Verdict(v)),
                        Step::reply(Reply::Empty)
                    );
                }
            }
        }
    }

    #[test]
    fn key_presses() {
        for mode in MODES {
            for state in [AttemptState::Dialing, AttemptState::Answered] {
                assert_eq!(
                    step(mode, state, LegEvent::Key(Some("1".into()))),
                    Step::go(
                        OPEN,
                        AttemptState::Bridging,
                        outcome(OUTCOME_KEY),
                        vec![Intent::RecordAnswered],
                        Reply::Bridge
                    )
                );
                assert_eq!(
                    step(mode, state, LegEvent::Key(Some("9".into()))),
                    Step::reply(Reply::Prompt)
                );
                let timeout = step(mode, state, LegEvent::Key(None));
                assert!(is_miss(&timeout, OUTCOME_NO_KEY), "{timeout:?}");
                assert_eq!(timeout.reply, Reply::Hangup);
            }
            // After a human verdict: hold for the redirect, never a second bridge.
            let by_verdict = attempt(AttemptState::Bridging, Some("human"));
            assert_eq!(
                decide(
                    mode,
                    Some(&by_verdict),
                    &LegEvent::Key(Some("1".into())).into()
                ),
                Step::reply(Reply::Hold)
            );
            // A repeated key press: its first reply never ran.
            let by_key = attempt(AttemptState::Bridging, Some(OUTCOME_KEY));
            assert_eq!(
                decide(mode, Some(&by_key), &LegEvent::Key(Some("1".into())).into()),
                Step::reply(Reply::Bridge)
            );
            for state in [
                AttemptState::Missed,
                AttemptState::Canceled,
                AttemptState::Completed,
            ] {
                for key in [None, Some("1".to_string())] {
                    assert_eq!(
                        step(mode, state, LegEvent::Key(key)),
                        Step::reply(Reply::Goodbye)
                    );
                }
            }
        }
    }

    #[test]
    fn bridge_url_bridges_only_a_bridging_attempt() {
        for state in STATES {
            let expected = if state == AttemptState::Bridging {
                Reply::Bridge
            } else {
                Reply::Goodbye
            };
            assert_eq!(
                step(AnswerMode::Hybrid, state, LegEvent::BridgeRequested),
                Step::reply(expected)
            );
        }
    }

    #[test]
    fn unreached_statuses_miss_an_open_attempt() {
        for status in [
            CallStatus::Busy,
            CallStatus::NoAnswer,
            CallStatus::Failed,
            CallStatus::Canceled,
        ] {
            for state in [AttemptState::Dialing, AttemptState::Answered] {
                let s = step(
                    AnswerMode::Hybrid,
                    state,
                    LegEvent::Status {
                        status,
                        sip_response_code: Some(486),
                    },
                );
                assert!(is_miss(&s, status.as_str()), "{s:?}");
                assert!(!s.intents.contains(&Intent::StopLeg(LegStop::Complete)));
                assert_eq!(
                    s.transition.map(|t| t.change.sip_response_code),
                    Some(Some(486))
                );
            }
        }
    }

    #[test]
    fn completed_status() {
        let completed = |state| {
            step(
                AnswerMode::Hybrid,
                state,
                LegEvent::Status {
                    status: CallStatus::Completed,
                    sip_response_code: Some(200),
                },
            )
        };
        let sip = AttemptChange {
            sip_response_code: Some(200),
            ..AttemptChange::default()
        };
        assert_eq!(
            completed(AttemptState::Bridging),
            Step::go(
                BRIDGING,
                AttemptState::Completed,
                sip.clone(),
                vec![],
                Reply::Empty
            )
        );
        assert!(is_miss(&completed(AttemptState::Answered), OUTCOME_HUNG_UP));
        assert!(is_miss(&completed(AttemptState::Dialing), OUTCOME_HUNG_UP));
        assert_eq!(
            completed(AttemptState::Missed),
            Step::go(MISSED, AttemptState::Missed, sip, vec![], Reply::Empty)
        );
        assert_eq!(
            completed(AttemptState::Completed),
            Step::reply(Reply::Empty)
        );
    }

    #[test]
    fn progress_statuses_do_nothing() {
        for status in [
            CallStatus::Queued,
            CallStatus::Initiated,
            CallStatus::Ringing,
            CallStatus::InProgress,
        ] {
            for state in STATES {
                assert_eq!(
                    step(
                        AnswerMode::Hybrid,
                        state,
                        LegEvent::Status {
                            status,
                            sip_response_code: None
                        }
                    ),
                    Step::reply(Reply::Empty)
                );
            }
        }
    }

    #[test]
    fn unknown_attempt_hangs_up_the_leg_and_ignores_callbacks() {
        for event in all_events() {
            let s = decide(AnswerMode::Hybrid, None, &event.clone().into());
            assert!(s.transition.is_none() && s.intents.is_empty());
            let expected = match event {
                LegEvent::Verdict(_) | LegEvent::Status { .. } => Reply::Empty,
                _ => Reply::Hangup,
            };
            assert_eq!(s.reply, expected);
        }
    }

    /// Both orders of two racing callbacks end in one decision: the second
    /// sees a settled attempt and has no effects.
    #[test]
    fn races_settle_once() {
        let pairs = [
            (
                LegEvent::Verdict(AnsweredBy::Human),
                LegEvent::Key(Some("1".into())),
            ),
            (
                LegEvent::Verdict(AnsweredBy::Machine("machine_start")),
                LegEvent::Key(Some("1".into())),
            ),
            (LegEvent::Verdict(AnsweredBy::Fax), LegEvent::Key(None)),
            (
                LegEvent::Status {
                    status: CallStatus::Busy,
                    sip_response_code: Some(486),
                },
                LegEvent::Answered {
                    answered_by: Some(AnsweredBy::Machine("machine_start")),
                },
            ),
            (
                LegEvent::Status {
                    status: CallStatus::Completed,
                    sip_response_code: Some(200),
                },
                LegEvent::Verdict(AnsweredBy::Human),
            ),
        ];
        for mode in MODES {
            for (a, b) in &pairs {
                for (first, second) in [(a, b), (b, a)] {
                    let mut current = attempt(AttemptState::Answered, None);
                    let mut effects = 0;
                    for event in [first, second] {
                        let s = decide(mode, Some(&current), &event.clone().into());
                        if let Some(t) = s.transition {
                            if t.change.outcome.is_some() {
                                current.outcome = t.change.outcome;
                            }
                            current.state = t.to;
                        }
                        if s.intents.iter().any(|e| {
                            matches!(
                                e,
                                Intent::RejectReservation {
                                    activity: Activity::Unavailable
                                } | Intent::RedirectLegToBridge
                            )
                        }) {
                            effects += 1;
                        }
                    }
                    assert!(effects <= 1, "{mode:?} {first:?} then {second:?}");
                }
            }
        }
    }

    fn lifecycle_events() -> Vec<AttemptEvent> {
        let mut events = vec![
            AttemptEvent::Offered(Box::new(attempt(AttemptState::Dialing, None))),
            AttemptEvent::CallPlaced {
                call_sid: "CA1".into(),
            },
            AttemptEvent::NotPlaced {
                reason: "no-phone".into(),
            },
            AttemptEvent::NotPlaced {
                reason: "call-failed".into(),
            },
            AttemptEvent::Ended {
                reason: "task-canceled".into(),
            },
            AttemptEvent::Ended {
                reason: "timeout".into(),
            },
        ];
        events.extend(STATES.map(|to| AttemptEvent::Reopen { to }));
        events
    }

    /// The writers that are no callback of the leg, over every mode and state.
    #[test]
    fn lifecycle_events_change_only_what_they_own() {
        for mode in MODES {
            for state in STATES {
                for event in lifecycle_events() {
                    let step = decide(mode, Some(&attempt(state, None)), &event);
                    let ctx = format!("{mode:?} {state:?} {event:?} -> {step:?}");
                    // None of them answers a leg's TwiML request.
                    assert_eq!(step.reply, Reply::Empty, "{ctx}");
                    let Some(t) = &step.transition else {
                        assert!(step.intents.is_empty(), "{ctx}");
                        continue;
                    };
                    assert!(t.from.contains(&state), "{ctx}");
                    for intent in &step.intents {
                        match intent {
                            // Stopping a leg closes the attempt, or follows a
                            // close that had no leg to stop yet.
                            Intent::StopLeg(_) => assert_eq!(t.to, AttemptState::Canceled, "{ctx}"),
                            // Decisions only leave open states.
                            _ => {
                                assert_eq!(t.from, OPEN, "{ctx}");
                                assert!(!t.to.is_open(), "{ctx}");
                            }
                        }
                    }
                    match &event {
                        AttemptEvent::CallPlaced { call_sid } => {
                            assert_eq!(t.to, state, "{ctx}");
                            assert_eq!(t.change.call_sid.as_ref(), Some(call_sid), "{ctx}");
                            assert_eq!(t.change.outcome, None, "{ctx}");
                        }
                        AttemptEvent::Reopen { to } => {
                            assert_eq!((state, t.to), (AttemptState::Canceled, *to), "{ctx}");
                            assert!(to.is_open() && step.intents.is_empty(), "{ctx}");
                        }
                        AttemptEvent::NotPlaced { .. } | AttemptEvent::Ended { .. } => {
                            assert!(state.is_open(), "{ctx}");
                            assert!(!t.to.is_open(), "{ctx}");
                        }
                        AttemptEvent::Offered(_) | AttemptEvent::Leg(_) => {
                            panic!("{ctx}: no transition expected")
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_offer_records_the_attempt_once() {
        let offered = AttemptEvent::Offered(Box::new(attempt(AttemptState::Dialing, None)));
        assert_eq!(
            decide(AnswerMode::Hybrid, None, &offered),
            Step::go(
                NEW,
                AttemptState::Dialing,
                AttemptChange::default(),
                vec![],
                Reply::Empty
            )
        );
        for state in STATES {
            assert_eq!(step_of(state, &offered), Step::reply(Reply::Empty));
        }
        // Nothing but an offer creates an attempt.
        for event in lifecycle_events().into_iter().skip(1) {
            assert_eq!(
                decide(AnswerMode::Hybrid, None, &event),
                Step::reply(Reply::Empty)
            );
        }
    }

    fn step_of(state: AttemptState, event: &AttemptEvent) -> Step {
        decide(AnswerMode::Hybrid, Some(&attempt(state, None)), event)
    }

    #[test]
    fn a_call_placed_after_the_task_ended_is_stopped() {
        let placed = AttemptEvent::CallPlaced {
            call_sid: "CA1".into(),
        };
        for state in STATES {
            let expected = if state == AttemptState::Canceled {
                vec![Intent::StopLeg(LegStop::Cancel)]
            } else {
                vec![]
            };
            assert_eq!(step_of(state, &placed).intents, expected, "{state:?}");
        }
    }

    #[test]
    fn a_call_not_placed_is_a_miss_rejected_in_the_answer() {
        let not_placed = AttemptEvent::NotPlaced {
            reason: "no-phone".into(),
        };
        for state in [AttemptState::Dialing, AttemptState::Answered] {
            assert_eq!(
                step_of(state, &not_placed),
                Step::go(
                    OPEN,
                    AttemptState::Missed,
                    outcome("no-phone"),
                    vec![Intent::RejectInAnswer("no-phone".into())],
                    Reply::Empty
                )
            );
        }
        // A leg webhook decided already (a call created despite the error).
        for state in STATES.into_iter().filter(|s| !s.is_open()) {
            assert_eq!(step_of(state, &not_placed), Step::reply(Reply::Empty));
        }
    }

    #[test]
    fn ringing_legs_are_canceled_answered_ones_hung_up() {
        let ended = AttemptEvent::Ended {
            reason: "task-canceled".into(),
        };
        assert_eq!(
            step_of(AttemptState::Dialing, &ended),
            Step::go(
                DIALING,
                AttemptState::Canceled,
                outcome("task-canceled"),
                vec![Intent::StopLeg(LegStop::Cancel)],
                Reply::Empty
            )
        );
        assert_eq!(
            step_of(AttemptState::Answered, &ended).intents,
            vec![Intent::StopLeg(LegStop::Complete)]
        );
        for state in [
            AttemptState::Bridging,
            AttemptState::Missed,
            AttemptState::Canceled,
            AttemptState::Completed,
        ] {
            assert_eq!(step_of(state, &ended), Step::reply(Reply::Empty));
        }
    }

    /// A close whose hang-up failed is undone, and the redelivered event
    /// closes it again.
    #[test]
    fn a_reopened_attempt_closes_again() {
        let ended = AttemptEvent::Ended {
            reason: "task-canceled".into(),
        };
        for before in [AttemptState::Dialing, AttemptState::Answered] {
            let close = step_of(before, &ended).transition.expect("closes");
            let reopen = step_of(close.to, &AttemptEvent::Reopen { to: before })
                .transition
                .expect("reopens");
            assert_eq!((reopen.from, reopen.to), (CANCELED, before));
            assert_eq!(step_of(reopen.to, &ended).transition, Some(close));
        }
    }

    /// A close racing a decision: whichever lands first, the attempt leaves
    /// its open state once.
    #[test]
    fn a_close_and_a_decision_settle_once() {
        let ended = AttemptEvent::Ended {
            reason: "task-canceled".into(),
        };
        let decisions: [AttemptEvent; 3] = [
            LegEvent::Verdict(AnsweredBy::Human).into(),
            LegEvent::Key(Some("1".into())).into(),
            LegEvent::Status {
                status: CallStatus::Busy,
                sip_response_code: Some(486),
            }
            .into(),
        ];
        for decision in &decisions {
            for (first, second) in [(&ended, decision), (decision, &ended)] {
                let mut current = attempt(AttemptState::Answered, None);
                let mut settled = 0;
                for event in [first, second] {
                    if let Some(t) = decide(AnswerMode::Hybrid, Some(&current), event).transition {
                        if current.state.is_open() && !t.to.is_open() {
                            settled += 1;
                        }
                        current.state = t.to;
                    }
                }
                assert_eq!(settled, 1, "{first:?} then {second:?}");
            }
        }
    }

    #[test]
    fn after_bridge() {
        assert!(bridge_happened(Some("completed")));
        assert!(bridge_happened(Some("answered")));
        for s in [None, Some("failed"), Some("busy"), Some("no-answer")] {
            assert!(!bridge_happened(s));
        }
    }
}
