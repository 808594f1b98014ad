//! The outcome of a run: where every caller ended, the invariants, and the
//! worker-side timings per phone type (issue 8, item 5).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use homeline_core::domain::estimate::Estimate;
use homeline_core::model::{FollowUp, FollowUpState};
use homeline_core::routes::paths;

use crate::Ms;
use crate::sim::{Call, CallStatus, SCHEDULER, World};
use crate::taskrouter::{ReservationStatus, Task, TaskStatus};

/// Timings of the worker legs that reached one kind of phone.
#[derive(Debug, Default, Clone)]
pub struct PhoneStats {
    pub legs: usize,
    pub answered: usize,
    pub bridged: usize,
    /// Answer → first sound the worker hears.
    pub silence: Vec<Ms>,
    /// Answer → caller bridged.
    pub to_bridge: Vec<Ms>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub callers: usize,
    pub to_person: usize,
    pub to_machine: usize,
    pub voicemail: usize,
    pub hung_up: usize,
    /// Callers who booked a callback while waiting (issue 15 point 4) and
    /// were let go.
    pub callbacks: usize,
    /// Callers refused with `<Reject>` (blocked or withheld numbers).
    pub rejected: usize,
    /// Callers who ended nowhere sensible, with why.
    pub lost: Vec<String>,
    /// Callers left waiting in the queue more than [`STRANDED_GRACE`] after
    /// their task stopped routing (reached the nobody queue or was canceled).
    pub stranded: Vec<String>,
    /// Callers who waited in the queue longer than `MAX_WAIT_SECS` plus one
    /// heartbeat (`HOLD_STRETCH_SECS`), with how long.
    pub overlong_waits: Vec<String>,
    /// Workers left Unavailable longer than the longest cooldown plus one
    /// scheduler tick (the tick that ends a cooldown may come that late),
    /// with how long.
    pub overlong_cooldowns: Vec<String>,
    /// Worker legs placed after their caller had left the queue (pressed 2,
    /// the last offer, voicemail): a phone rung for nobody.
    pub rung_after_leaving: Vec<String>,
    /// Tasks that ended neither `completed` nor `canceled`, with their status.
    pub tasks_unended: Vec<String>,
    /// Workers on duty, with no call, whose voice capacity an ended call's
    /// task still holds (never offered another call).
    pub workers_held: Vec<String>,
    pub legs_ringing: usize,
    pub callers_on_line: usize,
    pub reservations_pending: usize,
    pub offer_loops: usize,
    /// Reservations whose reject reached Twilio more than once (429/5xx answers are not "reached").
    pub repeated_rejects: usize,
    /// Reservations whose worker's phone was called more than once.
    pub repeated_rings: usize,
    /// Call start → bridged, for bridged callers.
    pub answer_times: Vec<Ms>,
    pub per_phone: BTreeMap<&'static str, PhoneStats>,
    pub anomalies: Vec<String>,
}

/// A caller who waited this long in the nobody queue was not sent to voicemail.
const NOBODY_QUEUE_GRACE: Ms = 10_000;
/// Longest a caller may keep waiting once nobody can take the call: the wait
/// URL's heartbeat comes at least this often.
pub const STRANDED_GRACE: Ms = 30_000;

/// The reservation SID a callback URL's query carries (`WR` + 32 hex digits).
fn reservation_in(url: &str) -> Option<String> {
    let at = url.find("=WR")? + 1;
    url.get(at..at + 34).map(str::to_string)
}

/// The first few of a long list, for a readable failure.
fn first(list: &[String]) -> &[String] {
    &list[..list.len().min(5)]
}

fn mean(v: &[Ms]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<Ms>() as f64 / v.len() as f64
    }
}

/// The `p`th percentile of `values` by nearest rank, as the digest takes it.
pub fn percentile<T: Copy + Ord>(values: &[T], p: usize) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn p95(v: &[Ms]) -> Ms {
    percentile(v, 95).unwrap_or(0)
}

impl Outcome {
    pub fn of(world: &World) -> Self {
        let mut o = Outcome {
            reservations_pending: world.tr.pending_reservations().len(),
            offer_loops: world.tr.offer_loops.len(),
            anomalies: world.anomalies.clone(),
            ..Default::default()
        };
        let mut rejects: BTreeMap<&str, usize> = BTreeMap::new();
        let mut rings: BTreeMap<String, usize> = BTreeMap::new();
        for r in world
            .rest
            .iter()
            .filter(|r| r.status != 429 && r.status < 500)
        {
            if let Some((_, res)) = r.path.rsplit_once("/Reservations/") {
                *rejects.entry(res).or_default() += 1;
            }
            if r.path.ends_with("/Calls.json")
                && let Some(res) = r.param("Url").and_then(reservation_in)
            {
                let left = world
                    .tr
                    .reservations
                    .get(&res)
                    .and_then(|rv| world.tr.tasks.get(&rv.task_sid))
                    .and_then(|t| t.attributes["call_sid"].as_str())
                    .and_then(|caller| world.calls.get(caller))
                    .filter(|caller| caller.bridged.is_none())
                    .and_then(|caller| caller.left_queue.map(|at| (caller.sid.clone(), at)));
                if let Some((caller, at)) = left.filter(|(_, at)| r.at > *at) {
                    o.rung_after_leaving.push(format!(
                        "{res}: rang {} s after {caller} left the queue",
                        (r.at - at) / 1000
                    ));
                }
                *rings.entry(res).or_default() += 1;
            }
        }
        o.repeated_rejects = rejects.values().filter(|n| **n > 1).count();
        o.repeated_rings = rings.values().filter(|n| **n > 1).count();
        let task_of = |call_sid: &str| task_of(world, call_sid);
        let booked = Callbacks::booked(world);
        for task in world.tr.tasks.values() {
            if !matches!(task.status, TaskStatus::Completed | TaskStatus::Canceled) {
                o.tasks_unended
                    .push(format!("{}: {}", task.sid, task.status.as_str()));
            }
        }
        for worker in world.tr.workers.values() {
            let held = worker
                .reservation
                .as_ref()
                .and_then(|r| world.tr.reservations.get(r))
                .filter(|r| {
                    matches!(
                        r.status,
                        ReservationStatus::Accepted | ReservationStatus::Wrapping
                    )
                })
                .and_then(|r| world.tr.tasks.get(&r.task_sid))
                .and_then(|t| t.attributes["call_sid"].as_str())
                .and_then(|c| world.calls.get(c))
                .is_some_and(|c| c.status.ended());
            if held
                && world
                    .tr
                    .settings
                    .is_available_activity(&worker.activity_sid)
            {
                o.workers_held.push(worker.friendly_name.clone());
            }
        }
        if let Some(longest) = world.longest_cooldown_ms {
            for (sid, from, until) in &world.tr.unavailable {
                let stayed = until.unwrap_or(world.now).saturating_sub(*from);
                if stayed > longest + crate::sim::TICK_MS {
                    let name = world
                        .tr
                        .workers
                        .get(sid)
                        .map_or(sid.as_str(), |w| &w.friendly_name);
                    o.overlong_cooldowns
                        .push(format!("{name}: Unavailable {} s", stayed / 1000));
                }
            }
        }
        for call in world.calls.values() {
            if call.caller.is_some() {
                let task = task_of(&call.sid);
                let routing_ended = task.and_then(|t| match (t.nobody_since, t.canceled_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                });
                let left = call.left_queue.or(call.ended).unwrap_or(world.now);
                if let Some(since) = routing_ended
                    && left.saturating_sub(since) > STRANDED_GRACE
                {
                    o.stranded.push(format!(
                        "{}: waited {} s after its task stopped routing",
                        call.sid,
                        (left - since) / 1000
                    ));
                }
                let longest = world
                    .max_wait_ms
                    .map(|max| max + homeline_core::domain::inbound::HOLD_STRETCH_SECS * 1000);
                if let (Some(longest), Some(task)) = (longest, task) {
                    let waited = left.saturating_sub(task.created);
                    if waited > longest {
                        o.overlong_waits.push(format!(
                            "{}: waited {} s in the queue",
                            call.sid,
                            waited / 1000
                        ));
                    }
                }
                o.callers += 1;
                if !call.status.ended() {
                    o.callers_on_line += 1;
                }
                let machine_peer = call
                    .peer
                    .as_ref()
                    .and_then(|p| world.calls.get(p))
                    .and_then(|w| w.phone.as_ref())
                    .is_some_and(|p| p.is_machine());
                let stuck_in_nobody = task.and_then(|t| t.nobody_since).is_some_and(|since| {
                    call.ended.unwrap_or(world.now).saturating_sub(since) > NOBODY_QUEUE_GRACE
                }) && !call.voicemail_recorded;
                if let Some(bridged) = call.bridged {
                    o.answer_times.push(bridged - call.created);
                    if machine_peer {
                        o.to_machine += 1;
                    } else {
                        o.to_person += 1;
                    }
                } else if call.voicemail_recorded {
                    o.voicemail += 1;
                } else if call.rejected {
                    o.rejected += 1;
                } else if booked.contains_key(call.sid.as_str()) {
                    o.callbacks += 1;
                } else if stuck_in_nobody {
                    o.lost
                        .push(format!("{}: left in the nobody queue", call.sid));
                } else if call.hung_up_self {
                    o.hung_up += 1;
                } else if !call.status.ended() {
                    o.lost
                        .push(format!("{}: still on the line, {:?}", call.sid, call.leg));
                } else {
                    o.lost.push(format!(
                        "{}: ended without a person or voicemail (heard {:?})",
                        call.sid, call.heard
                    ));
                }
            } else if let Some(phone) = &call.phone {
                if matches!(call.status, CallStatus::Queued | CallStatus::Ringing) {
                    o.legs_ringing += 1;
                }
                if call.dialed_by.is_some() {
                    // A customer called back, not a worker's phone.
                    continue;
                }
                let stats = o.per_phone.entry(phone.kind()).or_default();
                stats.legs += 1;
                if let Some(answered) = call.answered {
                    stats.answered += 1;
                    let heard = call.first_audio.or(call.ended).unwrap_or(world.now);
                    stats.silence.push(heard.saturating_sub(answered));
                    if let Some(bridged) = call.bridged {
                        stats.bridged += 1;
                        stats.to_bridge.push(bridged - answered);
                    }
                }
            }
        }
        o
    }

    /// The invariants every run must keep.
    pub fn invariant_failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.to_machine > 0 {
            f.push(format!("{} callers bridged to a machine", self.to_machine));
        }
        if !self.lost.is_empty() {
            f.push(format!(
                "{} callers lost: {:?}",
                self.lost.len(),
                first(&self.lost)
            ));
        }
        if !self.stranded.is_empty() {
            f.push(format!(
                "{} callers stranded in the queue: {:?}",
                self.stranded.len(),
                first(&self.stranded)
            ));
        }
        if !self.rung_after_leaving.is_empty() {
            f.push(format!(
                "{} worker legs placed after the caller left the queue: {:?}",
                self.rung_after_leaving.len(),
                first(&self.rung_after_leaving)
            ));
        }
        if !self.overlong_waits.is_empty() {
            f.push(format!(
                "{} callers waited past MAX_WAIT_SECS plus one heartbeat: {:?}",
                self.overlong_waits.len(),
                first(&self.overlong_waits)
            ));
        }
        if !self.overlong_cooldowns.is_empty() {
            f.push(format!(
                "{} workers stayed Unavailable past their longest cooldown plus a tick: {:?}",
                self.overlong_cooldowns.len(),
                first(&self.overlong_cooldowns)
            ));
        }
        if !self.tasks_unended.is_empty() {
            f.push(format!(
                "{} tasks neither completed nor canceled: {:?}",
                self.tasks_unended.len(),
                first(&self.tasks_unended)
            ));
        }
        if !self.workers_held.is_empty() {
            f.push(format!(
                "{} workers on duty held by an ended call: {:?}",
                self.workers_held.len(),
                first(&self.workers_held)
            ));
        }
        if self.legs_ringing > 0 {
            f.push(format!("{} worker legs left ringing", self.legs_ringing));
        }
        if self.reservations_pending > 0 {
            f.push(format!(
                "{} reservations left pending",
                self.reservations_pending
            ));
        }
        if self.repeated_rejects > 0 {
            f.push(format!(
                "{} reservations rejected more than once",
                self.repeated_rejects
            ));
        }
        if self.repeated_rings > 0 {
            f.push(format!(
                "{} reservations rang the worker more than once",
                self.repeated_rings
            ));
        }
        if self.offer_loops > 0 {
            f.push(format!(
                "{} tasks offered again and again",
                self.offer_loops
            ));
        }
        f
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        let s = |ms: f64| ms / 1000.0;
        let _ = writeln!(t, "| outcome | callers |\n|---|---|");
        for (name, n) in [
            ("bridged to a person", self.to_person),
            ("bridged to a machine", self.to_machine),
            ("voicemail recorded", self.voicemail),
            ("hung up while waiting", self.hung_up),
            ("booked a callback", self.callbacks),
            ("lost", self.lost.len()),
            ("total", self.callers),
        ] {
            let _ = writeln!(t, "| {name} | {n} |");
        }
        let _ = writeln!(
            t,
            "\n| invariant | value |\n|---|---|\n| callers stranded > 30 s | {} |\n| tasks neither completed nor canceled | {} |\n| workers on duty held by an ended call | {} |\n| worker legs left ringing | {} |\n| reservations left pending | {} |\n| tasks offered in a loop | {} |\n| workers Unavailable past their cooldown | {} |\n| reservations rejected twice / rung twice | {} / {} |\n| time to answer, mean | {:.1} s |\n| time to answer, p95 | {:.1} s |",
            self.stranded.len(),
            self.tasks_unended.len(),
            self.workers_held.len(),
            self.legs_ringing,
            self.reservations_pending,
            self.offer_loops,
            self.overlong_cooldowns.len(),
            self.repeated_rejects,
            self.repeated_rings,
            s(mean(&self.answer_times)),
            s(p95(&self.answer_times) as f64),
        );
        let _ = writeln!(
            t,
            "\n| worker's phone | legs | answered | bridged | silence after answering, mean / max | answer → bridge, mean / max |\n|---|---|---|---|---|---|"
        );
        for (kind, st) in &self.per_phone {
            let max = |v: &[Ms]| v.iter().max().copied().unwrap_or(0) as f64;
            let _ = writeln!(
                t,
                "| {kind} | {} | {} | {} | {:.1} s / {:.1} s | {} |",
                st.legs,
                st.answered,
                st.bridged,
                s(mean(&st.silence)),
                s(max(&st.silence)),
                if st.to_bridge.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{:.1} s / {:.1} s",
                        s(mean(&st.to_bridge)),
                        s(max(&st.to_bridge))
                    )
                },
            );
        }
        t
    }
}

/// The follow-ups of a run (voicemails and abandoned calls), and the call
/// backs that served them.
#[derive(Debug, Default)]
pub struct FollowUps {
    pub created: usize,
    /// Claimed at least once.
    pub claimed: usize,
    /// A call back to the customer was answered.
    pub reached: usize,
    /// Escalation texts the scheduler sent.
    pub escalated: usize,
    /// The customer's call ended → a call back answered, for reached ones.
    pub to_reached: Vec<Ms>,
    /// Follow-ups left claimed or calling with no call back under way.
    pub stuck: Vec<String>,
    /// Calls to customers shown another caller ID than `CALLBACK_CALLER_ID`.
    pub wrong_caller_id: Vec<String>,
    /// Customers (or claimers of one follow-up) rung by two calls at once.
    pub overlapping: Vec<String>,
    /// Callers who hung up after `ABANDON_SECS` in the queue without a
    /// message (in it, or later in voicemail) and have no follow-up.
    pub abandoned_unfollowed: Vec<String>,
}

/// Pairs of `(key, start, end)` spans with the same key that overlap.
fn overlaps(mut spans: Vec<(String, Ms, Ms)>) -> Vec<String> {
    spans.sort();
    spans
        .windows(2)
        .filter(|w| w[0].0 == w[1].0 && w[1].1 < w[0].2)
        .map(|w| {
            format!(
                "{}: calls at {} s and {} s",
                w[0].0,
                w[0].1 / 1000,
                w[1].1 / 1000
            )
        })
        .collect()
}

impl FollowUps {
    /// `follow_ups`: as stored at the end of the run, one per customer call
    /// that opened one; `abandon_after_secs` is `ABANDON_SECS`.
    pub fn of(
        world: &World,
        follow_ups: &[FollowUp],
        callback_caller_id: &str,
        abandon_after_secs: u64,
    ) -> Self {
        let dialled: Vec<_> = world
            .calls
            .values()
            .filter(|c| c.dialed_by.is_some())
            .collect();
        let end = |c: &crate::sim::Call| c.ended.unwrap_or(world.now);
        let mut o = FollowUps {
            created: follow_ups.len(),
            claimed: follow_ups.iter().filter(|f| f.claims > 0).count(),
            ..Default::default()
        };
        for f in follow_ups {
            let since = world.calls.get(&f.call_sid).map_or(0, end);
            let reached = dialled
                .iter()
                .filter(|c| c.to == f.caller && c.created >= since)
                .filter_map(|c| c.answered)
                .min();
            if let Some(at) = reached {
                o.reached += 1;
                o.to_reached.push(at - since);
            }
            let live = |c: &&crate::sim::Call| !c.status.ended();
            if matches!(f.state, FollowUpState::Claimed | FollowUpState::Calling)
                && !world.calls.values().any(|c| {
                    live(&c)
                        && c.outbound
                            .as_ref()
                            .is_some_and(|o| o.url.contains(&f.call_sid))
                })
            {
                o.stuck.push(format!(
                    "#{} ({}): {}",
                    f.number,
                    f.call_sid,
                    f.state.as_str()
                ));
            }
        }
        o.wrong_caller_id = dialled
            .iter()
            .filter(|c| c.from != callback_caller_id)
            .map(|c| format!("{} saw {}", c.to, c.from))
            .collect();
        // Claimer calls carry the follow-up's call SID in their URL. One
        // acts on the follow-up until an answer hangs it up (the goodbye
        // once it was given back, or the dial's end): a claim made while it
        // plays that goodbye is the next claimer's, not a second at once.
        let hung_up_by = |sid: &str| {
            world
                .delivered
                .iter()
                .filter(|d| d.path == paths::CALL_BACK_KEY || d.path == paths::CALL_BACK_DIALED)
                .filter(|d| d.param("CallSid") == Some(sid) && d.body.contains("<Hangup/>"))
                .map(|d| d.at)
                .min()
        };
        let claimer_calls = world.calls.values().filter_map(|c| {
            let url = &c.outbound.as_ref()?.url;
            let (_, query) = url.split_once(&format!("{}?call=", paths::CALL_BACK))?;
            let follow_up = query.split('&').next()?.to_string();
            let acting_until = hung_up_by(&c.sid).map_or(end(c), |at| at.min(end(c)));
            Some((follow_up, c.created, acting_until))
        });
        let customer_calls = dialled.iter().map(|c| (c.to.clone(), c.created, end(c)));
        o.overlapping = overlaps(claimer_calls.chain(customer_calls).collect());
        o.abandoned_unfollowed = world
            .calls
            .values()
            .filter(|c| c.caller.is_some() && !c.rejected)
            .filter(|c| crate::digest::abandoned(world, c, abandon_after_secs))
            .filter(|c| follow_ups.iter().all(|f| f.call_sid != c.sid))
            .map(|c| format!("{} ({})", c.from, c.sid))
            .collect();
        o.escalated = world
            .delivered
            .iter()
            .filter(|d| d.path == SCHEDULER)
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(&d.body).ok())
            .filter_map(|run| run["escalation"]["sent"].as_u64())
            .sum::<u64>() as usize;
        o
    }

    /// The median of [`FollowUps::to_reached`].
    pub fn median_to_reached(&self) -> Option<Ms> {
        let mut v = self.to_reached.clone();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2).copied()
    }

    pub fn invariant_failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if !self.stuck.is_empty() {
            f.push(format!(
                "{} follow-ups stuck: {:?}",
                self.stuck.len(),
                first(&self.stuck)
            ));
        }
        if !self.wrong_caller_id.is_empty() {
            f.push(format!(
                "{} call backs not from CALLBACK_CALLER_ID: {:?}",
                self.wrong_caller_id.len(),
                first(&self.wrong_caller_id)
            ));
        }
        if !self.overlapping.is_empty() {
            f.push(format!(
                "{} follow-ups called twice at once: {:?}",
                self.overlapping.len(),
                first(&self.overlapping)
            ));
        }
        if !self.abandoned_unfollowed.is_empty() {
            f.push(format!(
                "{} callers hung up after ABANDON_SECS without a message and no follow-up: {:?}",
                self.abandoned_unfollowed.len(),
                first(&self.abandoned_unfollowed)
            ));
        }
        f
    }

    pub fn table(&self) -> String {
        let ratio = |n: usize| {
            if self.created == 0 {
                0.0
            } else {
                n as f64 * 100.0 / self.created as f64
            }
        };
        let mut t = String::from("| follow-ups | count | of created |\n|---|---|---|\n");
        for (name, n) in [
            ("created (voicemail or abandoned)", self.created),
            ("claimed", self.claimed),
            ("reached by a call back", self.reached),
            ("escalated", self.escalated),
        ] {
            let _ = writeln!(t, "| {name} | {n} | {:.0}% |", ratio(n));
        }
        let _ = writeln!(
            t,
            "\nmedian time from voicemail or abandon to the call back reaching the customer: {}",
            self.median_to_reached()
                .map_or("-".to_string(), |ms| format!(
                    "{:.1} min",
                    ms as f64 / 60_000.0
                ))
        );
        t
    }
}

/// How the coverage guard saw the day: every scheduler run during business
/// hours names the menu skills nobody covered.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Scheduler runs while the line was open.
    pub open_minutes: usize,
    /// Runs in which at least one skill was uncovered.
    pub uncovered_minutes: usize,
    /// Skill-minutes uncovered (a skill uncovered in a run counts one).
    pub uncovered_skill_minutes: usize,
    /// Coverage texts sent to the admins.
    pub alerts: usize,
}

impl Coverage {
    /// `open`: whether the line was open at a run's simulated instant.
    pub fn of(world: &World, open: impl Fn(Ms) -> bool) -> Self {
        let mut c = Coverage::default();
        for d in world.delivered.iter().filter(|d| d.path == SCHEDULER) {
            let Ok(run) = serde_json::from_str::<serde_json::Value>(&d.body) else {
                continue;
            };
            if open(d.at) {
                c.open_minutes += 1;
            }
            let uncovered = run["coverage"]["uncovered"].as_array().map_or(0, Vec::len);
            c.uncovered_skill_minutes += uncovered;
            c.uncovered_minutes += usize::from(uncovered > 0);
            c.alerts += run["coverage"]["sent"].as_u64().unwrap_or(0) as usize;
        }
        c
    }

    pub fn line(&self) -> String {
        format!(
            "coverage during business hours: a skill was uncovered in {} of {} minutes ({} skill-minutes); {} coverage texts sent to the admin",
            self.uncovered_minutes, self.open_minutes, self.uncovered_skill_minutes, self.alerts
        )
    }
}

/// The task `<Enqueue>` made for the customer call `call_sid`.
fn task_of<'w>(world: &'w World, call_sid: &str) -> Option<&'w Task> {
    world
        .tr
        .tasks
        .values()
        .find(|t| t.attributes["call_sid"].as_str() == Some(call_sid))
}

/// The worker (SID) a bridged customer call was put through to: its
/// task's accepted reservation.
fn taken_by(world: &World, call: &crate::sim::Call) -> Option<String> {
    call.bridged?;
    task_of(world, &call.sid)?
        .reservations
        .iter()
        .filter_map(|r| world.tr.reservations.get(r))
        .find(|r| {
            matches!(
                r.status,
                ReservationStatus::Accepted
                    | ReservationStatus::Wrapping
                    | ReservationStatus::Completed
            )
        })
        .map(|r| r.worker_sid.clone())
}

/// Whether the wait estimates callers heard were kept (issue 15 point 3):
/// a caller told "about N minutes" (or "less than a minute") should be put
/// through within it, counted from their task's creation.
#[derive(Debug, Default)]
pub struct Estimates {
    /// Callers who heard an estimate.
    pub told: usize,
    /// Put through within it.
    pub kept: usize,
    /// Put through later, or still not put through when it was due.
    pub broken: Vec<String>,
    /// Left before it was due without being put through (hung up, pressed 2).
    pub untested: usize,
}

impl Estimates {
    pub fn of(world: &World) -> Self {
        let mut e = Estimates::default();
        for call in world.calls.values().filter(|c| c.caller.is_some()) {
            let Some(said) = call.heard.iter().find_map(|h| Estimate::heard(h)) else {
                continue;
            };
            let Some(task) = task_of(world, &call.sid) else {
                continue;
            };
            e.told += 1;
            let due = task.created + said.bound_secs() * 1000;
            let left = call.left_queue.or(call.ended).unwrap_or(world.now);
            match call.bridged {
                Some(at) if at <= due => e.kept += 1,
                None if left < due => e.untested += 1,
                _ => e.broken.push(format!(
                    "{}: told {:?}, waited {} s",
                    call.sid,
                    said,
                    call.bridged.unwrap_or(left).saturating_sub(task.created) / 1000
                )),
            }
        }
        e
    }

    pub fn line(&self) -> String {
        let tested = self.kept + self.broken.len();
        let share = if tested == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * self.kept as f64 / tested as f64)
        };
        format!(
            "wait estimates: {} callers heard one; {} of the {} still waiting when it fell due or put through were put through within it ({share}); {} left before it fell due",
            self.told, self.kept, tested, self.untested
        )
    }
}

/// Callbacks of the day (issue 15 points 4 and 8): callers who pressed 1
/// while waiting, and when a worker's leg reached them.
#[derive(Debug, Default)]
pub struct Callbacks {
    /// Callers whose callback task TaskRouter holds.
    pub requested: usize,
    /// Of those, reached by a worker's dial for one of their callback tasks.
    pub completed: usize,
    /// The first callback task's creation → the customer answering.
    pub to_callback: Vec<Ms>,
}

impl Callbacks {
    /// Each caller's call SID with its first callback task's creation.
    fn booked(world: &World) -> BTreeMap<&str, Ms> {
        let mut booked: BTreeMap<&str, Ms> = BTreeMap::new();
        for task in world.tr.tasks.values() {
            if let Some(original) = callback_of(task) {
                let at = booked.entry(original).or_insert(task.created);
                *at = (*at).min(task.created);
            }
        }
        booked
    }

    pub fn of(world: &World) -> Self {
        let booked = Self::booked(world);
        // The earliest answer of a customer leg placed for a callback task.
        let mut reached: BTreeMap<&str, Ms> = BTreeMap::new();
        for (original, _, customer) in callback_legs(world) {
            if let Some(answered) = customer.answered {
                let at = reached.entry(original).or_insert(answered);
                *at = (*at).min(answered);
            }
        }
        Callbacks {
            requested: booked.len(),
            completed: reached.len(),
            to_callback: reached
                .iter()
                .filter_map(|(original, at)| Some(at.saturating_sub(*booked.get(original)?)))
                .collect(),
        }
    }

    pub fn line(&self) -> String {
        let median = percentile(&self.to_callback, 50)
            .map_or("-".to_string(), |ms| format!("{:.0} s", ms as f64 / 1000.0));
        format!(
            "callbacks: {} requested, {} completed; median time from request to callback {median}",
            self.requested, self.completed
        )
    }
}

/// Customer legs a worker's leg dialed for a callback task (follow-up
/// claims dial customers too, with no task): the call SID whose place the
/// task kept, the worker's leg, the customer's leg.
pub fn callback_legs(world: &World) -> impl Iterator<Item = (&str, &Call, &Call)> {
    world.calls.values().filter_map(|customer| {
        let worker = world.calls.get(customer.dialed_by.as_ref()?)?;
        let res = reservation_in(&worker.outbound.as_ref()?.url)?;
        let task = world
            .tr
            .tasks
            .get(&world.tr.reservations.get(&res)?.task_sid)?;
        Some((callback_of(task)?, worker, customer))
    })
}

/// The call SID a callback task keeps the place of.
pub(crate) fn callback_of(task: &Task) -> Option<&str> {
    (task.attributes["type"] == homeline_core::service::callback::CALLBACK_TYPE)
        .then(|| task.attributes["original_call_sid"].as_str())
        .flatten()
}

/// Callers who called again later in the day (issue 15 points 5 and 8).
#[derive(Debug, Default)]
pub struct Returning {
    /// Calls from a number that called before that day.
    pub calls: usize,
    /// Of those, calls whose number a worker had put through before: they
    /// have a last worker.
    pub with_last_worker: usize,
    /// Of those, put through to that same worker.
    pub reached_last_worker: usize,
    /// Of those, calls whose last worker was on duty and free when their
    /// task was created.
    pub last_worker_free: usize,
    /// Returning calls whose last worker was on duty and free when their
    /// task was created, yet was not the first offered it.
    pub not_offered_first: Vec<String>,
}

impl Returning {
    pub fn of(world: &World) -> Self {
        let mut r = Returning::default();
        let mut by_number: BTreeMap<&str, Vec<&crate::sim::Call>> = BTreeMap::new();
        for call in world.calls.values().filter(|c| c.caller.is_some()) {
            by_number.entry(call.from.as_str()).or_default().push(call);
        }
        for calls in by_number.values_mut() {
            calls.sort_by_key(|c| c.created);
            let mut last_worker: Option<String> = None;
            for (i, call) in calls.iter().enumerate() {
                if i > 0 {
                    r.calls += 1;
                }
                let taken = taken_by(world, call);
                if let Some(last) = &last_worker {
                    r.with_last_worker += 1;
                    if taken.as_ref() == Some(last) {
                        r.reached_last_worker += 1;
                    }
                    if let Some(task) = task_of(world, &call.sid)
                        && task.free_at_creation.contains(last)
                    {
                        r.last_worker_free += 1;
                        let first = task
                            .reservations
                            .first()
                            .and_then(|res| world.tr.reservations.get(res))
                            .map(|res| res.worker_sid.as_str());
                        if first != Some(last.as_str()) {
                            r.not_offered_first.push(format!(
                                "{}: last worker {last} free, first offered to {first:?}",
                                call.sid
                            ));
                        }
                    }
                }
                if taken.is_some() {
                    last_worker = taken;
                }
            }
        }
        r
    }

    pub fn invariant_failures(&self) -> Vec<String> {
        if self.not_offered_first.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} returning callers not offered first to their free last worker: {:?}",
            self.not_offered_first.len(),
            first(&self.not_offered_first)
        )]
    }

    pub fn line(&self) -> String {
        let share = if self.with_last_worker == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.0}%",
                100.0 * self.reached_last_worker as f64 / self.with_last_worker as f64
            )
        };
        format!(
            "returning callers: {} calls again later in the day, {} with a last worker; {} reached their last worker ({share}); {} found their last worker on duty and free, {} of them offered first to someone else",
            self.calls,
            self.with_last_worker,
            self.reached_last_worker,
            self.last_worker_free,
            self.not_offered_first.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_one_key_that_overlap() {
        let span = |k: &str, a, b| (k.to_string(), a, b);
        assert_eq!(
            overlaps(vec![
                span("x", 0, 10_000),
                span("y", 5_000, 9_000),
                span("x", 10_000, 20_000)
            ]),
            Vec::<String>::new()
        );
        assert_eq!(
            overlaps(vec![span("x", 0, 10_000), span("x", 9_000, 12_000)]).len(),
            1
        );
    }

    #[test]
    fn p95_and_mean() {
        let v: Vec<Ms> = (1..=100).collect();
        assert_eq!(p95(&v), 95);
        assert_eq!(mean(&[1000, 3000]), 2000.0);
        assert_eq!(p95(&[]), 0);
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile::<Ms>(&[], 50), None);
        let res = format!("WR{:032x}", 9);
        assert_eq!(
            reservation_in(&format!(
                "https://x/amd-result?TaskSid=WT1&ReservationSid={res}"
            )),
            Some(res)
        );
    }
}

/// The `From` of a withheld caller on the simulated day.
pub const WITHHELD: &str = "anonymous";

/// The numbers of the day's screened callers (withheld callers share
/// [`WITHHELD`]).
#[derive(Debug, Clone, Default)]
pub struct Screened {
    pub blocked: Vec<String>,
    pub spoofed: Vec<String>,
}

/// What became of the callers kept from the workers.
#[derive(Debug, Clone, Default)]
pub struct Screening {
    pub withheld: usize,
    pub blocked: usize,
    pub spoofed: usize,
    /// Blocked callers refused with `<Reject>`.
    pub rejected: usize,
    /// Withheld and spoofed callers who reached the beep (a message, or
    /// hung up at it).
    pub to_voicemail: usize,
    /// Screened callers whose call became a task: a worker's phone could ring.
    pub given_a_task: Vec<String>,
    /// Blocked callers not refused with `<Reject>`.
    pub not_rejected: Vec<String>,
}

impl Screening {
    pub fn of(world: &World, screened: &Screened) -> Self {
        let mut o = Screening::default();
        for call in world.calls.values().filter(|c| c.caller.is_some()) {
            let blocked = screened.blocked.contains(&call.from);
            let withheld = call.from == WITHHELD;
            if !(blocked || withheld || screened.spoofed.contains(&call.from)) {
                continue;
            }
            if blocked {
                o.blocked += 1;
                if call.rejected {
                    o.rejected += 1;
                } else {
                    o.not_rejected.push(call.sid.clone());
                }
            } else {
                if withheld {
                    o.withheld += 1;
                } else {
                    o.spoofed += 1;
                }
                if call.voicemail_recorded {
                    o.to_voicemail += 1;
                }
            }
            let tasked = world
                .tr
                .tasks
                .values()
                .any(|t| t.attributes["call_sid"].as_str() == Some(call.sid.as_str()));
            if tasked {
                o.given_a_task.push(format!("{} ({})", call.from, call.sid));
            }
        }
        o
    }

    pub fn invariant_failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if !self.given_a_task.is_empty() {
            f.push(format!(
                "{} screened callers offered to the workers: {:?}",
                self.given_a_task.len(),
                first(&self.given_a_task)
            ));
        }
        if !self.not_rejected.is_empty() {
            f.push(format!(
                "{} blocked callers not rejected: {:?}",
                self.not_rejected.len(),
                first(&self.not_rejected)
            ));
        }
        f
    }

    pub fn line(&self) -> String {
        format!(
            "screened callers: {} withheld and {} failing SHAKEN/STIR, {} of them left a message; {} blocked, {} rejected; {} offered to a worker",
            self.withheld,
            self.spoofed,
            self.to_voicemail,
            self.blocked,
            self.rejected,
            self.given_a_task.len()
        )
    }
}

/// Each worker's share of the day's offers (reservations) against their
/// share of the day's time on duty (outside the offline activity): 1.00 is
/// offered in proportion to time on duty.
#[derive(Debug, Clone, Default)]
pub struct Fairness {
    /// Name (phone type and index), offers, time on duty.
    pub workers: Vec<(String, usize, Ms)>,
}

impl Fairness {
    pub fn of(world: &World) -> Self {
        let mut offers: BTreeMap<&str, usize> = BTreeMap::new();
        for r in world.tr.reservations.values() {
            *offers.entry(r.worker_sid.as_str()).or_default() += 1;
        }
        let workers = world
            .tr
            .workers
            .values()
            .map(|w| {
                let name = world
                    .workers
                    .get(&w.friendly_name)
                    .map_or_else(|| w.friendly_name.clone(), |s| s.name.clone());
                let offered = offers.get(w.sid.as_str()).copied().unwrap_or(0);
                (name, offered, w.on_duty_until(world.now))
            })
            .filter(|(_, _, on_duty)| *on_duty > 0)
            .collect();
        Self { workers }
    }

    /// Share of offers ÷ share of time on duty, of workers named `name` or
    /// starting with it and a space (a phone type).
    fn ratio(&self, of: impl Fn(&str) -> bool) -> Option<f64> {
        let total = |pick: &dyn Fn(&(String, usize, Ms)) -> bool| {
            self.workers
                .iter()
                .filter(|w| pick(w))
                .fold((0usize, 0 as Ms), |(o, d), w| (o + w.1, d + w.2))
        };
        let (all_offers, all_on_duty) = total(&|_| true);
        let (offers, on_duty) = total(&|w| of(&w.0));
        (all_offers > 0 && on_duty > 0)
            .then(|| (offers as f64 / all_offers as f64) / (on_duty as f64 / all_on_duty as f64))
    }

    /// Every worker's ratio, lowest first.
    pub fn spread(&self) -> Vec<(String, f64)> {
        let mut ratios: Vec<(String, f64)> = self
            .workers
            .iter()
            .filter_map(|(name, _, _)| Some((name.clone(), self.ratio(|n| n == name)?)))
            .collect();
        ratios.sort_by(|a, b| a.1.total_cmp(&b.1));
        ratios
    }

    pub fn table(&self) -> String {
        let spread = self.spread();
        let (Some(low), Some(high)) = (spread.first(), spread.last()) else {
            return "fairness: no worker on duty\n".into();
        };
        let mut kinds: Vec<&str> = self
            .workers
            .iter()
            .map(|(name, _, _)| {
                name.rsplit_once(' ')
                    .map_or(name.as_str(), |(kind, _)| kind)
            })
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let by_kind: Vec<String> = kinds
            .iter()
            .filter_map(|kind| {
                let of_kind = |n: &str| n.rsplit_once(' ').is_some_and(|(k, _)| k == *kind);
                Some(format!("{kind} {:.2}", self.ratio(of_kind)?))
            })
            .collect();
        format!(
            "fairness (share of offers ÷ share of time on duty; 1.00 = in proportion), {} workers: \
             min {:.2} ({}), max {:.2} ({}); by phone: {}\n",
            spread.len(),
            low.1,
            low.0,
            high.1,
            high.0,
            by_kind.join(", ")
        )
    }
}

#[cfg(test)]
mod fairness_tests {
    use super::*;

    #[test]
    fn ratios_compare_shares_of_offers_and_of_time_on_duty() {
        let fairness = Fairness {
            workers: vec![
                ("reliable 0".into(), 30, 3_600_000),
                ("reliable 1".into(), 10, 1_800_000),
                ("flaky 2".into(), 20, 5_400_000),
            ],
        };
        // Offers 30/60, time 1/3: 1.5.
        let spread = fairness.spread();
        assert_eq!(spread[0].0, "flaky 2");
        assert!((spread[0].1 - (20.0 / 60.0) / 0.5).abs() < 1e-9);
        assert!((spread[2].1 - 1.5).abs() < 1e-9);
        let table = fairness.table();
        assert!(
            table.contains("min 0.67 (flaky 2), max 1.50 (reliable 0)"),
            "{table}"
        );
        // Reliable: 40/60 of offers in 1/2 of the time.
        assert!(table.contains("flaky 0.67, reliable 1.33"), "{table}");
    }
}
