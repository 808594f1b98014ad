//! Twilio's own handling of carrier keywords on a long code, as the stand-in
//! plays it (docs/twilio.md, "Carrier keywords"): Twilio answers the keyword
//! itself, passes the message on (without `OptOutType`: a plain number has no
//! Advanced Opt-Out), and after an opt-out refuses every SMS to the sender
//! with 21610 until they opt in again. The word lists are Twilio's, written
//! here apart from the product's, so the stand-in cannot share its mistakes.

/// What a keyword does at Twilio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// The keyword a message is, if it is one: the whole body, any case,
/// surrounding blanks and punctuation ignored.
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation())
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => {
            Some(Keyword::OptOut)
        }
        "START" | "YES" | "UNSTOP" => Some(Keyword::OptIn),
        "HELP" | "INFO" => Some(Keyword::Help),
        _ => None,
    }
}

/// Twilio's own reply to `keyword` (the default texts, abridged).
pub fn reply(keyword: Keyword) -> &'static str {
    match keyword {
        Keyword::OptOut => {
            "You have successfully been unsubscribed. You will not receive any more messages \
             from this number. Reply START to resubscribe."
        }
        Keyword::OptIn => {
            "You have successfully been re-subscribed to messages from this number. \
             Reply HELP for help. Reply STOP to unsubscribe."
        }
        Keyword::Help => "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_alone_in_any_case() {
        assert_eq!(keyword(" stop. "), Some(Keyword::OptOut));
        assert_eq!(keyword("Unstop"), Some(Keyword::OptIn));
        assert_eq!(keyword("INFO"), Some(Keyword::Help));
        assert_eq!(keyword("stop please"), None);
        assert_eq!(keyword("on sales"), None);
    }
}
