//! Business hours: a weekly schedule in a time zone.
//!
//! `BUSINESS_HOURS` lists day groups with opening times, separated by `;`:
//! `mon-fri 09:00-17:00; sat 10:00-14:00`. Days are `mon`..`sun`, as a range
//! (`fri-mon` wraps over the weekend) or a comma list (`mon,wed`); several
//! windows per group are comma separated (`09:00-12:00,13:00-17:00`).
//! `24:00` closes at midnight; a window ending before it starts runs past
//! midnight into the next day (`fri 22:00-02:00`). Local times follow the
//! IANA `TIME_ZONE`, daylight saving included.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

const MINUTES_PER_DAY: u32 = 24 * 60;

/// One opening window: a weekday and minutes after local midnight, `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    day: Weekday,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    zone: Tz,
    windows: Vec<Window>,
}

impl BusinessHours {
    /// Parses a schedule such as `mon-fri 09:00-17:00; sat 10:00-14:00` in an
    /// IANA time zone such as `America/New_York`.
    pub fn parse(spec: &str, time_zone: &str) -> Result<Self, String> {
        let zone: Tz = time_zone
            .trim()
            .parse()
            .map_err(|_| format!("{time_zone:?} is not an IANA time zone (TIME_ZONE)"))?;
        let mut windows = Vec::new();
        for group in spec.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            let (days, times) = group.split_once(char::is_whitespace).ok_or_else(|| {
                format!("{group:?} needs days and times, e.g. mon-fri 09:00-17:00")
            })?;
            let days = parse_days(days)?;
            for range in times.split(',').map(str::trim) {
                let (start, end) = parse_range(range)?;
                for &day in &days {
                    if start < end {
                        windows.push(Window { day, start, end });
                    } else {
                        // Past midnight: the rest of this day and the start of the next.
                        windows.push(Window {
                            day,
                            start,
                            end: MINUTES_PER_DAY,
                        });
                        if end > 0 {
                            windows.push(Window {
                                day: day.succ(),
                                start: 0,
                                end,
                            });
                        }
                    }
                }
            }
        }
        if windows.is_empty() {
            return Err("no opening times given, e.g. mon-fri 09:00-17:00".into());
        }
        Ok(Self { zone, windows })
    }

    /// True when `at` falls inside an opening window, in the schedule's zone.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = self.zone.from_utc_datetime(&at.naive_utc());
        let day = local.weekday();
        let minute = local.hour() * 60 + local.minute();
        self.windows
            .iter()
            .any(|w| w.day == day && w.start <= minute && minute < w.end)
    }

    /// When the business closes on `day` (minutes after local midnight, at
    /// most 1440): the end of its last window; `None` when it does not open.
    pub fn closing(&self, day: Weekday) -> Option<u32> {
        self.windows
            .iter()
            .filter(|w| w.day == day)
            .map(|w| w.end)
            .max()
    }
}

/// A time of day `HH:MM` (00:00 to 23:59) as minutes after midnight.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    match parse_time(s) {
        Ok(minute) if minute < MINUTES_PER_DAY => Ok(minute),
        _ => Err(format!(
            "{s:?} is not a time of day like 18:30 (00:00 to 23:59)"
        )),
    }
}

fn parse_day(s: &str) -> Result<Weekday, String> {
    let day = match s.trim().to_ascii_lowercase().get(..3) {
        Some("mon") => Weekday::Mon,
        Some("tue") => Weekday::Tue,
        Some("wed") => Weekday::Wed,
        Some("thu") => Weekday::Thu,
        Some("fri") => Weekday::Fri,
        Some("sat") => Weekday::Sat,
        Some("sun") => Weekday::Sun,
        _ => return Err(format!("{s:?} is not a day (mon, tue, ... sun)")),
    };
    Ok(day)
}

fn parse_days(s: &str) -> Result<Vec<Weekday>, String> {
    let mut days = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (mut day, last) = (parse_day(from)?, parse_day(to)?);
                days.push(day);
                while day != last {
                    day = day.succ();
                    days.push(day);
                }
            }
            None => days.push(parse_day(part)?),
        }
    }
    Ok(days)
}

/// `HH:MM-HH:MM` as minutes after midnight.
fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let (start, end) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?} is not a time range like 09:00-17:00"))?;
    let (start, end) = (parse_time(start)?, parse_time(end)?);
    if start == MINUTES_PER_DAY {
        return Err(format!("{s:?} cannot open at 24:00"));
    }
    if start == end {
        return Err(format!("{s:?} opens and closes at the same time"));
    }
    Ok((start, end))
}

fn parse_time(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a time like 09:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) => Ok(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamp")
            .with_timezone(&Utc)
    }

    #[test]
    fn closing_is_the_end_of_the_day_s_last_window() {
        let hours = BusinessHours::parse("mon-fri 09:00-12:00,13:00-17:30; sat 22:00-02:00", "UTC")
            .expect("valid");
        assert_eq!(hours.closing(Weekday::Wed), Some(17 * 60 + 30));
        assert_eq!(hours.closing(Weekday::Sat), Some(MINUTES_PER_DAY));
        assert_eq!(hours.closing(Weekday::Sun), Some(2 * 60), "the night's end");
        assert_eq!(hours.closing(Weekday::Thu), Some(17 * 60 + 30));
        let weekdays = BusinessHours::parse("mon-fri 09:00-17:00", "UTC").expect("valid");
        assert_eq!(weekdays.closing(Weekday::Sun), None);
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("18:30"), Ok(18 * 60 + 30));
        assert_eq!(parse_time_of_day(" 00:00 "), Ok(0));
        for bad in ["24:00", "25:00", "18:60", "6pm", "", "18"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekday_window_in_a_time_zone() {
        let hours =
            BusinessHours::parse("mon-fri 09:00-17:00; sat 10:00-14:00", "America/New_York")
                .expect("valid");
        // Wednesday 2026-11-25, New York is UTC-5 in November.
        assert!(!hours.is_open(utc("2026-11-25T13:59:00Z")), "08:59 local");
        assert!(hours.is_open(utc("2026-11-25T14:00:00Z")), "09:00 local");
        assert!(hours.is_open(utc("2026-11-25T21:59:00Z")), "16:59 local");
        assert!(!hours.is_open(utc("2026-11-25T22:00:00Z")), "17:00 local");
        // Saturday 11:00 local open, Sunday closed.
        assert!(hours.is_open(utc("2026-11-28T16:00:00Z")));
        assert!(!hours.is_open(utc("2026-11-29T16:00:00Z")));
        // Summer time: 09:30 EDT is 13:30 UTC.
        assert!(hours.is_open(utc("2026-07-01T13:30:00Z")));
    }

    #[test]
    fn day_lists_wrapping_ranges_and_split_windows() {
        let hours =
            BusinessHours::parse("sat-mon,wed 09:00-12:00,13:00-24:00", "UTC").expect("valid");
        assert!(hours.is_open(utc("2026-11-29T09:00:00Z")), "sunday");
        assert!(
            hours.is_open(utc("2026-11-30T23:59:00Z")),
            "monday to midnight"
        );
        assert!(!hours.is_open(utc("2026-11-30T12:30:00Z")), "lunch break");
        assert!(!hours.is_open(utc("2026-12-01T10:00:00Z")), "tuesday");
        assert!(hours.is_open(utc("2026-11-25T10:00:00Z")), "wednesday");
    }

    #[test]
    fn window_past_midnight_spills_into_the_next_day() {
        let hours = BusinessHours::parse("fri 22:00-02:00", "UTC").expect("valid");
        assert!(hours.is_open(utc("2026-11-27T23:00:00Z")), "friday night");
        assert!(
            hours.is_open(utc("2026-11-28T01:59:00Z")),
            "saturday small hours"
        );
        assert!(!hours.is_open(utc("2026-11-28T02:00:00Z")));
        assert!(!hours.is_open(utc("2026-11-27T21:00:00Z")));
    }

    #[test]
    fn bad_specs_are_explained() {
        for (spec, zone, needle) in [
            ("mon-fri 09:00-17:00", "Mars/Olympus", "time zone"),
            ("mon-fri", "UTC", "needs days and times"),
            ("funday 09:00-17:00", "UTC", "not a day"),
            ("mon 9-17", "UTC", "not a time"),
            ("mon 09:00-09:00", "UTC", "same time"),
            ("mon 25:00-26:00", "UTC", "not a time"),
            ("  ;  ", "UTC", "no opening times"),
        ] {
            let err = BusinessHours::parse(spec, zone).expect_err(spec);
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
