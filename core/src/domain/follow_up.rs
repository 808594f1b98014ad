//! The follow-up state machine: a caller somebody must call back, from the
//! moment they left a voicemail or hung up in the queue until a worker
//! reached them. `service::follow_up` executes it and is the only writer of
//! follow-ups.
//!
//! open → claimed (the first `claim N` wins; the claimer's phone rings) →
//! calling (the claimer pressed 1; the customer is dialled from the business
//! caller ID) → done. When the claimer's phone is not answered, or the
//! customer is not reached, the follow-up is open again for anyone. Every
//! callback of one ring carries the claim's ordinal ([`FollowUp::claims`]),
//! so a late callback from an earlier ring changes nothing.

use crate::domain::inbound::GENERAL_MAILBOX;
use crate::model::{FollowUp, FollowUpReason, FollowUpState};

/// Everything that may change a follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUpEvent<'a> {
    /// An enrolled worker texted `claim N`.
    Claim { by: &'a str },
    /// An enrolled worker texted `done N`.
    Close { by: &'a str },
    /// The claimer's phone was not rung, not answered, or the claimer hung
    /// up without pressing 1 (ring `claim`).
    ClaimerMissed { claim: u32 },
    /// The claimer pressed 1 (ring `claim`): dial the customer.
    Connect { claim: u32 },
    /// The dial to the customer ended (ring `claim`).
    Dialed { claim: u32, reached: bool },
    /// The voicemail's transcript arrived.
    Transcribed { text: &'a str },
    /// The caller's message arrived for a follow-up that has none: the call
    /// ended before the recording's callback, which opened it as a missed
    /// call.
    MessageLeft { recording_url: &'a str },
}

/// What a decision did, for the service's effects and the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Claimed by the event's worker: ring their phone.
    Claimed,
    /// Someone else holds it (claimed or calling): nothing changes.
    HeldBy(String),
    /// Already done: nothing changes.
    AlreadyDone,
    /// Closed by hand.
    Closed,
    /// The ring went unanswered: open again.
    Reopened,
    /// The claimer is being connected to the customer.
    Connecting,
    /// The customer answered: done.
    Reached,
    /// The customer did not answer: open again.
    NotReached,
    /// The transcript is stored.
    Transcribed,
    /// The recording is attached, and the follow-up is a voicemail now.
    MessageAttached,
    /// A late or repeated callback: nothing changes.
    Stale,
}

/// A decision: the follow-up to write (none: nothing changes) and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: Option<FollowUp>,
    pub outcome: Outcome,
}

impl Decision {
    fn keep(outcome: Outcome) -> Self {
        Decision {
            next: None,
            outcome,
        }
    }
}

/// Decides what `event` does to `current`.
pub fn decide(current: &FollowUp, event: &FollowUpEvent<'_>) -> Decision {
    use FollowUpState::{Calling, Claimed, Done, Open};
    let change = |edit: &dyn Fn(&mut FollowUp), outcome| {
        let mut next = current.clone();
        edit(&mut next);
        Decision {
            next: Some(next),
            outcome,
        }
    };
    let this_ring = |claim: &u32| *claim == current.claims;
    match (event, current.state) {
        (FollowUpEvent::Transcribed { text }, _) => {
            if current.transcript.as_deref() == Some(*text) {
                return Decision::keep(Outcome::Stale);
            }
            change(
                &|f| f.transcript = Some((*text).to_string()),
                Outcome::Transcribed,
            )
        }
        (FollowUpEvent::MessageLeft { .. }, _) if current.recording_url.is_some() => {
            Decision::keep(Outcome::Stale)
        }
        (FollowUpEvent::MessageLeft { recording_url }, _) => change(
            &|f| {
                f.reason = FollowUpReason::Voicemail;
                f.recording_url = Some((*recording_url).to_string());
            },
            Outcome::MessageAttached,
        ),
        (FollowUpEvent::Claim { .. } | FollowUpEvent::Close { .. }, Done) => {
            Decision::keep(Outcome::AlreadyDone)
        }
        (FollowUpEvent::Claim { by } | FollowUpEvent::Close { by }, Claimed | Calling)
            if current.owner.as_deref() != Some(*by) =>
        {
            Decision::keep(Outcome::HeldBy(current.owner.clone().unwrap_or_default()))
        }
        // A claimer whose phone is still ringing or who is on the call:
        // claiming again would ring them twice.
        (FollowUpEvent::Claim { .. }, Claimed | Calling) => Decision::keep(Outcome::Stale),
        (FollowUpEvent::Claim { by }, Open) => change(
            &|f| {
                f.state = Claimed;
                f.owner = Some((*by).to_string());
                f.claims += 1;
            },
            Outcome::Claimed,
        ),
        (FollowUpEvent::Close { by }, Open | Claimed | Calling) => change(
            &|f| {
                f.state = Done;
                f.owner = Some((*by).to_string());
            },
            Outcome::Closed,
        ),
        (FollowUpEvent::ClaimerMissed { claim }, Claimed) if this_ring(claim) => change(
            &|f| {
                f.state = Open;
                f.owner = None;
            },
            Outcome::Reopened,
        ),
        (FollowUpEvent::Connect { claim }, Claimed) if this_ring(claim) => {
            change(&|f| f.state = Calling, Outcome::Connecting)
        }
        // The same key press delivered twice: dial once, answer the same.
        (FollowUpEvent::Connect { claim }, Calling) if this_ring(claim) => {
            Decision::keep(Outcome::Connecting)
        }
        (FollowUpEvent::Dialed { claim, reached }, Calling) if this_ring(claim) => {
            if *reached {
                change(&|f| f.state = Done, Outcome::Reached)
            } else {
                change(
                    &|f| {
                        f.state = Open;
                        f.owner = None;
                        f.failed_calls += 1;
                    },
                    Outcome::NotReached,
                )
            }
        }
        _ => Decision::keep(Outcome::Stale),
    }
}

/// What a worker may text about follow-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpCommand {
    /// `claim 7`
    Claim(u32),
    /// `done 7`
    Done(u32),
    /// `missed`: the open follow-ups.
    List,
}

/// The follow-up command in an SMS body (already trimmed and lower-cased
/// words), if it is one. `#7` and `7` are the same number.
pub fn parse_command(words: &[&str]) -> Option<Result<FollowUpCommand, String>> {
    let number = |word: Option<&&str>| -> Result<u32, String> {
        word.map(|w| w.trim_start_matches('#'))
            .and_then(|w| w.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(texts::which_number)
    };
    match words {
        ["claim", rest @ ..] if rest.len() <= 1 => {
            Some(number(rest.first()).map(FollowUpCommand::Claim))
        }
        ["done", rest @ ..] if rest.len() <= 1 => {
            Some(number(rest.first()).map(FollowUpCommand::Done))
        }
        ["missed"] => Some(Ok(FollowUpCommand::List)),
        _ => None,
    }
}

/// Seconds after a call's end before its missed call is announced: a
/// message left in voicemail is reported by the recording's callback, which
/// may come after the call's end and would make the follow-up a voicemail,
/// announced as one.
pub const LATE_ANNOUNCE_SECS: i64 = 120;
/// How long a missed call stays due for its late announcement: the next few
/// scheduler runs make up for one that failed.
pub const LATE_ANNOUNCE_WINDOW_SECS: i64 = 300;

/// The open missed calls to announce as of `now`: never claimed, opened
/// between [`LATE_ANNOUNCE_SECS`] and that plus [`LATE_ANNOUNCE_WINDOW_SECS`]
/// ago. One announced when it opened (a hang-up in the queue) is due too;
/// its recipients' claims keep it from being sent twice. One open again
/// after a call back is not: its claimer was told, and an announcement
/// would ring a second claimer while the first may still be on the line.
pub fn due_for_late_announcement(open: &[FollowUp], now: i64) -> Vec<&FollowUp> {
    let window = LATE_ANNOUNCE_SECS..LATE_ANNOUNCE_SECS + LATE_ANNOUNCE_WINDOW_SECS;
    open.iter()
        .filter(|f| f.state == FollowUpState::Open && f.reason == FollowUpReason::Abandoned)
        .filter(|f| f.claims == 0)
        .filter(|f| window.contains(&now.saturating_sub(f.created_at)))
        .collect()
}

/// The follow-ups nobody has claimed within `after_secs` of opening, as of
/// `now` (Unix seconds), oldest first. One claimed or being called is not
/// due: somebody has it.
pub fn due_for_escalation(open: &[FollowUp], now: i64, after_secs: i64) -> Vec<&FollowUp> {
    let mut due: Vec<&FollowUp> = open
        .iter()
        .filter(|f| f.state == FollowUpState::Open)
        .filter(|f| f.created_at.saturating_add(after_secs) <= now)
        .collect();
    due.sort_by_key(|f| (f.created_at, f.number));
    due
}

/// Who is told of a new follow-up: the on-duty workers of its skill (none on
/// duty: every enrolled worker of the skill; the general mailbox: nobody),
/// then `admins` unless they hear of escalations only; each number once.
/// `workers` are (phone, skills, on duty).
pub fn announce_to(
    skill: &str,
    workers: &[(&str, &[String], bool)],
    admins: &[String],
    admins_hear_all: bool,
    general_mailbox: &str,
) -> Vec<String> {
    let skilled: Vec<_> = workers
        .iter()
        .filter(|(_, skills, _)| skill != general_mailbox && skills.iter().any(|s| s == skill))
        .collect();
    let on_duty: Vec<_> = skilled.iter().filter(|(_, _, on)| *on).collect();
    let workers = if on_duty.is_empty() {
        skilled
            .iter()
            .map(|(phone, _, _)| *phone)
            .collect::<Vec<_>>()
    } else {
        on_duty.iter().map(|(phone, _, _)| *phone).collect()
    };
    // Nobody has the skill: the admins are told whatever ADMIN_NOTIFY says,
    // so the caller is never announced to nobody.
    let admins_told = admins_hear_all || workers.is_empty();
    let mut to: Vec<String> = Vec::new();
    let admins = admins.iter().map(String::as_str).filter(|_| admins_told);
    for number in workers.into_iter().chain(admins) {
        if !to.iter().any(|t| t == number) {
            to.push(number.to_string());
        }
    }
    to
}

/// The texts of the loop. Each fits one GSM-7 segment (160 characters) when
/// the caller's words allow; customer-influenced text (the transcript) is
/// trimmed to what is left and stripped of line breaks.
pub mod texts {
    use super::*;

    /// The longest snippet of a transcript an announcement quotes.
    const SNIPPET_CHARS: usize = 60;

    /// The announcement of a new follow-up; `at` is the local time ("14:05").
    /// A voicemail's recording link comes last, past the one segment.
    pub fn announcement(follow_up: &FollowUp, at: &str) -> String {
        let what = match follow_up.reason {
            FollowUpReason::Voicemail => "Voicemail",
            FollowUpReason::Abandoned => "Missed call",
            FollowUpReason::CallbackMissed => "Callback not reached",
        };
        let skill = if follow_up.skill == GENERAL_MAILBOX {
            "after hours"
        } else {
            follow_up.skill.as_str()
        };
        let listen = match (&follow_up.reason, &follow_up.recording_url) {
            (FollowUpReason::Voicemail, Some(url)) => format!(" Listen: {url}"),
            _ => String::new(),
        };
        let n = follow_up.number;
        let quote = follow_up
            .transcript
            .as_deref()
            .map(|t| format!(" \"{}\"", snippet(t, SNIPPET_CHARS)))
            .unwrap_or_default();
        format!(
            "{what} #{n} ({skill}) from {caller} at {at}.{quote} Reply CLAIM {n} to call them back from the business line.{listen}",
            caller = follow_up.caller,
        )
    }

    /// The first `max` characters of customer-influenced text on one line,
    /// cut at a word, with an ellipsis when cut.
    pub fn snippet(text: &str, max: usize) -> String {
        let flat: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        if flat.chars().count() <= max {
            return flat;
        }
        let cut: String = flat.chars().take(max).collect();
        let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
        format!("{cut}...")
    }

    pub fn which_number() -> String {
        "Which follow-up? Text CLAIM 7 or DONE 7 with its number, or MISSED for the open ones."
            .to_string()
    }

    pub fn unknown(number: u32) -> String {
        format!("There is no open follow-up #{number}. Text MISSED for the open ones.")
    }

    pub fn claimed(follow_up: &FollowUp) -> String {
        format!(
            "#{} is yours. Calling you now: answer and press 1 to call {} from the business line.",
            follow_up.number, follow_up.caller
        )
    }

    pub fn held_by(number: u32, owner_name: &str) -> String {
        format!("#{number} is already being handled by {owner_name}.")
    }

    pub fn already_done(number: u32) -> String {
        format!("#{number} is already done.")
    }

    pub fn ringing_you(number: u32) -> String {
        format!("#{number} is yours and your phone is being called now.")
    }

    pub fn closed(number: u32) -> String {
        format!("#{number} is done. Thank you.")
    }

    pub fn not_rung(number: u32) -> String {
        format!("Homeline could not call your phone just now; #{number} is open again.")
    }

    pub fn missed_ring(number: u32) -> String {
        format!(
            "You did not take the call for #{number}; it is open again. Text CLAIM {number} to try again."
        )
    }

    pub fn not_reached(follow_up: &FollowUp) -> String {
        format!(
            "{} did not answer; #{} is open again (tried {}x). Text CLAIM {} to try later.",
            follow_up.caller, follow_up.number, follow_up.failed_calls, follow_up.number
        )
    }

    /// To the admins, once, about a follow-up nobody claimed in `minutes`.
    pub fn escalation(follow_up: &FollowUp, at: &str, minutes: i64) -> String {
        let what = match follow_up.reason {
            FollowUpReason::Voicemail => "voicemail",
            FollowUpReason::Abandoned => "missed call",
            FollowUpReason::CallbackMissed => "callback not reached",
        };
        format!(
            "Nobody has claimed #{n} in {minutes} min: {what} from {caller} at {at}. Call them back, or ask a worker to text CLAIM {n}.",
            n = follow_up.number,
            caller = follow_up.caller,
        )
    }

    /// Said on the claimer's phone when the call back is no longer theirs.
    pub fn no_longer_needed() -> String {
        "This call back is no longer needed. Goodbye.".to_string()
    }

    /// Said when the claimer answered but did not press 1.
    pub fn reopened_by_key(number: u32) -> String {
        format!("Not calling. Follow-up {number} is open again. Goodbye.")
    }

    /// Said when the caller's number was withheld: nobody can call them.
    pub fn withheld(number: u32) -> String {
        format!(
            "The caller withheld their number, so Homeline cannot call them back. Follow-up {number} is closed. Goodbye."
        )
    }

    /// Said when a step of the call back failed.
    pub fn try_later() -> String {
        "Sorry, Homeline could not do that just now. Please try again in a minute. Goodbye."
            .to_string()
    }

    /// `missed`: up to `max` open follow-ups, oldest first.
    pub fn list(open: &[(FollowUp, String)], max: usize) -> String {
        if open.is_empty() {
            return "No open follow-ups.".to_string();
        }
        let lines: Vec<String> = open
            .iter()
            .take(max)
            .map(|(f, at)| {
                let state = match f.state {
                    FollowUpState::Open => "",
                    _ => " (taken)",
                };
                format!("#{} {} {} {}{state}", f.number, f.caller, f.skill, at)
            })
            .collect();
        let more = open.len().saturating_sub(max);
        let tail = if more > 0 {
            format!(" +{more} more.")
        } else {
            String::new()
        };
        format!("Open: {}.{tail} Reply CLAIM N.", lines.join("; "))
    }

    /// The whisper on the claimer's phone: who and why, then press 1.
    pub fn whisper(follow_up: &FollowUp) -> String {
        format!("{} Press 1 to call them now.", introduce(follow_up))
    }

    /// Which follow-up, for whom, who called and why.
    pub fn introduce(follow_up: &FollowUp) -> String {
        let why = match follow_up.reason {
            FollowUpReason::Voicemail => "left a voicemail",
            FollowUpReason::Abandoned => "hung up while waiting",
            FollowUpReason::CallbackMissed => "asked to be called back and was not reached",
        };
        let digits: Vec<String> = follow_up
            .caller
            .trim_start_matches('+')
            .chars()
            .filter(char::is_ascii_digit)
            .map(String::from)
            .collect();
        format!(
            "Homeline call back number {}, for {}. The caller, {}, {why}.",
            follow_up.number,
            follow_up.skill,
            digits.join(" "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(number: u32) -> FollowUp {
        FollowUp {
            call_sid: "CA1".into(),
            number,
            caller: "+15557654321".into(),
            skill: "sales".into(),
            reason: FollowUpReason::Voicemail,
            created_at: 1_700_000_000,
            recording_url: Some("https://api.twilio.com/RE1".into()),
            transcript: None,
            state: FollowUpState::Open,
            owner: None,
            claims: 0,
            failed_calls: 0,
            version: 1,
        }
    }

    const ANA: &str = "+15550000001";
    const BEN: &str = "+15550000002";

    fn after(f: &FollowUp, event: FollowUpEvent<'_>) -> (FollowUp, Outcome) {
        let d = decide(f, &event);
        (d.next.unwrap_or_else(|| f.clone()), d.outcome)
    }

    #[test]
    fn a_message_left_after_all_makes_a_missed_call_a_voicemail_once() {
        let missed = FollowUp {
            reason: FollowUpReason::Abandoned,
            recording_url: None,
            ..open(7)
        };
        let url = "https://api.twilio.com/RE2";
        let (voicemail, outcome) =
            after(&missed, FollowUpEvent::MessageLeft { recording_url: url });
        assert_eq!(outcome, Outcome::MessageAttached);
        assert_eq!(voicemail.reason, FollowUpReason::Voicemail);
        assert_eq!(voicemail.recording_url.as_deref(), Some(url));
        assert_eq!(
            (voicemail.number, voicemail.state),
            (7, FollowUpState::Open)
        );
        let again = decide(
            &voicemail,
            &FollowUpEvent::MessageLeft { recording_url: url },
        );
        assert_eq!(
            again,
            Decision::keep(Outcome::Stale),
            "a repeat changes nothing"
        );
        // A claim in progress keeps its owner: the recording only joins it.
        let (claimed, _) = after(&missed, FollowUpEvent::Claim { by: ANA });
        let (joined, _) = after(&claimed, FollowUpEvent::MessageLeft { recording_url: url });
        assert_eq!(
            (
                joined.state,
                joined.owner.as_deref(),
                joined.recording_url.as_deref()
            ),
            (FollowUpState::Claimed, Some(ANA), Some(url))
        );
    }

    #[test]
    fn a_missed_call_is_announced_late_only_while_still_a_missed_call() {
        let missed = FollowUp {
            reason: FollowUpReason::Abandoned,
            recording_url: None,
            ..open(7)
        };
        let opened = missed.created_at;
        let due = |f: &FollowUp, after: i64| {
            !due_for_late_announcement(std::slice::from_ref(f), opened + after).is_empty()
        };
        assert!(
            !due(&missed, LATE_ANNOUNCE_SECS - 1),
            "the message may be on its way"
        );
        assert!(due(&missed, LATE_ANNOUNCE_SECS));
        assert!(due(
            &missed,
            LATE_ANNOUNCE_SECS + LATE_ANNOUNCE_WINDOW_SECS - 1
        ));
        assert!(
            !due(&missed, LATE_ANNOUNCE_SECS + LATE_ANNOUNCE_WINDOW_SECS),
            "long past"
        );
        let (voicemail, _) = after(
            &missed,
            FollowUpEvent::MessageLeft {
                recording_url: "https://api.twilio.com/RE2",
            },
        );
        assert!(
            !due(&voicemail, LATE_ANNOUNCE_SECS),
            "announced as a voicemail already"
        );
        let (claimed, _) = after(&missed, FollowUpEvent::Claim { by: ANA });
        assert!(!due(&claimed, LATE_ANNOUNCE_SECS), "somebody has it");
        let (reopened, _) = after(&claimed, FollowUpEvent::ClaimerMissed { claim: 1 });
        assert_eq!(reopened.state, FollowUpState::Open);
        assert!(!due(&reopened, LATE_ANNOUNCE_SECS), "its claimer was told");
    }

    #[test]
    fn the_first_claim_wins_and_later_claimers_hear_who_has_it() {
        let (claimed, outcome) = after(&open(7), FollowUpEvent::Claim { by: ANA });
        assert_eq!(outcome, Outcome::Claimed);
        assert_eq!(claimed.state, FollowUpState::Claimed);
        assert_eq!(claimed.owner.as_deref(), Some(ANA));
        assert_eq!(claimed.claims, 1);
        let second = decide(&claimed, &FollowUpEvent::Claim { by: BEN });
        assert_eq!(second, Decision::keep(Outcome::HeldBy(ANA.into())));
        let again = decide(&claimed, &FollowUpEvent::Claim { by: ANA });
        assert_eq!(again.next, None, "the claimer's phone is not rung twice");
    }

    #[test]
    fn press_1_then_an_answer_settles_it_done() {
        let (claimed, _) = after(&open(7), FollowUpEvent::Claim { by: ANA });
        let (calling, outcome) = after(&claimed, FollowUpEvent::Connect { claim: 1 });
        assert_eq!(
            (calling.state, outcome),
            (FollowUpState::Calling, Outcome::Connecting)
        );
        let repeat = decide(&calling, &FollowUpEvent::Connect { claim: 1 });
        assert_eq!(repeat, Decision::keep(Outcome::Connecting));
        let (done, outcome) = after(
            &calling,
            FollowUpEvent::Dialed {
                claim: 1,
                reached: true,
            },
        );
        assert_eq!(
            (done.state, outcome),
            (FollowUpState::Done, Outcome::Reached)
        );
        assert_eq!(done.owner.as_deref(), Some(ANA), "done keeps who did it");
    }

    #[test]
    fn an_unreached_customer_or_an_unanswered_ring_opens_it_again() {
        let (claimed, _) = after(&open(7), FollowUpEvent::Claim { by: ANA });
        let (calling, _) = after(&claimed, FollowUpEvent::Connect { claim: 1 });
        let (reopened, outcome) = after(
            &calling,
            FollowUpEvent::Dialed {
                claim: 1,
                reached: false,
            },
        );
        assert_eq!(outcome, Outcome::NotReached);
        assert_eq!(reopened.state, FollowUpState::Open);
        assert_eq!(reopened.owner, None);
        assert_eq!(reopened.failed_calls, 1);

        let (claimed, _) = after(&reopened, FollowUpEvent::Claim { by: BEN });
        assert_eq!(claimed.claims, 2);
        let (missed, outcome) = after(&claimed, FollowUpEvent::ClaimerMissed { claim: 2 });
        assert_eq!(
            (missed.state, outcome),
            (FollowUpState::Open, Outcome::Reopened)
        );
    }

    #[test]
    fn a_late_callback_of_an_earlier_ring_changes_nothing() {
        let (claimed, _) = after(&open(7), FollowUpEvent::Claim { by: ANA });
        let (reopened, _) = after(&claimed, FollowUpEvent::ClaimerMissed { claim: 1 });
        let (reclaimed, _) = after(&reopened, FollowUpEvent::Claim { by: BEN });
        for late in [
            FollowUpEvent::ClaimerMissed { claim: 1 },
            FollowUpEvent::Connect { claim: 1 },
            FollowUpEvent::Dialed {
                claim: 1,
                reached: true,
            },
        ] {
            assert_eq!(
                decide(&reclaimed, &late),
                Decision::keep(Outcome::Stale),
                "{late:?}"
            );
        }
        // A hang-up after the customer was reached is no miss.
        let (calling, _) = after(&reclaimed, FollowUpEvent::Connect { claim: 2 });
        let (done, _) = after(
            &calling,
            FollowUpEvent::Dialed {
                claim: 2,
                reached: true,
            },
        );
        assert_eq!(
            decide(&done, &FollowUpEvent::ClaimerMissed { claim: 2 }).outcome,
            Outcome::Stale
        );
    }

    #[test]
    fn done_by_hand_closes_an_open_one_but_not_someone_else_s() {
        let (closed, outcome) = after(&open(3), FollowUpEvent::Close { by: BEN });
        assert_eq!(
            (closed.state, outcome),
            (FollowUpState::Done, Outcome::Closed)
        );
        assert_eq!(
            decide(&closed, &FollowUpEvent::Claim { by: ANA }).outcome,
            Outcome::AlreadyDone
        );
        let (claimed, _) = after(&open(3), FollowUpEvent::Claim { by: ANA });
        assert_eq!(
            decide(&claimed, &FollowUpEvent::Close { by: BEN }).outcome,
            Outcome::HeldBy(ANA.into())
        );
        assert_eq!(
            after(&claimed, FollowUpEvent::Close { by: ANA }).1,
            Outcome::Closed
        );
    }

    #[test]
    fn commands_parse_with_or_without_the_hash() {
        assert_eq!(
            parse_command(&["claim", "7"]),
            Some(Ok(FollowUpCommand::Claim(7)))
        );
        assert_eq!(
            parse_command(&["claim", "#7"]),
            Some(Ok(FollowUpCommand::Claim(7)))
        );
        assert_eq!(
            parse_command(&["done", "12"]),
            Some(Ok(FollowUpCommand::Done(12)))
        );
        assert_eq!(parse_command(&["missed"]), Some(Ok(FollowUpCommand::List)));
        assert!(matches!(parse_command(&["claim"]), Some(Err(_))));
        assert!(matches!(parse_command(&["claim", "seven"]), Some(Err(_))));
        assert!(matches!(parse_command(&["claim", "0"]), Some(Err(_))));
        assert_eq!(parse_command(&["on", "sales"]), None);
        assert_eq!(parse_command(&["claim", "7", "now"]), None);
    }

    #[test]
    fn announcements_go_to_the_skill_s_on_duty_workers_else_all_of_it_and_to_admins() {
        let sales = vec!["sales".to_string()];
        let service = vec!["service".to_string()];
        let workers = [
            (ANA, sales.as_slice(), true),
            (BEN, sales.as_slice(), false),
            ("+15550000003", service.as_slice(), true),
        ];
        let admins = vec!["+15559990000".to_string(), ANA.to_string()];
        assert_eq!(
            announce_to("sales", &workers, &admins, true, "general"),
            vec![ANA.to_string(), "+15559990000".to_string()],
            "on duty first, admins after, each once"
        );
        assert_eq!(
            announce_to("sales", &workers[1..], &admins, false, "general"),
            vec![BEN.to_string()],
            "nobody on duty: every enrolled worker of the skill"
        );
        assert_eq!(
            announce_to("general", &workers, &admins, false, "general"),
            admins,
            "no skill: the admins, even under ADMIN_NOTIFY=escalations"
        );
    }

    #[test]
    fn texts_fit_one_segment_and_quote_the_caller_on_one_line() {
        let mut f = open(17);
        f.transcript = Some(
            "Hi,\nthis is Dana; the boiler\r\nis leaking again and I need someone today please call back"
                .into(),
        );
        let text = texts::announcement(&f, "14:05");
        assert!(!text.contains('\n') && !text.contains('\r'), "{text}");
        assert!(
            text.contains("\"Hi, this is Dana; the boiler is leaking again and I need...\""),
            "{text}"
        );
        assert_eq!(
            texts::announcement(&open(17), "14:05"),
            "Voicemail #17 (sales) from +15557654321 at 14:05. Reply CLAIM 17 to call them back from the business line. Listen: https://api.twilio.com/RE1",
            "who, what, when, how to act, then where to listen"
        );
        let mut missed = open(17);
        missed.reason = FollowUpReason::Abandoned;
        missed.skill = GENERAL_MAILBOX.into();
        assert_eq!(
            texts::announcement(&missed, "14:05"),
            "Missed call #17 (after hours) from +15557654321 at 14:05. Reply CLAIM 17 to call them back from the business line."
        );
        for text in [
            texts::announcement(&missed, "14:05"),
            texts::which_number(),
            texts::unknown(17),
            texts::claimed(&f),
            texts::missed_ring(17),
            texts::not_reached(&f),
            texts::not_rung(17),
        ] {
            assert!(
                text.chars().count() <= 160,
                "{} chars: {text}",
                text.chars().count()
            );
        }
    }

    #[test]
    fn only_unclaimed_follow_ups_past_the_limit_are_escalated_oldest_first() {
        let at = |number: u32, created_at: i64, state: FollowUpState| FollowUp {
            created_at,
            state,
            call_sid: format!("CA{number}"),
            ..open(number)
        };
        let follow_ups = [
            at(1, 1_000, FollowUpState::Open),
            at(2, 400, FollowUpState::Open),
            at(3, 100, FollowUpState::Claimed),
            at(4, 1_201, FollowUpState::Open),
        ];
        let due: Vec<u32> = due_for_escalation(&follow_ups, 2_800, 1_800)
            .iter()
            .map(|f| f.number)
            .collect();
        assert_eq!(
            due,
            [2, 1],
            "#1 exactly at the limit, #3 has an owner, #4 is young"
        );
        let text = texts::escalation(&follow_ups[1], "9:05", 30);
        assert_eq!(
            text,
            "Nobody has claimed #2 in 30 min: voicemail from +15557654321 at 9:05. Call them back, or ask a worker to text CLAIM 2."
        );
        assert!(text.chars().count() <= 160);
    }

    #[test]
    fn the_list_shows_five_and_counts_the_rest() {
        let open: Vec<(FollowUp, String)> =
            (1..=7).map(|n| (open(n), "9:00".to_string())).collect();
        let text = texts::list(&open, 5);
        assert!(text.contains("#5 ") && !text.contains("#6 "), "{text}");
        assert!(text.contains("+2 more."), "{text}");
        assert_eq!(texts::list(&[], 5), "No open follow-ups.");
    }
}
