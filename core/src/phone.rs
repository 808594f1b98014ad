//! Phone numbers in E.164 (`+` and 8 to 15 digits), the form Twilio sends and
//! the key of a worker's profile.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("{0:?} is not a phone number: use E.164, e.g. +15551234567")]
    Invalid(String),
}

/// Normalises a number typed by a person to E.164.
///
/// Spaces, dashes, dots and parentheses are ignored. Without a leading `+`,
/// ten digits (or eleven starting with 1) are taken as a North American number.
pub fn normalize(input: &str) -> Result<String, PhoneError> {
    let invalid = || PhoneError::Invalid(input.to_string());
    let trimmed = input.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(invalid()),
        }
    }
    let digits = match (plus, digits.len()) {
        (true, 8..=15) if !digits.starts_with('0') => digits,
        (false, 10) => format!("1{digits}"),
        (false, 11) if digits.starts_with('1') => digits,
        _ => return Err(invalid()),
    };
    Ok(format!("+{digits}"))
}

/// True for a string already in E.164 form.
pub fn is_e164(s: &str) -> bool {
    normalize(s).is_ok_and(|n| n == s)
}

/// NANP area codes outside the United States and Canada: dialled like a
/// domestic number, billed as international, and the usual targets of
/// call-back fraud (the Caribbean and Bermuda; US territories stay).
const NANP_ABROAD: &[&str] = &[
    "242", "246", "264", "268", "284", "345", "441", "473", "649", "658", "664", "721", "758",
    "767", "784", "809", "829", "849", "868", "869", "876",
];

/// Why keyed digits cannot be dialled out from the business line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialOutError {
    #[error("not a full ten-digit number (short codes and service numbers are refused)")]
    NotAFullNumber,
    #[error("a premium-rate number")]
    PremiumRate,
    #[error("outside the United States and Canada")]
    Abroad,
    #[error("dialling out is offered for North American business numbers only")]
    BusinessOutsideNanp,
}

/// The number a worker keyed on the phone (digits only, `#` already
/// stripped by Twilio) as E.164, if the business line may call it: the
/// business's own country only, so a guessed PIN cannot run up
/// international or premium charges. Offered to North American businesses
/// (`business` starts `+1`): the United States and Canada, ten digits or
/// `1` and ten, area code and exchange not starting 0 or 1, no 900 or 976
/// premium numbers, no N11 service codes.
pub fn dial_out(keyed: &str, business: &str) -> Result<String, DialOutError> {
    if !business.starts_with("+1") {
        return Err(DialOutError::BusinessOutsideNanp);
    }
    let keyed = keyed.trim();
    if keyed.is_empty() || !keyed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DialOutError::NotAFullNumber);
    }
    let national = match keyed.len() {
        10 => keyed,
        11 if keyed.starts_with('1') => &keyed[1..],
        _ => return Err(DialOutError::NotAFullNumber),
    };
    let (area, exchange) = (&national[..3], &national[3..6]);
    let n_first = |code: &str| !code.starts_with(['0', '1']);
    let n11 = |code: &str| &code[1..] == "11";
    if !n_first(area) || !n_first(exchange) || n11(area) || n11(exchange) {
        return Err(DialOutError::NotAFullNumber);
    }
    if area == "900" || exchange == "976" {
        return Err(DialOutError::PremiumRate);
    }
    if NANP_ABROAD.contains(&area) {
        return Err(DialOutError::Abroad);
    }
    Ok(format!("+1{national}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUSINESS: &str = "+15550001111";

    #[test]
    fn dials_out_to_full_us_and_canadian_numbers_only() {
        assert_eq!(dial_out("5557654321", BUSINESS).unwrap(), "+15557654321");
        assert_eq!(dial_out("15557654321", BUSINESS).unwrap(), "+15557654321");
        assert_eq!(
            dial_out("4165550123", BUSINESS).unwrap(),
            "+14165550123",
            "Toronto"
        );
        assert_eq!(
            dial_out("7875550123", BUSINESS).unwrap(),
            "+17875550123",
            "Puerto Rico"
        );
        assert_eq!(
            dial_out("8005550123", BUSINESS).unwrap(),
            "+18005550123",
            "toll-free"
        );
        for short in [
            "",
            "911",
            "411",
            "12345",
            "555123456",
            "25551234567",
            "555123456789",
        ] {
            assert_eq!(
                dial_out(short, BUSINESS),
                Err(DialOutError::NotAFullNumber),
                "{short:?}"
            );
        }
        for bad in [
            "0557654321",
            "5550123456",
            "5551234567",
            "9115557654",
            "5554117654",
            "555*765432",
        ] {
            assert_eq!(
                dial_out(bad, BUSINESS),
                Err(DialOutError::NotAFullNumber),
                "{bad:?}"
            );
        }
        for premium in ["9005551234", "19005551234", "5559761234"] {
            assert_eq!(
                dial_out(premium, BUSINESS),
                Err(DialOutError::PremiumRate),
                "{premium:?}"
            );
        }
        for abroad in ["8765550123", "8095550123", "2425550123", "4415550123"] {
            assert_eq!(
                dial_out(abroad, BUSINESS),
                Err(DialOutError::Abroad),
                "{abroad:?}"
            );
        }
        assert_eq!(
            dial_out("5557654321", "+442079460958"),
            Err(DialOutError::BusinessOutsideNanp)
        );
    }

    #[test]
    fn normalizes_what_people_type() {
        assert_eq!(normalize("+1 (555) 123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize("555.123.4567").unwrap(), "+15551234567");
        assert_eq!(normalize("1 555 123 4567").unwrap(), "+15551234567");
        assert_eq!(normalize(" +44 20 7946 0958 ").unwrap(), "+442079460958");
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for bad in [
            "+1 (555) abc",
            "",
            "+",
            "12345",
            "+0123456789",
            "555-1234",
            "+1234567890123456",
            "tel:+15551234567",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            normalize("+1 (555) abc")
                .unwrap_err()
                .to_string()
                .contains("E.164")
        );
    }

    #[test]
    fn e164_check() {
        assert!(is_e164("+15551234567"));
        assert!(!is_e164("+1 555 123 4567"));
    }
}
