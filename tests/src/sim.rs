//! The simulated Twilio: a discrete-event scheduler over simulated
//! milliseconds, the call engine (TwiML interpreter for both legs, the phone
//! network, AMD, status callbacks) and the TaskRouter model. Webhooks it
//! makes are queued in `out` and delivered by [`crate::Sim`]; REST requests
//! are applied by [`crate::rest`] at the current simulated instant.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use serde_json::{Value, json};

use crate::carrier;
use crate::phones::{Caller, Claims, Phone, WorkerScript};
use crate::taskrouter::{Effects, TaskRouter, Timer};
use crate::twiml::{self, Verb};
use crate::{Ms, PUBLIC_BASE_URL};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    Failed,
    NoAnswer,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
        }
    }
    pub fn ended(self) -> bool {
        !matches!(
            self,
            CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress
        )
    }
}

/// What a call is doing between steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Leg {
    /// Running its TwiML (or waiting for a document).
    Running,
    /// Waiting in a TaskRouter queue (`<Enqueue>`).
    InQueue {
        task: String,
        action: Option<String>,
        wait_url: Option<String>,
        since: Ms,
    },
    /// Connected to the other leg.
    Bridged {
        peer: String,
        reservation: String,
        post_work: Option<String>,
        dial_action: Option<String>,
    },
    Recording,
    /// `<Dial><Number>`: waiting for the dialled call (`child`) to end.
    Dialing {
        child: String,
        action: Option<String>,
    },
}

/// Outbound call parameters from Calls create.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    pub url: String,
    pub status_callback: Option<String>,
    pub status_events: Vec<String>,
    pub timeout_ms: Ms,
    pub machine_detection: bool,
    pub amd_timeout_ms: Ms,
    pub async_amd_callback: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub sid: String,
    pub from: String,
    pub to: String,
    pub inbound: bool,
    pub status: CallStatus,
    pub leg: Leg,
    epoch: u64,
    doc_url: String,
    verbs: Vec<Verb>,
    pc: usize,
    wait: Option<(Vec<Verb>, usize)>,
    pub outbound: Option<Outbound>,
    pub phone: Option<Phone>,
    pub caller: Option<Caller>,
    pub created: Ms,
    pub answered: Option<Ms>,
    pub first_audio: Option<Ms>,
    pub bridged: Option<Ms>,
    pub ended: Option<Ms>,
    pub answered_by: Option<String>,
    /// The worker leg this caller was bridged to (callers) or the caller (worker legs).
    pub peer: Option<String>,
    pub hung_up_self: bool,
    pub voicemail_recorded: bool,
    /// When the caller left the queue (bridge, redirect, action, hang-up).
    pub left_queue: Option<Ms>,
    /// Everything said to this leg, in order (for assertions).
    pub heard: Vec<String>,
    /// The call was refused with `<Reject>`.
    pub rejected: bool,
    /// The call whose `<Dial><Number>` placed this one (a customer's phone).
    pub dialed_by: Option<String>,
    /// Pressed 1 while waiting: confirms the number on file (1) at the
    /// callback question that follows.
    pub books_callback: bool,
    seq: u32,
}

/// What to do with a webhook's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// TwiML that replaces the call's document.
    Twiml {
        call: String,
        epoch: u64,
    },
    /// TwiML of the queue's wait loop.
    Wait {
        call: String,
        epoch: u64,
    },
    /// The assignment callback's JSON instruction.
    Assignment {
        reservation: String,
    },
    /// `<Message>` replies go to this phone.
    SmsReply {
        to: String,
    },
    /// A workspace event or recording status callback: under
    /// [`crate::Readings::events_redelivered`] a 5xx answer brings it again
    /// (at most this many more times).
    Event {
        redeliveries: u32,
    },
    Ignore,
}

/// A webhook to send to Homeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub url: String,
    pub params: Vec<(String, String)>,
    pub then: Then,
}

/// A webhook as delivered, for assertions.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub at: Ms,
    pub path: String,
    pub query: String,
    pub params: Vec<(String, String)>,
    pub status: u16,
    pub body: String,
}

impl Delivered {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Ev {
    CallerArrives(Caller),
    Sms {
        from: String,
        body: String,
    },
    Step {
        call: String,
        epoch: u64,
    },
    /// The Gather ends: with digits, or without (then the action runs only
    /// with `actionOnEmptyResult`, else the next verb).
    GatherDone {
        call: String,
        epoch: u64,
        action: Option<String>,
        digits: Option<String>,
        action_on_empty: bool,
    },
    Ring(String),
    Answer(String),
    RingEnd {
        call: String,
        status: CallStatus,
        sip: u16,
    },
    /// AMD's verdict is known: sync requests the answer URL, async POSTs the callback.
    Amd {
        call: String,
        verdict: String,
        after: Ms,
        sync: bool,
    },
    Patience(String),
    BridgeEnd {
        caller: String,
        epoch: u64,
    },
    RecordDone {
        call: String,
        epoch: u64,
        action: Option<String>,
        callback: Option<String>,
        /// The `transcribeCallback` of a `transcribe="true"` recording.
        transcription: Option<String>,
        secs: Ms,
    },
    PhoneHangup(String),
    /// EventBridge's minute tick of the scheduler.
    Tick,
    Tr(Timer),
    Deliver(Hook),
}

#[derive(Debug)]
struct Scheduled {
    at: Ms,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// How often, and how long apart, an event answered 5xx is delivered again
/// under [`crate::Readings::events_redelivered`].
const REDELIVERIES: u32 = 3;
const REDELIVERY_AFTER_MS: Ms = 5_000;

/// Where the stand-in "delivers" the scheduler's tick: no URL, an in-process invocation.
pub const SCHEDULER: &str = "aws.events:scheduler";
pub const TICK_MS: Ms = 60_000;

/// Twilio transcribes recordings of 2 to 120 s (docs/twilio.md), and the
/// transcript takes a while; this long after the recording by default.
const TRANSCRIBABLE_MS: std::ops::RangeInclusive<Ms> = 2_000..=120_000;
const TRANSCRIPTION_AFTER_MS: Ms = 15_000;

/// Duplicated and re-ordered delivery of status, AMD and event callbacks.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    /// Each callback is delivered twice.
    pub duplicate: bool,
    /// Each delivery is delayed by a random amount up to this.
    pub max_delay_ms: Ms,
}

/// An SMS Homeline sent (REST or TwiML reply).
#[derive(Debug, Clone)]
pub struct Sms {
    pub at: Ms,
    pub to: String,
    pub body: String,
}

/// A REST request the stand-in served.
#[derive(Debug, Clone)]
pub struct RestCall {
    pub at: Ms,
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub status: u16,
}

impl RestCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct World {
    pub now: Ms,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    pub tr: TaskRouter,
    pub calls: BTreeMap<String, Call>,
    pub workers: HashMap<String, WorkerScript>,
    pub business_number: String,
    pub worker_line: String,
    pub account_sid: String,
    pub messages: Vec<Sms>,
    pub rest: Vec<RestCall>,
    pub delivered: Vec<Delivered>,
    /// Things Twilio would have complained about (bad TwiML, bad answers).
    pub anomalies: Vec<String>,
    /// REST answers to force: the next requests get these HTTP statuses.
    pub faults: VecDeque<u16>,
    /// An outage of some endpoints: REST requests whose path contains one of
    /// these answer 500 while it is listed.
    pub failing_paths: Vec<String>,
    pub chaos: Option<Chaos>,
    /// Webhooks due at the same instant are sent concurrently (else one by one).
    pub concurrent: bool,
    pub rng: fastrand::Rng,
    pub out: VecDeque<Hook>,
    next_sid: u64,
    rejoining: Vec<String>,
    /// Numbers that texted an opt-out keyword (`carrier`): every SMS to
    /// them is refused with 21610 until they opt in.
    pub opted_out: Vec<String>,
    /// `<Play>` media whose length the stand-in learnt (`Sim::learn_media`).
    pub media: twiml::Media,
    /// Callers by number: how their phone answers when called back.
    pub customers: HashMap<String, Caller>,
    /// The transcription callback comes before the recording status
    /// callback (Twilio leaves the order open); by default it comes after.
    pub transcription_first: bool,
    /// Unix seconds at simulated instant 0: the functions' clock and the
    /// scheduler's tick read `epoch_secs + now / 1000`.
    pub epoch_secs: i64,
    /// The functions' `MAX_WAIT_SECS` (`None`: a world without them).
    pub max_wait_ms: Option<Ms>,
    /// The longest cooldown the functions give a worker who stays on duty
    /// (`MISS_COOLDOWN_SECS` doubled up to the last miss before
    /// `MISSES_BEFORE_OFFLINE`; `None`: a world without them).
    pub longest_cooldown_ms: Option<Ms>,
    /// Caller IDs the account verified besides its numbers
    /// (`CALLBACK_CALLER_ID`): a Calls create may present them.
    pub verified_caller_ids: Vec<String>,
    /// `CallToken`s given to inbound calls: token → the call's SID.
    call_tokens: HashMap<String, String>,
    /// The business number's `StatusCallback` (`homeline provision` sets
    /// it; `None`: a world without it): requested when a customer's call ends.
    pub business_status_callback: Option<String>,
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl World {
    pub fn new(tr: TaskRouter, account_sid: &str, seed: u64) -> Self {
        Self {
            now: 0,
            queue: BinaryHeap::new(),
            seq: 0,
            tr,
            calls: BTreeMap::new(),
            workers: HashMap::new(),
            business_number: "+15005550100".into(),
            worker_line: "+15005550006".into(),
            account_sid: account_sid.to_string(),
            messages: Vec::new(),
            rest: Vec::new(),
            delivered: Vec::new(),
            anomalies: Vec::new(),
            faults: VecDeque::new(),
            failing_paths: Vec::new(),
            chaos: None,
            concurrent: false,
            rng: fastrand::Rng::with_seed(seed),
            out: VecDeque::new(),
            next_sid: 0x100,
            rejoining: Vec::new(),
            opted_out: Vec::new(),
            media: twiml::Media::new(),
            customers: HashMap::new(),
            transcription_first: false,
            epoch_secs: chrono::Utc::now().timestamp(),
            max_wait_ms: None,
            longest_cooldown_ms: None,
            verified_caller_ids: Vec::new(),
            call_tokens: HashMap::new(),
            business_status_callback: None,
        }
    }

    /// The simulated instant as Unix seconds.
    pub fn unix_now(&self) -> i64 {
        self.epoch_secs + i64::try_from(self.now / 1000).unwrap_or(i64::MAX)
    }

    /// Starts EventBridge's minute tick of the scheduler.
    pub fn start_scheduler(&mut self) {
        self.schedule(self.now + TICK_MS, Ev::Tick);
    }

    pub fn sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        format!("{prefix}{:032x}", self.next_sid)
    }

    pub fn schedule(&mut self, at: Ms, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        }));
    }

    /// Pops the next event due at or before `until`, advancing the clock.
    pub fn pop(&mut self, until: Ms) -> Option<Ev> {
        if self.queue.peek().is_some_and(|Reverse(s)| s.at <= until) {
            let Reverse(s) = self.queue.pop()?;
            self.now = s.at;
            Some(s.ev)
        } else {
            None
        }
    }

    pub fn next_event_at(&self) -> Option<Ms> {
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// Applies TaskRouter's effects: events and assignments go out, timers are set.
    pub fn apply(&mut self, fx: Effects) {
        for params in fx.events {
            self.send_chaotic(Hook {
                url: format!("{PUBLIC_BASE_URL}/taskrouter-events"),
                params,
                then: Then::Event {
                    redeliveries: REDELIVERIES,
                },
            });
        }
        for (reservation, params) in fx.assignments {
            self.out.push_back(Hook {
                url: format!("{PUBLIC_BASE_URL}/assignment"),
                params,
                then: Then::Assignment { reservation },
            });
        }
        for (at, timer) in fx.timers {
            self.schedule(at, Ev::Tr(timer));
        }
    }

    fn send_chaotic(&mut self, hook: Hook) {
        match self.chaos {
            None => self.out.push_back(hook),
            Some(chaos) => {
                let first = self.rng.u64(0..=chaos.max_delay_ms);
                self.schedule(self.now + first, Ev::Deliver(hook.clone()));
                if chaos.duplicate {
                    // Half the copies arrive together with the original (a
                    // concurrent retry), the others at their own random time.
                    let second = if self.rng.bool() {
                        first
                    } else {
                        self.rng.u64(0..=chaos.max_delay_ms)
                    };
                    self.schedule(self.now + second, Ev::Deliver(hook));
                }
            }
        }
    }

    /// Resolves a TwiML URL against the document that named it.
    fn resolve(&self, base: &str, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else if url.starts_with('/') {
            format!("{PUBLIC_BASE_URL}{url}")
        } else {
            let dir = base.split('?').next().unwrap_or(base);
            let dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or(dir);
            format!("{dir}/{url}")
        }
    }

    fn call_params(&self, call: &Call) -> Vec<(String, String)> {
        let stir_verstat = call.caller.as_ref().and_then(|c| c.stir_verstat.as_deref());
        let mut params = vec![
            p("CallSid", &call.sid),
            p("AccountSid", &self.account_sid),
            p("From", &call.from),
            p("To", &call.to),
            p("Caller", &call.from),
            p("Called", &call.to),
            p("CallStatus", call.status.as_str()),
            p(
                "Direction",
                if call.inbound {
                    "inbound"
                } else {
                    "outbound-api"
                },
            ),
            p("ApiVersion", "2010-04-01"),
        ];
        if let Some(verstat) = stir_verstat {
            params.push(p("StirVerstat", verstat));
        }
        params
    }

    /// Fetches TwiML for a call from `url` with extra params.
    fn fetch(&mut self, sid: &str, url: &str, extra: Vec<(String, String)>, wait: bool) {
        let Some(call) = self.calls.get_mut(sid) else {
            return;
        };
        call.epoch += 1;
        let epoch = call.epoch;
        let url = self.resolve(&self.calls[sid].doc_url, url);
        let mut params = self.call_params(&self.calls[sid]);
        params.extend(extra);
        let then = if wait {
            Then::Wait {
                call: sid.to_string(),
                epoch,
            }
        } else {
            Then::Twiml {
                call: sid.to_string(),
                epoch,
            }
        };
        self.out.push_back(Hook { url, params, then });
    }

    /// A webhook answered `(status, body)`.
    pub fn respond(&mut self, hook: &Hook, status: u16, body: &str) {
        match &hook.then {
            Then::Twiml { call, epoch } | Then::Wait { call, epoch } => {
                let wait = matches!(hook.then, Then::Wait { .. });
                let Some(c) = self.calls.get(call) else {
                    return;
                };
                if c.epoch != *epoch || c.status.ended() {
                    return;
                }
                let verbs = if status == 200 {
                    twiml::parse(body)
                } else {
                    Err(format!("HTTP {status}"))
                };
                match verbs {
                    Ok(verbs) => {
                        let c = self.calls.get_mut(call).expect("checked above");
                        if wait {
                            c.wait = Some((verbs, 0));
                        } else {
                            c.doc_url = hook.url.clone();
                            c.verbs = verbs;
                            c.pc = 0;
                            c.wait = None;
                        }
                        self.advance(call);
                    }
                    Err(e) => {
                        // Twilio says "an application error has occurred" and hangs up.
                        self.anomalies
                            .push(format!("{call}: TwiML from {} unusable: {e}", hook.url));
                        self.end_call(call, CallStatus::Completed, 0);
                    }
                }
            }
            Then::Assignment { reservation } => {
                let answer = if status == 200 {
                    serde_json::from_str::<Value>(body).ok()
                } else {
                    None
                };
                match answer {
                    Some(answer) => {
                        let mut fx = Effects::default();
                        self.tr.assignment_answer(reservation, &answer, self.now, &mut fx);
                        self.apply(fx);
                    }
                    None => self.anomalies.push(format!(
                        "assignment for {reservation} answered HTTP {status} {body:?} (Twilio would use the fallback URL)"
                    )),
                }
            }
            Then::SmsReply { to } => {
                if let Ok(verbs) = twiml::parse(body) {
                    for verb in verbs {
                        if let Verb::Message(text) = verb {
                            if self.opted_out.contains(to) {
                                // Twilio refuses it (21610) and logs the error.
                                self.anomalies
                                    .push(format!("reply to {to}, who opted out: {text}"));
                                continue;
                            }
                            self.messages.push(Sms {
                                at: self.now,
                                to: to.clone(),
                                body: text,
                            });
                        }
                    }
                }
            }
            Then::Event { redeliveries } => {
                if status >= 500
                    && *redeliveries > 0
                    && self.tr.settings.readings.events_redelivered
                {
                    let again = Hook {
                        then: Then::Event {
                            redeliveries: redeliveries - 1,
                        },
                        ..hook.clone()
                    };
                    self.schedule(self.now + REDELIVERY_AFTER_MS, Ev::Deliver(again));
                }
            }
            Then::Ignore => {}
        }
    }

    /// Runs the call's verbs until one takes time or the document ends.
    fn advance(&mut self, sid: &str) {
        loop {
            let now = self.now;
            let Some(call) = self.calls.get_mut(sid) else {
                return;
            };
            if call.status.ended() {
                return;
            }
            let in_wait = matches!(call.leg, Leg::InQueue { .. });
            let verb = if in_wait {
                match &mut call.wait {
                    Some((verbs, pc)) if *pc < verbs.len() => {
                        *pc += 1;
                        Some(verbs[*pc - 1].clone())
                    }
                    _ => None,
                }
            } else if call.pc < call.verbs.len() {
                call.pc += 1;
                Some(call.verbs[call.pc - 1].clone())
            } else {
                None
            };
            let Some(verb) = verb else {
                if in_wait {
                    // The wait document ended: Twilio requests waitUrl again.
                    self.fetch_wait(sid);
                } else {
                    self.end_call(sid, CallStatus::Completed, 0);
                }
                return;
            };
            if twiml::is_audible(&verb) && call.first_audio.is_none() {
                call.first_audio = Some(now);
            }
            let epoch = call.epoch;
            match verb {
                Verb::Say(ref text) => {
                    call.heard.push(text.clone());
                    let at = now + twiml::duration_ms(&verb, &self.media);
                    self.schedule(
                        at,
                        Ev::Step {
                            call: sid.into(),
                            epoch,
                        },
                    );
                    return;
                }
                Verb::Play { .. } | Verb::Pause(_) => {
                    let at = now + twiml::duration_ms(&verb, &self.media).max(1);
                    self.schedule(
                        at,
                        Ev::Step {
                            call: sid.into(),
                            epoch,
                        },
                    );
                    return;
                }
                Verb::Gather(g) => {
                    for prompt in &g.prompts {
                        if let Verb::Say(text) = prompt {
                            call.heard.push(text.clone());
                        }
                    }
                    let prompt_ms = twiml::duration_ms(&Verb::Gather(g.clone()), &self.media);
                    let waited = match &call.leg {
                        Leg::InQueue { since, .. } => Some(now - since),
                        _ => None,
                    };
                    let key = match (&call.caller, &call.phone) {
                        // In the queue the caller presses their wait key, if any, once they waited long enough.
                        // Gather's bargeIn (default true) lets the key cut the hold music:
                        // a second after the spoken prompts.
                        (Some(caller), _) if waited.is_some() => caller
                            .wait_key
                            .filter(|(_, after)| waited.is_some_and(|w| w >= *after))
                            .map(|(d, _)| {
                                let spoken: Ms = g
                                    .prompts
                                    .iter()
                                    .filter(|v| matches!(v, Verb::Say(_)))
                                    .map(|v| twiml::duration_ms(v, &self.media))
                                    .sum();
                                (d, spoken + 1_000)
                            }),
                        (Some(_), _) if call.books_callback => Some(('1', prompt_ms + 1_000)),
                        (Some(caller), _) => caller.digit.map(|d| (d, prompt_ms + 1_000)),
                        (None, Some(phone)) => phone.press().map(|after| ('1', after)),
                        _ => None,
                    };
                    let timeout_at = now + prompt_ms + u64::from(g.timeout) * 1000;
                    match key {
                        Some((digit, after)) if now + after < timeout_at => {
                            if waited.is_some() && digit == '1' {
                                call.books_callback = true;
                            }
                            let action = g.action.clone();
                            self.schedule(
                                now + after,
                                Ev::GatherDone {
                                    call: sid.into(),
                                    epoch,
                                    action,
                                    digits: Some(digit.to_string()),
                                    action_on_empty: false,
                                },
                            );
                        }
                        _ => self.schedule(
                            timeout_at,
                            Ev::GatherDone {
                                call: sid.into(),
                                epoch,
                                action: g.action.clone(),
                                digits: None,
                                action_on_empty: g.action_on_empty_result,
                            },
                        ),
                    }
                    return;
                }
                Verb::Enqueue(e) => {
                    let mut attrs: Value = e
                        .task
                        .as_deref()
                        .and_then(|t| serde_json::from_str(t).ok())
                        .unwrap_or_else(|| json!({}));
                    if !attrs.is_object() {
                        attrs = json!({});
                    }
                    attrs["call_sid"] = json!(call.sid);
                    attrs["from"] = json!(call.from);
                    attrs["to"] = json!(call.to);
                    attrs["caller"] = json!(call.from);
                    attrs["called"] = json!(call.to);
                    if e.workflow_sid.as_deref() != Some(self.tr.settings.workflow_sid.as_str()) {
                        self.anomalies.push(format!(
                            "{sid}: Enqueue with workflowSid {:?}",
                            e.workflow_sid
                        ));
                    }
                    let doc = call.doc_url.clone();
                    let action = e.action.as_ref().map(|a| self.resolve(&doc, a));
                    let wait_url = e.wait_url.as_ref().map(|w| self.resolve(&doc, w));
                    let mut fx = Effects::default();
                    // The call is in the queue before TaskRouter routes the task.
                    let call = self.calls.get_mut(sid).expect("present");
                    call.leg = Leg::InQueue {
                        task: String::new(),
                        action,
                        wait_url,
                        since: now,
                    };
                    let task = self.tr.create_task(attrs, now, &mut fx);
                    if let Some(Call {
                        leg: Leg::InQueue { task: t, .. },
                        ..
                    }) = self.calls.get_mut(sid)
                    {
                        *t = task;
                    }
                    self.apply(fx);
                    self.fetch_wait(sid);
                    return;
                }
                Verb::DialQueue(d) => {
                    self.dial_queue(sid, d);
                    return;
                }
                Verb::DialNumber(d) => {
                    self.dial_number(sid, d);
                    return;
                }
                Verb::Record(r) => {
                    let Some(caller) = call.caller.clone() else {
                        // A worker leg never records; Twilio would record silence until maxLength.
                        self.anomalies
                            .push(format!("{sid}: Record on a worker leg"));
                        self.end_call(sid, CallStatus::Completed, 0);
                        return;
                    };
                    call.leg = Leg::Recording;
                    let secs = caller.message.min(u64::from(r.max_length) * 1000);
                    let doc = call.doc_url.clone();
                    let action = r.action.as_ref().map(|a| self.resolve(&doc, a));
                    let callback = r
                        .recording_status_callback
                        .as_ref()
                        .map(|a| self.resolve(&doc, a));
                    let transcription = r
                        .transcribe_callback
                        .as_ref()
                        .filter(|_| r.transcribe)
                        .map(|a| self.resolve(&doc, a));
                    // A beep, then the message.
                    self.schedule(
                        now + 500 + secs,
                        Ev::RecordDone {
                            call: sid.into(),
                            epoch,
                            action,
                            callback,
                            transcription,
                            secs,
                        },
                    );
                    return;
                }
                Verb::Redirect(url) => {
                    if in_wait {
                        self.fetch_wait_url(sid, &url);
                    } else {
                        self.fetch(sid, &url, vec![], false);
                    }
                    return;
                }
                Verb::Hangup => {
                    self.end_call(sid, CallStatus::Completed, 0);
                    return;
                }
                // Twilio's <Reject> page: the call ends busy or no-answer by
                // the reason; the default reason's status is not stated.
                Verb::Reject => {
                    if let Some(call) = self.calls.get_mut(sid) {
                        call.rejected = true;
                    }
                    self.end_call(sid, CallStatus::Busy, 0);
                    return;
                }
                Verb::Leave => {
                    self.leave_queue(sid, "leave");
                    return;
                }
                Verb::Message(_) | Verb::Unsupported(_) => {
                    self.anomalies
                        .push(format!("{sid}: unsupported verb {verb:?}"));
                }
            }
        }
    }

    fn fetch_wait(&mut self, sid: &str) {
        let Some(Call {
            leg: Leg::InQueue { wait_url, .. },
            ..
        }) = self.calls.get(sid)
        else {
            return;
        };
        match wait_url.clone() {
            Some(url) => self.fetch_wait_url(sid, &url),
            None => {
                // Twilio's default hold music.
                let call = self.calls.get_mut(sid).expect("present");
                call.wait = Some((
                    vec![Verb::Play {
                        url: "default".into(),
                        loops: 1,
                    }],
                    0,
                ));
                self.advance(sid);
            }
        }
    }

    fn fetch_wait_url(&mut self, sid: &str, url: &str) {
        let Some(call) = self.calls.get(sid) else {
            return;
        };
        let Leg::InQueue { task, since, .. } = &call.leg else {
            return;
        };
        let queue_time = (self.now - since) / 1000;
        let position = self.queue_position(task);
        let size = self.queue_size(task);
        let extra = vec![
            p("QueuePosition", position.to_string()),
            p("QueueTime", queue_time.to_string()),
            p("AvgQueueTime", "0"),
            p("CurrentQueueSize", size.to_string()),
        ];
        let url = self.resolve(&call.doc_url, url);
        if !url.starts_with(PUBLIC_BASE_URL) {
            // Hold music hosted elsewhere: a Play of it.
            let call = self.calls.get_mut(sid).expect("present");
            call.wait = Some((vec![Verb::Play { url, loops: 1 }], 0));
            self.advance(sid);
            return;
        }
        self.fetch(sid, &url, extra, true);
    }

    fn queue_position(&self, task: &str) -> usize {
        let Some(t) = self.tr.tasks.get(task) else {
            return 0;
        };
        1 + self
            .tr
            .tasks
            .values()
            .filter(|o| {
                o.queue_sid == t.queue_sid
                    && o.created < t.created
                    && matches!(
                        o.status,
                        crate::taskrouter::TaskStatus::Pending
                            | crate::taskrouter::TaskStatus::Reserved
                    )
            })
            .count()
    }

    fn queue_size(&self, task: &str) -> usize {
        let Some(t) = self.tr.tasks.get(task) else {
            return 0;
        };
        self.tr
            .tasks
            .values()
            .filter(|o| {
                o.queue_sid == t.queue_sid
                    && matches!(
                        o.status,
                        crate::taskrouter::TaskStatus::Pending
                            | crate::taskrouter::TaskStatus::Reserved
                    )
            })
            .count()
    }

    /// The caller leaves the queue other than by a bridge: the Enqueue action runs.
    fn leave_queue(&mut self, sid: &str, result: &str) {
        let Some(call) = self.calls.get_mut(sid) else {
            return;
        };
        let Leg::InQueue {
            action,
            since,
            task,
            ..
        } = call.leg.clone()
        else {
            return;
        };
        call.leg = Leg::Running;
        call.wait = None;
        call.left_queue = Some(self.now);
        let queue = self
            .tr
            .tasks
            .get(&task)
            .and_then(|t| t.queue_sid.clone())
            .unwrap_or_default();
        let extra = vec![
            p("QueueResult", result),
            p("QueueSid", queue),
            p("QueueTime", ((self.now - since) / 1000).to_string()),
        ];
        match action {
            Some(url) => self.fetch(sid, &url, extra, false),
            None => self.advance(sid),
        }
    }

    /// A REST redirect of a queued caller: the caller leaves the queue (the
    /// task stays until canceled) and the Enqueue action is requested at
    /// once with `QueueResult=redirected`. Under
    /// [`crate::Readings::redirect_wins`] the redirect's URL then runs the
    /// call; otherwise the action's TwiML does and the URL is never fetched.
    fn redirect_from_queue(&mut self, sid: &str, url: &str) {
        if self.tr.settings.readings.redirect_wins {
            let Some(call) = self.calls.get(sid) else {
                return;
            };
            if let Leg::InQueue {
                action: Some(action),
                since,
                ..
            } = &call.leg
            {
                let mut params = self.call_params(call);
                params.push(p("QueueResult", "redirected"));
                params.push(p("QueueTime", ((self.now - since) / 1000).to_string()));
                self.out.push_back(Hook {
                    url: action.clone(),
                    params,
                    then: Then::Ignore,
                });
            }
            if let Some(c) = self.calls.get_mut(sid) {
                c.leg = Leg::Running;
                c.wait = None;
                c.left_queue = Some(self.now);
            }
            self.fetch(sid, url, vec![], false);
        } else {
            self.leave_queue(sid, "redirected");
        }
    }

    fn dial_queue(&mut self, sid: &str, d: twiml::DialQueue) {
        let now = self.now;
        let mut fx = Effects::default();
        let accepted = d.reservation_sid.as_deref().and_then(|res| {
            self.tr
                .accept(res, now, &mut fx)
                .map(|task| (res.to_string(), task))
        });
        let caller = accepted.as_ref().and_then(|(_, task)| {
            self.tr
                .tasks
                .get(task)
                .and_then(|t| t.attributes["call_sid"].as_str().map(str::to_string))
        });
        self.apply(fx);
        let doc = self.calls[sid].doc_url.clone();
        let dial_action = d.action.as_ref().map(|a| self.resolve(&doc, a));
        match (accepted, caller) {
            (Some((res, _)), Some(caller_sid))
                if self
                    .calls
                    .get(&caller_sid)
                    .is_some_and(|c| matches!(c.leg, Leg::InQueue { .. })) =>
            {
                let talk = self.calls[&caller_sid]
                    .caller
                    .as_ref()
                    .map_or(60_000, |c| c.talk);
                let worker = self.calls.get_mut(sid).expect("present");
                worker.leg = Leg::Bridged {
                    peer: caller_sid.clone(),
                    reservation: res.clone(),
                    post_work: d.post_work_activity_sid.clone(),
                    dial_action,
                };
                worker.bridged = Some(now);
                worker.peer = Some(caller_sid.clone());
                worker.epoch += 1;
                let c = self.calls.get_mut(&caller_sid).expect("checked");
                let Leg::InQueue { action, .. } = c.leg.clone() else {
                    unreachable!()
                };
                c.leg = Leg::Bridged {
                    peer: sid.to_string(),
                    reservation: res,
                    post_work: None,
                    dial_action: action,
                };
                c.bridged = Some(now);
                c.left_queue = Some(now);
                c.peer = Some(sid.to_string());
                c.wait = None;
                c.epoch += 1;
                let epoch = c.epoch;
                self.schedule(
                    now + talk,
                    Ev::BridgeEnd {
                        caller: caller_sid,
                        epoch,
                    },
                );
            }
            _ => {
                // 14215/14217: the reservation is not pending; Dial fails at once.
                self.dial_done(sid, dial_action, vec![p("DialCallStatus", "failed")]);
            }
        }
    }

    fn dial_done(&mut self, sid: &str, action: Option<String>, result: Vec<(String, String)>) {
        if let Some(call) = self.calls.get_mut(sid) {
            call.leg = Leg::Running;
        }
        match action {
            Some(url) => self.fetch(sid, &url, result, false),
            None => self.advance(sid),
        }
    }

    /// `<Dial><Number>`: rings the number from `callerId` (else the call's
    /// own `From`, Twilio's default); a number no caller of the day has
    /// cannot be reached.
    fn dial_number(&mut self, sid: &str, d: twiml::DialNumber) {
        let parent = &self.calls[sid];
        let action = d.action.as_ref().map(|a| self.resolve(&parent.doc_url, a));
        let from = d.caller_id.unwrap_or_else(|| parent.from.clone());
        let phone = match self.customers.get(&d.number) {
            Some(customer) => customer.call_back.sample(&mut self.rng),
            None => Phone::Unreachable,
        };
        let child = self.sid("CA");
        let out = Outbound {
            timeout_ms: u64::from(d.timeout) * 1000,
            ..Outbound::default()
        };
        let mut call = new_call(&child, &from, &d.number, false, self.now, Some(out), None);
        call.phone = Some(phone);
        call.dialed_by = Some(sid.to_string());
        self.calls.insert(child.clone(), call);
        if let Some(parent) = self.calls.get_mut(sid) {
            parent.leg = Leg::Dialing {
                child: child.clone(),
                action,
            };
        }
        self.schedule(self.now + 500, Ev::Ring(child));
    }

    /// The `<Dial action>` parameters of a dialled call that ended.
    fn dial_result(&self, child: &str) -> Vec<(String, String)> {
        let Some(call) = self.calls.get(child) else {
            return vec![p("DialCallStatus", "failed")];
        };
        let (status, secs) = match (call.answered, call.ended) {
            (Some(a), Some(e)) => ("completed", (e - a) / 1000),
            (Some(a), None) => ("completed", (self.now - a) / 1000),
            _ => (call.status.as_str(), 0),
        };
        vec![
            p("DialCallStatus", status),
            p("DialCallSid", child),
            p("DialCallDuration", secs.to_string()),
        ]
    }

    /// The caller and the worker stop talking (either hangs up).
    fn end_bridge(&mut self, caller: &str, ended_by_caller: bool) {
        let Some(c) = self.calls.get(caller) else {
            return;
        };
        let Leg::Bridged {
            peer, reservation, ..
        } = c.leg.clone()
        else {
            return;
        };
        let (post_work, dial_action) = match self.calls.get(&peer).map(|w| w.leg.clone()) {
            Some(Leg::Bridged {
                post_work,
                dial_action,
                ..
            }) => (post_work, dial_action),
            _ => (None, None),
        };
        let mut fx = Effects::default();
        self.tr
            .call_ended(&reservation, post_work.as_deref(), self.now, &mut fx);
        self.apply(fx);
        if let Some(c) = self.calls.get_mut(caller) {
            c.leg = Leg::Running;
        }
        if ended_by_caller {
            self.dial_done(&peer, dial_action, vec![p("DialCallStatus", "completed")]);
        }
    }

    /// Ends a call: status callback, queue and bridge clean-up.
    pub fn end_call(&mut self, sid: &str, status: CallStatus, sip: u16) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(sid) else {
            return;
        };
        if call.status.ended() {
            return;
        }
        let leg = call.leg.clone();
        call.status = status;
        call.ended = Some(now);
        call.epoch += 1;
        if !matches!(leg, Leg::Bridged { .. }) {
            call.leg = Leg::Running;
        }
        match leg {
            Leg::InQueue {
                task,
                action,
                since,
                ..
            } => {
                if let Some(c) = self.calls.get_mut(sid) {
                    c.left_queue = Some(now);
                }
                let mut fx = Effects::default();
                self.tr.cancel_task(&task, "hangup", now, &mut fx).ok();
                self.apply(fx);
                if let Some(url) = action {
                    let mut params = self.call_params(&self.calls[sid]);
                    params.push(p("QueueResult", "hangup"));
                    params.push(p("QueueTime", ((now - since) / 1000).to_string()));
                    let url = self.resolve(&self.calls[sid].doc_url, &url);
                    self.out.push_back(Hook {
                        url,
                        params,
                        then: Then::Ignore,
                    });
                }
            }
            Leg::Bridged {
                peer, dial_action, ..
            } => {
                if self.calls[sid].caller.is_some() {
                    self.end_bridge(sid, true);
                    if let Some(url) = dial_action {
                        let mut params = self.call_params(&self.calls[sid]);
                        params.push(p("QueueResult", "bridged"));
                        self.out.push_back(Hook {
                            url,
                            params,
                            then: Then::Ignore,
                        });
                    }
                } else {
                    // The worker hung up: the bridge ends and so does the caller's call.
                    self.end_bridge(&peer, false);
                    self.end_call(&peer, CallStatus::Completed, 0);
                    if let Some(c) = self.calls.get_mut(sid) {
                        c.leg = Leg::Running;
                    }
                }
            }
            // The dialling call hung up: the dialled one ends too, and the
            // action is still requested (its TwiML has no call to run).
            Leg::Dialing { child, action } => {
                let answered = self.calls.get(&child).is_some_and(|c| c.answered.is_some());
                let (status, sip) = if answered {
                    (CallStatus::Completed, 0)
                } else {
                    (CallStatus::Canceled, 487)
                };
                self.end_call(&child, status, sip);
                if let Some(url) = action {
                    let mut params = self.call_params(&self.calls[sid]);
                    params.extend(self.dial_result(&child));
                    self.out.push_back(Hook {
                        url,
                        params,
                        then: Then::Ignore,
                    });
                }
            }
            _ => {}
        }
        self.dial_ended(sid);
        self.status_callback(sid, sip);
    }

    /// A dialled call ended: the call that dialled it goes on at its action.
    fn dial_ended(&mut self, child: &str) {
        let Some(parent) = self.calls.get(child).and_then(|c| c.dialed_by.clone()) else {
            return;
        };
        let Some(Leg::Dialing { child: c, action }) =
            self.calls.get(&parent).map(|p| p.leg.clone())
        else {
            return;
        };
        if c == child {
            let result = self.dial_result(child);
            self.dial_done(&parent, action, result);
        }
    }

    fn status_callback(&mut self, sid: &str, sip: u16) {
        let Some(call) = self.calls.get(sid) else {
            return;
        };
        let url = match &call.outbound {
            Some(out) => out.status_callback.clone(),
            None if call.inbound && call.to == self.business_number => {
                self.business_status_callback.clone()
            }
            None => None,
        };
        let Some(url) = url else { return };
        let mut params = self.call_params(call);
        let duration = match (call.answered, call.ended) {
            (Some(a), Some(e)) => (e - a) / 1000,
            _ => 0,
        };
        params.push(p("CallDuration", duration.to_string()));
        params.push(p("Duration", duration.div_ceil(60).to_string()));
        params.push(p("Timestamp", (self.now / 1000).to_string()));
        params.push(p("CallbackSource", "call-progress-events"));
        params.push(p("SequenceNumber", call.seq.to_string()));
        if sip != 0 {
            params.push(p("SipResponseCode", sip.to_string()));
        }
        if let Some(by) = &call.answered_by {
            params.push(p("AnsweredBy", by.clone()));
        }
        if let Some(c) = self.calls.get_mut(sid) {
            c.seq += 1;
        }
        self.send_chaotic(Hook {
            url,
            params,
            then: Then::Ignore,
        });
    }

    /// Handles one scheduled event.
    pub fn fire(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::CallerArrives(caller) => {
                let sid = self.sid("CA");
                let patience = caller.patience;
                let to = self.business_number.clone();
                let from = caller.from.clone();
                self.customers.insert(from.clone(), caller.clone());
                self.calls.insert(
                    sid.clone(),
                    new_call(&sid, &from, &to, true, now, None, Some(caller)),
                );
                if let Some(c) = self.calls.get_mut(&sid) {
                    c.status = CallStatus::InProgress;
                    c.answered = Some(now);
                }
                self.schedule(now + patience, Ev::Patience(sid.clone()));
                // Only the incoming call's webhook is documented to carry
                // the token (docs/twilio.md, "Forwarded caller ID").
                let token = format!("calltoken-{sid}");
                self.call_tokens.insert(token.clone(), sid.clone());
                let first = vec![p("CallToken", token)];
                self.fetch(&sid, &format!("{PUBLIC_BASE_URL}/inbound"), first, false);
            }
            Ev::Sms { from, body } => {
                if let Some(keyword) = carrier::keyword(&body) {
                    self.carrier_keyword(&from, keyword);
                }
                let sid = self.sid("SM");
                let params = vec![
                    p("MessageSid", &sid),
                    p("SmsSid", &sid),
                    p("AccountSid", &self.account_sid),
                    p("From", &from),
                    p("To", &self.worker_line),
                    p("Body", body),
                    p("NumMedia", "0"),
                    p("NumSegments", "1"),
                    p("SmsStatus", "received"),
                    p("ApiVersion", "2010-04-01"),
                ];
                self.out.push_back(Hook {
                    url: format!("{PUBLIC_BASE_URL}/intake/sms"),
                    params,
                    then: Then::SmsReply { to: from },
                });
            }
            Ev::Step { call, epoch } => {
                if self.calls.get(&call).is_some_and(|c| c.epoch == epoch) {
                    self.advance(&call);
                }
            }
            Ev::GatherDone {
                call,
                epoch,
                action,
                digits,
                action_on_empty,
            } => {
                if !self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.epoch == epoch && !c.status.ended())
                {
                    return;
                }
                let doc = self.calls[&call].doc_url.clone();
                let url = action.unwrap_or(doc);
                // A Gather of the wait document: its action answers wait TwiML,
                // or under the inconvenient reading the call out of the queue
                // (docs/twilio.md, "Queue TwiML").
                let mut in_wait = matches!(self.calls[&call].leg, Leg::InQueue { .. });
                let acts = digits.is_some() || action_on_empty;
                if in_wait && acts && !self.tr.settings.readings.wait_gather_in_queue {
                    let c = self.calls.get_mut(&call).expect("checked above");
                    c.leg = Leg::Running;
                    c.wait = None;
                    c.left_queue = Some(self.now);
                    in_wait = false;
                }
                match digits {
                    Some(digits) => self.fetch(
                        &call,
                        &url,
                        vec![p("Digits", digits), p("FinishedOnKey", "")],
                        in_wait,
                    ),
                    None if action_on_empty => self.fetch(&call, &url, vec![], in_wait),
                    None => self.advance(&call),
                }
            }
            Ev::Ring(sid) => {
                let Some(call) = self.calls.get_mut(&sid) else {
                    return;
                };
                if call.status != CallStatus::Queued {
                    return;
                }
                call.status = CallStatus::Ringing;
                let phone = call.phone.clone().unwrap_or(Phone::NoAnswer);
                let timeout = call.outbound.as_ref().map_or(60_000, |o| o.timeout_ms);
                let no_answer = Ev::RingEnd {
                    call: sid.clone(),
                    status: CallStatus::NoAnswer,
                    sip: 487,
                };
                match phone {
                    Phone::Busy => self.schedule(
                        now + 3_000,
                        Ev::RingEnd {
                            call: sid,
                            status: CallStatus::Busy,
                            sip: 486,
                        },
                    ),
                    Phone::Unreachable => self.schedule(
                        now + 1_000,
                        Ev::RingEnd {
                            call: sid,
                            status: CallStatus::Failed,
                            sip: 404,
                        },
                    ),
                    Phone::NoAnswer => self.schedule(now + timeout, no_answer),
                    Phone::Person { answer_after, .. }
                    | Phone::Voicemail { answer_after }
                    | Phone::Screener { answer_after } => {
                        if answer_after < timeout {
                            self.schedule(now + answer_after, Ev::Answer(sid));
                        } else {
                            self.schedule(now + timeout, no_answer);
                        }
                    }
                }
            }
            Ev::RingEnd { call, status, sip } => {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.status == CallStatus::Ringing)
                {
                    self.end_call(&call, status, sip);
                }
            }
            Ev::Answer(sid) => self.answer(&sid),
            Ev::Amd {
                call,
                verdict,
                after,
                sync,
            } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                if c.status.ended() {
                    return;
                }
                c.answered_by = Some(verdict.clone());
                if sync {
                    // Sync AMD: the answer URL is requested only now, with the verdict.
                    let url = c
                        .outbound
                        .as_ref()
                        .map(|o| o.url.clone())
                        .unwrap_or_default();
                    self.fetch(
                        &call,
                        &url,
                        vec![
                            p("AnsweredBy", verdict),
                            p("MachineDetectionDuration", after.to_string()),
                        ],
                        false,
                    );
                    return;
                }
                let Some(url) = c
                    .outbound
                    .as_ref()
                    .and_then(|o| o.async_amd_callback.clone())
                else {
                    return;
                };
                let params = vec![
                    p("CallSid", &call),
                    p("AccountSid", &self.account_sid),
                    p("AnsweredBy", verdict),
                    p("MachineDetectionDuration", after.to_string()),
                ];
                self.send_chaotic(Hook {
                    url,
                    params,
                    then: Then::Ignore,
                });
            }
            Ev::Patience(sid) => {
                let Some(c) = self.calls.get_mut(&sid) else {
                    return;
                };
                if c.status.ended() || c.bridged.is_some() || c.leg == Leg::Recording {
                    return;
                }
                c.hung_up_self = true;
                self.end_call(&sid, CallStatus::Completed, 0);
            }
            Ev::BridgeEnd { caller, epoch } => {
                if self.calls.get(&caller).is_some_and(|c| c.epoch == epoch) {
                    self.end_call(&caller, CallStatus::Completed, 0);
                }
            }
            Ev::RecordDone {
                call,
                epoch,
                action,
                callback,
                transcription,
                secs,
            } => {
                if !self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.epoch == epoch && !c.status.ended())
                {
                    return;
                }
                let rec = self.sid("RE");
                let rec_url = format!(
                    "https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{rec}",
                    self.account_sid
                );
                let duration = (secs / 1000).to_string();
                if let Some(c) = self.calls.get_mut(&call) {
                    c.voicemail_recorded = true;
                    c.leg = Leg::Running;
                }
                // The caller hangs up after the message: the call ends, the action still runs.
                self.end_call(&call, CallStatus::Completed, 0);
                if let Some(url) = action {
                    let mut params = self.call_params(&self.calls[&call]);
                    params.extend([
                        p("RecordingUrl", &rec_url),
                        p("RecordingSid", &rec),
                        p("RecordingDuration", &duration),
                        p("Digits", "hangup"),
                    ]);
                    self.out.push_back(Hook {
                        url,
                        params,
                        then: Then::Ignore,
                    });
                }
                let transcription = transcription
                    .filter(|_| TRANSCRIBABLE_MS.contains(&secs))
                    .map(|url| {
                        let mut params = self.call_params(&self.calls[&call]);
                        let from = self.calls[&call].from.clone();
                        params.extend([
                            p("TranscriptionSid", self.sid("TR")),
                            p("TranscriptionStatus", "completed"),
                            p(
                                "TranscriptionText",
                                format!("Hi, this is {from}, please call me back."),
                            ),
                            p("RecordingSid", &rec),
                            p("RecordingUrl", &rec_url),
                        ]);
                        Hook {
                            url,
                            params,
                            then: Then::Ignore,
                        }
                    });
                match transcription {
                    Some(hook) if self.transcription_first => self.out.push_back(hook),
                    Some(hook) => self.schedule(now + TRANSCRIPTION_AFTER_MS, Ev::Deliver(hook)),
                    None => {}
                }
                if let Some(url) = callback {
                    let params = vec![
                        p("AccountSid", &self.account_sid),
                        p("CallSid", &call),
                        p("RecordingSid", &rec),
                        p("RecordingUrl", &rec_url),
                        p("RecordingStatus", "completed"),
                        p("RecordingDuration", &duration),
                        p("RecordingChannels", "1"),
                        p("RecordingSource", "RecordVerb"),
                    ];
                    self.send_chaotic(Hook {
                        url,
                        params,
                        then: Then::Event {
                            redeliveries: REDELIVERIES,
                        },
                    });
                }
            }
            Ev::PhoneHangup(call) => self.end_call(&call, CallStatus::Completed, 0),
            Ev::Tick => {
                let mut event = testkit::fixtures::scheduler_tick_at(self.unix_now());
                event["id"] = json!(self.sid("EV"));
                self.out.push_back(Hook {
                    url: SCHEDULER.into(),
                    params: vec![p("event", event.to_string())],
                    then: Then::Ignore,
                });
                self.schedule(now + TICK_MS, Ev::Tick);
            }
            Ev::Tr(timer) => {
                let mut fx = Effects::default();
                self.tr.on_timer(&timer, now, &mut fx);
                self.apply(fx);
            }
            Ev::Deliver(hook) => self.out.push_back(hook),
        }
    }

    fn answer(&mut self, sid: &str) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(sid) else {
            return;
        };
        if call.status != CallStatus::Ringing {
            return;
        }
        call.status = CallStatus::InProgress;
        call.answered = Some(now);
        let phone = call.phone.clone().unwrap_or(Phone::NoAnswer);
        let out = call.outbound.clone().unwrap_or_default();
        let dialed = call.dialed_by.is_some();
        let to = call.to.clone();
        // Machines end the call on their own after a while.
        match phone {
            Phone::Voicemail { .. } => self.schedule(now + 90_000, Ev::PhoneHangup(sid.into())),
            Phone::Screener { .. } => self.schedule(now + 30_000, Ev::PhoneHangup(sid.into())),
            _ => {}
        }
        if dialed {
            // A customer called back talks, then hangs up; no TwiML runs on this leg.
            if matches!(phone, Phone::Person { .. }) {
                let talk = self.customers.get(&to).map_or(60_000, |c| c.talk);
                self.schedule(now + talk, Ev::PhoneHangup(sid.into()));
            }
            return;
        }
        let (verdict, after) = phone.amd();
        let (verdict, after) = if after > out.amd_timeout_ms {
            ("unknown", out.amd_timeout_ms)
        } else {
            (verdict, after)
        };
        let sync = out.async_amd_callback.is_none();
        if out.machine_detection {
            self.schedule(
                now + after,
                Ev::Amd {
                    call: sid.into(),
                    verdict: verdict.into(),
                    after,
                    sync,
                },
            );
            if sync {
                return;
            }
        }
        self.fetch(sid, &out.url, vec![], false);
    }

    /// A Calls create may present `from`: a number of the account, a
    /// verified caller ID, or the caller of a live inbound call whose
    /// `CallToken` it carries (docs/twilio.md, "Forwarded caller ID").
    pub fn may_present(&self, from: &str, call_token: Option<&str>) -> bool {
        let owned = [&self.worker_line, &self.business_number]
            .into_iter()
            .chain(&self.verified_caller_ids)
            .any(|number| number == from);
        owned
            || call_token
                .and_then(|token| self.call_tokens.get(token))
                .and_then(|sid| self.calls.get(sid))
                .is_some_and(|call| call.from == from && !call.status.ended())
    }

    /// Calls create: the outbound leg starts ringing the scripted phone.
    pub fn create_call(&mut self, to: &str, from: &str, out: Outbound) -> Call {
        let sid = self.sid("CA");
        let phone = self.workers.get(to).map(|w| w.profile.clone());
        let phone = phone
            .map(|p| p.sample(&mut self.rng))
            .unwrap_or(Phone::Unreachable);
        let call = new_call(&sid, from, to, false, self.now, Some(out), None);
        let mut call = call;
        call.phone = Some(phone);
        call.doc_url = call
            .outbound
            .as_ref()
            .map(|o| o.url.clone())
            .unwrap_or_default();
        self.calls.insert(sid.clone(), call.clone());
        self.schedule(self.now + 500, Ev::Ring(sid));
        call
    }

    /// Calls update. Errors as Twilio words them.
    pub fn update_call(
        &mut self,
        sid: &str,
        status: Option<&str>,
        url: Option<&str>,
    ) -> Result<(), (u16, u32, String)> {
        let Some(call) = self.calls.get(sid) else {
            return Err((
                404,
                20404,
                format!("The requested resource /Calls/{sid}.json was not found"),
            ));
        };
        let current = call.status;
        match (status, url) {
            (Some("canceled"), _) => {
                if matches!(current, CallStatus::Queued | CallStatus::Ringing) {
                    self.end_call(sid, CallStatus::Canceled, 487);
                }
                Ok(())
            }
            (Some("completed"), _) => {
                if !current.ended() {
                    let status = if current == CallStatus::InProgress {
                        CallStatus::Completed
                    } else {
                        CallStatus::Canceled
                    };
                    self.end_call(
                        sid,
                        status,
                        if status == CallStatus::Canceled {
                            487
                        } else {
                            0
                        },
                    );
                }
                Ok(())
            }
            (Some(other), _) => Err((400, 20001, format!("Status {other} is not valid"))),
            (None, Some(url)) => {
                if current != CallStatus::InProgress {
                    return Err((
                        400,
                        21220,
                        "Call is not in-progress. Cannot redirect.".into(),
                    ));
                }
                let url = url.to_string();
                if let Some(Leg::Bridged { .. }) = self.calls.get(sid).map(|c| c.leg.clone()) {
                    self.anomalies
                        .push(format!("{sid}: redirected while bridged"));
                }
                if matches!(self.calls[sid].leg, Leg::InQueue { .. }) {
                    self.redirect_from_queue(sid, &url);
                    return Ok(());
                }
                if let Some(c) = self.calls.get_mut(sid) {
                    if c.leg == Leg::Recording {
                        c.leg = Leg::Running;
                    }
                    c.wait = None;
                }
                self.fetch(sid, &url, vec![], false);
                Ok(())
            }
            (None, None) => Err((400, 20001, "Nothing to update".into())),
        }
    }

    /// An SMS Homeline sent over REST; a worker told they are out of
    /// rotation texts `on` again; one asked to claim a follow-up may.
    pub fn message_sent(&mut self, to: &str, body: &str) {
        self.messages.push(Sms {
            at: self.now,
            to: to.to_string(),
            body: body.to_string(),
        });
        let Some(script) = self.workers.get(to).cloned() else {
            return;
        };
        if let (Some(claims), Some(number)) = (&script.claims, Claims::asked(body))
            && self.rng.f64() < claims.chance
        {
            let at = self.now + self.rng.u64(claims.after.clone());
            self.schedule(
                at,
                Ev::Sms {
                    from: script.phone.clone(),
                    body: format!("claim {number}"),
                },
            );
        }
        let Some(after) = script.rejoin_after else {
            return;
        };
        let available = self
            .tr
            .workers
            .values()
            .find(|w| w.attributes["contact_uri"].as_str() == Some(to))
            .is_some_and(|w| self.tr.settings.is_available_activity(&w.activity_sid));
        if !available && !self.rejoining.contains(&script.phone) {
            self.rejoining.push(script.phone.clone());
            let body = format!("on {}", script.skills.join(" "));
            self.schedule(
                self.now + after,
                Ev::Sms {
                    from: script.phone.clone(),
                    body,
                },
            );
        }
    }

    /// Twilio answers a carrier keyword itself before passing it on.
    fn carrier_keyword(&mut self, from: &str, keyword: carrier::Keyword) {
        match keyword {
            carrier::Keyword::OptOut if !self.opted_out.iter().any(|p| p == from) => {
                self.opted_out.push(from.to_string());
            }
            carrier::Keyword::OptIn => self.opted_out.retain(|p| p != from),
            _ => {}
        }
        self.messages.push(Sms {
            at: self.now,
            to: from.to_string(),
            body: carrier::reply(keyword).to_string(),
        });
    }

    /// A worker's `on` was delivered: they may rejoin again after a later miss.
    pub fn sms_delivered(&mut self, from: &str) {
        self.rejoining.retain(|p| p != from);
    }
}

fn new_call(
    sid: &str,
    from: &str,
    to: &str,
    inbound: bool,
    now: Ms,
    outbound: Option<Outbound>,
    caller: Option<Caller>,
) -> Call {
    Call {
        sid: sid.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        inbound,
        status: CallStatus::Queued,
        leg: Leg::Running,
        epoch: 0,
        doc_url: format!("{PUBLIC_BASE_URL}/"),
        verbs: Vec::new(),
        pc: 0,
        wait: None,
        outbound,
        phone: None,
        caller,
        created: now,
        answered: None,
        first_audio: None,
        bridged: None,
        ended: None,
        answered_by: None,
        peer: None,
        hung_up_self: false,
        voicemail_recorded: false,
        rejected: false,
        dialed_by: None,
        books_callback: false,
        left_queue: None,
        heard: Vec::new(),
        seq: 0,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::taskrouter::TaskRouter;

    /// A world with the test configuration's TaskRouter and nothing else.
    pub(crate) fn world() -> World {
        let config = testkit::test_config(&[]);
        let tr = TaskRouter::new(crate::taskrouter_settings(&config));
        World::new(tr, testkit::ACCOUNT_SID, 1)
    }

    #[test]
    fn a_call_may_present_a_customer_only_with_their_live_call_s_token() {
        let mut world = world();
        let customer = "+15557770001";
        world.fire(Ev::CallerArrives(Caller::new(customer, 0, Some('1'))));
        let hook = world.out.pop_front().expect("the incoming call's webhook");
        let token = hook
            .params
            .iter()
            .find(|(k, _)| k == "CallToken")
            .map(|(_, v)| v.clone())
            .expect("the incoming call's webhook carries its token");
        assert!(world.may_present(&world.worker_line.clone(), None));
        assert!(!world.may_present(customer, None), "no token");
        assert!(world.may_present(customer, Some(&token)));
        assert!(
            !world.may_present("+15557770002", Some(&token)),
            "another number"
        );
        assert!(!world.may_present(customer, Some("calltoken-forged")));
        let sid = world.call_tokens[&token].clone();
        world.calls.get_mut(&sid).expect("the call").status = CallStatus::Completed;
        assert!(!world.may_present(customer, Some(&token)), "the call ended");
    }
}
