//! One scenario per behaviour Twilio's documentation leaves open (issue 13,
//! points 1-5; docs/twilio.md, "Where the documentation is silent"), each
//! run under the stand-in's inconvenient reading (the default). Run with
//! `scripts/local-stack.sh run -- cargo test -p homeline-tests readings`.

use homeline_provision::{nobody_timeout_secs, queue_backstop_secs};
use homeline_tests::harness::{Stage, caller, caller_leg};
use homeline_tests::sim::World;
use homeline_tests::taskrouter::{MAX_ASSIGNMENTS_REASON, TaskStatus};
use homeline_tests::{Outcome, Phone, Readings, provisioned};

const ANA: &str = "+15550002001";
const BEN: &str = "+15550002002";
const CUSTOMER: &str = "+15557770101";
const SECOND_CUSTOMER: &str = "+15557770102";
const MINUTE: u64 = 60_000;

/// The voicemail apology (`domain::inbound::voicemail_apology`) for a skill.
const APOLOGY: &str = "Sorry, no one from";

fn outcome(stage: &Stage) -> Outcome {
    Outcome::of(&stage.sim.world())
}

fn assert_invariants(stage: &Stage) {
    let world = stage.sim.world();
    let outcome = Outcome::of(&world);
    assert!(
        outcome.invariant_failures().is_empty(),
        "{:?}\n{}\nanomalies: {:?}",
        outcome.invariant_failures(),
        outcome.table(),
        world.anomalies
    );
}

/// Who the caller from `from` was bridged to.
fn worker_of(world: &World, from: &str) -> Option<String> {
    let peer = caller_leg(world, from)?.peer.clone()?;
    world.calls.get(&peer).map(|w| w.to.clone())
}

/// Asserts the caller from `from` reached voicemail, hearing the apology once.
fn assert_voicemail_once(stage: &Stage, from: &str) {
    let world = stage.sim.world();
    let call = caller_leg(&world, from).expect("the caller called");
    let apologies = call.heard.iter().filter(|h| h.starts_with(APOLOGY)).count();
    assert!(
        call.voicemail_recorded && apologies == 1,
        "the caller reaches voicemail exactly once: recorded {}, apologies {apologies}, heard {:?}\n{}",
        call.voicemail_recorded,
        call.heard,
        Outcome::of(&world).table()
    );
}

/// The customer calls for sales while Ana, enrolled, was never on duty:
/// the task goes straight to the nobody queue. REST requests whose path
/// holds one of `failing` fail until that queue's event has been delivered.
async fn call_nobody_while_failing(stage: &Stage, failing: &[&str]) {
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage
        .sim
        .world()
        .failing_paths
        .extend(failing.iter().map(|p| p.to_string()));
    stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
    let delivered = stage
        .run_until_true(2 * MINUTE, |w| {
            w.delivered.iter().any(|d| {
                d.path == "/taskrouter-events" && d.param("EventType") == Some("task-queue.entered")
            })
        })
        .await;
    assert!(delivered, "the nobody queue's event was delivered");
    stage.sim.world().failing_paths.clear();
}

/// Task completion: the worker's first call ends; the task must be completed
/// (it holds her voice capacity while `wrapping`) for her to be offered the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_call_ended_is_offered_the_next_call() {
    let stage = Stage::start(&[], 21).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.call_in(caller(SECOND_CUSTOMER, 3 * MINUTE, '1'));
    stage.sim.run_until(8 * MINUTE).await;

    {
        let world = stage.sim.world();
        assert_eq!(worker_of(&world, CUSTOMER).as_deref(), Some(ANA));
        assert_eq!(
            worker_of(&world, SECOND_CUSTOMER).as_deref(),
            Some(ANA),
            "Ana, free again, takes the second call\n{}",
            Outcome::of(&world).table()
        );
        assert!(
            world
                .tr
                .tasks
                .values()
                .all(|t| t.status == TaskStatus::Completed),
            "both tasks completed: {:?}",
            world
                .tr
                .tasks
                .values()
                .map(|t| t.status)
                .collect::<Vec<_>>()
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// Event redelivery: Calls updates fail for the whole of the nobody event's
/// handling, so the redirect to voicemail does not happen; no redelivery
/// comes, yet the caller reaches voicemail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_nobody_redirect_is_repaired_without_a_redelivery() {
    let stage = Stage::start(&[], 22).await;
    call_nobody_while_failing(&stage, &["/Calls/"]).await;
    stage.sim.run_until(6 * MINUTE).await;

    assert_voicemail_once(&stage, CUSTOMER);
    // The heartbeat, not a redelivery, let her leave. Here the nobody event
    // comes before her first wait fetch, so this bound holds whatever the
    // hold music's length: `the_wait_url_is_fetched_at_least_every_27_s_and_ends_the_wait`
    // bounds the period.
    {
        let world = stage.sim.world();
        let nobody = world
            .delivered
            .iter()
            .find(|d| d.param("EventType") == Some("task-queue.entered"))
            .map(|d| d.at)
            .expect("the nobody event");
        let left = world
            .delivered
            .iter()
            .find(|d| d.path == "/inbound/wait" && d.body.contains("<Leave"))
            .map(|d| d.at)
            .expect("a wait fetch answered <Leave/>");
        assert!(
            left - nobody <= 25_000,
            "the caller left {} ms after the nobody queue",
            left - nobody
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// The heartbeat's period and the wait's bound: the caller waits in the
/// sales queue (Ana's phone is busy) while every redirect of a call fails.
/// Every wait fetch comes within 27 s of the last (the 20 s clip, the spoken
/// position and way out, the 1 s the `<Gather>` listens), and the wait URL
/// alone ends the wait: she leaves the queue for voicemail no later than
/// `MAX_WAIT_SECS` plus one heartbeat after entering it (the workflow's
/// timeout, provision's backstop, comes later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_url_is_fetched_at_least_every_27_s_and_ends_the_wait() {
    let stage = Stage::start(&[], 26).await;
    stage.worker(ANA, "sales", Phone::Busy).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
    stage.sim.world().failing_paths.push("/Calls/".into());
    stage.sim.run_until(6 * MINUTE).await;
    stage.sim.world().failing_paths.clear();

    assert_voicemail_once(&stage, CUSTOMER);
    let max_wait = stage.app.config.max_wait.as_millis() as u64;
    // Scoped: the world is locked while it is read.
    {
        let world = stage.sim.world();
        let at = |path: &str| -> Vec<u64> {
            world
                .delivered
                .iter()
                .filter(|d| d.path == path)
                .map(|d| d.at)
                .collect()
        };
        let fetches = at("/inbound/wait");
        assert!(fetches.len() >= 3, "she waited through plays: {fetches:?}");
        for pair in fetches.windows(2) {
            assert!(
                pair[1] - pair[0] <= 27_000,
                "wait fetches {} ms apart: {fetches:?}",
                pair[1] - pair[0]
            );
        }
        let left = at("/inbound/after-queue")[0];
        assert!(
            left - fetches[0] <= max_wait + 27_000,
            "she left the queue {} ms after entering it: {fetches:?}",
            left - fetches[0]
        );
        assert!(
            world
                .tr
                .tasks
                .values()
                .all(|t| t.nobody_since.is_none_or(|moved| moved > left)),
            "the wait ended before the workflow's backstop"
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// The nobody queue's redirect and cancel both fail: the heartbeat sends the
/// caller to voicemail, and the task, which no worker can take, still ends
/// (the nobody target's timeout), so no task waits for its 24 h TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_cancel_failed_still_ends() {
    let stage = Stage::start(&[], 25).await;
    call_nobody_while_failing(&stage, &["/Calls/", "/Tasks/"]).await;
    // The nobody target's timeout, as provision writes it, counts from the
    // task's creation.
    let backstop = queue_backstop_secs(provisioned(&stage.app.config).max_wait_secs);
    stage
        .sim
        .run_until(u64::from(nobody_timeout_secs(backstop)) * 1000 + MINUTE)
        .await;

    assert_voicemail_once(&stage, CUSTOMER);
    assert!(
        stage
            .sim
            .world()
            .tr
            .tasks
            .values()
            .all(|t| t.status == TaskStatus::Canceled),
        "the task was canceled"
    );
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// Enqueue action after redirect: Twilio requests the action with
/// `QueueResult=redirected` at once; whichever TwiML then runs the call, the
/// caller reaches voicemail exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_readings_of_the_action_after_a_redirect_end_in_voicemail_once() {
    for (seed, readings) in [(23, Readings::inconvenient()), (24, Readings::convenient())] {
        let stage = Stage::start(&[], seed).await;
        stage.sim.world().tr.settings.readings = readings;
        stage.worker(ANA, "sales", Phone::fast_human()).await; // enrolled, never online
        stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
        stage.sim.run_until(5 * MINUTE).await;

        let redirected = stage.sim.world().delivered.iter().any(|d| {
            d.path == "/inbound/after-queue" && d.param("QueueResult") == Some("redirected")
        });
        assert!(
            redirected,
            "{readings:?}: the action was requested after the redirect"
        );
        assert_voicemail_once(&stage, CUSTOMER);
        assert_invariants(&stage);
        stage.assert_spec_clean().await;
    }
}

/// Tasks canceled by TaskRouter: the max assignment count (two here) is
/// reached while the caller still waits; the cancel's reason is not `hangup`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_taskrouter_cancels_sends_the_waiting_caller_to_voicemail() {
    let stage = Stage::start(&[], 25).await;
    stage.sim.world().tr.settings.max_reservations_per_task = 2;
    stage.worker(ANA, "sales", Phone::Busy).await;
    stage.worker(BEN, "sales", Phone::Busy).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(1_000, BEN, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(6 * MINUTE).await;

    {
        let world = stage.sim.world();
        let task = world.tr.tasks.values().next().expect("the caller's task");
        assert_eq!(task.status, TaskStatus::Canceled);
        assert_eq!(
            task.canceled_reason.as_deref(),
            Some(MAX_ASSIGNMENTS_REASON)
        );
    }
    assert_voicemail_once(&stage, CUSTOMER);
    // Reaching the count is this scenario's premise, not a loop to flag.
    let failures: Vec<String> = outcome(&stage)
        .invariant_failures()
        .into_iter()
        .filter(|f| !f.contains("offered again and again"))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    stage.assert_spec_clean().await;
}

/// Queue moved vs entered: the skill queue's target times out and the task
/// moves to the nobody queue with `task-queue.moved` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_moved_to_the_nobody_queue_reaches_voicemail() {
    let stage = Stage::start(&[], 26).await;
    stage.worker(ANA, "sales", Phone::Busy).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(6 * MINUTE).await;

    {
        let world = stage.sim.world();
        let task = world.tr.tasks.values().next().expect("the caller's task");
        assert!(
            task.nobody_since
                .is_some_and(|at| at >= task.created + 60_000),
            "the task reached the nobody queue by the target's timeout"
        );
        assert!(
            world
                .delivered
                .iter()
                .all(|d| d.param("EventType") != Some("task-queue.entered")
                    || d.param("TaskQueueSid") != Some(testkit::NO_WORKER_QUEUE_SID)),
            "no task-queue.entered for the nobody queue under this reading"
        );
    }
    assert_voicemail_once(&stage, CUSTOMER);
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// A wait `<Gather>`'s action (docs/twilio.md, "Queue TwiML"): whether its
/// answer runs inside the queue or as the call's next document, a caller who
/// presses 2 reaches voicemail once; and their task, still routing when Ana
/// frees up, rings nobody: the offer cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_readings_of_a_wait_key_leave_a_message_once_and_ring_nobody_after() {
    for (seed, readings) in [(27, Readings::inconvenient()), (28, Readings::convenient())] {
        let stage = Stage::start(&[], seed).await;
        stage.sim.world().tr.settings.readings = readings;
        stage.worker(ANA, "sales", Phone::fast_human()).await;
        stage.sim.sms_at(0, ANA, "on sales");
        // Ana is on the first customer's call until about 40 s in.
        let mut first = caller(SECOND_CUSTOMER, 2_000, '1');
        first.talk = 25_000;
        stage.sim.call_in(first);
        let mut customer = caller(CUSTOMER, 10_000, '1');
        customer.wait_key = Some(('2', 0));
        stage.sim.call_in(customer);
        stage.sim.run_until(4 * MINUTE).await;

        assert_voicemail_once(&stage, CUSTOMER);
        {
            let world = stage.sim.world();
            assert_eq!(
                worker_of(&world, SECOND_CUSTOMER).as_deref(),
                Some(ANA),
                "{readings:?}: Ana took the first call"
            );
            let legs = homeline_tests::harness::legs_to(&world, ANA);
            assert_eq!(
                legs.len(),
                1,
                "{readings:?}: Ana rung once, for the first caller only\n{}",
                Outcome::of(&world).table()
            );
            let caller_sid = caller_leg(&world, CUSTOMER).expect("caller").sid.clone();
            let task = world
                .tr
                .tasks
                .values()
                .find(|t| t.attributes["call_sid"].as_str() == Some(caller_sid.as_str()))
                .expect("the caller's task");
            assert_eq!(task.status, TaskStatus::Canceled, "{readings:?}");
        }
        assert_invariants(&stage);
        stage.assert_spec_clean().await;
    }
}
