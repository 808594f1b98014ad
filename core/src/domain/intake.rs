//! Worker intake: what an enrolled worker's SMS or voice-menu key press asks
//! for, and the words Homeline answers with.
//!
//! Everything here is pure. The `intake` function reads the worker's profile,
//! asks [`decide_sms`] / [`decide_voice`] what to do, applies it to TaskRouter
//! and the table, and answers with a text from [`replies`] or [`prompts`].

use crate::domain::answers;
use crate::domain::follow_up::{self, FollowUpCommand};
use crate::domain::hours::{Clock, ClockTime};
use crate::domain::pin::{Pin, PinError};
use crate::domain::report;
use crate::domain::screening::{self, BlockCommand};
use crate::model::{Activity, Duty, WorkerProfile};

/// A word Twilio answers itself on a long code, then passes on to the
/// number's webhook (docs/twilio.md, "Carrier keywords"). Homeline never
/// replies to one: Twilio already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierKeyword {
    /// STOP and its synonyms: Twilio blocks every later SMS to the sender.
    OptOut,
    /// START and its synonyms: Twilio lifts the block.
    OptIn,
    /// HELP and its synonyms.
    Help,
}

/// Twilio's opt-out words.
pub const OPT_OUT_WORDS: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
];
/// Twilio's opt-in words.
pub const OPT_IN_WORDS: &[&str] = &["start", "yes", "unstop"];
/// Twilio's help words.
pub const HELP_WORDS: &[&str] = &["help", "info"];

impl CarrierKeyword {
    /// Twilio matches a message that is the keyword alone (any case).
    fn of_word(word: &str) -> Option<Self> {
        if OPT_OUT_WORDS.contains(&word) {
            Some(CarrierKeyword::OptOut)
        } else if OPT_IN_WORDS.contains(&word) {
            Some(CarrierKeyword::OptIn)
        } else if HELP_WORDS.contains(&word) {
            Some(CarrierKeyword::Help)
        } else {
            None
        }
    }

    /// Twilio's `OptOutType` parameter (`STOP`, `START`, `HELP`), sent when
    /// Advanced Opt-Out is on.
    fn of_opt_out_type(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "STOP" => Some(CarrierKeyword::OptOut),
            "START" => Some(CarrierKeyword::OptIn),
            "HELP" => Some(CarrierKeyword::Help),
            _ => None,
        }
    }
}

/// A worker's SMS, parsed. Case, spacing and commas do not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsCommand {
    /// `on|online [skill...]`; an empty list reuses the last skills.
    On(Vec<String>),
    /// `on [skill...] until|till 5pm`: on duty until then (`ClockTime`
    /// lists the times read); `None` when the time cannot be read.
    OnUntil(Vec<String>, Option<ClockTime>),
    /// `off|offline`.
    Off,
    /// `off until|till 1pm`: off duty, back on then with the last skills.
    OffUntil(Option<ClockTime>),
    Status,
    /// `menu`: the list of commands (HELP is Twilio's).
    Menu,
    /// A word Twilio answered already.
    Carrier(CarrierKeyword),
    /// `claim 7`, `done 7`, `missed`.
    FollowUp(FollowUpCommand),
    /// `claim` or `done` without a number Homeline can read.
    FollowUpUnclear,
    /// `pin 4821`: the keypad PIN, or why those digits cannot be one.
    SetPin(Result<Pin, PinError>),
    /// `block <number>`, `unblock <number>`, `blocked` (admins only).
    Blocklist(BlockCommand),
    /// `stats` (admins only): today's calls so far.
    Stats,
    /// `who` (admins only): the workers on duty now.
    Who,
    /// Anything else (including an empty body).
    Unknown,
}

/// Parses an SMS: a carrier keyword (by Twilio's `OptOutType` when sent,
/// else by a body that is the keyword alone), or else a command: the first
/// word, the rest its skills.
pub fn parse_sms(body: &str, opt_out_type: Option<&str>) -> SmsCommand {
    if let Some(keyword) = opt_out_type.and_then(CarrierKeyword::of_opt_out_type) {
        return SmsCommand::Carrier(keyword);
    }
    let mut words = body
        .split(|c: char| c.is_whitespace() || c == ',')
        // People end texts with punctuation ("On sales!", "off.").
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | ';' | ':')))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase);
    let Some(command) = words.next() else {
        return SmsCommand::Unknown;
    };
    let rest: Vec<String> = words.collect();
    if rest.is_empty()
        && let Some(keyword) = CarrierKeyword::of_word(&command)
    {
        return SmsCommand::Carrier(keyword);
    }
    let all: Vec<&str> = std::iter::once(command.as_str())
        .chain(rest.iter().map(String::as_str))
        .collect();
    match follow_up::parse_command(&all) {
        Some(Ok(command)) => return SmsCommand::FollowUp(command),
        Some(Err(_)) => return SmsCommand::FollowUpUnclear,
        None => {}
    }
    if let Some(command) = screening::parse_command(&all) {
        return SmsCommand::Blocklist(command);
    }
    let until = rest.iter().position(|w| UNTIL_WORDS.contains(&w.as_str()));
    let time = until.map(|at| ClockTime::parse(&rest[at + 1..].join(" ")));
    match command.as_str() {
        "on" | "online" => {
            let mut skills: Vec<String> = Vec::new();
            for skill in &rest[..until.unwrap_or(rest.len())] {
                if !skills.contains(skill) {
                    skills.push(skill.clone());
                }
            }
            match time {
                Some(time) => SmsCommand::OnUntil(skills, time),
                None => SmsCommand::On(skills),
            }
        }
        "off" | "offline" if rest.is_empty() => SmsCommand::Off,
        "off" | "offline" if until == Some(0) => SmsCommand::OffUntil(time.flatten()),
        "status" if rest.is_empty() => SmsCommand::Status,
        "menu" if rest.is_empty() => SmsCommand::Menu,
        "stats" if rest.is_empty() => SmsCommand::Stats,
        "who" if rest.is_empty() => SmsCommand::Who,
        "pin" => SmsCommand::SetPin(match rest.as_slice() {
            [digits] => Pin::parse(digits),
            _ => Err(PinError::Shape),
        }),
        _ => SmsCommand::Unknown,
    }
}

/// The words that say how long: `on sales until 5pm`, `off till 1pm`.
const UNTIL_WORDS: &[&str] = &["until", "till"];

/// What to do for one SMS from a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsPlan {
    /// Answer with this text and change nothing.
    Reply(String),
    /// Answer nothing and change nothing (Twilio answered the keyword).
    Silent,
    /// STOP: mark the profile SMS blocked and take the worker off duty at
    /// once (Offline, rejecting pending reservations); answer nothing.
    OptOut,
    /// START: clear the SMS block, duty unchanged; answer nothing.
    OptIn,
    /// Find or create the TaskRouter worker, make it Available with these skills.
    GoOnline(Vec<String>),
    /// As [`SmsPlan::GoOnline`], until `at` (Unix seconds): then the
    /// scheduler takes the worker off duty.
    GoOnlineUntil { skills: Vec<String>, at: i64 },
    /// Make the TaskRouter worker Offline, rejecting pending reservations.
    GoOffline,
    /// As [`SmsPlan::GoOffline`], until `at`: then the scheduler puts the
    /// worker back on duty with their last skills.
    GoOfflineUntil { at: i64 },
    /// Claim, close or list follow-ups (`service::follow_up::command`).
    FollowUp(FollowUpCommand),
    /// Store the keypad PIN (salted and hashed).
    SetPin(Pin),
    /// Change or list the blocklist, if the sender is an admin
    /// (`screening::decide`, then `service::blocklist::command`).
    Blocklist(BlockCommand),
}

/// Decides what an SMS does. `profile` is `None` for a number that is not
/// enrolled: it gets a refusal and nothing changes. `skills` are the
/// configured skills (`SKILLS`), in menu order; `clock` is now in
/// `TIME_ZONE`, for `until` times (one already past today means tomorrow).
/// A carrier keyword never gets a reply, from anyone.
pub fn decide_sms(
    command: &SmsCommand,
    profile: Option<&WorkerProfile>,
    skills: &[String],
    clock: &Clock,
) -> SmsPlan {
    let Some(profile) = profile else {
        return match command {
            SmsCommand::Carrier(_) => SmsPlan::Silent,
            _ => SmsPlan::Reply(replies::stranger()),
        };
    };
    match command {
        SmsCommand::Carrier(CarrierKeyword::OptOut) => SmsPlan::OptOut,
        SmsCommand::Carrier(CarrierKeyword::OptIn) => SmsPlan::OptIn,
        SmsCommand::Carrier(CarrierKeyword::Help) => SmsPlan::Silent,
        SmsCommand::On(asked) => match on_skills(asked, profile, skills) {
            Ok(chosen) => SmsPlan::GoOnline(chosen),
            Err(reply) => SmsPlan::Reply(reply),
        },
        SmsCommand::OnUntil(_, None) | SmsCommand::OffUntil(None) => {
            SmsPlan::Reply(replies::until_example())
        }
        SmsCommand::OnUntil(asked, Some(time)) => match on_skills(asked, profile, skills) {
            Ok(chosen) => SmsPlan::GoOnlineUntil {
                skills: chosen,
                at: clock.next(*time),
            },
            Err(reply) => SmsPlan::Reply(reply),
        },
        // Back on needs a TaskRouter worker and skills to come back with.
        SmsCommand::OffUntil(Some(time)) => {
            if profile.worker_sid.is_none() || known_skills(&profile.skills, skills).is_empty() {
                SmsPlan::Reply(replies::not_on_duty_yet())
            } else {
                SmsPlan::GoOfflineUntil {
                    at: clock.next(*time),
                }
            }
        }
        SmsCommand::Off => SmsPlan::GoOffline,
        SmsCommand::Status => SmsPlan::Reply(replies::status(profile, clock)),
        SmsCommand::FollowUp(command) => SmsPlan::FollowUp(*command),
        SmsCommand::FollowUpUnclear => SmsPlan::Reply(follow_up::texts::which_number()),
        SmsCommand::SetPin(Ok(pin)) => SmsPlan::SetPin(pin.clone()),
        SmsCommand::SetPin(Err(error)) => SmsPlan::Reply(replies::pin_refused(*error)),
        SmsCommand::Blocklist(command) => SmsPlan::Blocklist(command.clone()),
        // An admin's are answered before this; a worker learns nothing.
        SmsCommand::Stats | SmsCommand::Who => SmsPlan::Reply(report::texts::admins_only()),
        SmsCommand::Menu | SmsCommand::Unknown => SmsPlan::Reply(replies::help(skills)),
    }
}

/// The skills an `on` asks for: those named, or the last ones when none
/// is; `Err` is the reply when none can be used.
fn on_skills(
    asked: &[String],
    profile: &WorkerProfile,
    skills: &[String],
) -> Result<Vec<String>, String> {
    if asked.is_empty() {
        let last = known_skills(&profile.skills, skills);
        if last.is_empty() {
            return Err(replies::which_skill(skills));
        }
        return Ok(last);
    }
    let unknown: Vec<&str> = asked
        .iter()
        .filter(|s| !skills.contains(s))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        Ok(asked.to_vec())
    } else {
        Err(replies::unknown_skill(&unknown, skills))
    }
}

/// The worker's last skills that are still configured (the operator may
/// have dropped one from `SKILLS` since).
fn known_skills(last: &[String], skills: &[String]) -> Vec<String> {
    last.iter()
        .filter(|s| skills.contains(s))
        .cloned()
        .collect()
}

/// The first `on` ever (no TaskRouter worker yet) gets the welcome advice.
pub fn is_first_online(profile: &WorkerProfile) -> bool {
    profile.worker_sid.is_none()
}

/// TaskRouter worker attributes: `contact_uri` is the phone the assignment
/// rings, `skills` what the workflow matches on, the answer score at `now`
/// what it orders a skill's workers by. Every update that sets attributes
/// replaces them all, so each one is built here.
pub fn worker_attributes(
    profile: &WorkerProfile,
    skills: &[String],
    now: i64,
) -> serde_json::Value {
    serde_json::json!({
        "contact_uri": profile.phone,
        "skills": skills,
        "name": profile.name,
        answers::SCORE_ATTRIBUTE: answers::score(&profile.answers, now),
    })
}

/// A step of the voice menu (the path below `/intake/voice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceStep {
    /// `/intake/voice`: the call has just been answered.
    Greet,
    /// `/intake/voice/menu`: the main menu's key press (or none).
    Menu,
    /// `/intake/voice/skill`: which skill to go online for.
    Skill,
}

impl VoiceStep {
    /// The step of a request path; `None` for a path Homeline does not serve.
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/intake/voice" => Some(VoiceStep::Greet),
            "/intake/voice/menu" => Some(VoiceStep::Menu),
            "/intake/voice/skill" => Some(VoiceStep::Skill),
            _ => None,
        }
    }

    /// The path whose `<Gather>` answers this step's question.
    pub fn path(self) -> &'static str {
        match self {
            VoiceStep::Greet => "/intake/voice",
            VoiceStep::Menu => "/intake/voice/menu",
            VoiceStep::Skill => "/intake/voice/skill",
        }
    }
}

/// A keypad action that reveals customer data or dials out: the worker's
/// PIN first (`domain::pin`), as caller ID proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// 4: call back the oldest open follow-up.
    CallBack,
    /// 5: dial a number keyed in.
    Dial,
    /// 6: hear the newest voicemail, and call them back.
    Voicemail,
}

impl Guarded {
    fn of_digit(digit: &str) -> Option<Self> {
        match digit {
            "4" => Some(Guarded::CallBack),
            "5" => Some(Guarded::Dial),
            "6" => Some(Guarded::Voicemail),
            _ => None,
        }
    }

    /// Its value in the PIN step's `then` query.
    pub fn as_str(self) -> &'static str {
        match self {
            Guarded::CallBack => "call-back",
            Guarded::Dial => "dial",
            Guarded::Voicemail => "voicemail",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Guarded::CallBack, Guarded::Dial, Guarded::Voicemail]
            .into_iter()
            .find(|g| g.as_str() == value)
    }
}

/// A menu is asked this many times before Homeline says goodbye.
pub const MAX_ATTEMPTS: u32 = 2;

/// What the voice menu does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceAction {
    /// Not enrolled: a short refusal, then hang up.
    Refuse,
    /// Ask the main menu (1 online, 2 offline, 3 status). `reprompt`: the
    /// previous try had no (valid) key.
    Menu {
        attempt: u32,
        reprompt: bool,
    },
    /// Ask which skill, by digit in `SKILLS` order.
    AskSkill {
        attempt: u32,
        reprompt: bool,
    },
    GoOnline(Vec<String>),
    GoOffline,
    /// Say the status, then offer the menu again.
    Status,
    /// Ask for the PIN before `then`.
    AskPin(Guarded),
    /// A guarded action, but the worker has set no PIN: say how, hang up.
    NoPin,
    /// No key after the last attempt: goodbye and hang up.
    Goodbye,
}

/// Decides the next voice-menu action. `attempt` is the try the key press
/// answers (from the signed `attempt` query parameter, 1 when absent);
/// `digits` is Twilio's `Digits` (absent or empty when the caller pressed nothing).
pub fn decide_voice(
    step: VoiceStep,
    profile: Option<&WorkerProfile>,
    digits: Option<&str>,
    attempt: u32,
    skills: &[String],
) -> VoiceAction {
    if profile.is_none() {
        return VoiceAction::Refuse;
    }
    let digit = digits.map(str::trim).filter(|d| !d.is_empty());
    let retry = attempt < MAX_ATTEMPTS;
    match step {
        VoiceStep::Greet => VoiceAction::Menu {
            attempt: 1,
            reprompt: false,
        },
        VoiceStep::Menu => match digit {
            Some("1") => VoiceAction::AskSkill {
                attempt: 1,
                reprompt: false,
            },
            Some("2") => VoiceAction::GoOffline,
            Some("3") => VoiceAction::Status,
            Some(d) if let Some(guarded) = Guarded::of_digit(d) => {
                if profile.is_some_and(|p| p.pin.is_some()) {
                    VoiceAction::AskPin(guarded)
                } else {
                    VoiceAction::NoPin
                }
            }
            _ if retry => VoiceAction::Menu {
                attempt: attempt + 1,
                reprompt: true,
            },
            _ => VoiceAction::Goodbye,
        },
        VoiceStep::Skill => match digit.and_then(|d| skill_for_digit(skills, d)) {
            Some(skill) => VoiceAction::GoOnline(vec![skill.to_string()]),
            None if retry => VoiceAction::AskSkill {
                attempt: attempt + 1,
                reprompt: true,
            },
            None => VoiceAction::Goodbye,
        },
    }
}

fn skill_for_digit<'a>(skills: &'a [String], digit: &str) -> Option<&'a str> {
    let n: usize = digit.parse().ok()?;
    skills.get(n.checked_sub(1)?).map(String::as_str)
}

/// The `attempt` query parameter: 1 when absent or unreadable, never above
/// [`MAX_ATTEMPTS`] (the query is signed, but a bad value must not loop).
pub fn parse_attempt(raw: Option<&str>) -> u32 {
    raw.and_then(|a| a.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_ATTEMPTS)
}

/// How a worker's state reads aloud: "online for sales",
/// "offline", "unavailable after a missed call".
fn describe(profile: &WorkerProfile) -> String {
    match profile.activity {
        Some(Activity::Available) => format!("online for {}", profile.skills.join(", ")),
        Some(Activity::Unavailable) => "paused after a missed call".to_string(),
        Some(Activity::Offline) | None => "offline".to_string(),
    }
}

/// SMS replies. Each fits one GSM-7 segment (160 characters): a reply that
/// splits costs double and may arrive out of order.
pub mod replies {
    use super::{Activity, Clock, Duty, PinError, WorkerProfile};

    /// The most a single-segment GSM-7 SMS holds, in septets.
    pub const SEGMENT: usize = 160;

    pub fn stranger() -> String {
        "This number is not on the Homeline roster, so nothing was changed. \
         Ask your manager to add you."
            .to_string()
    }

    pub fn help(skills: &[String]) -> String {
        fit(
            "Homeline: text ON <skill> to take calls, OFF to stop, STATUS to check, MISSED for callers to call back, MENU for this list. Skills: ",
            skills,
            ".",
        )
    }

    pub fn which_skill(skills: &[String]) -> String {
        fit("Which skill? Text ON and one of: ", skills, ".")
    }

    pub fn unknown_skill(unknown: &[&str], skills: &[String]) -> String {
        let unknown: Vec<String> = unknown.iter().map(|s| sanitize(s)).collect();
        fit(
            &format!(
                "Unknown skill {}. Nothing changed. Skills: ",
                unknown.join(", ")
            ),
            skills,
            ".",
        )
    }

    /// The confirmation of `on`. `save_number`: the number that will ring
    /// the worker, given on the first `on` so they save it as a contact;
    /// phones that screen unknown callers would otherwise put an assistant
    /// on the line that machine detection takes for voicemail. `until`:
    /// when the scheduler takes them off, as [`Clock::label`] says it.
    pub fn online(skills: &[String], save_number: Option<&str>, until: Option<&str>) -> String {
        let until = until.map(|at| format!(" until {at}")).unwrap_or_default();
        let tail = match save_number {
            Some(number) => format!(
                "{until}. Save {number} as a contact so your phone's call screening lets our calls through. \
                 Text OFF to stop."
            ),
            None => format!("{until}. Text OFF to stop."),
        };
        fit("You're online for ", skills, &tail)
    }

    /// The confirmation of `off until`: back on at `until` with `skills`.
    pub fn offline_until(until: &str, skills: &[String]) -> String {
        fit(
            &format!("You're offline until {until}, then back on for "),
            skills,
            ". Text ON to come back sooner.",
        )
    }

    /// An `until` whose time cannot be read: nothing changed.
    pub fn until_example() -> String {
        "Nothing changed: give a time like 5pm, 5:30pm, 17:00 or noon, e.g. ON SALES UNTIL 5PM \
         or OFF UNTIL 1PM."
            .to_string()
    }

    /// `off until` from a worker never on duty: nothing to come back to.
    pub fn not_on_duty_yet() -> String {
        "Nothing changed: you have no skills to come back to. Text ON and a skill first."
            .to_string()
    }

    /// Texted after a duty change made on the keypad: caller ID is easily
    /// spoofed, so the worker hears of every change made by phone.
    pub fn duty_changed_by_phone(online_for: Option<&[String]>) -> String {
        match online_for {
            Some(skills) => fit(
                "Homeline: you went on duty by phone just now, for ",
                skills,
                ". Not you? Text OFF and tell your manager.",
            ),
            None => "Homeline: you went off duty by phone just now. Not you? Text ON and tell your manager.".to_string(),
        }
    }

    pub fn pin_set() -> String {
        "Your keypad PIN is set: the worker line asks for it before call backs, dialling out \
         and voicemails. Delete this conversation so nobody reads it."
            .to_string()
    }

    pub fn pin_refused(error: PinError) -> String {
        format!("Nothing changed: {error}. Text PIN and 4 to 8 digits, e.g. PIN 4821.")
    }

    pub fn offline() -> String {
        "You're offline: no calls until you text ON.".to_string()
    }

    /// The worker's duty, and their pending `until` when they have one.
    pub fn status(profile: &WorkerProfile, clock: &Clock) -> String {
        let until = |then: Duty| {
            profile
                .duty_until
                .filter(|u| u.then == then)
                .map(|u| clock.label(u.at))
        };
        match profile.activity {
            Some(Activity::Available) => fit(
                "Homeline: you are online for ",
                &profile.skills,
                &match until(Duty::Off) {
                    Some(at) => format!(" until {at}. Text OFF to stop now."),
                    None => ". Text OFF to stop.".to_string(),
                },
            ),
            Some(Activity::Offline) | None if let Some(at) = until(Duty::On) => {
                offline_until(&at, &profile.skills)
            }
            Some(Activity::Unavailable) => {
                "Homeline: you are paused after a missed call. Text ON to take calls.".to_string()
            }
            Some(Activity::Offline) | None => {
                "Homeline: you are offline. Text ON to take calls.".to_string()
            }
        }
    }

    pub fn try_again() -> String {
        "Homeline couldn't update right now, please try again in a minute.".to_string()
    }

    /// `head` + the skills joined by ", " + `tail`, dropping skills from the
    /// end (shown as "...") until it fits one segment.
    fn fit(head: &str, skills: &[String], tail: &str) -> String {
        let mut shown = skills.len();
        loop {
            let mut list = skills[..shown].join(", ");
            if shown < skills.len() {
                list.push_str(if shown == 0 { "..." } else { ", ..." });
            }
            let text = format!("{head}{list}{tail}");
            if shown == 0 || septets(&text).is_some_and(|n| n <= SEGMENT) {
                return text;
            }
            shown -= 1;
        }
    }

    /// A word the worker typed, echoed back: GSM-7 only and short, so the
    /// reply stays one segment whatever they sent.
    fn sanitize(word: &str) -> String {
        let clean: String = word
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .take(20)
            .collect();
        if clean.is_empty() { "?".into() } else { clean }
    }

    /// Length in GSM-7 septets, `None` when a character needs UCS-2 (which
    /// would cut the segment to 70 characters).
    pub fn septets(text: &str) -> Option<usize> {
        const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
            ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        const EXTENDED: &str = "^{}\\[~]|€\u{c}";
        text.chars().try_fold(0, |n, c| {
            if BASIC.contains(c) {
                Some(n + 1)
            } else if EXTENDED.contains(c) {
                Some(n + 2)
            } else {
                None
            }
        })
    }
}

/// What the voice menu says. Spoken, so no length limit; short anyway.
pub mod prompts {
    use super::{WorkerProfile, describe};

    pub fn refusal() -> String {
        "This phone number is not enrolled with Homeline. Goodbye.".to_string()
    }

    pub fn greeting(profile: &WorkerProfile) -> String {
        format!("Hello {}. You are {}.", profile.name, describe(profile))
    }

    pub fn menu() -> String {
        "Press 1 to go online. Press 2 to go offline. Press 3 to hear your status. \
         Press 4 for the oldest caller waiting for a call back. Press 5 to dial a number. \
         Press 6 to hear the newest voicemail."
            .to_string()
    }

    pub fn ask_pin() -> String {
        "Enter your PIN, then press pound.".to_string()
    }

    pub fn wrong_pin(left: u32) -> String {
        format!("That PIN is not right. {left} tries left before the keypad locks.")
    }

    /// Nothing guarded without a PIN; the way to set one goes by SMS, to
    /// the enrolled phone.
    pub fn no_pin() -> String {
        "This needs your PIN. Text PIN and 4 to 8 digits to this number to set one. Goodbye."
            .to_string()
    }

    pub fn locked() -> String {
        "Too many wrong PINs: the keypad is locked for an hour. Goodbye.".to_string()
    }

    pub fn ask_number() -> String {
        "Enter the number to call, with its area code, then press pound.".to_string()
    }

    pub fn number_refused() -> String {
        "That number cannot be called from the business line: it must be a full number \
         in the United States or Canada, and not a premium-rate one."
            .to_string()
    }

    /// `digits` read one by one.
    pub fn calling(number: &str) -> String {
        let spoken: Vec<String> = number
            .trim_start_matches('+')
            .chars()
            .map(String::from)
            .collect();
        format!("Calling {} from the business line.", spoken.join(" "))
    }

    pub fn nobody_waiting() -> String {
        "Nobody is waiting for a call back. Goodbye.".to_string()
    }

    pub fn no_voicemail() -> String {
        "There is no voicemail waiting. Goodbye.".to_string()
    }

    pub fn taken_by_someone_else() -> String {
        "Someone else is calling them back already. Goodbye.".to_string()
    }

    pub fn offer_call_back() -> String {
        "Press 1 to call them back now.".to_string()
    }

    pub fn skill_menu(skills: &[String]) -> String {
        let options: Vec<String> = skills
            .iter()
            .enumerate()
            .map(|(i, skill)| format!("For {skill}, press {}.", i + 1))
            .collect();
        options.join(" ")
    }

    pub fn not_understood() -> String {
        "Sorry, I didn't get that.".to_string()
    }

    pub fn status(profile: &WorkerProfile) -> String {
        format!("You are {}.", describe(profile))
    }

    pub fn online(skills: &[String]) -> String {
        format!("You are now online for {}. Goodbye.", skills.join(", "))
    }

    pub fn offline() -> String {
        "You are now offline. Goodbye.".to_string()
    }

    pub fn try_again() -> String {
        "Sorry, Homeline couldn't update right now. Please try again in a minute. Goodbye."
            .to_string()
    }

    pub fn goodbye() -> String {
        "Goodbye.".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::replies::{SEGMENT, septets};
    use super::*;
    use crate::domain::worker::{went_offline, went_online};

    /// Wednesday 2026-12-02 10:00 in UTC.
    const CLOCK: Clock = Clock {
        zone: crate::domain::zone::Zone::UTC,
        now: 1_796_205_600,
    };

    fn decide(command: &SmsCommand, profile: Option<&WorkerProfile>, skills: &[String]) -> SmsPlan {
        decide_sms(command, profile, skills, &CLOCK)
    }

    fn skills(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn worker(last: &[&str]) -> WorkerProfile {
        WorkerProfile::new("+15551230001", "Ana", skills(last))
    }

    #[test]
    fn parses_commands_forgivingly() {
        let cases = [
            ("on sales", SmsCommand::On(skills(&["sales"]))),
            ("  ON   Sales  ", SmsCommand::On(skills(&["sales"]))),
            (
                "Online sales, support",
                SmsCommand::On(skills(&["sales", "support"])),
            ),
            ("online\tsupport\n", SmsCommand::On(skills(&["support"]))),
            // Twilio's keywords are not commands any more.
            ("start support", SmsCommand::Unknown),
            ("on sales sales", SmsCommand::On(skills(&["sales"]))),
            ("On sales!", SmsCommand::On(skills(&["sales"]))),
            ("on", SmsCommand::On(vec![])),
            ("OFF", SmsCommand::Off),
            (" offline. ", SmsCommand::Off),
            ("Status", SmsCommand::Status),
            ("menu", SmsCommand::Menu),
            ("HELP me", SmsCommand::Unknown),
            ("off sales", SmsCommand::Unknown),
            ("", SmsCommand::Unknown),
            ("   ", SmsCommand::Unknown),
            ("hello there", SmsCommand::Unknown),
            ("onsales", SmsCommand::Unknown),
            ("Claim 7", SmsCommand::FollowUp(FollowUpCommand::Claim(7))),
            (
                "claim #12.",
                SmsCommand::FollowUp(FollowUpCommand::Claim(12)),
            ),
            ("DONE 3", SmsCommand::FollowUp(FollowUpCommand::Done(3))),
            ("Missed?", SmsCommand::FollowUp(FollowUpCommand::List)),
            ("claim", SmsCommand::FollowUpUnclear),
            ("done it", SmsCommand::FollowUpUnclear),
        ];
        for (body, expected) in cases {
            assert_eq!(parse_sms(body, None), expected, "{body:?}");
        }
    }

    #[test]
    fn every_carrier_keyword_is_recognised_alone_in_any_case() {
        use CarrierKeyword::{Help, OptIn, OptOut};
        let lists = [
            (OPT_OUT_WORDS, OptOut),
            (OPT_IN_WORDS, OptIn),
            (HELP_WORDS, Help),
        ];
        for (words, keyword) in lists {
            for word in words {
                for body in [word.to_string(), word.to_uppercase(), format!(" {word}. ")] {
                    assert_eq!(
                        parse_sms(&body, None),
                        SmsCommand::Carrier(keyword),
                        "{body:?}"
                    );
                }
            }
        }
        let named = [
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
            "START",
            "YES",
            "UNSTOP",
            "HELP",
            "INFO",
        ];
        for word in named {
            assert!(
                matches!(parse_sms(word, None), SmsCommand::Carrier(_)),
                "{word}"
            );
        }
        // Twilio's OptOutType wins over the body.
        assert_eq!(
            parse_sms("on sales", Some("STOP")),
            SmsCommand::Carrier(OptOut)
        );
        assert_eq!(parse_sms("x", Some("start")), SmsCommand::Carrier(OptIn));
        assert_eq!(parse_sms("on", Some("")), SmsCommand::On(vec![]));
    }

    #[test]
    fn carrier_keywords_get_no_reply_and_stop_and_start_flip_the_block() {
        let config = skills(&["sales"]);
        let me = worker(&["sales"]);
        let carrier = |k| SmsCommand::Carrier(k);
        assert_eq!(
            decide(&carrier(CarrierKeyword::OptOut), Some(&me), &config),
            SmsPlan::OptOut
        );
        assert_eq!(
            decide(&carrier(CarrierKeyword::OptIn), Some(&me), &config),
            SmsPlan::OptIn
        );
        assert_eq!(
            decide(&carrier(CarrierKeyword::Help), Some(&me), &config),
            SmsPlan::Silent
        );
        for keyword in [
            CarrierKeyword::OptOut,
            CarrierKeyword::OptIn,
            CarrierKeyword::Help,
        ] {
            assert_eq!(decide(&carrier(keyword), None, &config), SmsPlan::Silent);
        }
    }

    #[test]
    fn no_reply_offers_a_word_twilio_intercepts() {
        let intercepted: Vec<&str> = OPT_OUT_WORDS
            .iter()
            .chain(OPT_IN_WORDS)
            .chain(HELP_WORDS)
            .copied()
            .collect();
        let mut paused = worker(&["sales"]);
        paused.activity = Some(Activity::Unavailable);
        let config = skills(&["sales"]);
        let texts = [
            replies::help(&config),
            replies::which_skill(&config),
            replies::offline(),
            replies::status(&paused, &CLOCK),
            replies::status(&worker(&[]), &CLOCK),
            replies::pin_set(),
            replies::pin_refused(PinError::Shape),
            replies::pin_refused(PinError::Guessable),
            crate::domain::worker::pin_locked_sms(&"B".repeat(20)),
            replies::until_example(),
            replies::not_on_duty_yet(),
            replies::offline_until("5:00 PM", &config),
        ];
        for text in texts {
            // A command is offered as "text WORD" or "WORD to".
            let words: Vec<String> = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase()))
                .map(str::to_lowercase)
                .collect();
            for word in words {
                assert!(!intercepted.contains(&word.as_str()), "{word}: {text}");
            }
        }
    }
    #[test]
    fn stranger_is_refused_whatever_they_send() {
        let config = skills(&["sales", "support"]);
        for body in ["on sales", "off", "status", "menu", "hi"] {
            match decide(&parse_sms(body, None), None, &config) {
                SmsPlan::Reply(text) => assert_eq!(text, replies::stranger()),
                other => panic!("{body:?}: stranger got {other:?}"),
            }
        }
    }

    #[test]
    fn on_with_known_skills_goes_online() {
        let config = skills(&["sales", "support"]);
        let plan = decide(
            &parse_sms("on support sales", None),
            Some(&worker(&[])),
            &config,
        );
        assert_eq!(plan, SmsPlan::GoOnline(skills(&["support", "sales"])));
    }

    #[test]
    fn on_alone_reuses_last_known_skills() {
        let config = skills(&["sales", "support"]);
        let plan = decide(
            &SmsCommand::On(vec![]),
            Some(&worker(&["support"])),
            &config,
        );
        assert_eq!(plan, SmsPlan::GoOnline(skills(&["support"])));
        // A skill dropped from SKILLS since is not reused.
        let plan = decide(
            &SmsCommand::On(vec![]),
            Some(&worker(&["billing", "sales"])),
            &config,
        );
        assert_eq!(plan, SmsPlan::GoOnline(skills(&["sales"])));
        // Nothing usable left: ask which.
        let plan = decide(
            &SmsCommand::On(vec![]),
            Some(&worker(&["billing"])),
            &config,
        );
        match plan {
            SmsPlan::Reply(text) => assert!(text.contains("sales, support"), "{text}"),
            other => panic!("expected a question, got {other:?}"),
        }
    }

    #[test]
    fn unknown_skill_changes_nothing_and_names_the_valid_ones() {
        let config = skills(&["sales", "support"]);
        let plan = decide(
            &parse_sms("on sales billing", None),
            Some(&worker(&[])),
            &config,
        );
        let SmsPlan::Reply(text) = plan else {
            panic!("unknown skill must not change anything: {plan:?}");
        };
        assert!(text.contains("billing"), "{text}");
        assert!(text.contains("sales, support"), "{text}");
    }

    #[test]
    fn off_status_help_unknown() {
        let config = skills(&["sales", "support"]);
        let mut profile = worker(&["sales"]);
        profile.activity = Some(Activity::Available);
        assert_eq!(
            decide(&SmsCommand::Off, Some(&profile), &config),
            SmsPlan::GoOffline
        );
        assert_eq!(
            decide(&SmsCommand::Status, Some(&profile), &config),
            SmsPlan::Reply("Homeline: you are online for sales. Text OFF to stop.".into())
        );
        for command in [SmsCommand::Menu, SmsCommand::Unknown] {
            let SmsPlan::Reply(text) = decide(&command, Some(&profile), &config) else {
                panic!("help must only reply");
            };
            assert!(
                text.contains("ON <skill>") && text.contains("sales, support."),
                "{text}"
            );
        }
    }

    #[test]
    fn status_reads_each_activity() {
        let mut profile = worker(&["sales"]);
        assert!(replies::status(&profile, &CLOCK).contains("offline"));
        profile.activity = Some(Activity::Unavailable);
        let text = replies::status(&profile, &CLOCK);
        assert!(
            text.contains("missed call") && text.contains("ON"),
            "{text}"
        );
        profile.activity = Some(Activity::Offline);
        assert!(replies::status(&profile, &CLOCK).contains("you are offline"));
    }

    #[test]
    fn welcome_asks_to_save_the_number_only_the_first_time() {
        let first = replies::online(&skills(&["sales"]), Some("+15005550006"), None);
        assert!(first.contains("Save +15005550006 as a contact"), "{first}");
        let again = replies::online(&skills(&["sales"]), None, None);
        assert!(!again.contains("contact"), "{again}");
        assert!(is_first_online(&worker(&[])));
        let mut enrolled = worker(&[]);
        enrolled.worker_sid = Some("WK1".into());
        assert!(!is_first_online(&enrolled));
    }

    #[test]
    fn pin_by_sms_is_parsed_with_its_digits_hidden_from_logs() {
        let pin = |body: &str| parse_sms(body, None);
        assert_eq!(pin("PIN 4821"), SmsCommand::SetPin(Pin::parse("4821")));
        assert!(matches!(pin("pin 4821"), SmsCommand::SetPin(Ok(_))));
        assert_eq!(pin("pin"), SmsCommand::SetPin(Err(PinError::Shape)));
        assert_eq!(pin("pin 48 21"), SmsCommand::SetPin(Err(PinError::Shape)));
        assert_eq!(
            pin("pin 2222"),
            SmsCommand::SetPin(Err(PinError::Guessable))
        );
        assert!(!format!("{:?}", pin("pin 4821")).contains("4821"));
        let ana = worker(&["sales"]);
        assert!(matches!(
            decide(&pin("pin 4821"), Some(&ana), &skills(&["sales"])),
            SmsPlan::SetPin(_)
        ));
        assert_eq!(
            decide(&pin("pin 4821"), None, &skills(&["sales"])),
            SmsPlan::Reply(replies::stranger()),
            "a stranger sets nothing"
        );
    }

    #[test]
    fn guarded_keys_ask_for_the_pin_only_once_one_is_set() {
        let sales = skills(&["sales"]);
        let mut ana = worker(&["sales"]);
        let menu =
            |p: &WorkerProfile, d: &str| decide_voice(VoiceStep::Menu, Some(p), Some(d), 1, &sales);
        for digit in ["4", "5", "6"] {
            assert_eq!(menu(&ana, digit), VoiceAction::NoPin);
        }
        ana.pin = Some(crate::model::PinHash("v1$x$y".into()));
        assert_eq!(menu(&ana, "4"), VoiceAction::AskPin(Guarded::CallBack));
        assert_eq!(menu(&ana, "5"), VoiceAction::AskPin(Guarded::Dial));
        assert_eq!(menu(&ana, "6"), VoiceAction::AskPin(Guarded::Voicemail));
        for g in [Guarded::CallBack, Guarded::Dial, Guarded::Voicemail] {
            assert_eq!(Guarded::parse(g.as_str()), Some(g));
        }
        assert_eq!(Guarded::parse("duty"), None);
    }

    #[test]
    fn every_reply_fits_one_gsm_segment() {
        let few = skills(&["sales", "support"]);
        let many: Vec<String> = (0..40).map(|i| format!("department-{i}")).collect();
        let long_number = "+123456789012345";
        let typed = "x".repeat(300);
        let mut online = worker(&[]);
        online.skills = many.clone();
        online.activity = Some(Activity::Available);
        let mut paused = worker(&["sales"]);
        paused.activity = Some(Activity::Unavailable);
        let mut texts = vec![
            replies::stranger(),
            replies::offline(),
            replies::try_again(),
            replies::status(&online, &CLOCK),
            replies::status(&paused, &CLOCK),
            replies::status(&worker(&[]), &CLOCK),
            replies::pin_set(),
            replies::pin_refused(PinError::Shape),
            replies::pin_refused(PinError::Guessable),
            crate::domain::worker::pin_locked_sms(&"B".repeat(20)),
        ];
        let mut asked = worker(&["sales"]);
        asked.skills = many.clone();
        asked.duty_until = Some(crate::model::DutyUntil {
            at: CLOCK.now - 60,
            then: Duty::On,
        });
        texts.push(replies::status(&asked, &CLOCK));
        texts.push(replies::until_example());
        texts.push(replies::not_on_duty_yet());
        for list in [&few, &many] {
            texts.push(replies::online(
                list,
                Some(long_number),
                Some("12:30 PM tomorrow"),
            ));
            texts.push(replies::offline_until("12:30 PM tomorrow", list));
            texts.push(replies::help(list));
            texts.push(replies::which_skill(list));
            texts.push(replies::unknown_skill(&[typed.as_str(), "café"], list));
            texts.push(replies::online(list, Some(long_number), None));
            texts.push(replies::online(list, None, None));
        }
        for text in texts {
            let n = septets(&text).unwrap_or_else(|| panic!("not GSM-7: {text}"));
            assert!(n <= SEGMENT, "{n} septets: {text}");
        }
    }

    #[test]
    fn long_skill_lists_are_shortened_not_split() {
        let many: Vec<String> = (0..40).map(|i| format!("department-{i}")).collect();
        let text = replies::help(&many);
        assert!(
            text.contains("department-0, ") && text.ends_with(", ...."),
            "{text}"
        );
        assert_eq!(
            replies::help(&skills(&["sales", "support"])),
            "Homeline: text ON <skill> to take calls, OFF to stop, STATUS to check, MISSED for callers to call back, MENU for this list. Skills: sales, support."
        );
    }

    #[test]
    fn septets_count_extension_characters_twice_and_reject_ucs2() {
        assert_eq!(septets("abc"), Some(3));
        assert_eq!(septets("[€]"), Some(6));
        assert_eq!(septets("emoji 🙂"), None);
        assert_eq!(septets("curly ’quote"), None);
    }

    #[test]
    fn state_changes() {
        let mut profile = worker(&["support"]);
        profile.misses = 3;
        profile.activity = Some(Activity::Unavailable);
        let online = went_online(&profile, "WK1", &skills(&["sales"]));
        assert_eq!(online.worker_sid.as_deref(), Some("WK1"));
        assert_eq!(online.skills, skills(&["sales"]));
        assert_eq!(online.activity, Some(Activity::Available));
        assert_eq!(online.misses, 0);
        assert_eq!(online.version, profile.version);
        let offline = went_offline(&online, Some("WK1"));
        assert_eq!(offline.activity, Some(Activity::Offline));
        assert_eq!(
            offline.skills,
            skills(&["sales"]),
            "skills kept for the next ON"
        );
        assert_eq!(went_offline(&online, None).worker_sid, None);
        assert_eq!(
            worker_attributes(&profile, &skills(&["sales"]), 0),
            serde_json::json!({"contact_uri": "+15551230001", "skills": ["sales"], "name": "Ana", "answer_score": 100})
        );
        let mut missed = profile.clone();
        missed.answers = crate::domain::answers::noted(
            &missed.answers,
            crate::domain::answers::Offer::Missed { at: 1_000 },
        );
        assert_eq!(
            worker_attributes(&missed, &skills(&["sales"]), 1_000)["answer_score"],
            50,
            "the score as of `now`"
        );
    }

    #[test]
    fn voice_menu_paths() {
        let config = skills(&["sales", "support"]);
        let me = worker(&[]);
        let p = Some(&me);
        use VoiceAction::{AskSkill, GoOffline, GoOnline, Goodbye, Refuse, Status};
        use VoiceStep::{Greet, Skill};
        let menu = |attempt, reprompt| VoiceAction::Menu { attempt, reprompt };
        let ask = |attempt, reprompt| AskSkill { attempt, reprompt };
        let m = VoiceStep::Menu;
        let cases = [
            (Greet, p, None, 1, menu(1, false)),
            (m, p, Some("1"), 1, ask(1, false)),
            (m, p, Some("2"), 2, GoOffline),
            (m, p, Some("3"), 1, Status),
            (m, p, None, 1, menu(2, true)),
            (m, p, Some(""), 1, menu(2, true)),
            (m, p, Some("9"), 1, menu(2, true)),
            (m, p, None, 2, Goodbye),
            (Skill, p, Some("2"), 1, GoOnline(skills(&["support"]))),
            (Skill, p, Some("1"), 2, GoOnline(skills(&["sales"]))),
            (Skill, p, Some("3"), 1, ask(2, true)),
            (Skill, p, Some("0"), 1, ask(2, true)),
            (Skill, p, None, 2, Goodbye),
            (Greet, None, None, 1, Refuse),
            (m, None, Some("1"), 1, Refuse),
            (Skill, None, Some("1"), 1, Refuse),
        ];
        for (step, profile, digits, attempt, expected) in cases {
            assert_eq!(
                decide_voice(step, profile, digits, attempt, &config),
                expected,
                "{step:?} digits {digits:?} attempt {attempt}"
            );
        }
    }

    #[test]
    fn voice_paths_and_attempts() {
        for step in [VoiceStep::Greet, VoiceStep::Menu, VoiceStep::Skill] {
            assert_eq!(VoiceStep::from_path(step.path()), Some(step));
        }
        assert_eq!(
            VoiceStep::from_path("/intake/voice/menu/"),
            Some(VoiceStep::Menu)
        );
        assert_eq!(VoiceStep::from_path("/intake/voice/other"), None);
        assert_eq!(parse_attempt(None), 1);
        assert_eq!(parse_attempt(Some("2")), 2);
        assert_eq!(parse_attempt(Some("99")), MAX_ATTEMPTS);
        assert_eq!(parse_attempt(Some("0")), 1);
        assert_eq!(parse_attempt(Some("x")), 1);
    }

    #[test]
    fn prompts_name_the_worker_and_the_skills_in_menu_order() {
        let mut me = worker(&["sales"]);
        me.activity = Some(Activity::Available);
        assert_eq!(
            prompts::greeting(&me),
            "Hello Ana. You are online for sales."
        );
        assert_eq!(
            prompts::skill_menu(&skills(&["sales", "support"])),
            "For sales, press 1. For support, press 2."
        );
    }

    #[test]
    fn blocklist_commands_are_parsed_and_refused_to_strangers() {
        let number = "+15551234567".to_string();
        assert_eq!(
            parse_sms("Block +1 (555) 123-4567", None),
            SmsCommand::Blocklist(BlockCommand::Block(number.clone()))
        );
        assert_eq!(
            parse_sms("unblock +15551234567.", None),
            SmsCommand::Blocklist(BlockCommand::Unblock(number.clone()))
        );
        assert_eq!(
            parse_sms("Blocked?", None),
            SmsCommand::Blocklist(BlockCommand::List)
        );
        assert_eq!(
            parse_sms("block 12345", None),
            SmsCommand::Blocklist(BlockCommand::Unclear)
        );
        let block = SmsCommand::Blocklist(BlockCommand::Block(number.clone()));
        let s = skills(&["sales"]);
        assert_eq!(
            decide(&block, None, &s),
            SmsPlan::Reply(replies::stranger())
        );
        assert_eq!(
            decide(&block, Some(&worker(&[])), &s),
            SmsPlan::Blocklist(BlockCommand::Block(number))
        );
    }

    #[test]
    fn until_is_read_after_the_skills_and_an_unreadable_time_is_kept_as_such() {
        let five = ClockTime::parse("5pm");
        assert_eq!(
            parse_sms("On sales, support until 5 PM!", None),
            SmsCommand::OnUntil(skills(&["sales", "support"]), five)
        );
        assert_eq!(
            parse_sms("on till 17:00", None),
            SmsCommand::OnUntil(vec![], five)
        );
        assert_eq!(
            parse_sms("off until 1pm.", None),
            SmsCommand::OffUntil(ClockTime::parse("1pm"))
        );
        for body in [
            "on sales until 5",
            "on until",
            "off until later",
            "off till 25:00",
        ] {
            assert!(
                matches!(
                    parse_sms(body, None),
                    SmsCommand::OnUntil(_, None) | SmsCommand::OffUntil(None)
                ),
                "{body}"
            );
        }
        assert_eq!(parse_sms("off sales until 1pm", None), SmsCommand::Unknown);
    }

    #[test]
    fn on_until_resolves_the_time_today_or_tomorrow_and_keeps_the_skill_rules() {
        let config = skills(&["sales", "support"]);
        let ana = worker(&["support"]);
        let plan = |body: &str| decide(&parse_sms(body, None), Some(&ana), &config);
        // 10:00 now: 5pm is today, 9am tomorrow.
        assert_eq!(
            plan("on sales until 5pm"),
            SmsPlan::GoOnlineUntil {
                skills: skills(&["sales"]),
                at: CLOCK.now + 7 * 3600
            }
        );
        assert_eq!(
            plan("on until 9am"),
            SmsPlan::GoOnlineUntil {
                skills: skills(&["support"]),
                at: CLOCK.now + 23 * 3600
            }
        );
        assert_eq!(
            plan("on billing until 5pm"),
            SmsPlan::Reply(replies::unknown_skill(&["billing"], &config))
        );
        for body in ["on sales until 5", "off until whenever"] {
            assert_eq!(
                plan(body),
                SmsPlan::Reply(replies::until_example()),
                "{body}"
            );
        }
        // Off until needs something to come back to.
        assert_eq!(
            plan("off until 1pm"),
            SmsPlan::Reply(replies::not_on_duty_yet())
        );
        let mut known = ana.clone();
        known.worker_sid = Some("WK1".into());
        assert_eq!(
            decide(&parse_sms("off until 1pm", None), Some(&known), &config),
            SmsPlan::GoOfflineUntil {
                at: CLOCK.now + 3 * 3600
            }
        );
        // A stranger changes nothing.
        assert_eq!(
            decide(&parse_sms("on sales until 5pm", None), None, &config),
            SmsPlan::Reply(replies::stranger())
        );
    }

    #[test]
    fn status_and_confirmations_name_the_pending_until() {
        let mut ana = worker(&["sales"]);
        ana.activity = Some(Activity::Available);
        ana.duty_until = Some(crate::model::DutyUntil {
            at: CLOCK.now + 7 * 3600,
            then: Duty::Off,
        });
        assert_eq!(
            replies::status(&ana, &CLOCK),
            "Homeline: you are online for sales until 5:00 PM. Text OFF to stop now."
        );
        ana.activity = Some(Activity::Offline);
        ana.duty_until = Some(crate::model::DutyUntil {
            at: CLOCK.now + 23 * 3600,
            then: Duty::On,
        });
        assert_eq!(
            replies::status(&ana, &CLOCK),
            "You're offline until 9:00 AM tomorrow, then back on for sales. Text ON to come back sooner."
        );
        assert_eq!(
            replies::online(&skills(&["sales"]), None, Some("5:00 PM")),
            "You're online for sales until 5:00 PM. Text OFF to stop."
        );
    }
}
