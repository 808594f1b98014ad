//! The attempt state machine: one attempt to reach a worker for one
//! reservation, from the outbound call to the bridge or the miss.
//!
//! [`decide`] takes the answer mode, the attempt as stored and one callback
//! (the leg answered, an async AMD verdict, a key press or its timeout, the
//! bridge URL, a call status) and returns a [`Step`]: at most one conditional
//! transition, the effects to perform once that transition has applied, and
//! the reply to the webhook. A handler whose transition is lost re-reads the
//! attempt and decides again, so the losing side of a race sees a settled
//! attempt and does nothing.
//!
//! Every Twilio side effect (reject, hang-up, redirect, miss) hangs off a
//! transition out of an open state, and only one such transition can apply
//! per attempt: that is what keeps one decision per reservation.

use crate::model::AnswerMode;
use crate::model::{Attempt, AttemptChange, AttemptState};

/// Paths of the worker leg's webhooks (all under the `amd-result` function,
/// except the status callback).
pub mod paths {
    /// The leg's answer URL.
    pub const ANSWER: &str = "/amd-result";
    /// Async AMD verdicts (`AsyncAmdStatusCallback`).
    pub const VERDICT: &str = "/amd-result/verdict";
    /// The press-1 `<Gather>` action, and where the prompt falls through to on timeout.
    pub const KEY: &str = "/amd-result/key";
    /// Where a `human` verdict redirects the leg: the bridge TwiML.
    pub const BRIDGE: &str = "/amd-result/bridge";
    /// The bridge's `<Dial action>`: the bridge ended or failed.
    pub const AFTER_BRIDGE: &str = "/amd-result/after-bridge";
    /// The leg's status callback.
    pub const DIAL_STATUS: &str = "/dial-status";
}

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
        call_sid: None,
        state: AttemptState::Dialing,
        outcome: None,
        sip_response_code: None,
        created_at,
    }
}

/// A duration as the whole seconds TwiML and the REST API take.
pub fn whole_secs(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
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

/// A conditional write: move the attempt to `to` if its state is in `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: &'static [AttemptState],
    pub to: AttemptState,
    pub change: AttemptChange,
}

/// What to do once the transition applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Reject the reservation with the unavailable activity (pitfall 4), so
    /// routing goes on without offering it to this worker again.
    RejectReservation,
    /// Hang up the worker leg over REST (`Status=completed`).
    HangUpLeg,
    /// Point the leg at the bridge URL over REST (Calls update `Url`).
    RedirectLegToBridge,
    /// Count the miss on the worker (and maybe take them out of rotation).
    RecordMiss(String),
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
    pub effects: Vec<Effect>,
    pub reply: Reply,
}

impl Step {
    fn reply(reply: Reply) -> Self {
        Self {
            transition: None,
            effects: Vec::new(),
            reply,
        }
    }

    fn go(
        from: &'static [AttemptState],
        to: AttemptState,
        change: AttemptChange,
        effects: Vec<Effect>,
        reply: Reply,
    ) -> Self {
        Self {
            transition: Some(Transition { from, to, change }),
            effects,
            reply,
        }
    }
}

/// States in which the attempt is still undecided.
pub const OPEN: &[AttemptState] = &[AttemptState::Dialing, AttemptState::Answered];
const DIALING: &[AttemptState] = &[AttemptState::Dialing];
const BRIDGING: &[AttemptState] = &[AttemptState::Bridging];
const MISSED: &[AttemptState] = &[AttemptState::Missed];
const CANCELED: &[AttemptState] = &[AttemptState::Canceled];

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
fn bridge(outcome_name: &str, effects: Vec<Effect>, reply: Reply) -> Step {
    let mut all = effects;
    all.push(Effect::RecordAnswered);
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
    let mut effects = vec![Effect::RejectReservation];
    if hang_up {
        effects.push(Effect::HangUpLeg);
    }
    effects.push(Effect::RecordMiss(reason));
    Step::go(OPEN, AttemptState::Missed, change, effects, reply)
}

/// The one decision for `event` given the attempt as stored (`None`: no
/// attempt for this reservation, e.g. a forged or stale callback).
pub fn decide(mode: AnswerMode, attempt: Option<&Attempt>, event: &LegEvent) -> Step {
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
    // Async AMD (hybrid, screen): never bridge in the first TwiML (pitfall 6);
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
                vec![Effect::RedirectLegToBridge],
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
        decide(mode, Some(&attempt(state, None)), &event)
    }

    fn is_miss(step: &Step, reason: &str) -> bool {
        step.transition.as_ref().is_some_and(|t| {
            t.from == OPEN
                && t.to == AttemptState::Missed
                && t.change.outcome.as_deref() == Some(reason)
        }) && step.effects.first() == Some(&Effect::RejectReservation)
            && step.effects.last() == Some(&Effect::RecordMiss(reason.to_string()))
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
            leg_url(paths::KEY, "WT1", "WR1"),
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
                            if !step.effects.is_empty() {
                                assert_eq!(t.from, OPEN, "{ctx}");
                                assert!(!t.to.is_open(), "{ctx}");
                            }
                        }
                        None => assert!(step.effects.is_empty(), "{ctx}"),
                    }
                    if !state.is_open() {
                        assert!(step.effects.is_empty(), "{ctx}");
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
                    // Async AMD: the answer URL never bridges (pitfall 6).
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
                    vec![Effect::RecordAnswered],
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
                assert!(!s.effects.contains(&Effect::HangUpLeg));
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
                assert!(s.effects.is_empty());
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
            decide(AnswerMode::Sync, Some(&bridged), &human).reply,
            Reply::Bridge
        );
        let by_key = attempt(AttemptState::Bridging, Some(OUTCOME_KEY));
        assert_eq!(
            decide(AnswerMode::Sync, Some(&by_key), &human).reply,
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
                    vec![Effect::RedirectLegToBridge, Effect::RecordAnswered],
                    Reply::Empty
                )
            );
            for v in VERDICTS
                .into_iter()
                .filter(|v| matches!(v, AnsweredBy::Machine(_) | AnsweredBy::Fax))
            {
                let s = step(AnswerMode::Hybrid, state, LegEvent::Verdict(v));
                assert!(is_miss(&s, v.as_str()), "{s:?}");
                assert!(s.effects.contains(&Effect::HangUpLeg));
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
                        vec![Effect::RecordAnswered],
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
                decide(mode, Some(&by_verdict), &LegEvent::Key(Some("1".into()))),
                Step::reply(Reply::Hold)
            );
            // A repeated key press: its first reply never ran.
            let by_key = attempt(AttemptState::Bridging, Some(OUTCOME_KEY));
            assert_eq!(
                decide(mode, Some(&by_key), &LegEvent::Key(Some("1".into()))),
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
                assert!(!s.effects.contains(&Effect::HangUpLeg));
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
            let s = decide(AnswerMode::Hybrid, None, &event);
            assert!(s.transition.is_none() && s.effects.is_empty());
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
                        let s = decide(mode, Some(&current), event);
                        if let Some(t) = s.transition {
                            if t.change.outcome.is_some() {
                                current.outcome = t.change.outcome;
                            }
                            current.state = t.to;
                        }
                        if s.effects.iter().any(|e| {
                            matches!(e, Effect::RejectReservation | Effect::RedirectLegToBridge)
                        }) {
                            effects += 1;
                        }
                    }
                    assert!(effects <= 1, "{mode:?} {first:?} then {second:?}");
                }
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
