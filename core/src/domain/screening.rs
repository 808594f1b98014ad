//! Spam and blocked callers: whether an inbound call reaches the workers at
//! all, and the admins' blocklist commands by SMS. Pure; the `inbound`
//! function renders the answer, `service::blocklist` keeps the list.

use crate::phone;

/// `ANONYMOUS_CALLERS`: what a call with a withheld caller ID gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousCallers {
    /// Treated like any caller.
    Allow,
    /// Straight to voicemail: no worker's phone rings for a caller nobody
    /// could call back or block.
    Voicemail,
    /// `<Reject>`: Twilio does not answer (nor bill) the call.
    Reject,
}

impl AnonymousCallers {
    pub const DEFAULT: Self = AnonymousCallers::Voicemail;

    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(AnonymousCallers::Allow),
            "voicemail" => Ok(AnonymousCallers::Voicemail),
            "reject" => Ok(AnonymousCallers::Reject),
            other => Err(format!("{other:?} is not one of allow, voicemail, reject")),
        }
    }
}

/// Whether Twilio's `From` is a withheld caller ID rather than a number
/// (docs/twilio.md, "Screening callers"): the words carriers and Twilio
/// use, `+266696687` (ANONYMOUS on a keypad, which Twilio sends for some
/// withheld calls), or nothing at all.
pub fn is_withheld(from: Option<&str>) -> bool {
    const WITHHELD: &[&str] = &[
        "anonymous",
        "restricted",
        "unknown",
        "unavailable",
        "private",
        "blocked",
        "+266696687",
        "266696687",
    ];
    let from = from.unwrap_or_default().trim();
    from.is_empty() || WITHHELD.contains(&from.to_ascii_lowercase().as_str())
}

/// Whether Twilio's `StirVerstat` says the caller ID's SHAKEN/STIR
/// signature failed verification (`TN-Validation-Failed`, with or without
/// the attestation suffix `-A`/`-B`/`-C`). Passed, `No-TN-Validation` and an
/// absent value (no PASSporT, non-US calls) are not failures
/// (docs/twilio.md, "Screening callers").
pub fn verification_failed(stir_verstat: Option<&str>) -> bool {
    stir_verstat.is_some_and(|v| {
        v.trim()
            .to_ascii_lowercase()
            .starts_with("tn-validation-failed")
    })
}

/// Why a call is kept from the workers and sent to voicemail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suspect {
    /// The caller ID is withheld (and `ANONYMOUS_CALLERS=voicemail`).
    Anonymous,
    /// The caller ID failed SHAKEN/STIR verification: likely spoofed.
    Spoofed,
}

/// The apology before the beep for a caller kept from the workers: it
/// asks for a number, since a withheld one cannot be called back.
pub fn voicemail_apology() -> String {
    "Sorry, no one can take your call right now. Please leave a message with your name and number after the tone.".to_string()
}

/// What an inbound call gets before the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The usual greeting, menu and queue.
    Admit,
    /// Voicemail, never a worker's phone.
    Voicemail(Suspect),
    /// `<Reject>`: a blocked number, or a withheld one under `reject`.
    Reject,
}

/// The screen for a call from `from` (Twilio's `From`) with `StirVerstat`
/// `stir_verstat`; `blocked`: the number is on the blocklist. A blocked
/// number is rejected whatever else holds; a failed verification goes to
/// voicemail even when anonymous callers are allowed.
pub fn screen(
    from: Option<&str>,
    stir_verstat: Option<&str>,
    anonymous: AnonymousCallers,
    blocked: bool,
) -> Screen {
    if blocked {
        return Screen::Reject;
    }
    if is_withheld(from) {
        match anonymous {
            AnonymousCallers::Reject => return Screen::Reject,
            AnonymousCallers::Voicemail => return Screen::Voicemail(Suspect::Anonymous),
            AnonymousCallers::Allow => {}
        }
    }
    if verification_failed(stir_verstat) {
        return Screen::Voicemail(Suspect::Spoofed);
    }
    Screen::Admit
}

/// An admin's blocklist command by SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockCommand {
    /// `block +15551234567`.
    Block(String),
    /// `unblock +15551234567`.
    Unblock(String),
    /// `blocked`: the list.
    List,
    /// `block` or `unblock` without a number Homeline can read.
    Unclear,
}

/// The blocklist command in an SMS's lower-cased words (`None`: not one).
/// The number may be typed with spaces or dashes (`block +1 555 123 4567`).
pub fn parse_command(words: &[&str]) -> Option<BlockCommand> {
    let (command, rest) = words.split_first()?;
    let number = || phone::normalize(&rest.concat()).ok();
    Some(match *command {
        "blocked" if rest.is_empty() => BlockCommand::List,
        "block" => number().map_or(BlockCommand::Unclear, BlockCommand::Block),
        "unblock" => number().map_or(BlockCommand::Unclear, BlockCommand::Unblock),
        _ => return None,
    })
}

/// What a blocklist command from one sender does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockPlan {
    Block(String),
    Unblock(String),
    List,
    /// Answer with this and change nothing.
    Reply(String),
}

/// Only `ADMIN_NUMBERS` change or read the list; an enrolled worker who is
/// not an admin is told so (a stranger never gets this far: they get the
/// roster's refusal).
pub fn decide(command: &BlockCommand, is_admin: bool) -> BlockPlan {
    if !is_admin {
        return BlockPlan::Reply(texts::admins_only());
    }
    match command {
        BlockCommand::Block(number) => BlockPlan::Block(number.clone()),
        BlockCommand::Unblock(number) => BlockPlan::Unblock(number.clone()),
        BlockCommand::List => BlockPlan::List,
        BlockCommand::Unclear => BlockPlan::Reply(texts::example()),
    }
}

/// The SMS replies of the blocklist, each one short segment.
pub mod texts {
    pub fn admins_only() -> String {
        "Only an admin can block or unblock numbers, so nothing was changed.".to_string()
    }

    pub fn example() -> String {
        "Text BLOCK or UNBLOCK and a number, e.g. BLOCK +15551234567.".to_string()
    }

    /// `newly`: the number was not blocked before.
    pub fn blocked(number: &str, newly: bool) -> String {
        if newly {
            format!("Blocked {number}: its calls are rejected. UNBLOCK {number} to undo.")
        } else {
            format!("{number} was already blocked.")
        }
    }

    /// `was`: the number was blocked before.
    pub fn unblocked(number: &str, was: bool) -> String {
        if was {
            format!("Unblocked {number}: its calls ring through again.")
        } else {
            format!("{number} was not blocked.")
        }
    }

    /// The list, as many numbers as fit one segment, with how many are left out.
    pub fn list(numbers: &[String]) -> String {
        if numbers.is_empty() {
            return "No numbers are blocked. Text BLOCK and a number to add one.".to_string();
        }
        let mut text = String::from("Blocked:");
        for (i, number) in numbers.iter().enumerate() {
            let more = numbers.len() - i;
            // Room for this number and, if others follow, " and 99 more".
            let tail = if more > 1 { 13 } else { 0 };
            if text.len() + 1 + number.len() + tail > crate::domain::intake::replies::SEGMENT {
                return format!("{text} and {more} more");
            }
            text.push(' ');
            text.push_str(number);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_callers_parse_with_a_clear_error() {
        assert_eq!(
            AnonymousCallers::parse("allow"),
            Ok(AnonymousCallers::Allow)
        );
        assert_eq!(
            AnonymousCallers::parse(" Voicemail "),
            Ok(AnonymousCallers::Voicemail)
        );
        assert_eq!(
            AnonymousCallers::parse("REJECT"),
            Ok(AnonymousCallers::Reject)
        );
        let error = AnonymousCallers::parse("block").unwrap_err();
        assert!(error.contains("allow, voicemail, reject"), "{error}");
    }

    #[test]
    fn withheld_caller_ids_are_recognised_and_numbers_are_not() {
        for from in [
            None,
            Some(""),
            Some("anonymous"),
            Some("Anonymous"),
            Some("+266696687"),
            Some("restricted"),
            Some("unknown"),
            Some("Private"),
        ] {
            assert!(is_withheld(from), "{from:?}");
        }
        for from in [Some("+15551234567"), Some("+442079460958")] {
            assert!(!is_withheld(from), "{from:?}");
        }
    }

    #[test]
    fn only_a_failed_verification_is_a_failure() {
        for failed in [
            "TN-Validation-Failed",
            "TN-Validation-Failed-A",
            "TN-Validation-Failed-B",
            "TN-Validation-Failed-C",
        ] {
            assert!(verification_failed(Some(failed)), "{failed}");
        }
        for other in [
            "TN-Validation-Passed-A",
            "TN-Validation-Passed-B",
            "TN-Validation-Passed-C",
            "No-TN-Validation",
            "",
        ] {
            assert!(!verification_failed(Some(other)), "{other}");
        }
        assert!(!verification_failed(None));
    }

    #[test]
    fn the_screen_rejects_blocked_numbers_and_keeps_suspects_from_workers() {
        use AnonymousCallers::*;
        let number = Some("+15557770001");
        let anon = Some("anonymous");
        let failed = Some("TN-Validation-Failed-B");
        let passed = Some("TN-Validation-Passed-A");
        assert_eq!(screen(number, passed, Voicemail, false), Screen::Admit);
        assert_eq!(screen(number, None, Reject, false), Screen::Admit);
        for setting in [Allow, Voicemail, Reject] {
            assert_eq!(screen(number, passed, setting, true), Screen::Reject);
        }
        assert_eq!(screen(anon, None, Allow, false), Screen::Admit);
        assert_eq!(
            screen(anon, None, Voicemail, false),
            Screen::Voicemail(Suspect::Anonymous)
        );
        assert_eq!(screen(anon, None, Reject, false), Screen::Reject);
        assert_eq!(
            screen(number, failed, Allow, false),
            Screen::Voicemail(Suspect::Spoofed)
        );
        assert_eq!(
            screen(anon, failed, Allow, false),
            Screen::Voicemail(Suspect::Spoofed)
        );
    }

    #[test]
    fn blocklist_commands_parse_numbers_as_people_type_them() {
        let parse = |text: &str| {
            let words: Vec<&str> = text.split_whitespace().collect();
            parse_command(&words)
        };
        assert_eq!(
            parse("block +15551234567"),
            Some(BlockCommand::Block("+15551234567".into()))
        );
        assert_eq!(
            parse("block +1 555 123-4567"),
            Some(BlockCommand::Block("+15551234567".into()))
        );
        assert_eq!(
            parse("unblock +15551234567"),
            Some(BlockCommand::Unblock("+15551234567".into()))
        );
        assert_eq!(parse("blocked"), Some(BlockCommand::List));
        for unclear in ["block", "block 555", "unblock bob", "block +0123456789"] {
            assert_eq!(parse(unclear), Some(BlockCommand::Unclear), "{unclear}");
        }
        assert_eq!(parse("on sales"), None);
        assert_eq!(parse("blocked everyone"), None);
    }

    #[test]
    fn only_admins_change_the_list() {
        let block = BlockCommand::Block("+15551234567".into());
        assert_eq!(
            decide(&block, true),
            BlockPlan::Block("+15551234567".into())
        );
        assert_eq!(
            decide(&block, false),
            BlockPlan::Reply(texts::admins_only())
        );
        assert_eq!(
            decide(&BlockCommand::List, false),
            BlockPlan::Reply(texts::admins_only())
        );
        assert_eq!(
            decide(&BlockCommand::Unclear, true),
            BlockPlan::Reply(texts::example())
        );
    }

    #[test]
    fn the_list_fits_one_segment() {
        assert!(texts::list(&[]).starts_with("No numbers"));
        let numbers: Vec<String> = (0..30).map(|n| format!("+1555000{n:04}")).collect();
        let text = texts::list(&numbers);
        assert!(text.len() <= 160, "{text}");
        assert!(text.ends_with("more"), "{text}");
        assert_eq!(
            texts::list(&numbers[..2]),
            "Blocked: +15550000000 +15550000001"
        );
        for text in [texts::admins_only(), texts::example()] {
            assert!(text.len() <= 160);
        }
    }
}
