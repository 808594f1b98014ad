//! IANA time zones (`TIME_ZONE`) as a `chrono::TimeZone`, from a generated
//! table (`zones.rs`, written by `scripts/gen-zones.py`) rather than
//! chrono-tz, whose full history of every zone weighed 1.9 MB in each
//! function.
//!
//! Each zone is its POSIX TZ rule (the footer of its compiled tz database
//! file, e.g. `CST6CDT,M3.2.0,M11.1.0`), preceded by the changes the
//! database lists one by one from 2025 on (Morocco's and Palestine's
//! around Ramadan, until the 2070s-2080s). So local times are exact from
//! 2025-01-01 on; an earlier instant takes the offset in force then, not
//! its historical one (the product only reads present and future times).

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Weekday,
};

use super::zones::{self, ZONES};

/// A zone's name and local time.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) name: &'static str,
    /// `(until, local)`, oldest first: `local` holds before `until` (the
    /// first also before 2025), then the next; `rule` after the last.
    pub(super) changes: &'static [(i64, Local)],
    pub(super) rule: Rule,
}

/// An offset east of UTC (seconds) and its abbreviation (`CST`, `+03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Local {
    pub(super) offset: i32,
    pub(super) abbr: &'static str,
}

/// A POSIX TZ rule: standard time, and daylight saving time between two
/// yearly changes (`dst` may be the smaller offset, as Ireland's winter).
#[derive(Debug)]
pub(super) struct Rule {
    pub(super) std: Local,
    pub(super) dst: Option<Dst>,
}

#[derive(Debug)]
pub(super) struct Dst {
    pub(super) local: Local,
    /// In standard local time.
    pub(super) start: When,
    /// In daylight saving local time.
    pub(super) end: When,
}

/// `Mm.w.d/time`: the `week`th (5: the last) `weekday` of `month`, `secs`
/// after that day's local midnight (negative, or past 24 hours, allowed).
#[derive(Debug)]
pub(super) struct When {
    pub(super) month: u32,
    pub(super) week: u8,
    pub(super) weekday: Weekday,
    pub(super) secs: i64,
}

impl When {
    /// The change in `year`, in Unix seconds, read in a local time `offset`
    /// seconds east of UTC.
    fn at(&self, year: i32, offset: i32) -> i64 {
        let day = (1..=self.week)
            .rev()
            .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, self.month, self.weekday, n))
            .unwrap_or_default();
        day.and_time(NaiveTime::MIN).and_utc().timestamp() + self.secs - i64::from(offset)
    }
}

impl Rule {
    fn at(&self, t: i64) -> Local {
        let Some(dst) = &self.dst else {
            return self.std;
        };
        let year = DateTime::from_timestamp(t + i64::from(self.std.offset), 0)
            .unwrap_or_default()
            .year();
        let start = dst.start.at(year, self.std.offset);
        let end = dst.end.at(year, dst.local.offset);
        // Southern hemisphere (and Ireland): daylight saving spans new year.
        let daylight = if start < end {
            start <= t && t < end
        } else {
            !(end <= t && t < start)
        };
        if daylight { dst.local } else { self.std }
    }
}

/// An IANA time zone by name, as `TIME_ZONE` gives it (`America/Chicago`,
/// `UTC`, and the database's other names, `US/Central` among them).
#[derive(Clone, Copy)]
pub struct Zone(&'static Entry);

impl Zone {
    pub const UTC: Self = Self(&ZONES[zones::UTC]);

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The local time in force at `t` (Unix seconds).
    fn at(self, t: i64) -> Local {
        let changes = self.0.changes;
        match changes.get(changes.partition_point(|(until, _)| *until <= t)) {
            Some((_, local)) => *local,
            None => self.0.rule.at(t),
        }
    }

    fn offset(self, local: Local) -> ZoneOffset {
        ZoneOffset { zone: self, local }
    }
}

/// A name that is not in the tz database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownZone;

impl FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(name: &str) -> Result<Self, UnknownZone> {
        ZONES
            .binary_search_by(|e| e.name.cmp(name))
            .map(|i| Self(&ZONES[i]))
            .map_err(|_| UnknownZone)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// A zone's offset at some instant; shows as its abbreviation (`%Z`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ZoneOffset {
    zone: Zone,
    local: Local,
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        FixedOffset::east_opt(self.local.offset).expect("tz offsets are within a day")
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.local.abbr)
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.local.abbr)
    }
}

const DAY: i64 = 24 * 60 * 60;

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Self {
        offset.zone
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    /// The instants whose local time is `local`: none in a gap (clocks
    /// going forward), two in a fold (going back), earliest first. Zones
    /// change at most once in two days, so the offsets a day either side
    /// are the only candidates.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let wall = local.and_utc().timestamp();
        let mut found = [self.at(wall - DAY), self.at(wall + DAY)]
            .map(|candidate| wall - i64::from(candidate.offset))
            .into_iter()
            .filter(|&t| i64::from(self.at(t).offset) == wall - t);
        let (first, second) = (found.next(), found.next());
        let offset = |t| self.offset(self.at(t));
        match (first, second) {
            (Some(a), Some(b)) if a != b => {
                MappedLocalTime::Ambiguous(offset(a.min(b)), offset(a.max(b)))
            }
            (Some(t), _) | (None, Some(t)) => MappedLocalTime::Single(offset(t)),
            (None, None) => MappedLocalTime::None,
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset(self.at(utc.and_utc().timestamp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::TZ_VARIANTS;

    /// 2025-01-01 to 2041-01-01 (Unix seconds).
    const FROM: i64 = 1_735_689_600;
    const TO: i64 = 2_240_524_800;
    /// 25 hours: over the years the instants visit every hour of the day.
    const STEP: i64 = 25 * 60 * 60;

    fn naive(t: i64) -> NaiveDateTime {
        DateTime::from_timestamp(t, 0)
            .expect("in range")
            .naive_utc()
    }

    /// The offset at `t` as a comparable value: seconds and abbreviation.
    fn offset_of<Z: TimeZone>(zone: &Z, t: i64) -> (i32, String)
    where
        Z::Offset: fmt::Display,
    {
        let offset = zone.offset_from_utc_datetime(&naive(t));
        (offset.fix().local_minus_utc(), offset.to_string())
    }

    /// A local wall-clock time (as Unix seconds of the same digits) resolved
    /// to instants and their offsets.
    fn resolved<Z: TimeZone>(zone: &Z, wall: i64) -> MappedLocalTime<(i64, i32, String)>
    where
        Z::Offset: fmt::Display,
    {
        zone.from_local_datetime(&naive(wall)).map(|at| {
            let offset = at.offset();
            (
                at.timestamp(),
                offset.fix().local_minus_utc(),
                offset.to_string(),
            )
        })
    }

    #[test]
    fn every_name_chrono_tz_knows_and_no_other() {
        assert_eq!(ZONES.len(), TZ_VARIANTS.len());
        assert!(ZONES.windows(2).all(|w| w[0].name < w[1].name), "sorted");
        for tz in TZ_VARIANTS {
            let zone: Zone = tz
                .name()
                .parse()
                .unwrap_or_else(|_| panic!("{}", tz.name()));
            assert_eq!(zone.name(), tz.name());
        }
        for bad in ["Mars/Olympus", "america/chicago", "", " UTC", "America/"] {
            assert_eq!(bad.parse::<Zone>(), Err(UnknownZone), "{bad:?}");
        }
        assert_eq!(Zone::UTC.name(), "UTC");
    }

    /// For every zone, from 2025 to 2040: the offset and its abbreviation at
    /// instants 25 hours apart and on each side of every change, and local
    /// times resolved to instants (a gap to none, a fold to both, earliest
    /// first) around each change, as chrono-tz gives them.
    #[test]
    fn local_times_match_chrono_tz_from_2025_to_2040() {
        let mut changes = 0;
        for tz in TZ_VARIANTS {
            let zone: Zone = tz
                .name()
                .parse()
                .unwrap_or_else(|_| panic!("{}", tz.name()));
            let name = tz.name();
            let mut t = FROM;
            while t < TO {
                let next = t + STEP;
                let (before, after) = (offset_of(&tz, t), offset_of(&tz, next));
                assert_eq!(offset_of(&zone, t), before, "{name} at {t}");
                assert_eq!(resolved(&zone, t), resolved(&tz, t), "{name} wall {t}");
                if before != after {
                    // The first second of the change.
                    let (mut lo, mut hi) = (t, next);
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2;
                        if offset_of(&tz, mid) == before {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    changes += 1;
                    assert_eq!(offset_of(&zone, hi - 1), before, "{name} before {hi}");
                    assert_eq!(offset_of(&zone, hi), offset_of(&tz, hi), "{name} at {hi}");
                    for base in [hi + i64::from(before.0), hi + i64::from(after.0)] {
                        for wall in (-12..=12)
                            .map(|k| base + k * 15 * 60)
                            .chain([base - 1, base + 1])
                        {
                            assert_eq!(
                                resolved(&zone, wall),
                                resolved(&tz, wall),
                                "{name} wall {wall}"
                            );
                        }
                    }
                }
                t = next;
            }
        }
        assert!(changes > 6_000, "changes seen: {changes}");
    }
}
