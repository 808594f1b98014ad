//! Business hours: a weekly schedule in a time zone.
//!
//! `BUSINESS_HOURS` lists day groups with opening times, separated by `;`:
//! `mon-fri 09:00-17:00; sat 10:00-14:00`. Days are `mon`..`sun`, as a range
//! (`fri-mon` wraps over the weekend) or a comma list (`mon,wed`); several
//! windows per group are comma separated (`09:00-12:00,13:00-17:00`).
//! `24:00` closes at midnight; a window ending before it starts runs past
//! midnight into the next day (`fri 22:00-02:00`). Local times follow the
//! IANA `TIME_ZONE`, daylight saving included.
//!
//! Also the times of day workers text (`on sales until 5pm`, [`ClockTime`])
//! and when they fall next ([`Clock`]).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};

use super::zone::Zone;

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
    zone: Zone,
    windows: Vec<Window>,
}

impl BusinessHours {
    /// Parses a schedule such as `mon-fri 09:00-17:00; sat 10:00-14:00` in an
    /// IANA time zone such as `America/New_York`.
    pub fn parse(spec: &str, time_zone: &str) -> Result<Self, String> {
        let zone: Zone = time_zone
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

    /// The local day (`YYYY-MM-DD`) whose closing time passed at most
    /// `grace_secs` before `now`: the end of that day's last window, when
    /// the line is closed from then on (a window that runs on past midnight
    /// is no closing). `None` at any other time.
    pub fn just_closed(&self, now: i64, grace_secs: i64) -> Option<String> {
        let today = Clock::new(self.zone, now).local_date();
        [today, today.pred_opt()?].into_iter().find_map(|day| {
            let close = self.closing(day.weekday())?;
            let at = local_instant(self.zone, day, close);
            let closed = !self.is_open_at(at);
            (closed && at <= now && now < at.saturating_add(grace_secs))
                .then(|| day.format("%Y-%m-%d").to_string())
        })
    }

    /// [`BusinessHours::is_open`] at `now` (Unix seconds).
    pub fn is_open_at(&self, now: i64) -> bool {
        self.is_open(DateTime::from_timestamp(now, 0).unwrap_or_default())
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

/// A time of day a worker texts (`until 5pm`), as minutes after local
/// midnight. Read: `5pm`, `5:30pm`, `5.30pm`, `5 pm`, `5 p.m.`, `11am`,
/// `17:00`, `17.30`, `noon`, `midnight`; `12am` is midnight, `12pm` noon.
/// Not read: a bare hour (`5`, `17`), whose morning or evening would be a
/// guess, and anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockTime(u32);

impl ClockTime {
    pub fn parse(s: &str) -> Option<Self> {
        let s: String = s
            .to_ascii_lowercase()
            .replace("a.m", "am")
            .replace("p.m", "pm")
            .split_whitespace()
            .collect();
        let s = s.trim_end_matches('.');
        match s {
            "noon" => return Some(Self(12 * 60)),
            "midnight" => return Some(Self(0)),
            _ => {}
        }
        let (clock, pm) = match (s.strip_suffix("am"), s.strip_suffix("pm")) {
            (Some(clock), _) => (clock, Some(false)),
            (_, Some(clock)) => (clock, Some(true)),
            _ => (s, None),
        };
        let (hour, minute) = match clock.split_once([':', '.']) {
            Some((hour, minute)) if minute.len() == 2 => (hour, number(minute)?),
            Some(_) => return None,
            // A bare hour only with am or pm.
            None if pm.is_some() => (clock, 0),
            None => return None,
        };
        let hour = number(hour).filter(|_| hour.len() <= 2)?;
        let hour = match pm {
            Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
            None if hour < 24 => hour,
            _ => return None,
        };
        (minute < 60).then_some(Self(hour * 60 + minute))
    }

    /// Minutes after local midnight.
    pub fn minute(self) -> u32 {
        self.0
    }
}

/// Digits only (no sign, no spaces), as a number.
fn number(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A moment (Unix seconds) in the business's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub zone: Zone,
    pub now: i64,
}

impl Clock {
    pub fn new(zone: Zone, now: i64) -> Self {
        Self { zone, now }
    }

    fn local(&self, at: i64) -> NaiveDateTime {
        let utc = DateTime::from_timestamp(at, 0).unwrap_or_default();
        self.zone.from_utc_datetime(&utc.naive_utc()).naive_local()
    }

    fn local_date(&self) -> NaiveDate {
        self.local(self.now).date()
    }

    /// When `time` comes next (Unix seconds): today's, or tomorrow's once
    /// today's is not after now.
    pub fn next(&self, time: ClockTime) -> i64 {
        let today = self.local_date();
        let at = local_instant(self.zone, today, time.minute());
        if at > self.now {
            return at;
        }
        today.succ_opt().map_or(at, |tomorrow| {
            local_instant(self.zone, tomorrow, time.minute())
        })
    }

    /// `at` as a worker reads it: "5:00 PM", or "5:00 PM tomorrow" when it
    /// is not today.
    pub fn label(&self, at: i64) -> String {
        let local = self.local(at);
        let time = local.format("%-I:%M %p").to_string();
        if local.date() == self.local_date() {
            time
        } else {
            format!("{time} tomorrow")
        }
    }
}

/// The instant (Unix seconds) of `minute` after local midnight on `day` in
/// `zone` (`minute` may be 1440, the next midnight). A time the clocks skip
/// when daylight saving starts is taken an hour later; a time they repeat
/// when it ends, the first time.
fn local_instant(zone: Zone, day: NaiveDate, minute: u32) -> i64 {
    let naive = day.and_time(chrono::NaiveTime::MIN) + chrono::Duration::minutes(minute.into());
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| naive.and_utc().timestamp(), |t| t.timestamp())
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
    fn workers_times_read_in_twelve_and_twenty_four_hours() {
        let at = |s: &str| ClockTime::parse(s).map(ClockTime::minute);
        for (text, minute) in [
            ("5pm", 17 * 60),
            ("5:30pm", 17 * 60 + 30),
            ("5.30pm", 17 * 60 + 30),
            ("5 pm", 17 * 60),
            ("5 p.m.", 17 * 60),
            ("5PM", 17 * 60),
            ("11am", 11 * 60),
            ("17:00", 17 * 60),
            ("17.30", 17 * 60 + 30),
            ("09:05", 9 * 60 + 5),
            ("0:30", 30),
            ("noon", 12 * 60),
            ("midnight", 0),
            ("12am", 0),
            ("12:30am", 30),
            ("12pm", 12 * 60),
            ("12:15pm", 12 * 60 + 15),
        ] {
            assert_eq!(at(text), Some(minute), "{text}");
        }
        for bad in [
            "5", "17", "", "pm", "13pm", "0am", "17:00pm", "5:3pm", "5:60pm", "24:00", "-1:00",
            "+5pm", "5:30:00", "soon", "5ish", "123pm",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }

    fn new_york() -> Zone {
        "America/New_York".parse().expect("a zone")
    }

    fn ts(s: &str) -> i64 {
        utc(s).timestamp()
    }

    #[test]
    fn a_time_already_past_today_means_tomorrow() {
        // Wednesday 2026-11-25 10:00 in New York (UTC-5).
        let clock = Clock::new(new_york(), ts("2026-11-25T15:00:00Z"));
        let five = ClockTime::parse("5pm").expect("read");
        assert_eq!(clock.next(five), ts("2026-11-25T22:00:00Z"));
        assert_eq!(clock.label(clock.next(five)), "5:00 PM");
        let nine = ClockTime::parse("9am").expect("read");
        assert_eq!(clock.next(nine), ts("2026-11-26T14:00:00Z"));
        assert_eq!(clock.label(clock.next(nine)), "9:00 AM tomorrow");
        // Now exactly is past: tomorrow.
        let ten = ClockTime::parse("10am").expect("read");
        assert_eq!(clock.next(ten), ts("2026-11-26T15:00:00Z"));
        let noon = ClockTime::parse("noon").expect("read");
        assert_eq!(clock.label(clock.next(noon)), "12:00 PM");
        let midnight = ClockTime::parse("12am").expect("read");
        assert_eq!(clock.next(midnight), ts("2026-11-26T05:00:00Z"));
        assert_eq!(clock.label(clock.next(midnight)), "12:00 AM tomorrow");
    }

    #[test]
    fn times_across_daylight_saving_changes_are_local() {
        // Saturday 2026-03-07 18:00 EST; clocks spring forward overnight.
        let clock = Clock::new(new_york(), ts("2026-03-07T23:00:00Z"));
        let nine = ClockTime::parse("9am").expect("read");
        assert_eq!(clock.next(nine), ts("2026-03-08T13:00:00Z"), "9:00 EDT");
        // 2:30 does not exist that night: an hour later.
        let gap = ClockTime::parse("2:30am").expect("read");
        assert_eq!(clock.next(gap), ts("2026-03-08T07:30:00Z"), "3:30 EDT");
        // Saturday 2026-10-31 18:00 EDT; 1:30 happens twice overnight: the first.
        let clock = Clock::new(new_york(), ts("2026-10-31T22:00:00Z"));
        let twice = ClockTime::parse("1:30am").expect("read");
        assert_eq!(clock.next(twice), ts("2026-11-01T05:30:00Z"), "1:30 EDT");
        assert_eq!(clock.label(clock.next(twice)), "1:30 AM tomorrow");
    }

    #[test]
    fn the_line_just_closed_for_the_grace_after_the_day_s_last_window() {
        let hours = BusinessHours::parse(
            "mon-fri 09:00-12:00,13:00-17:00; sat 22:00-02:00",
            "America/New_York",
        )
        .expect("valid");
        let grace = 30 * 60;
        // Wednesday 2026-11-25, 17:00 EST is 22:00 UTC.
        let closed = |at: &str| hours.just_closed(ts(at), grace);
        assert_eq!(closed("2026-11-25T21:59:00Z"), None, "still open");
        assert_eq!(
            closed("2026-11-25T22:00:00Z").as_deref(),
            Some("2026-11-25")
        );
        assert_eq!(
            closed("2026-11-25T22:29:59Z").as_deref(),
            Some("2026-11-25")
        );
        assert_eq!(closed("2026-11-25T22:30:00Z"), None, "past the grace");
        assert_eq!(closed("2026-11-25T17:10:00Z"), None, "lunch is no closing");
        // Saturday's night window: Sunday 02:00 is the closing, not midnight.
        assert_eq!(closed("2026-11-29T05:00:00Z"), None, "midnight, still open");
        assert_eq!(
            closed("2026-11-29T07:05:00Z").as_deref(),
            Some("2026-11-29")
        );
        // Closing at midnight: the day before, read just after midnight.
        let late = BusinessHours::parse("mon-sun 18:00-24:00", "UTC").expect("valid");
        assert_eq!(
            late.just_closed(ts("2026-11-26T00:10:00Z"), grace)
                .as_deref(),
            Some("2026-11-25")
        );
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
