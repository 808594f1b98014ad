//! The customer line's decisions: menu, queue results, voicemail wording,
//! the number a waiting caller is called back on. The `inbound` function
//! turns them into TwiML and effects.

use crate::phone::{self, DialOutError};

use crate::domain::report::{self, CallOutcome};
use crate::model::CallRecord;

/// How often the menu is offered before the first skill is taken.
pub const MENU_TRIES: u32 = 2;

/// The voicemail box of a call that never chose a skill (after hours).
pub const GENERAL_MAILBOX: &str = "general";

/// What the caller's menu input leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuStep<'a> {
    /// Queue the caller for this skill.
    Enqueue(&'a str),
    /// Offer the menu again; the next answer is try `next_try`.
    Repeat { next_try: u32 },
}

/// The caller pressed `digits` (nothing, when `None` or empty) on try
/// `try_no` (1 = the first offer). A digit naming a skill queues for it; no or
/// invalid input repeats the menu once, then takes the first skill.
pub fn choose_skill<'a>(skills: &'a [String], digits: Option<&str>, try_no: u32) -> MenuStep<'a> {
    let chosen = digits
        .and_then(|d| d.trim().parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| skills.get(i));
    // Config guarantees a first skill; a choice falls back to it on the last try.
    let fallback = || (try_no >= MENU_TRIES).then(|| skills.first()).flatten();
    match chosen.or_else(fallback) {
        Some(skill) => MenuStep::Enqueue(skill),
        None => MenuStep::Repeat {
            next_try: try_no + 1,
        },
    }
}

/// Where a caller goes once out of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterQueue {
    /// The call was handled (bridged), abandoned, or taken elsewhere: end quietly.
    End,
    /// Nobody took it: offer voicemail.
    Voicemail,
}

/// The Enqueue `action`'s `QueueResult`.
///
/// `redirected` means a REST update (the nobody redirect to voicemail, the
/// only one Homeline makes of a queued call) took the call out of the queue.
/// Twilio requests the action at once, and whether its TwiML or the
/// redirect's then runs the call is not documented (docs/twilio.md,
/// "Enqueue action after redirect"): both offer voicemail, so either way the
/// caller hears it once. `leave` (the wait URL's heartbeat) and unknown
/// results still have a caller waiting for something: voicemail.
pub fn after_queue(queue_result: &str) -> AfterQueue {
    match queue_result {
        "bridged" | "bridging-in-process" | "redirected-from-bridged" | "hangup" => AfterQueue::End,
        _ => AfterQueue::Voicemail,
    }
}

/// Whether a caller who left the queue with `queue_result` after
/// `queue_time` seconds (Twilio's `QueueTime`) hung up on a wait long enough
/// to be owed a call back.
pub fn abandoned(queue_result: &str, queue_time: Option<&str>, abandon_after_secs: u64) -> bool {
    let waited = queue_time.and_then(|t| t.trim().parse::<u64>().ok());
    queue_result == "hangup" && waited.is_some_and(|t| t >= abandon_after_secs)
}

/// Whether the customer call of `record`, ended at `ended_at` (Unix
/// seconds), left a caller owed a call back as abandoned that nothing else
/// caught: queued `abandon_after_secs` or more before the end, never bridged
/// (see [`report::outcome`]), no voicemail, not abandoned yet, and not hung
/// up in the queue (the Enqueue action decided that one with Twilio's own
/// `QueueTime`), and no callback booked (`service::callback` owns that
/// caller's call back, or its follow-up). Such a caller left the queue for
/// voicemail and hung up before or without a message.
pub fn abandoned_at_end(record: &CallRecord, ended_at: i64, abandon_after_secs: u64) -> bool {
    let Some(queued_at) = record.queued_at else {
        return false;
    };
    let waited = u64::try_from(ended_at.saturating_sub(queued_at)).unwrap_or(0);
    report::outcome(record) == CallOutcome::Other
        && record.hung_up_in_queue_at.is_none()
        && record.callback_requested_at.is_none()
        && waited >= abandon_after_secs
}

/// The longest hold-music stretch of one wait document: `HOLD_MUSIC_URL`
/// must be a clip of at most this long (README), so the wait URL is fetched
/// again, its heartbeat, at least this often.
pub const HOLD_STRETCH_SECS: u64 = 25;
/// The stack's own hold clip's length (`GET /inbound/hold-music`): a pause
/// stretch is never longer, so with the default music no stretch, and no
/// heartbeat, is slower than the clip's.
pub const DEFAULT_CLIP_SECS: u32 = 20;
/// Seconds the last offer (at `MAX_WAIT_SECS`) listens before `<Leave/>`.
pub const LAST_OFFER_SECS: u32 = 5;

/// What the wait URL answers on each fetch: the fetch is the heartbeat
/// that repairs a caller nobody will take, and that bounds the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStep {
    /// The position and the way out, then one hold stretch.
    Hold(HoldStretch),
    /// `MAX_WAIT_SECS` is up: the way out once more, then `<Leave/>`.
    LastOffer,
    /// `<Leave/>`: the Enqueue action runs and offers voicemail.
    Leave,
}

/// What the caller hears between two fetches of the wait URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStretch {
    /// One play of the hold music.
    Music,
    /// Silence for these seconds (at most [`DEFAULT_CLIP_SECS`]): a whole
    /// clip would carry the caller past `MAX_WAIT_SECS`, so the last offer
    /// would come a heartbeat late.
    Pause(u32),
}

/// `caller_leaves`: whether the caller's task was sent to the nobody queue
/// or canceled by TaskRouter while they waited (`None`: the store could not
/// say; the next fetch asks again). `queue_time`: Twilio's `QueueTime`, the
/// seconds the caller has waited (unreadable: as if just arrived, the
/// workflow's own timeout still bounds the wait).
pub fn wait_step(
    caller_leaves: Option<bool>,
    queue_time: Option<&str>,
    max_wait_secs: u64,
) -> WaitStep {
    if caller_leaves == Some(true) {
        return WaitStep::Leave;
    }
    let waited = queue_time
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let left = max_wait_secs.saturating_sub(waited);
    if left == 0 {
        WaitStep::LastOffer
    } else if left < HOLD_STRETCH_SECS {
        let secs = u32::try_from(left).unwrap_or(u32::MAX);
        WaitStep::Hold(HoldStretch::Pause(secs.min(DEFAULT_CLIP_SECS)))
    } else {
        WaitStep::Hold(HoldStretch::Music)
    }
}

/// A way out of the queue, offered on every hold stretch by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOption {
    /// Leave the queue and be called back in turn (keep my place).
    Callback,
    /// Leave the queue for voicemail now.
    Voicemail,
}

/// The ways out, in the order they are offered: a new one is one more line.
pub const WAIT_OPTIONS: &[(char, WaitOption)] =
    &[('1', WaitOption::Callback), ('2', WaitOption::Voicemail)];

/// "Press 1 for a callback, 2 for voicemail.": every option in one short
/// sentence, said on every hold stretch, so the wait URL's heartbeat stays
/// near the clip's length (what 1 keeps, the caller's place, is said once
/// they press it).
pub fn wait_offer() -> String {
    let options: Vec<String> = WAIT_OPTIONS
        .iter()
        .map(|(key, option)| match option {
            WaitOption::Callback => format!("{key} for a callback"),
            WaitOption::Voicemail => format!("{key} for voicemail"),
        })
        .collect();
    format!("Press {}.", options.join(", "))
}

/// The option the caller pressed `digits` for while waiting (`None`: not one).
pub fn wait_choice(digits: Option<&str>) -> Option<WaitOption> {
    let digits = digits?.trim();
    WAIT_OPTIONS
        .iter()
        .find(|(key, _)| digits.len() == 1 && digits.starts_with(*key))
        .map(|(_, option)| *option)
}

/// The wait URL's `QueuePosition` (1 first), when readable.
pub fn queue_position(queue_position: Option<&str>) -> Option<u32> {
    queue_position?.trim().parse().ok().filter(|p| *p > 0)
}

/// How often the caller may key a callback number before voicemail.
pub const CALLBACK_NUMBER_TRIES: u32 = 2;

/// The caller's own number (`From`), when the business line may call it
/// back: the same rule as a number keyed on the worker line
/// (`phone::dial_out`), so a withheld, foreign or premium-rate caller ID must
/// key a number instead.
pub fn callback_on_file(from: Option<&str>, business: &str) -> Option<String> {
    let from = from?.trim();
    let digits = from.strip_prefix('+')?;
    phone::dial_out(digits, business)
        .ok()
        .filter(|number| number == from)
}

/// The number to call the caller back on: 1 confirms the one on file,
/// anything else is a keyed number for the business's country
/// (`phone::dial_out`: premium-rate numbers and short codes refused).
pub fn callback_number(
    digits: Option<&str>,
    on_file: Option<&str>,
    business: &str,
) -> Result<String, DialOutError> {
    let digits = digits.unwrap_or_default().trim().trim_end_matches('#');
    match on_file {
        Some(number) if digits == "1" => Ok(number.to_string()),
        _ => phone::dial_out(digits, business),
    }
}

/// The question about the number to call back: the one on file read out
/// digit by digit, or none (it must be keyed).
pub fn callback_question(on_file: Option<&str>) -> String {
    match on_file {
        Some(number) => format!(
            "We will call you back at {}. Press 1 to confirm, or enter another number, then press pound.",
            spoken_number(number)
        ),
        None => "Please enter the number we should call you back on, with its area code, then press pound.".to_string(),
    }
}

/// The goodbye once the callback is booked.
pub fn callback_booked(number: &str) -> String {
    format!(
        "Thank you. We will call you back at {} when it is your turn. Goodbye.",
        spoken_number(number)
    )
}

/// Said before the question once more after a refused number.
pub const CALLBACK_REFUSED: &str = "Sorry, we cannot call that number back. It must be a full number in the United States or Canada, and not a premium-rate one.";

/// A North American number read as area code, exchange and line, digit by
/// digit ("5 5 5, 7 6 5, 4 3 2 1"); anything else digit by digit.
pub fn spoken_number(number: &str) -> String {
    let digits: Vec<String> = number
        .trim_start_matches("+1")
        .chars()
        .map(String::from)
        .collect();
    if digits.len() == 10 {
        format!(
            "{}, {}, {}",
            digits[..3].join(" "),
            digits[3..6].join(" "),
            digits[6..].join(" ")
        )
    } else {
        digits.join(" ")
    }
}

/// "You are caller number 2." from the wait URL's `QueuePosition`.
pub fn position_announcement(queue_position: Option<&str>) -> Option<String> {
    let position = self::queue_position(queue_position)?;
    Some(format!("You are caller number {position}."))
}

/// The apology before the beep, naming who could not answer.
pub fn voicemail_apology(mailbox: &str) -> String {
    if mailbox == GENERAL_MAILBOX {
        "Sorry, we are closed right now. Please leave a message after the tone, and we will call you back.".into()
    } else {
        format!(
            "Sorry, no one from {mailbox} can take your call right now. Please leave a message after the tone, and we will call you back."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Answer;

    /// A call queued for sales at 1000 that left the queue unanswered.
    fn left_the_queue() -> CallRecord {
        CallRecord {
            caller: Some("+15557654321".into()),
            arrived_at: Some(995),
            skill: Some("sales".into()),
            queued_at: Some(1000),
            ..CallRecord::new("CA1")
        }
    }

    #[test]
    fn a_caller_gone_from_voicemail_without_a_message_after_the_wait_is_abandoned() {
        let record = left_the_queue();
        assert!(abandoned_at_end(&record, 1060, 10));
        assert!(abandoned_at_end(&record, 1010, 10), "exactly ABANDON_SECS");
        assert!(!abandoned_at_end(&record, 1009, 10), "a short wait");
    }

    #[test]
    fn every_other_ending_is_left_alone() {
        let never_queued = CallRecord {
            queued_at: None,
            skill: None,
            ..left_the_queue()
        };
        let bridged = CallRecord {
            answers: vec![answer(1030)],
            ..left_the_queue()
        };
        // Taken, then put through by another after the first bridge failed.
        let bridged_second = CallRecord {
            answers: vec![
                answer(1030),
                Answer {
                    reservation_sid: "WR2".into(),
                    ..answer(1045)
                },
            ],
            unbridged: vec!["WR1".into()],
            ..left_the_queue()
        };
        let voicemail = CallRecord {
            voicemail_at: Some(1050),
            ..left_the_queue()
        };
        let abandoned = CallRecord {
            hung_up_in_queue_at: Some(1040),
            abandoned_at: Some(1040),
            ..left_the_queue()
        };
        // The Enqueue action found the wait too short: its call stands.
        let short_in_queue = CallRecord {
            hung_up_in_queue_at: Some(1005),
            ..left_the_queue()
        };
        // Booked a callback, then the goodbye ended the call.
        let callback = CallRecord {
            callback_requested_at: Some(1040),
            callback_number: Some("+15557654321".into()),
            ..left_the_queue()
        };
        for record in [
            never_queued,
            bridged,
            bridged_second,
            voicemail,
            abandoned,
            short_in_queue,
            callback,
        ] {
            assert!(!abandoned_at_end(&record, 1060, 10), "{record:?}");
        }
        // Taken by a worker, but the caller hung up in the queue first: not
        // bridged, and the Enqueue action's verdict is the one that counts.
        let gone_first = CallRecord {
            answers: vec![answer(1025)],
            hung_up_in_queue_at: Some(1030),
            ..left_the_queue()
        };
        assert!(!abandoned_at_end(&gone_first, 1060, 10));
    }

    #[test]
    fn a_caller_whose_only_answer_failed_to_bridge_is_owed_a_call() {
        // A worker pressed 1 as the caller left the queue; the bridge failed
        // and the caller hung up in voicemail without a message.
        let unbridged = CallRecord {
            answers: vec![answer(1030)],
            unbridged: vec!["WR1".into()],
            ..left_the_queue()
        };
        assert!(abandoned_at_end(&unbridged, 1060, 10));
    }

    fn answer(at: i64) -> Answer {
        Answer {
            at,
            phone: "+15550000001".into(),
            reservation_sid: "WR1".into(),
        }
    }

    fn skills(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn menu_digits_map_to_skills() {
        let s = skills(&["sales", "support", "billing"]);
        assert_eq!(choose_skill(&s, Some("1"), 1), MenuStep::Enqueue("sales"));
        assert_eq!(choose_skill(&s, Some("2"), 1), MenuStep::Enqueue("support"));
        assert_eq!(choose_skill(&s, Some("3"), 2), MenuStep::Enqueue("billing"));
    }

    #[test]
    fn no_or_invalid_input_repeats_once_then_takes_the_first_skill() {
        let s = skills(&["sales", "support"]);
        for digits in [None, Some(""), Some("0"), Some("9"), Some("*"), Some("#")] {
            assert_eq!(
                choose_skill(&s, digits, 1),
                MenuStep::Repeat { next_try: 2 },
                "{digits:?}"
            );
            assert_eq!(
                choose_skill(&s, digits, 2),
                MenuStep::Enqueue("sales"),
                "{digits:?}"
            );
        }
    }

    #[test]
    fn queue_results_end_quietly_or_go_to_voicemail() {
        for result in ["bridged", "hangup", "bridging-in-process"] {
            assert_eq!(after_queue(result), AfterQueue::End, "{result}");
        }
        for result in [
            "queue-full",
            "error",
            "system-error",
            "leave",
            "redirected",
            "surprise",
        ] {
            assert_eq!(after_queue(result), AfterQueue::Voicemail, "{result}");
        }
    }

    #[test]
    fn a_hang_up_after_the_abandon_time_is_owed_a_call_back() {
        assert!(abandoned("hangup", Some("10"), 10));
        assert!(abandoned("hangup", Some("95"), 10));
        assert!(!abandoned("hangup", Some("9"), 10), "a short wait");
        assert!(!abandoned("hangup", None, 10), "no queue time");
        assert!(!abandoned("hangup", Some("ten"), 10));
        for result in ["bridged", "leave", "redirected", "queue-full"] {
            assert!(!abandoned(result, Some("60"), 10), "{result}");
        }
    }

    #[test]
    fn the_heartbeat_leaves_only_when_the_store_says_so() {
        let hold = WaitStep::Hold(HoldStretch::Music);
        assert_eq!(wait_step(Some(true), Some("0"), 180), WaitStep::Leave);
        assert_eq!(wait_step(Some(false), Some("0"), 180), hold);
        assert_eq!(
            wait_step(None, Some("0"), 180),
            hold,
            "a store failure holds"
        );
        assert_eq!(
            wait_step(Some(false), None, 180),
            hold,
            "no QueueTime holds"
        );
        assert_eq!(wait_step(Some(false), Some("155"), 180), hold);
        assert_eq!(
            wait_step(Some(false), Some("170"), 180),
            WaitStep::Hold(HoldStretch::Pause(10)),
            "a clip would overrun the budget"
        );
        assert_eq!(
            wait_step(Some(false), Some("157"), 180),
            WaitStep::Hold(HoldStretch::Pause(DEFAULT_CLIP_SECS)),
            "a pause no longer than the default clip"
        );
        assert_eq!(
            wait_step(Some(false), Some("180"), 180),
            WaitStep::LastOffer
        );
        assert_eq!(
            wait_step(Some(false), Some("400"), 180),
            WaitStep::LastOffer
        );
        assert_eq!(wait_step(Some(true), Some("400"), 180), WaitStep::Leave);
    }

    #[test]
    fn one_keeps_the_place_and_two_is_the_way_to_voicemail_while_waiting() {
        assert_eq!(wait_choice(Some("2")), Some(WaitOption::Voicemail));
        assert_eq!(wait_choice(Some("1")), Some(WaitOption::Callback));
        assert_eq!(wait_choice(Some("3")), None);
        assert_eq!(wait_choice(Some("22")), None);
        assert_eq!(wait_choice(Some("")), None);
        assert_eq!(wait_choice(None), None);
        assert_eq!(wait_offer(), "Press 1 for a callback, 2 for voicemail.");
    }

    const BUSINESS: &str = "+15550001111";

    #[test]
    fn the_number_on_file_is_offered_only_when_the_line_may_call_it() {
        let on_file = |from| callback_on_file(from, BUSINESS);
        assert_eq!(
            on_file(Some("+15557654321")).as_deref(),
            Some("+15557654321")
        );
        for withheld in [None, Some(""), Some("anonymous"), Some("+266696687")] {
            assert_eq!(on_file(withheld), None, "{withheld:?}");
        }
        assert_eq!(on_file(Some("+19005551234")), None, "premium rate");
        assert_eq!(on_file(Some("+442079460958")), None, "abroad");
        assert_eq!(on_file(Some("5557654321")), None, "not E.164");
    }

    #[test]
    fn one_confirms_the_number_on_file_and_a_keyed_one_must_be_callable() {
        let on_file = Some("+15557654321");
        let number = |digits, on_file| callback_number(digits, on_file, BUSINESS);
        assert_eq!(number(Some("1"), on_file), Ok("+15557654321".into()));
        assert_eq!(
            number(Some("5552340002#"), on_file),
            Ok("+15552340002".into())
        );
        assert_eq!(number(Some("15552340002"), None), Ok("+15552340002".into()));
        assert_eq!(
            number(Some("1"), None),
            Err(DialOutError::NotAFullNumber),
            "nothing on file to confirm"
        );
        assert_eq!(number(None, on_file), Err(DialOutError::NotAFullNumber));
        assert_eq!(
            number(Some("911"), on_file),
            Err(DialOutError::NotAFullNumber)
        );
        assert_eq!(
            number(Some("9005551234"), on_file),
            Err(DialOutError::PremiumRate)
        );
    }

    #[test]
    fn numbers_are_read_in_groups() {
        assert_eq!(spoken_number("+15557654321"), "5 5 5, 7 6 5, 4 3 2 1");
        assert!(callback_question(Some("+15557654321")).contains("5 5 5, 7 6 5, 4 3 2 1"));
        assert!(callback_question(None).contains("enter the number"));
    }

    #[test]
    fn position_is_announced_only_when_known() {
        assert_eq!(
            position_announcement(Some("2")).as_deref(),
            Some("You are caller number 2.")
        );
        assert_eq!(position_announcement(Some("0")), None);
        assert_eq!(position_announcement(Some("x")), None);
        assert_eq!(position_announcement(None), None);
    }
}
