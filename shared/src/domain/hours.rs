//! Business hours: a weekly schedule in a time zone.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    spec: String,
}

impl BusinessHours {
    /// Parses a schedule such as `mon-fri 09:00-17:00; sat 10:00-14:00` in an
    /// IANA time zone such as `America/New_York`.
    pub fn parse(spec: &str, time_zone: &str) -> Result<Self, String> {
        let _ = (spec, time_zone);
        Err("business hours are not supported yet".into())
    }
}
