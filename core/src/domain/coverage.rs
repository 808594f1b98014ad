//! The coverage guard: which menu skills nobody covers, whether the admins
//! are owed an alert about one, and its text. The scheduler asks every
//! minute; `service::coverage` carries the answer out.

use crate::model::{Activity, CallRecord, WorkerProfile};

/// An SMS segment: the alert stays within it where it can.
const SMS_CHARS: usize = 160;

/// Whether `worker` takes calls for `skill` at `now` (Unix seconds): on duty
/// with it, Available, and not cooling down after a miss.
pub fn covers(worker: &WorkerProfile, skill: &str, now: i64) -> bool {
    worker.activity == Some(Activity::Available)
        && worker.skills.iter().any(|s| s == skill)
        && worker.cooldown_until.is_none_or(|until| until <= now)
}

/// The menu skills (in menu order) no worker covers at `now`.
pub fn uncovered<'a>(skills: &'a [String], workers: &[WorkerProfile], now: i64) -> Vec<&'a str> {
    skills
        .iter()
        .map(String::as_str)
        .filter(|skill| !workers.iter().any(|w| covers(w, skill, now)))
        .collect()
}

/// The alert window `now` falls in: windows of `alert_mins` minutes counted
/// from the Unix epoch. An alert's once-key is its skill and this index, so
/// each skill gets at most one alert per window whoever runs the job, and
/// however often. `None` when alerts are off (`alert_mins` 0) or the line
/// is closed (`open` false): nobody is expected on duty then.
pub fn window(open: bool, alert_mins: u32, now: i64) -> Option<i64> {
    if !open || alert_mins == 0 {
        return None;
    }
    Some(now.div_euclid(i64::from(alert_mins) * 60))
}

/// Since when (Unix seconds) the alert of window `index` counts callers sent
/// to voicemail: the start of the window before, so consecutive alerts
/// together name everyone the gap cost.
pub fn counted_since(alert_mins: u32, index: i64) -> i64 {
    (index - 1) * i64::from(alert_mins) * 60
}

/// The callers (each once, first first) who chose `skill` and went to
/// voicemail at or after `since`.
pub fn sent_to_voicemail<'a>(records: &'a [CallRecord], skill: &str, since: i64) -> Vec<&'a str> {
    let mut hits: Vec<(&CallRecord, i64)> = records
        .iter()
        .filter(|r| r.skill.as_deref() == Some(skill))
        .filter_map(|r| r.voicemail_at.filter(|&at| at >= since).map(|at| (r, at)))
        .collect();
    hits.sort_by_key(|&(_, at)| at);
    let mut callers: Vec<&str> = Vec::new();
    for (record, _) in hits {
        if let Some(caller) = record.caller.as_deref()
            && !callers.contains(&caller)
        {
            callers.push(caller);
        }
    }
    callers
}

/// The alert: the skill, and the callers voicemail took meanwhile; those
/// that do not fit one SMS are counted as "+N more".
pub fn alert_text(skill: &str, callers: &[&str]) -> String {
    let head = format!("Homeline: nobody is on duty for {skill}.");
    let tail = format!(" Workers: text 'on {skill}'.");
    if callers.is_empty() {
        return format!("{head} No caller went to voicemail yet.{tail}");
    }
    let lead = format!("{head} To voicemail:");
    for shown in (1..=callers.len()).rev() {
        let rest = callers.len() - shown;
        let more = if rest > 0 {
            format!(" +{rest} more")
        } else {
            String::new()
        };
        let text = format!("{lead} {}{more}.{tail}", callers[..shown].join(", "));
        if text.chars().count() <= SMS_CHARS {
            return text;
        }
    }
    format!("{lead} {} callers.{tail}", callers.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(phone: &str, skills: &[&str], activity: Option<Activity>) -> WorkerProfile {
        WorkerProfile {
            activity,
            ..WorkerProfile::new(phone, phone, skills.iter().map(|s| s.to_string()).collect())
        }
    }

    fn menu() -> Vec<String> {
        vec!["sales".into(), "support".into()]
    }

    #[test]
    fn a_skill_is_covered_only_by_an_available_worker_with_it_out_of_cooldown() {
        let now = 1_000;
        let ana = worker("+15550001", &["sales"], Some(Activity::Available));
        assert_eq!(
            uncovered(&menu(), std::slice::from_ref(&ana), now),
            vec!["support"]
        );
        for off in [None, Some(Activity::Offline), Some(Activity::Unavailable)] {
            let w = worker("+15550001", &["sales", "support"], off);
            assert_eq!(
                uncovered(&menu(), &[w], now),
                vec!["sales", "support"],
                "{off:?}"
            );
        }
        let cooling = WorkerProfile {
            cooldown_until: Some(now + 1),
            ..ana.clone()
        };
        assert_eq!(
            uncovered(&menu(), &[cooling], now),
            vec!["sales", "support"]
        );
        let cooled = WorkerProfile {
            cooldown_until: Some(now),
            ..ana.clone()
        };
        assert_eq!(uncovered(&menu(), &[cooled], now), vec!["support"]);
        let bo = worker("+15550002", &["support"], Some(Activity::Available));
        assert!(uncovered(&menu(), &[ana, bo], now).is_empty());
    }

    #[test]
    fn one_window_per_alert_interval_only_while_open() {
        assert_eq!(window(false, 30, 1_800), None, "closed");
        assert_eq!(window(true, 0, 1_800), None, "alerts off");
        assert_eq!(window(true, 30, 1_799), Some(0));
        assert_eq!(window(true, 30, 1_800), Some(1));
        assert_eq!(window(true, 30, 3_599), Some(1));
        assert_eq!(window(true, 30, 3_600), Some(2));
        assert_eq!(counted_since(30, 2), 1_800);
    }

    fn voicemail(sid: &str, caller: &str, skill: &str, at: Option<i64>) -> CallRecord {
        CallRecord {
            caller: Some(caller.into()),
            skill: Some(skill.into()),
            voicemail_at: at,
            ..CallRecord::new(sid)
        }
    }

    #[test]
    fn callers_of_the_skill_sent_to_voicemail_since_each_once_in_order() {
        let records = [
            voicemail("CA3", "+15551113", "sales", Some(300)),
            voicemail("CA1", "+15551111", "sales", Some(100)),
            voicemail("CA0", "+15551110", "sales", Some(99)),
            voicemail("CA2", "+15551112", "support", Some(200)),
            voicemail("CA4", "+15551111", "sales", Some(400)),
            voicemail("CA5", "+15551115", "sales", None),
        ];
        assert_eq!(
            sent_to_voicemail(&records, "sales", 100),
            vec!["+15551111", "+15551113"]
        );
        assert_eq!(sent_to_voicemail(&records, "support", 0), vec!["+15551112"]);
        assert!(sent_to_voicemail(&records, "sales", 401).is_empty());
    }

    #[test]
    fn the_alert_names_the_skill_and_callers_within_one_sms() {
        let none = alert_text("sales", &[]);
        assert!(none.contains("sales") && none.len() <= SMS_CHARS, "{none}");
        let two = alert_text("sales", &["+15551111", "+15551112"]);
        assert_eq!(
            two,
            "Homeline: nobody is on duty for sales. To voicemail: +15551111, +15551112. Workers: text 'on sales'."
        );
        let many: Vec<String> = (0..20).map(|n| format!("+1555000{n:04}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let text = alert_text("support", &many);
        assert!(text.chars().count() <= SMS_CHARS, "{text}");
        assert!(text.contains("+15550000000,"), "{text}");
        let shown = text.matches("+1555").count();
        assert!(text.contains(&format!("+{} more", 20 - shown)), "{text}");
    }
}
