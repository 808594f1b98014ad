//! The real Homeline behind the stand-in: DynamoDB Local, Prism, the six
//! functions, and helpers the scenarios and the load run share.

use std::sync::Arc;

use homeline_core::app::App;
use homeline_core::model::{FollowUp, WorkerProfile};
use homeline_core::routes::paths;
use homeline_core::store::{DynamoStore, FollowUpStore, WorkerStore};

use crate::cost::Invocations;
use crate::homeline::Homeline;
use crate::phones::{Caller, PhoneProfile, WorkerScript};
use crate::sim::{Call, World};
use crate::taskrouter::TaskRouter;
use crate::{Ms, Sim, taskrouter_settings};
use testkit::spec::SpecCheck;

/// A running stand-in wired to the real functions.
pub struct Stage {
    pub sim: Sim,
    /// Its store is metered: `app.store.consumed()` is what DynamoDB charged.
    pub app: App<DynamoStore>,
    pub invocations: Arc<Invocations>,
}

impl Stage {
    /// Starts everything; `overrides` change the test configuration. Panics
    /// with how to start the local stack when Prism or DynamoDB Local is missing.
    pub async fn start(overrides: &[(&str, &str)], seed: u64) -> Self {
        let prism = SpecCheck::from_env().unwrap_or_else(|e| panic!("{e}"));
        let settings_config = testkit::test_config(overrides);
        let world = World::new(
            TaskRouter::new(taskrouter_settings(&settings_config)),
            &settings_config.twilio.account_sid,
            seed,
        );
        let sim = Sim::start(world, Some(prism)).await;
        let mut all: Vec<(&str, &str)> = vec![
            ("TWILIO_API_URL", sim.base_url.as_str()),
            ("TWILIO_TASKROUTER_URL", sim.base_url.as_str()),
        ];
        all.extend_from_slice(overrides);
        let config = testkit::test_config(&all);
        sim.world().worker_line = config.twilio.caller_id.clone();
        sim.world().verified_caller_ids = vec![config.callback_caller_id.clone()];
        // As `homeline provision` sets it on the business number.
        sim.world().business_status_callback = Some(config.url(paths::INBOUND_CALL_ENDED));
        sim.world().max_wait_ms =
            Some(u64::try_from(config.max_wait.as_millis()).unwrap_or(Ms::MAX));
        let rule = homeline_core::service::worker::miss_rule(&config);
        let longest = rule.cooldown_secs(rule.offline_at.saturating_sub(1).max(1));
        sim.world().longest_cooldown_ms = Some(u64::try_from(longest).unwrap_or(0) * 1000);
        let store = testkit::dynamo::fresh_store().await.metered();
        let app = App::new(config, store);
        let invocations = Arc::new(Invocations::default());
        sim.connect(Arc::new(Homeline::new(app.clone(), invocations.clone())));
        sim.learn_media(&app.config.hold_music_url).await;
        sim.world().start_scheduler();
        Self {
            sim,
            app,
            invocations,
        }
    }

    /// Enrolls a worker (as `homeline enroll` would) and gives them a phone.
    pub async fn enroll(&self, worker: WorkerScript) {
        let profile = WorkerProfile::new(&worker.phone, &worker.name, worker.skills.clone());
        let written = self.app.store.put_worker(&profile).await;
        assert!(
            matches!(written, Ok(w) if w.applied()),
            "enrolling {} failed: {written:?}",
            worker.phone
        );
        self.sim.add_worker(worker);
    }

    /// Enrolls a worker with one skill and a phone that always behaves the same.
    pub async fn worker(&self, phone: &str, skill: &str, behaviour: crate::Phone) {
        self.enroll(WorkerScript {
            phone: phone.to_string(),
            name: format!("Worker {}", &phone[phone.len().saturating_sub(4)..]),
            skills: vec![skill.to_string()],
            profile: PhoneProfile::always(behaviour),
            rejoin_after: None,
            claims: None,
        })
        .await;
    }

    /// Runs until `done` holds (checked every simulated half second) or `limit` passes.
    pub async fn run_until_true(&self, limit: Ms, done: impl Fn(&World) -> bool) -> bool {
        while self.sim.now() < limit {
            if done(&self.sim.world()) {
                return true;
            }
            self.sim.run_for(500).await;
        }
        done(&self.sim.world())
    }

    /// The follow-ups the day's customer calls opened, as stored now.
    pub async fn follow_ups(&self) -> Vec<FollowUp> {
        let calls: Vec<String> = {
            let world = self.sim.world();
            world
                .calls
                .values()
                .filter(|c| c.caller.is_some())
                .map(|c| c.sid.clone())
                .collect()
        };
        let mut found = Vec::new();
        for sid in calls {
            match self.app.store.get_follow_up(&sid).await {
                Ok(Some(f)) => found.push(f),
                Ok(None) => {}
                Err(e) => panic!("follow-up of {sid} not read: {e}"),
            }
        }
        found
    }

    /// The day's follow-ups and call backs.
    pub async fn follow_up_outcome(&self) -> crate::report::FollowUps {
        let follow_ups = self.follow_ups().await;
        let world = self.sim.world();
        let config = &self.app.config;
        crate::report::FollowUps::of(
            &world,
            &follow_ups,
            &config.callback_caller_id,
            config.abandon_after.as_secs(),
        )
    }

    /// Asserts that every REST request met Twilio's OpenAPI spec.
    pub async fn assert_spec_clean(&self) {
        let violations = self.sim.spec_violations().await;
        assert!(
            violations.is_empty(),
            "requests breaking Twilio's spec:\n{}",
            violations.join("\n")
        );
    }
}

/// The caller's leg of a call from `from`.
pub fn caller_leg<'a>(world: &'a World, from: &str) -> Option<&'a Call> {
    world
        .calls
        .values()
        .find(|c| c.caller.as_ref().is_some_and(|k| k.from == from))
}

/// Worker legs that rang `phone`.
pub fn legs_to<'a>(world: &'a World, phone: &str) -> Vec<&'a Call> {
    world
        .calls
        .values()
        .filter(|c| c.phone.is_some() && c.to == phone)
        .collect()
}

/// A caller who presses `digit` at the menu.
pub fn caller(from: &str, arrive: Ms, digit: char) -> Caller {
    Caller::new(from, arrive, Some(digit))
}
