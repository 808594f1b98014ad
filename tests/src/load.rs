//! The load run: callers over a simulated hour against workers with mixed
//! phone behaviour and several skills.

use crate::cost::{Cost, TwilioUnits};
use crate::digest::DigestCheck;
use crate::harness::Stage;
use crate::oracle::TimeToHuman;
use crate::phones::{Caller, Claims, Phone, PhoneProfile, WorkerScript};
use crate::report::{
    Callbacks, Coverage, Estimates, Fairness, FollowUps, Returning, Screened, Screening, WITHHELD,
};
use crate::{Chaos, Ms, Outcome, Readings};
use homeline_core::service::{blocklist, call_record};
use homeline_core::store::CallRecordStore as _;

pub const SKILLS: [&str; 3] = ["sales", "support", "billing"];
/// Escalations go here (a manager, not a worker of the day).
pub const ADMIN: &str = "+15551990000";

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub callers: usize,
    pub workers: usize,
    /// Callers arrive uniformly over this span.
    pub span: Ms,
    pub seed: u64,
    /// Callbacks duplicated and re-ordered.
    pub chaos: bool,
    /// `ANSWER_MODE` (`hybrid`, `sync`, `screen`); `None` is Homeline's default.
    pub answer_mode: Option<&'static str>,
    /// How the stand-in reads what Twilio leaves open.
    pub readings: Readings,
    /// The skill queues order workers by answer score as `homeline
    /// provision` writes them; `false`: longest idle alone (the comparison).
    pub ordered: bool,
}

impl Plan {
    /// 200 callers over an hour, 20 workers.
    pub fn full() -> Self {
        Self {
            callers: 200,
            workers: 20,
            span: 3_600_000,
            seed: 42,
            chaos: false,
            answer_mode: None,
            readings: Readings::inconvenient(),
            ordered: true,
        }
    }
}

/// Phone behaviour by worker type: most answer, some are often busy, some
/// let calls go to voicemail, some screen unknown callers, some lose signal.
fn profile(i: usize) -> (&'static str, PhoneProfile) {
    use Phone::*;
    let fast = Phone::fast_human();
    let slow = Phone::slow_human();
    match i % 10 {
        0..=3 => (
            "reliable",
            PhoneProfile(vec![(85, fast), (10, slow), (5, NoAnswer)]),
        ),
        4 | 5 => (
            "often busy",
            PhoneProfile(vec![(50, fast), (30, Busy), (20, Phone::voicemail())]),
        ),
        6 => (
            "voicemail-prone",
            PhoneProfile(vec![(40, fast), (60, Phone::voicemail())]),
        ),
        7 => (
            "screens unknown callers",
            PhoneProfile(vec![(50, Phone::screener()), (50, slow)]),
        ),
        8 => (
            "patchy signal",
            PhoneProfile(vec![(50, Unreachable), (50, fast)]),
        ),
        _ => ("slow to pick up", PhoneProfile(vec![(100, slow)])),
    }
}

/// What a run ended with.
pub struct Day {
    pub outcome: Outcome,
    pub follow_ups: FollowUps,
    /// The admin's daily digest, held against the stand-in; `None` for a
    /// day too long to end before midnight, which has no one digest.
    pub digest: Option<DigestCheck>,
    pub coverage: Coverage,
    /// Homeline's time to a person against a router that knew the phones.
    pub time_to_human: TimeToHuman,
    /// Withheld, blocked and spoofed callers: none reached a worker.
    pub screening: Screening,
    /// Whether the wait estimates callers heard were kept.
    pub estimates: Estimates,
    /// Callers who called again later in the day.
    pub returning: Returning,
    /// Callers who pressed 1 while waiting, and how soon they were called back.
    pub callbacks: Callbacks,
    /// Each worker's share of offers against their share of on-duty time.
    pub fairness: Fairness,
    /// What the day used, and its cost per 1,000 calls.
    pub cost: Cost,
}

impl Day {
    /// Every invariant broken, callers', follow-ups' and the digest's.
    pub fn invariant_failures(&self) -> Vec<String> {
        let mut f = self.outcome.invariant_failures();
        f.extend(self.follow_ups.invariant_failures());
        f.extend(self.screening.invariant_failures());
        f.extend(self.returning.invariant_failures());
        if let Some(digest) = &self.digest {
            f.extend(digest.disagreements.iter().map(|d| format!("digest: {d}")));
        }
        f
    }
}

/// The day starts at 09:00 UTC (`TIME_ZONE` is UTC) of yesterday, so it is
/// one local day whatever the wall clock says, and in the past; business
/// hours open an hour before.
const STARTS_SECS: i64 = 9 * 3600;
const OPENS: &str = "08:00";
const DAY_SECS: i64 = 24 * 3600;
/// One caller in this many calls again later in the day, from the same number.
const CALLS_AGAIN_ONE_IN: u8 = 6;

/// When a caller who calls again does: after their first call ended at the
/// latest (their patience, a talk, a minute more), then within a quarter of
/// the span.
fn calls_again_after(first: &Caller, span: Ms, rng: &mut fastrand::Rng) -> Ms {
    first.arrive + first.patience + first.talk + 60_000 + rng.u64(0..=span / 4)
}

/// Runs the plan on a fresh stage; returns the day (after every call ended).
pub async fn run(plan: Plan) -> Day {
    let skills = SKILLS.join(",");
    // Long enough for every caller to finish, those who call again too
    // (arriving up to 10 minutes and a quarter of the span after the span).
    let last_call_ends: Ms = 30_000 + plan.span + 10 * 60_000 + plan.span / 4 + 30 * 60_000;
    let epoch =
        chrono::Utc::now().timestamp().div_euclid(DAY_SECS) * DAY_SECS - DAY_SECS + STARTS_SECS;
    // Business hours close, and the digest goes out, the first whole minute
    // after the last call (a day too long for that has no hours).
    let digest_minute =
        (STARTS_SECS + i64::try_from(last_call_ends / 1000).unwrap_or(DAY_SECS) + 59) / 60 + 1;
    let hours = (digest_minute < DAY_SECS / 60).then(|| {
        format!(
            "mon-sun {OPENS}-{:02}:{:02}",
            digest_minute / 60,
            digest_minute % 60
        )
    });
    let mut overrides = vec![("SKILLS", skills.as_str()), ("ADMIN_NUMBERS", ADMIN)];
    if let Some(hours) = &hours {
        overrides.push(("BUSINESS_HOURS", hours.as_str()));
    }
    if let Some(mode) = plan.answer_mode {
        overrides.push(("ANSWER_MODE", mode));
    }
    let stage = Stage::start(&overrides, plan.seed).await;
    stage.sim.world().tr.settings.readings = plan.readings;
    if !plan.ordered {
        stage.sim.world().tr.settings.drop_order_by();
    }
    stage.sim.world().epoch_secs = epoch;
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    for i in 0..plan.workers {
        let phone = format!("+1555100{i:04}");
        let mut skills = vec![SKILLS[i % SKILLS.len()].to_string()];
        if i % 4 == 0 {
            skills.push(SKILLS[(i + 1) % SKILLS.len()].to_string());
        }
        let (kind, profile) = profile(i);
        stage
            .enroll(WorkerScript {
                phone: phone.clone(),
                name: format!("{kind} {i}"),
                skills: skills.clone(),
                profile,
                rejoin_after: Some(rng.u64(120_000..=300_000)),
                // Most workers act on a follow-up's text within minutes, some never.
                claims: (i % 5 != 4).then_some(Claims {
                    chance: 0.4,
                    after: 30_000..=600_000,
                }),
            })
            .await;
        stage
            .sim
            .sms_at(i as Ms * 500, &phone, &format!("on {}", skills.join(" ")));
    }
    // Its own seed, so the day's other draws are those of a day without it.
    let mut waiting = fastrand::Rng::with_seed(plan.seed ^ 0x2);
    // Likewise for who calls again, and when.
    let mut again = fastrand::Rng::with_seed(plan.seed ^ 0x3);
    for i in 0..plan.callers {
        let digit = match rng.u8(0..20) {
            0 => None,
            d => Some(char::from(b'1' + d % SKILLS.len() as u8)),
        };
        let caller = Caller {
            from: format!("+1555700{i:04}"),
            arrive: 30_000 + rng.u64(0..plan.span),
            digit,
            // One in eight gives up within 15-45 s (past ABANDON_SECS).
            patience: if rng.u8(0..8) == 0 {
                rng.u64(15_000..=45_000)
            } else {
                rng.u64(60_000..=300_000)
            },
            talk: rng.u64(60_000..=240_000),
            message: rng.u64(10_000..=40_000),
            stir_verstat: None,
            // One in twelve presses 2 for voicemail after waiting 20-90 s;
            // one in four, less patient, 1 to be called back after 15-45 s
            // (the offer comes once a hold stretch, and after 60 s the
            // stand-in's workflow sends the task to voicemail; most callers
            // are put through before either).
            wait_key: match waiting.u8(0..12) {
                0 => Some(('2', waiting.u64(20_000..=90_000))),
                1..=3 => Some(('1', waiting.u64(15_000..=45_000))),
                _ => None,
            },
            // Called back, most answer; some are busy or let it ring out.
            call_back: PhoneProfile(vec![
                (70, Phone::answers_call_back()),
                (15, Phone::Busy),
                (15, Phone::NoAnswer),
            ]),
        };
        // The same number and choice; patience and talk drawn anew.
        if again.u8(0..CALLS_AGAIN_ONE_IN) == 0 {
            stage.sim.call_in(Caller {
                arrive: calls_again_after(&caller, plan.span, &mut again),
                patience: again.u64(60_000..=300_000),
                talk: again.u64(60_000..=240_000),
                wait_key: None,
                ..caller.clone()
            });
        }
        stage.sim.call_in(caller);
    }
    let screened = screened_callers(&stage, &plan).await;
    if plan.chaos {
        let mut world = stage.sim.world();
        world.chaos = Some(Chaos {
            duplicate: true,
            max_delay_ms: 2_000,
        });
        world.concurrent = true;
    }
    // Every caller finished and the digest's minute ticked.
    let digest_due = Ms::try_from(digest_minute * 60_000 - STARTS_SECS * 1000).unwrap_or(0);
    stage
        .sim
        .run_until(last_call_ends.max(digest_due + 60_000))
        .await;
    // Before the checks below read the store themselves.
    let dynamo = stage.app.store.consumed().unwrap_or_default();
    let outcome = Outcome::of(&stage.sim.world());
    let follow_ups = stage.follow_up_outcome().await;
    let time_to_human = TimeToHuman::of(&stage.sim.world());
    let screening = Screening::of(&stage.sim.world(), &screened);
    let estimates = Estimates::of(&stage.sim.world());
    let returning = Returning::of(&stage.sim.world());
    let callbacks = Callbacks::of(&stage.sim.world());
    let fairness = Fairness::of(&stage.sim.world());
    let cost = Cost {
        // Every customer call: the plan's, those who called again, the screened.
        calls: outcome.callers,
        invocations: stage.invocations.by_function(),
        dynamo,
        twilio: TwilioUnits::of(&stage.sim.world()),
    };
    let coverage = Coverage::of(&stage.sim.world(), |at| hours.is_some() && at < digest_due);
    let digest = match hours {
        Some(_) => {
            // The day the digest was of, as the scheduler read it.
            let at = stage.sim.world().epoch_secs + i64::try_from(digest_due / 1000).unwrap_or(0);
            let day = call_record::day(stage.app.config.time_zone, at);
            let records = stage
                .app
                .store
                .list_call_records(&day)
                .await
                .expect("the day's call records");
            Some(DigestCheck::of(
                &stage.sim.world(),
                ADMIN,
                stage.app.config.abandon_after.as_secs(),
                &records,
            ))
        }
        None => None,
    };
    let violations = stage.sim.spec_violations().await;
    assert!(
        violations.is_empty(),
        "requests breaking Twilio's spec:\n{}",
        violations.join("\n")
    );
    Day {
        outcome,
        follow_ups,
        digest,
        coverage,
        time_to_human,
        screening,
        estimates,
        returning,
        callbacks,
        fairness,
        cost,
    }
}

/// Callers kept from the workers (issue 15 point 7), one in forty of the
/// day's and at least one of each kind: withheld numbers
/// (`ANONYMOUS_CALLERS=voicemail`), numbers an admin blocked, and caller IDs
/// that failed SHAKEN/STIR. Their own seed, so the day's other draws are
/// those of a day without them.
async fn screened_callers(stage: &Stage, plan: &Plan) -> Screened {
    let mut rng = fastrand::Rng::with_seed(plan.seed ^ 0x3);
    let mut screened = Screened::default();
    for k in 0..(plan.callers / 40).max(1) {
        let blocked = format!("+1555800{k:04}");
        let write = blocklist::block(&stage.app.store, &blocked, ADMIN).await;
        assert!(write.expect("blocked").applied(), "{blocked} blocked once");
        let spoofed = format!("+1555900{k:04}");
        for (from, stir_verstat) in [
            (WITHHELD, None),
            (blocked.as_str(), None),
            (spoofed.as_str(), Some("TN-Validation-Failed-A")),
        ] {
            let mut caller = Caller::new(from, 30_000 + rng.u64(0..plan.span), Some('1'));
            caller.stir_verstat = stir_verstat.map(str::to_string);
            stage.sim.call_in(caller);
        }
        screened.blocked.push(blocked);
        screened.spoofed.push(spoofed);
    }
    screened
}
