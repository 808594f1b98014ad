//! The daily digest of a simulated day, held against what the stand-in saw
//! of the same calls: the scheduler texts it from the call records, the
//! stand-in counts from the calls themselves, and the two must agree.

use std::collections::BTreeMap;

use homeline_core::domain::report::{self, CallOutcome};
use homeline_core::model::CallRecord;

use crate::Ms;
use crate::report::{callback_legs, percentile};
use crate::sim::{Call, World};

/// The digest's figures, read back from its text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Figures {
    pub calls: u32,
    pub answered: u32,
    pub voicemail: u32,
    pub abandoned: u32,
    pub median_answer_secs: Option<i64>,
    pub p95_answer_secs: Option<i64>,
    /// Calls answered, by worker name.
    pub answered_by: BTreeMap<String, u32>,
}

/// `42s`, `3m05s` or `-`, as `domain::report::duration` writes them.
fn secs(text: &str) -> Option<Option<i64>> {
    if text == "-" {
        return Some(None);
    }
    let text = text.strip_suffix('s')?;
    let (m, s) = text.split_once('m').unwrap_or(("0", text));
    Some(Some(m.parse::<i64>().ok()? * 60 + s.parse::<i64>().ok()?))
}

/// The number written just before `label` (`"12 answered"`).
fn count_before(line: &str, label: &str) -> Option<u32> {
    let at = line.find(&format!(" {label}"))?;
    line[..at].rsplit([' ', ',']).next()?.parse().ok()
}

impl Figures {
    /// Reads a digest's text; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let (_, first) = lines.next()?.strip_prefix("Homeline, ")?.split_once(": ")?;
        let after = |label: &str| -> Option<&str> {
            let at = first.find(label)? + label.len();
            first[at..].split([',', ' ']).find(|w| !w.is_empty())
        };
        let mut figures = Figures {
            calls: count_before(first, "calls")?,
            answered: count_before(first, "answered")?,
            voicemail: count_before(first, "voicemail")?,
            abandoned: count_before(first, "abandoned")?,
            median_answer_secs: secs(after("Answer median ")?)?,
            p95_answer_secs: secs(after("p95 ")?.trim_end_matches('.'))?,
            answered_by: BTreeMap::new(),
        };
        for line in lines {
            let (name, rest) = line.rsplit_once(": ")?;
            let answered = count_before(&format!(" {rest}"), "answered")?;
            if answered > 0 {
                *figures.answered_by.entry(name.to_string()).or_default() += answered;
            }
        }
        Some(figures)
    }

    /// The same figures counted from what the stand-in saw of each call
    /// ([`seen_calls`]).
    pub fn seen(outcomes: &BTreeMap<&str, Seen>) -> Self {
        let mut figures = Figures::default();
        let mut waits = Vec::new();
        for outcome in outcomes.values() {
            figures.calls += 1;
            match outcome {
                Seen::Answered { by, secs } => {
                    figures.answered += 1;
                    waits.push(*secs);
                    *figures.answered_by.entry(by.name.clone()).or_default() += 1;
                }
                Seen::Voicemail => figures.voicemail += 1,
                Seen::Abandoned => figures.abandoned += 1,
                Seen::Other => {}
            }
        }
        figures.median_answer_secs = percentile(&waits, 50);
        figures.p95_answer_secs = percentile(&waits, 95);
        figures
    }
}

/// A worker as the stand-in knows them: their phone and their script's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub phone: String,
    /// The digest keeps a name's first 24 characters, and so does this.
    pub name: String,
}

/// What the stand-in saw become of one customer call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Answered by `by`, `secs` after the call came in.
    Answered {
        by: Worker,
        secs: i64,
    },
    Voicemail,
    Abandoned,
    Other,
}

/// What became of each customer call that got a record (screened calls get
/// none), by call SID: `abandon_after_secs` is `ABANDON_SECS`.
pub fn seen_calls(world: &World, abandon_after_secs: u64) -> BTreeMap<&str, Seen> {
    // Whole seconds on the functions' clock, as the records keep them.
    let second = |ms: u64| i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    let worker = |leg: Option<&Call>| {
        let phone = leg.map_or(String::new(), |leg| leg.to.clone());
        let name = world
            .workers
            .get(&phone)
            .map_or("?".to_string(), |w| w.name.chars().take(24).collect());
        Worker { phone, name }
    };
    // A callback that reached the customer answers their call when they
    // picked up: its `<Dial>` action's time less its `DialCallDuration`
    // (`service::callback::dialed`), first one wins.
    let mut called_back: BTreeMap<&str, (Ms, &Call)> = BTreeMap::new();
    for (original, worker, customer) in callback_legs(world) {
        let action = world
            .delivered
            .iter()
            .filter(|d| d.param("CallSid") == Some(worker.sid.as_str()))
            .find(|d| d.param("DialCallStatus") == Some("completed"));
        if let (Some(_), Some(action)) = (customer.answered, action) {
            let talked = action
                .param("DialCallDuration")
                .and_then(|secs| secs.parse::<u64>().ok())
                .unwrap_or(0);
            let at = action.at.saturating_sub(talked * 1000);
            let first = called_back.entry(original).or_insert((at, worker));
            if at < first.0 {
                *first = (at, worker);
            }
        }
    }
    let mut outcomes = BTreeMap::new();
    // Screened before the greeting: no call record.
    for call in world
        .calls
        .values()
        .filter(|c| c.caller.is_some() && !c.rejected)
    {
        let outcome = if let Some(bridged) = call.bridged {
            let leg = call.peer.as_ref().and_then(|leg| world.calls.get(leg));
            // A call is answered when the worker's webhook is answered
            // with the bridge (the first time, under duplicates); the
            // bridge itself follows once the whisper is said.
            let answered = leg
                .and_then(|leg| {
                    world
                        .delivered
                        .iter()
                        .filter(|d| d.param("CallSid") == Some(leg.sid.as_str()))
                        .find(|d| d.body.contains("<Queue"))
                })
                .map_or(bridged, |d| d.at);
            Seen::Answered {
                by: worker(leg),
                secs: second(answered) - second(call.created),
            }
        } else if let Some((answered, leg)) = called_back.get(call.sid.as_str()) {
            Seen::Answered {
                by: worker(Some(leg)),
                secs: second(*answered) - second(call.created),
            }
        } else if call.voicemail_recorded {
            Seen::Voicemail
        } else if abandoned(world, call, abandon_after_secs) {
            Seen::Abandoned
        } else {
            Seen::Other
        };
        outcomes.insert(call.sid.as_str(), outcome);
    }
    outcomes
}

/// Whether the stand-in counts the customer's `call` abandoned: never
/// bridged, no voicemail, and hung up `abandon_after_secs` or more after its
/// task was created, whether still in the queue or later in voicemail
/// without a message.
pub fn abandoned(world: &World, call: &Call, abandon_after_secs: u64) -> bool {
    let queued_at = world
        .tr
        .tasks
        .values()
        .find(|t| t.attributes["call_sid"].as_str() == Some(call.sid.as_str()))
        .map(|t| t.created);
    let waited = match (queued_at, call.ended) {
        (Some(queued), Some(ended)) => ended.saturating_sub(queued) / 1000,
        _ => return false,
    };
    // A caller who booked a callback is owed that call, not a follow-up
    // (`domain::inbound::abandoned_at_end`); one whose booking failed has
    // no callback task and is counted here.
    let booked = world
        .tr
        .tasks
        .values()
        .any(|t| crate::report::callback_of(t) == Some(call.sid.as_str()));
    call.bridged.is_none()
        && !call.voicemail_recorded
        && call.hung_up_self
        && !booked
        && waited >= abandon_after_secs
}

/// The digest the admin got at the end of a simulated day, and where it
/// disagrees with the stand-in.
#[derive(Debug, Default)]
pub struct DigestCheck {
    /// The text sent, `None` when no digest came.
    pub text: Option<String>,
    pub disagreements: Vec<String>,
}

impl DigestCheck {
    /// The last digest texted to `admin`, checked against `world`; when
    /// they disagree, the calls whose `records` (the day's, as the digest
    /// read them) tell another story than the stand-in are listed.
    pub fn of(world: &World, admin: &str, abandon_after_secs: u64, records: &[CallRecord]) -> Self {
        let digests: Vec<&str> = world
            .messages
            .iter()
            .filter(|m| m.to == admin && Figures::parse(&m.body).is_some())
            .map(|m| m.body.as_str())
            .collect();
        let Some(text) = digests.last() else {
            return Self {
                text: None,
                disagreements: vec!["no digest reached the admin".into()],
            };
        };
        let mut disagreements = Vec::new();
        if digests.len() > 1 {
            disagreements.push(format!("{} digests for one day", digests.len()));
        }
        let sent = Figures::parse(text).unwrap_or_default();
        let outcomes = seen_calls(world, abandon_after_secs);
        let seen = Figures::seen(&outcomes);
        for (what, digest, stand_in) in [
            ("calls", sent.calls, seen.calls),
            ("answered", sent.answered, seen.answered),
            ("voicemail", sent.voicemail, seen.voicemail),
            ("abandoned", sent.abandoned, seen.abandoned),
        ] {
            if digest != stand_in {
                disagreements.push(format!(
                    "{what}: the digest says {digest}, the stand-in saw {stand_in}"
                ));
            }
        }
        for (what, digest, stand_in) in [
            ("median", sent.median_answer_secs, seen.median_answer_secs),
            ("p95", sent.p95_answer_secs, seen.p95_answer_secs),
        ] {
            if digest != stand_in {
                disagreements.push(format!(
                    "time to answer {what}: the digest says {digest:?} s, the stand-in saw {stand_in:?} s"
                ));
            }
        }
        if sent.answered_by != seen.answered_by {
            disagreements.push(format!(
                "answered per worker: the digest says {:?}, the stand-in saw {:?}",
                sent.answered_by, seen.answered_by
            ));
        }
        if !disagreements.is_empty() {
            disagreements.extend(differing_calls(&outcomes, records));
        }
        Self {
            text: Some((*text).to_string()),
            disagreements,
        }
    }
}

/// The calls whose record's outcome, worker or time to answer is not what
/// the stand-in saw (the first dozen), one line each.
fn differing_calls(seen: &BTreeMap<&str, Seen>, records: &[CallRecord]) -> Vec<String> {
    let recorded = |record: &CallRecord| match report::outcome(record) {
        CallOutcome::Answered => format!(
            "answered by {} after {:?} s",
            record.answer().map_or("?", |a| a.phone.as_str()),
            report::time_to_answer(record)
        ),
        other => format!("{other:?}"),
    };
    let stood = |outcome: &Seen| match outcome {
        Seen::Answered { by, secs } => {
            format!("answered by {} after {:?} s", by.phone, Some(*secs))
        }
        other => format!("{other:?}"),
    };
    let mut lines = Vec::new();
    for record in records {
        let digest = recorded(record);
        let stand_in = seen
            .get(record.call_sid.as_str())
            .map_or("no such call".to_string(), stood);
        if digest != stand_in {
            lines.push(format!(
                "  {}: the record says {digest}, the stand-in saw {stand_in}",
                record.call_sid
            ));
        }
    }
    for sid in seen.keys() {
        if !records.iter().any(|r| r.call_sid == *sid) {
            lines.push(format!("  {sid}: no record"));
        }
    }
    let more = lines.len().saturating_sub(12);
    lines.truncate(12);
    if more > 0 {
        lines.push(format!("  and {more} more"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_reads_back_as_its_figures() {
        let text = "Homeline, Wed 2 Dec: 20 calls, 12 answered, 3 voicemail, 2 abandoned, 0 after hours. \
                    Answer median 42s, p95 3m05s. Open follow-ups: 4.\n\
                    reliable 0: 5 answered, 1 missed, 2 called back\n\
                    often busy 4: 0 answered, 3 missed, 0 called back";
        assert_eq!(
            Figures::parse(text),
            Some(Figures {
                calls: 20,
                answered: 12,
                voicemail: 3,
                abandoned: 2,
                median_answer_secs: Some(42),
                p95_answer_secs: Some(185),
                answered_by: BTreeMap::from([("reliable 0".to_string(), 5)]),
            })
        );
        let none = "Homeline, Wed 2 Dec: 0 calls, 0 answered, 0 voicemail, 0 abandoned, 0 after hours. \
                    Answer median -, p95 -. Open follow-ups: 0.";
        assert_eq!(
            Figures::parse(none).map(|f| (f.median_answer_secs, f.p95_answer_secs)),
            Some((None, None))
        );
        assert_eq!(Figures::parse("New voicemail #3 for sales"), None);
    }
}
