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

#[cfg(test)]
mod tests {
    use super::*;

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
