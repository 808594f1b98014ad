//! Scripted people and phones: how a worker's phone answers an outbound
//! call, and how a customer behaves on the business line.

use crate::Ms;

/// What one outbound call finds at the worker's end.
#[derive(Debug, Clone, PartialEq)]
pub enum Phone {
    /// A person picks up after `answer_after`; AMD hears `verdict` after
    /// `amd_after`; the person presses 1 `press_after` into a key prompt
    /// (never when `None`).
    Person {
        answer_after: Ms,
        verdict: &'static str,
        amd_after: Ms,
        press_after: Option<Ms>,
    },
    /// The carrier's voicemail picks up after `answer_after`.
    Voicemail {
        answer_after: Ms,
    },
    /// A call-screening assistant (Pixel Call Screen) answers; AMD calls it a machine.
    Screener {
        answer_after: Ms,
    },
    Busy,
    /// Rings until the call's `Timeout`.
    NoAnswer,
    /// The carrier cannot reach the phone (`failed`).
    Unreachable,
}

impl Phone {
    /// A person who answers in 3 s, says "hello" (AMD: human in 1.5 s) and presses 1 when asked.
    pub fn fast_human() -> Self {
        Phone::Person {
            answer_after: 3_000,
            verdict: "human",
            amd_after: 1_500,
            press_after: Some(2_000),
        }
    }

    /// A person who answers after 12 s and waits silently for something to happen
    /// (AMD needs 2 s; never presses a key).
    pub fn slow_human() -> Self {
        Phone::Person {
            answer_after: 12_000,
            verdict: "human",
            amd_after: 2_000,
            press_after: None,
        }
    }

    /// A customer who picks up a call back after 5 s.
    pub fn answers_call_back() -> Self {
        Phone::Person {
            answer_after: 5_000,
            verdict: "human",
            amd_after: 1_500,
            press_after: None,
        }
    }

    pub fn voicemail() -> Self {
        Phone::Voicemail {
            answer_after: 15_000,
        }
    }

    pub fn screener() -> Self {
        Phone::Screener {
            answer_after: 2_000,
        }
    }

    /// The label of the outcome table.
    pub fn kind(&self) -> &'static str {
        match self {
            Phone::Person {
                press_after: Some(_),
                answer_after,
                ..
            } if *answer_after < 8_000 => "fast human",
            Phone::Person { .. } => "slow human",
            Phone::Voicemail { .. } => "voicemail",
            Phone::Screener { .. } => "screening assistant",
            Phone::Busy => "busy",
            Phone::NoAnswer => "no answer",
            Phone::Unreachable => "unreachable",
        }
    }

    /// Whether a bridge to this phone connects the caller to a machine.
    pub fn is_machine(&self) -> bool {
        matches!(self, Phone::Voicemail { .. } | Phone::Screener { .. })
    }

    /// AMD's verdict and how long after the answer it is known.
    pub fn amd(&self) -> (&'static str, Ms) {
        match self {
            Phone::Person {
                verdict, amd_after, ..
            } => (verdict, *amd_after),
            Phone::Voicemail { .. } => ("machine_start", 3_500),
            Phone::Screener { .. } => ("machine_start", 3_000),
            _ => ("unknown", 0),
        }
    }

    /// When a key prompt starts, the digit this phone sends and when (relative to the prompt).
    pub fn press(&self) -> Option<Ms> {
        match self {
            Phone::Person { press_after, .. } => *press_after,
            _ => None,
        }
    }
}

/// How a worker's phone behaves across calls: weighted phone outcomes.
#[derive(Debug, Clone)]
pub struct PhoneProfile(pub Vec<(u32, Phone)>);

impl PhoneProfile {
    pub fn always(phone: Phone) -> Self {
        Self(vec![(1, phone)])
    }

    pub fn sample(&self, rng: &mut fastrand::Rng) -> Phone {
        let total: u32 = self.0.iter().map(|(w, _)| w).sum();
        let mut pick = rng.u32(0..total.max(1));
        for (w, phone) in &self.0 {
            if pick < *w {
                return phone.clone();
            }
            pick -= w;
        }
        Phone::NoAnswer
    }
}

/// A worker: enrolled phone, skills, phone behaviour, and whether they text
/// `on` again after being told they missed a call.
#[derive(Debug, Clone)]
pub struct WorkerScript {
    pub phone: String,
    pub name: String,
    pub skills: Vec<String>,
    pub profile: PhoneProfile,
    pub rejoin_after: Option<Ms>,
    /// Whether they act on a text asking them to `CLAIM 7`.
    pub claims: Option<Claims>,
}

/// A worker texted "... CLAIM 7 ..." texts `claim 7` with this chance, a
/// delay in `after` later.
#[derive(Debug, Clone)]
pub struct Claims {
    pub chance: f64,
    pub after: std::ops::RangeInclusive<Ms>,
}

impl Claims {
    /// The follow-up number a text asks to claim ("Reply CLAIM 7 ...").
    pub fn asked(text: &str) -> Option<u32> {
        let (_, rest) = text.split_once("CLAIM ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }
}

/// A customer calling the business line.
#[derive(Debug, Clone)]
pub struct Caller {
    pub from: String,
    pub arrive: Ms,
    /// The menu key pressed (after hearing the prompt); `None` presses nothing.
    pub digit: Option<char>,
    /// Hangs up if not connected to anyone this long after calling.
    pub patience: Ms,
    /// Talks this long once bridged.
    pub talk: Ms,
    /// Length of the voicemail message left when offered.
    pub message: Ms,
    /// Twilio's `StirVerstat` for the call (US calls with a SHAKEN PASSporT).
    pub stir_verstat: Option<String>,
    /// How their phone answers when the business calls them back.
    pub call_back: PhoneProfile,
    /// The key pressed while waiting in the queue, at the first offer once
    /// they have waited this long; `None` waits without a key.
    pub wait_key: Option<(char, Ms)>,
}

impl Caller {
    pub fn new(from: &str, arrive: Ms, digit: Option<char>) -> Self {
        Self {
            from: from.to_string(),
            arrive,
            digit,
            patience: 600_000,
            talk: 60_000,
            message: 20_000,
            stir_verstat: None,
            call_back: PhoneProfile::always(Phone::answers_call_back()),
            wait_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_amd() {
        assert_eq!(Phone::fast_human().kind(), "fast human");
        assert_eq!(Phone::slow_human().kind(), "slow human");
        assert_eq!(Phone::voicemail().amd().0, "machine_start");
        assert!(Phone::screener().is_machine());
        assert!(!Phone::fast_human().is_machine());
    }

    #[test]
    fn the_number_a_text_asks_to_claim() {
        assert_eq!(
            Claims::asked(
                "Voicemail #7 (sales) from +1555 at 14:05. Reply CLAIM 7 to call them back"
            ),
            Some(7)
        );
        assert_eq!(Claims::asked("Open: #3, #4. Reply CLAIM N."), None);
        assert_eq!(Claims::asked("You are on duty"), None);
    }

    #[test]
    fn profile_sampling_respects_weights() {
        let profile = PhoneProfile(vec![
            (3, Phone::Busy),
            (1, Phone::NoAnswer),
            (0, Phone::Unreachable),
        ]);
        let mut rng = fastrand::Rng::with_seed(7);
        let busy = (0..1000)
            .filter(|_| profile.sample(&mut rng) == Phone::Busy)
            .count();
        assert!((650..850).contains(&busy), "{busy}");
    }
}
