//! How fast a router that knew which phones would answer could have put the
//! same callers through to a person (issue 17, point 1), and what Homeline's
//! rings that reached nobody cost the workers.
//!
//! The oracle takes the same day: each caller's arrival, the moment their
//! task was ready to route (greeting and menu are the same for both), their
//! skill, patience and talk time; each worker's skills, the moment they went
//! on duty and their phone. It offers callers first come, first served to
//! the worker who can put them through soonest, and rings only a phone that
//! a person answers: the fastest person among that worker's outcomes, so
//! its times are a floor. It never cools anyone down or takes them off duty.

use std::collections::BTreeMap;

use crate::Ms;
use crate::phones::Phone;
use crate::report::percentile;
use crate::sim::World;

/// Times to a person, from the caller's first ring (milliseconds).
#[derive(Debug, Default)]
pub struct TimeToHuman {
    pub homeline: Vec<Ms>,
    pub oracle: Vec<Ms>,
    /// Seconds of worker legs that reached no person (rang out, busy, a
    /// machine, a caller gone), per caller bridged to a person.
    pub wasted_leg_secs_per_answer: f64,
}

struct Worker {
    skills: Vec<String>,
    on_duty: Ms,
    pickup: Ms,
    free_at: Ms,
}

impl TimeToHuman {
    pub fn of(world: &World) -> Self {
        let mut workers: BTreeMap<&str, Worker> = BTreeMap::new();
        for (phone, script) in &world.workers {
            let fastest = script
                .profile
                .0
                .iter()
                .filter_map(|(_, p)| match p {
                    Phone::Person { answer_after, .. } => Some(*answer_after),
                    _ => None,
                })
                .min();
            let on_duty = world
                .delivered
                .iter()
                .find(|d| {
                    d.path == "/intake/sms"
                        && d.param("From") == Some(phone.as_str())
                        && d.param("Body").is_some_and(|b| b.starts_with("on"))
                })
                .map(|d| d.at);
            if let (Some(pickup), Some(on_duty)) = (fastest, on_duty) {
                workers.insert(
                    phone.as_str(),
                    Worker {
                        skills: script.skills.clone(),
                        on_duty,
                        pickup,
                        free_at: 0,
                    },
                );
            }
        }
        // Callers whose task was ready to route, in that order.
        let mut ready: Vec<(Ms, &crate::sim::Call, String)> = world
            .tr
            .tasks
            .values()
            .filter_map(|t| {
                let call = world.calls.get(t.attributes["call_sid"].as_str()?)?;
                let skill = t.attributes["skill"].as_str()?.to_string();
                Some((t.created, call, skill))
            })
            .collect();
        ready.sort_by_key(|(at, call, _)| (*at, call.sid.clone()));
        let mut oracle = Vec::new();
        for (at, call, skill) in ready {
            let Some(caller) = &call.caller else { continue };
            // Gone at the end of their patience, or when they ask for
            // voicemail or a callback.
            let mut leaves = call.created + caller.patience;
            if let Some((_, after)) = caller.wait_key {
                leaves = leaves.min(at + after);
            }
            let best = workers
                .iter_mut()
                .filter(|(_, w)| w.skills.contains(&skill))
                .map(|(phone, w)| {
                    let person_on = at.max(w.free_at).max(w.on_duty) + w.pickup;
                    (person_on, *phone)
                })
                .min();
            if let Some((person_on, phone)) = best
                && person_on <= leaves
            {
                if let Some(w) = workers.get_mut(phone) {
                    w.free_at = person_on + caller.talk;
                }
                oracle.push(person_on - call.created);
            }
        }
        let mut homeline = Vec::new();
        for call in world.calls.values().filter(|c| c.caller.is_some()) {
            let person = call
                .peer
                .as_ref()
                .and_then(|leg| world.calls.get(leg))
                .and_then(|leg| leg.phone.as_ref())
                .is_some_and(|p| !p.is_machine());
            if let (Some(bridged), true) = (call.bridged, person) {
                homeline.push(bridged - call.created);
            }
        }
        let wasted: Ms = world
            .calls
            .values()
            // The legs of reservations: not claimers' or customers' calls.
            .filter(|c| {
                c.outbound
                    .as_ref()
                    .is_some_and(|o| o.url.contains("ReservationSid="))
            })
            .filter(|leg| {
                leg.bridged.is_none() || leg.phone.as_ref().is_some_and(Phone::is_machine)
            })
            .map(|leg| leg.ended.unwrap_or(world.now).saturating_sub(leg.created))
            .sum();
        Self {
            wasted_leg_secs_per_answer: wasted as f64 / 1000.0 / homeline.len().max(1) as f64,
            homeline,
            oracle,
        }
    }

    pub fn table(&self) -> String {
        let secs =
            |v: Option<Ms>| v.map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
        let ratio = |a: Option<Ms>, b: Option<Ms>| match (a, b) {
            (Some(a), Some(b)) if b > 0 => format!("{:.2}×", a as f64 / b as f64),
            _ => "-".into(),
        };
        let (h50, h95) = (
            percentile(&self.homeline, 50),
            percentile(&self.homeline, 95),
        );
        let (o50, o95) = (percentile(&self.oracle, 50), percentile(&self.oracle, 95));
        format!(
            "| time to a person | callers reached | p50 | p95 |\n|---|---|---|---|\n\
             | Homeline | {} | {} | {} |\n\
             | oracle (knows which phones answer) | {} | {} | {} |\n\
             | Homeline ÷ oracle | | {} | {} |\n\n\
             worker-leg seconds on legs that reached no person, per caller put through: {:.1} s\n",
            self.homeline.len(),
            secs(h50),
            secs(h95),
            self.oracle.len(),
            secs(o50),
            secs(o95),
            ratio(h50, o50),
            ratio(h95, o95),
            self.wasted_leg_secs_per_answer,
        )
    }
}
