//! The keypad PIN. Caller ID is no proof of who is calling (it is easily
//! spoofed), so every keypad action that reveals customer data or dials out
//! asks for the worker's PIN first. The worker sets it by SMS (`pin 4821`):
//! the reply goes to the enrolled number, never to a spoofer.
//!
//! Stored as HMAC-SHA256 under a random per-worker salt, so the table never
//! holds the PIN itself. A 4 to 8 digit PIN is no match for an offline
//! search whatever the hash; what protects it is the lock-out: after
//! [`LOCK_AFTER`] wrong tries the keypad refuses that number's PIN for
//! [`LOCK_SECS`] and the worker is texted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::{PinHash, WorkerProfile};

/// Wrong tries in a row that lock the keypad for the number.
pub const LOCK_AFTER: u32 = 5;
/// How long a lock-out lasts.
pub const LOCK_SECS: i64 = 3600;
/// The shortest and longest PIN.
pub const MIN_DIGITS: usize = 4;
pub const MAX_DIGITS: usize = 8;

const SCHEME: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// A PIN a worker chose: 4 to 8 digits, not one digit repeated nor a
/// straight run (`1111`, `1234`, `9876`), the first guesses of anyone.
/// Its `Debug` hides the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits")]
    Shape,
    #[error("a PIN must not be one digit repeated or a straight run")]
    Guessable,
}

impl Pin {
    pub fn parse(input: &str) -> Result<Self, PinError> {
        let digits = input.trim();
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(PinError::Shape);
        }
        let steps: Vec<i16> = digits
            .as_bytes()
            .windows(2)
            .map(|w| i16::from(w[1]) - i16::from(w[0]))
            .collect();
        let straight = |step: i16| steps.iter().all(|s| *s == step);
        if straight(0) || straight(1) || straight(-1) {
            return Err(PinError::Guessable);
        }
        Ok(Self(digits.to_string()))
    }

    /// The stored form under `salt` (random, from the service).
    pub fn hash(&self, salt: &[u8]) -> PinHash {
        PinHash(format!(
            "{SCHEME}${}${}",
            B64.encode(salt),
            B64.encode(mac(salt, &self.0).finalize().into_bytes())
        ))
    }
}

fn mac(salt: &[u8], digits: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(salt).expect("HMAC accepts keys of any length");
    mac.update(digits.as_bytes());
    mac
}

/// Whether `entered` is the PIN of `stored` (compared in constant time).
/// A stored value this code cannot read matches nothing.
pub fn matches(stored: &PinHash, entered: &str) -> bool {
    let mut parts = stored.0.split('$');
    let (Some(SCHEME), Some(salt), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(tag)) = (B64.decode(salt), B64.decode(tag)) else {
        return false;
    };
    mac(&salt, entered.trim()).verify_slice(&tag).is_ok()
}

/// What the keypad makes of a PIN entered at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The worker has set no PIN: the keypad offers nothing guarded.
    NotSet,
    /// Locked out until then: nothing is compared.
    Locked {
        until: i64,
    },
    Right,
    Wrong,
}

pub fn check(profile: &WorkerProfile, entered: &str, now: i64) -> Check {
    if let Some(until) = profile.pin_locked_until.filter(|until| now < *until) {
        return Check::Locked { until };
    }
    match &profile.pin {
        None => Check::NotSet,
        Some(stored) if matches(stored, entered) => Check::Right,
        Some(_) => Check::Wrong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &[u8] = b"0123456789abcdef";

    #[test]
    fn a_pin_is_four_to_eight_digits_and_not_a_first_guess() {
        for good in ["4821", "48210", "90210478", " 4821 ", "1357", "1123"] {
            assert!(Pin::parse(good).is_ok(), "{good:?} refused");
        }
        for shape in ["482", "482104781", "48a1", "", "48 21", "４８２１"] {
            assert_eq!(Pin::parse(shape), Err(PinError::Shape), "{shape:?}");
        }
        for guessable in ["0000", "1111", "1234", "3456789", "9876", "4321"] {
            assert_eq!(
                Pin::parse(guessable),
                Err(PinError::Guessable),
                "{guessable:?}"
            );
        }
    }

    #[test]
    fn the_stored_form_holds_no_digits_and_matches_only_its_pin() {
        let pin = Pin::parse("4821").unwrap();
        let stored = pin.hash(SALT);
        assert!(!stored.0.contains("4821"), "{}", stored.0);
        assert!(matches(&stored, "4821"));
        assert!(matches(&stored, " 4821"), "as Twilio may pad it");
        assert!(!matches(&stored, "4822"));
        assert!(!matches(&stored, "48210"));
        assert!(!matches(&stored, ""));
        // Another salt, another stored form for the same PIN.
        assert_ne!(pin.hash(b"another salt").0, stored.0);
        assert!(!matches(&PinHash("4821".into()), "4821"), "unreadable");
        assert_eq!(format!("{pin:?} {stored:?}"), "Pin(..) PinHash(..)");
    }

    #[test]
    fn a_locked_number_is_refused_whatever_it_enters_until_the_lock_ends() {
        let mut profile = WorkerProfile::new("+15551230001", "Ana", vec![]);
        assert_eq!(check(&profile, "4821", 1_000), Check::NotSet);
        profile.pin = Some(Pin::parse("4821").unwrap().hash(SALT));
        assert_eq!(check(&profile, "4821", 1_000), Check::Right);
        assert_eq!(check(&profile, "1357", 1_000), Check::Wrong);
        profile.pin_locked_until = Some(1_000 + LOCK_SECS);
        assert_eq!(
            check(&profile, "4821", 1_000),
            Check::Locked {
                until: 1_000 + LOCK_SECS
            }
        );
        assert_eq!(check(&profile, "4821", 1_000 + LOCK_SECS), Check::Right);
    }
}
