//! A day of calls in figures: what became of each call, how long callers
//! waited for a person, and each worker's share. Pure: the records and the
//! follow-ups come in, the summary goes out.

use std::collections::BTreeMap;

use crate::model::{Activity, CallRecord, WorkerProfile};

/// What became of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Answered,
    Voicemail,
    /// Hung up after `ABANDON_SECS` or more in the queue (in it, or later
    /// in voicemail without a message).
    Abandoned,
    /// Came outside business hours and left no message.
    AfterHours,
    /// Hung up early (in the menu, or before `ABANDON_SECS`), or still on the line.
    Other,
}

/// What became of `record`. A worker's answer is noted before the bridge,
/// so a caller who left a message, hung up in the queue or left it for
/// voicemail was not answered, whoever pressed 1 meanwhile.
pub fn outcome(record: &CallRecord) -> CallOutcome {
    if record.voicemail_at.is_some() {
        CallOutcome::Voicemail
    } else if record.abandoned_at.is_some() {
        CallOutcome::Abandoned
    } else if record.hung_up_in_queue_at.is_some() || record.sent_to_voicemail_at.is_some() {
        CallOutcome::Other
    } else if record.answer().is_some() {
        CallOutcome::Answered
    } else if record.after_hours {
        CallOutcome::AfterHours
    } else {
        CallOutcome::Other
    }
}

/// Seconds from the caller's arrival (or, when that step went unrecorded,
/// their queueing) to a worker's answer, for an answered call.
pub fn time_to_answer(record: &CallRecord) -> Option<i64> {
    if outcome(record) != CallOutcome::Answered {
        return None;
    }
    let start = record.arrived_at.or(record.queued_at)?;
    record.answer().map(|answer| (answer.at - start).max(0))
}

/// One worker's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerDay {
    pub phone: String,
    /// Calls they answered (not counting a caller who was gone by then).
    pub answered: u32,
    /// Calls they were rung for and missed (each call once).
    pub missed: u32,
    /// Follow-ups of the day's calls they closed (called back, or done by hand).
    pub callbacks: u32,
}

/// One day's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaySummary {
    pub calls: u32,
    pub answered: u32,
    pub voicemails: u32,
    pub abandoned: u32,
    pub after_hours: u32,
    /// Time to answer (seconds), nearest rank; `None` with nothing answered.
    pub median_answer_secs: Option<i64>,
    pub p95_answer_secs: Option<i64>,
    /// Everyone who answered, missed or called back, by phone.
    pub workers: Vec<WorkerDay>,
}

/// The summary of a day's `records`; `done_by` holds the owner of each of
/// their follow-ups that is done.
pub fn summarize(records: &[CallRecord], done_by: &[String]) -> DaySummary {
    let mut summary = DaySummary {
        calls: count(records.len()),
        ..DaySummary::default()
    };
    for record in records {
        match outcome(record) {
            CallOutcome::Answered => summary.answered += 1,
            CallOutcome::Voicemail => summary.voicemails += 1,
            CallOutcome::Abandoned => summary.abandoned += 1,
            CallOutcome::AfterHours => summary.after_hours += 1,
            CallOutcome::Other => {}
        }
    }
    let mut waits: Vec<i64> = records.iter().filter_map(time_to_answer).collect();
    waits.sort_unstable();
    summary.median_answer_secs = nearest_rank(&waits, 50);
    summary.p95_answer_secs = nearest_rank(&waits, 95);
    summary.workers = per_worker(records, done_by);
    summary
}

fn per_worker(records: &[CallRecord], done_by: &[String]) -> Vec<WorkerDay> {
    let mut workers: BTreeMap<&str, WorkerDay> = BTreeMap::new();
    for record in records {
        if let Some(answer) = record.answer()
            && outcome(record) == CallOutcome::Answered
        {
            entry(&mut workers, &answer.phone).answered += 1;
        }
        for by in &record.missed_by {
            entry(&mut workers, by).missed += 1;
        }
    }
    for by in done_by {
        entry(&mut workers, by).callbacks += 1;
    }
    workers.into_values().collect()
}

fn entry<'a, 'm>(
    workers: &'m mut BTreeMap<&'a str, WorkerDay>,
    phone: &'a str,
) -> &'m mut WorkerDay {
    workers.entry(phone).or_insert_with(|| WorkerDay {
        phone: phone.to_string(),
        ..WorkerDay::default()
    })
}

/// The `p`th percentile of `sorted` by nearest rank: the smallest value
/// with at least `p`% of the values at or below it.
fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Each worker's days added up, by phone.
pub fn workers_over(days: &[DaySummary]) -> Vec<WorkerDay> {
    let mut workers: BTreeMap<&str, WorkerDay> = BTreeMap::new();
    for day in days.iter().flat_map(|d| &d.workers) {
        let total = entry(&mut workers, &day.phone);
        total.answered += day.answered;
        total.missed += day.missed;
        total.callbacks += day.callbacks;
    }
    workers.into_values().collect()
}

/// `42s`, `3m05s`, or `-` when there is nothing to time.
pub fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "-".to_string(),
        Some(secs) if secs < 60 => format!("{secs}s"),
        Some(secs) => format!("{}m{:02}s", secs / 60, secs % 60),
    }
}

/// The minute of a local day (after midnight) from which its digest is
/// due: `DIGEST_TIME` when set, else the day's closing, a midnight closing
/// one minute before it (still that day). `None`: no digest that day (no
/// `DIGEST_TIME`, closed all day or no business hours).
pub fn digest_minute(digest_time: Option<u32>, closing: Option<u32>) -> Option<u32> {
    digest_time.or(closing.map(|at| at.min(24 * 60 - 1)))
}

/// The admins' texts: `stats`, `who`, the daily digest.
pub mod texts {
    use super::{Activity, DaySummary, WorkerProfile, duration};
    use crate::domain::intake::replies::{SEGMENT, septets};

    /// A non-admin asked for `stats` or `who`.
    pub fn admins_only() -> String {
        "Homeline: only the business's admins may ask for that.".to_string()
    }

    /// The day's figures in one line (always one segment: only numbers vary).
    fn figures(summary: &DaySummary, open_follow_ups: usize) -> String {
        format!(
            "{} calls, {} answered, {} voicemail, {} abandoned, {} after hours. \
             Answer median {}, p95 {}. Open follow-ups: {open_follow_ups}.",
            summary.calls,
            summary.answered,
            summary.voicemails,
            summary.abandoned,
            summary.after_hours,
            duration(summary.median_answer_secs),
            duration(summary.p95_answer_secs),
        )
    }

    /// The daily digest: the day's figures, then a line per worker (named
    /// from `names`, by phone; else the phone). Several segments when the
    /// roster is long: it is read once a day.
    pub fn digest(
        day_label: &str,
        summary: &DaySummary,
        open_follow_ups: usize,
        names: &[(String, String)],
    ) -> String {
        let mut text = format!(
            "Homeline, {day_label}: {}",
            figures(summary, open_follow_ups)
        );
        for worker in &summary.workers {
            let name = names
                .iter()
                .find(|(phone, _)| *phone == worker.phone)
                .map_or(worker.phone.clone(), |(_, name)| gsm(name));
            text.push_str(&format!(
                "\n{name}: {} answered, {} missed, {} called back",
                worker.answered, worker.missed, worker.callbacks
            ));
        }
        text
    }

    /// `stats`: today so far.
    pub fn stats(summary: &DaySummary, open_follow_ups: usize) -> String {
        format!("Today so far: {}", figures(summary, open_follow_ups))
    }

    /// `who`: the workers on duty now (any activity but offline), as many
    /// as fit one segment, the rest counted.
    pub fn who(workers: &[WorkerProfile]) -> String {
        let on_duty: Vec<String> = workers
            .iter()
            .filter(|w| w.activity.is_some_and(|a| a != Activity::Offline))
            .map(|w| {
                let paused = if w.activity == Some(Activity::Unavailable) {
                    ", paused"
                } else {
                    ""
                };
                format!("{} ({}{paused})", gsm(&w.name), gsm(&w.skills.join(", ")))
            })
            .collect();
        if on_duty.is_empty() {
            return "Nobody is on duty now.".to_string();
        }
        let mut shown = on_duty.len();
        loop {
            let mut text = format!("On duty: {}", on_duty[..shown].join("; "));
            if shown < on_duty.len() {
                text.push_str(&format!(" +{} more", on_duty.len() - shown));
            }
            if shown <= 1 || septets(&text).is_some_and(|n| n <= SEGMENT) {
                return text;
            }
            shown -= 1;
        }
    }

    /// Names are the operator's to type: at most 24 characters, each GSM-7
    /// (others become `?`), so one name never costs the segment.
    fn gsm(text: &str) -> String {
        text.chars()
            .take(24)
            .map(|c| {
                let mut buf = [0u8; 4];
                match septets(c.encode_utf8(&mut buf)) {
                    Some(1) => c,
                    _ => '?',
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Answer;

    const T0: i64 = 1_796_320_000;
    const ANN: &str = "+15550000001";
    const BOB: &str = "+15550000002";

    fn call(n: u32) -> CallRecord {
        CallRecord {
            caller: Some(format!("+1555765{n:04}")),
            arrived_at: Some(T0 + i64::from(n) * 600),
            ..CallRecord::new(format!("CA{n:032}"))
        }
    }

    fn answered(n: u32, by: &str, after: i64) -> CallRecord {
        let mut record = call(n);
        record.skill = Some("sales".into());
        record.queued_at = record.arrived_at.map(|at| at + 3);
        record.answers = vec![answer(by, record.arrived_at.unwrap_or(T0) + after, n)];
        record
    }

    fn answer(by: &str, at: i64, n: u32) -> Answer {
        Answer {
            at,
            phone: by.into(),
            reservation_sid: format!("WR{n:032}"),
        }
    }

    #[test]
    fn each_call_has_one_outcome() {
        let mut record = call(1);
        assert_eq!(outcome(&record), CallOutcome::Other);
        record.after_hours = true;
        assert_eq!(outcome(&record), CallOutcome::AfterHours);
        record.answers = vec![answer(ANN, T0 + 20, 1)];
        assert_eq!(outcome(&record), CallOutcome::Answered);
        record.abandoned_at = Some(T0 + 40);
        assert_eq!(outcome(&record), CallOutcome::Abandoned);
        record.voicemail_at = Some(T0 + 90);
        assert_eq!(outcome(&record), CallOutcome::Voicemail);
    }

    #[test]
    fn a_caller_gone_before_the_bridge_was_not_answered() {
        // Ann pressed 1 as the caller hung up in the queue: her key is noted,
        // the caller is abandoned, and neither she nor the wait counts.
        let mut gone = answered(1, ANN, 40);
        gone.abandoned_at = Some(gone.answers[0].at);
        assert_eq!(outcome(&gone), CallOutcome::Abandoned);
        assert_eq!(time_to_answer(&gone), None);
        let mut quickly_gone = answered(3, ANN, 5);
        quickly_gone.hung_up_in_queue_at = Some(quickly_gone.answers[0].at);
        assert_eq!(outcome(&quickly_gone), CallOutcome::Other);
        // Ann pressed 1 as the caller pressed 2 for voicemail.
        let mut to_voicemail = answered(4, ANN, 30);
        to_voicemail.sent_to_voicemail_at = Some(to_voicemail.answers[0].at);
        assert_eq!(outcome(&to_voicemail), CallOutcome::Other);
        let summary = summarize(
            &[gone, quickly_gone, to_voicemail, answered(2, BOB, 12)],
            &[],
        );
        assert_eq!((summary.answered, summary.abandoned), (1, 1));
        assert_eq!(summary.median_answer_secs, Some(12));
        assert_eq!(
            summary.workers,
            vec![WorkerDay {
                phone: BOB.into(),
                answered: 1,
                ..WorkerDay::default()
            }]
        );
    }

    #[test]
    fn an_answer_whose_bridge_failed_put_nobody_through() {
        // Ann pressed 1 as the caller left the queue to book a callback (or
        // as her reservation timed out): her bridge failed. Bob took the
        // call 40 s later; then the caller's call is his, from then.
        let mut record = answered(1, ANN, 30);
        record.unbridged = vec![record.answers[0].reservation_sid.clone()];
        assert_eq!(outcome(&record), CallOutcome::Other);
        assert_eq!(time_to_answer(&record), None);
        record.answers.push(answer(BOB, T0 + 600 + 70, 2));
        assert_eq!(outcome(&record), CallOutcome::Answered);
        assert_eq!(time_to_answer(&record), Some(70));
        assert_eq!(per_worker(&[record.clone()], &[])[0].phone, BOB);
        // The first answer that was put through counts, whatever order
        // the steps were stored in.
        record.answers.reverse();
        record.answers.push(answer(ANN, T0 + 600 + 90, 3));
        assert_eq!(record.answer().map(|a| a.phone.as_str()), Some(BOB));
        assert_eq!(time_to_answer(&record), Some(70));
    }

    #[test]
    fn time_to_answer_counts_from_arrival_or_else_the_queue() {
        let record = answered(1, ANN, 25);
        assert_eq!(time_to_answer(&record), Some(25));
        let mut unarrived = record.clone();
        unarrived.arrived_at = None;
        assert_eq!(time_to_answer(&unarrived), Some(22));
        assert_eq!(time_to_answer(&call(2)), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let waits: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&waits, 50), Some(10));
        assert_eq!(nearest_rank(&waits, 95), Some(19));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank(&[3, 9], 50), Some(3));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn a_known_day_in_figures() {
        let mut missed_then_answered = answered(3, BOB, 60);
        missed_then_answered.missed_by = vec![ANN.into()];
        let mut voicemail = call(4);
        voicemail.missed_by = vec![ANN.into(), BOB.into()];
        voicemail.voicemail_at = Some(T0 + 2500);
        let mut abandoned = call(5);
        abandoned.abandoned_at = Some(T0 + 3040);
        let mut after_hours = call(6);
        after_hours.after_hours = true;
        let mut after_hours_message = call(7);
        after_hours_message.after_hours = true;
        after_hours_message.voicemail_at = Some(T0 + 4300);
        let records = [
            answered(1, ANN, 10),
            answered(2, ANN, 30),
            missed_then_answered,
            voicemail,
            abandoned,
            after_hours,
            after_hours_message,
            call(8),
        ];
        let done_by = [BOB.to_string(), BOB.to_string()];

        let summary = summarize(&records, &done_by);
        assert_eq!(
            summary,
            DaySummary {
                calls: 8,
                answered: 3,
                voicemails: 2,
                abandoned: 1,
                after_hours: 1,
                median_answer_secs: Some(30),
                p95_answer_secs: Some(60),
                workers: vec![
                    WorkerDay {
                        phone: ANN.into(),
                        answered: 2,
                        missed: 2,
                        callbacks: 0,
                    },
                    WorkerDay {
                        phone: BOB.into(),
                        answered: 1,
                        missed: 1,
                        callbacks: 2,
                    },
                ],
            }
        );
    }

    #[test]
    fn workers_add_up_over_days_and_durations_read_short() {
        let day = |answered, missed, callbacks| DaySummary {
            workers: vec![WorkerDay {
                phone: ANN.into(),
                answered,
                missed,
                callbacks,
            }],
            ..DaySummary::default()
        };
        let mut second = day(2, 0, 1);
        second.workers.push(WorkerDay {
            phone: BOB.into(),
            answered: 4,
            ..WorkerDay::default()
        });
        let total = workers_over(&[day(1, 1, 0), second]);
        assert_eq!(total.len(), 2);
        assert_eq!(
            (total[0].answered, total[0].missed, total[0].callbacks),
            (3, 1, 1)
        );
        assert_eq!((total[1].phone.as_str(), total[1].answered), (BOB, 4));

        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(42)), "42s");
        assert_eq!(duration(Some(185)), "3m05s");
    }

    fn worker(name: &str, skills: &[&str], activity: Option<Activity>) -> WorkerProfile {
        let mut w = WorkerProfile::new(
            format!("+1555{:07}", name.len()),
            name,
            skills.iter().map(|s| s.to_string()).collect(),
        );
        w.activity = activity;
        w
    }

    #[test]
    fn stats_and_who_fit_one_segment() {
        use crate::domain::intake::replies::{SEGMENT, septets};
        let busy = DaySummary {
            calls: 1234,
            answered: 1000,
            voicemails: 100,
            abandoned: 100,
            after_hours: 34,
            median_answer_secs: Some(5999),
            p95_answer_secs: Some(5999),
            workers: Vec::new(),
        };
        let stats = texts::stats(&busy, 999);
        assert_eq!(
            stats,
            "Today so far: 1234 calls, 1000 answered, 100 voicemail, 100 abandoned, 34 after hours. Answer median 99m59s, p95 99m59s. Open follow-ups: 999."
        );
        assert!(septets(&stats).is_some_and(|n| n <= SEGMENT), "{stats}");

        assert_eq!(texts::who(&[]), "Nobody is on duty now.");
        let roster = [
            worker("Ann", &["sales"], Some(Activity::Available)),
            worker("Bob", &["sales", "support"], Some(Activity::Unavailable)),
            worker("Cy", &["support"], Some(Activity::Offline)),
            worker("Dee", &["support"], None),
        ];
        assert_eq!(
            texts::who(&roster),
            "On duty: Ann (sales); Bob (sales, support, paused)"
        );
        let many: Vec<WorkerProfile> = (0..12)
            .map(|n| {
                worker(
                    &format!("Worker Number {n} 😀"),
                    &["support"],
                    Some(Activity::Available),
                )
            })
            .collect();
        let who = texts::who(&many);
        assert!(septets(&who).is_some_and(|n| n <= SEGMENT), "{who}");
        assert!(
            who.starts_with("On duty: Worker Number 0 ? (support); "),
            "{who}"
        );
        assert!(who.ends_with(" more"), "{who}");
    }

    #[test]
    fn the_digest_is_due_at_digest_time_or_closing() {
        assert_eq!(digest_minute(Some(18 * 60), Some(17 * 60)), Some(18 * 60));
        assert_eq!(digest_minute(None, Some(17 * 60)), Some(17 * 60));
        assert_eq!(digest_minute(None, Some(24 * 60)), Some(24 * 60 - 1));
        assert_eq!(digest_minute(Some(7 * 60), None), Some(7 * 60));
        assert_eq!(digest_minute(None, None), None);
    }

    #[test]
    fn the_digest_names_each_worker() {
        let summary = DaySummary {
            calls: 3,
            answered: 2,
            voicemails: 1,
            median_answer_secs: Some(20),
            p95_answer_secs: Some(40),
            workers: vec![
                WorkerDay {
                    phone: ANN.into(),
                    answered: 2,
                    missed: 0,
                    callbacks: 0,
                },
                WorkerDay {
                    phone: BOB.into(),
                    answered: 0,
                    missed: 1,
                    callbacks: 1,
                },
            ],
            ..DaySummary::default()
        };
        let names = [(ANN.to_string(), "Ann".to_string())];
        assert_eq!(
            texts::digest("Thu 3 Dec", &summary, 1, &names),
            "Homeline, Thu 3 Dec: 3 calls, 2 answered, 1 voicemail, 0 abandoned, 0 after hours. Answer median 20s, p95 40s. Open follow-ups: 1.\n\
             Ann: 2 answered, 0 missed, 0 called back\n\
             +15550000002: 0 answered, 1 missed, 1 called back"
        );
    }

    #[test]
    fn a_quiet_day_is_all_zero() {
        assert_eq!(summarize(&[], &[]), DaySummary::default());
    }
}
