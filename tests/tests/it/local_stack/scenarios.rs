//! Outcome scenarios: the real functions on DynamoDB Local behind the
//! Twilio stand-in (simulated time, Prism-checked REST). Run with
//! `scripts/local-stack.sh run -- cargo test -p homeline-tests scenarios`.

use homeline_tests::harness::{Stage, caller, caller_leg, legs_to};
use homeline_tests::report::Callbacks;
use homeline_tests::sim::{CallStatus, Leg};
use homeline_tests::taskrouter::ReservationStatus;
use homeline_tests::{Chaos, Outcome, Phone};

const ANA: &str = "+15550001001";
const BEN: &str = "+15550001002";
const CAL: &str = "+15550001003";
const CUSTOMER: &str = "+15557770001";
const MINUTE: u64 = 60_000;

fn assert_invariants(stage: &Stage) -> Outcome {
    let world = stage.sim.world();
    let outcome = Outcome::of(&world);
    assert!(
        outcome.invariant_failures().is_empty(),
        "{:?}\n{}\nanomalies: {:?}",
        outcome.invariant_failures(),
        outcome.table(),
        world.anomalies
    );
    outcome
}

fn bridged_to(stage: &Stage, from: &str) -> Option<String> {
    let world = stage.sim.world();
    let call = caller_leg(&world, from)?;
    let peer = call.peer.as_ref()?;
    world.calls.get(peer).map(|w| w.to.clone())
}

fn texts_to(stage: &Stage, phone: &str) -> Vec<String> {
    stage
        .sim
        .world()
        .messages
        .iter()
        .filter(|m| m.to == phone)
        .map(|m| m.body.clone())
        .collect()
}

pub(super) fn worker_activity(stage: &Stage, phone: &str) -> Option<String> {
    let world = stage.sim.world();
    world
        .tr
        .workers
        .values()
        .find(|w| w.attributes["contact_uri"].as_str() == Some(phone))
        .map(|w| w.activity_sid.clone())
}

/// A person who lets the phone ring 15-18 s (under the 20 s ring time) before answering.
fn slow_to_answer(answer_after: u64) -> Phone {
    Phone::Person {
        answer_after,
        verdict: "human",
        amd_after: 1_500,
        press_after: Some(2_000),
    }
}

/// Ana, on `ana_phone`, goes online for sales first, so she is the longest
/// idle and is offered the first call; Ben, a quick human, a second later.
async fn ana_first_then_ben(stage: &Stage, ana_phone: Phone) {
    stage.worker(ANA, "sales", ana_phone).await;
    stage.worker(BEN, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(1_000, BEN, "on sales");
}

/// Runs until a leg to `phone` rings.
async fn until_ringing(stage: &Stage, phone: &str) {
    let ringing = stage
        .run_until_true(2 * MINUTE, |w| {
            legs_to(w, phone)
                .iter()
                .any(|l| l.status == CallStatus::Ringing)
        })
        .await;
    assert!(ringing, "{phone} never rang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_goes_online_by_sms_then_gets_a_call() {
    let stage = Stage::start(&[], 1).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(5 * MINUTE).await;

    assert!(
        !texts_to(&stage, ANA).is_empty(),
        "no confirmation SMS to the worker"
    );
    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_AVAILABLE)
    );
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(ANA));
    {
        let world = stage.sim.world();
        let creates: Vec<_> = world
            .rest
            .iter()
            .filter(|r| r.path.ends_with("/Calls.json"))
            .collect();
        assert_eq!(creates.len(), 1, "one call to the worker");
        assert_eq!(creates[0].param("To"), Some(ANA));
        // The default answer mode is the hybrid: async AMD under a whisper.
        assert_eq!(creates[0].param("AsyncAmd"), Some("true"));
        let leg = legs_to(&world, ANA)[0];
        let answered = leg.answered.expect("answered");
        assert!(
            leg.first_audio.is_some_and(|t| t - answered < 1_000),
            "the worker hears the whisper within a second of answering"
        );
    }
    let outcome = assert_invariants(&stage);
    assert_eq!((outcome.callers, outcome.to_person), (1, 1));
    stage.assert_spec_clean().await;
}

/// Runs the stage to five minutes: a minute in, `phone` is out of rotation
/// (its first miss's cooldown, 120 s); at the end it is back, the
/// scheduler (ticked every simulated minute) having ended the cooldown.
async fn run_through_a_cooldown(stage: &Stage, phone: &str) {
    stage.sim.run_until(MINUTE).await;
    assert_eq!(
        worker_activity(stage, phone).as_deref(),
        Some(testkit::ACTIVITY_UNAVAILABLE),
        "{phone} cools down after the miss"
    );
    stage.sim.run_until(5 * MINUTE).await;
    assert_eq!(
        worker_activity(stage, phone).as_deref(),
        Some(testkit::ACTIVITY_AVAILABLE),
        "the scheduler ended {phone}'s cooldown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_workers_voicemail_answers_then_the_next_worker_gets_the_caller() {
    let stage = Stage::start(&[], 2).await;
    ana_first_then_ben(&stage, Phone::voicemail()).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    run_through_a_cooldown(&stage, ANA).await;

    assert_eq!(
        legs_to(&stage.sim.world(), ANA).len(),
        1,
        "Ana's phone rang once"
    );
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    // A first miss is a cooldown the scheduler ends, not a text.
    assert!(
        texts_to(&stage, ANA).iter().all(|t| !t.contains("missed")),
        "{:?}",
        texts_to(&stage, ANA)
    );
    let outcome = assert_invariants(&stage);
    assert_eq!((outcome.to_person, outcome.to_machine), (1, 0));
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_worker_then_the_next_one() {
    let stage = Stage::start(&[], 3).await;
    ana_first_then_ben(&stage, Phone::Busy).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    run_through_a_cooldown(&stage, ANA).await;

    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    {
        let world = stage.sim.world();
        let ana_res: Vec<_> = world
            .tr
            .reservations
            .values()
            .filter(|r| world.tr.workers[&r.worker_sid].attributes["contact_uri"] == ANA)
            .collect();
        assert_eq!(ana_res.len(), 1);
        assert_eq!(
            ana_res[0].status,
            ReservationStatus::Rejected,
            "busy rejects, not a timeout"
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_online_voicemail_is_recorded_and_announced() {
    let owner = "+15559990001";
    let stage = Stage::start(&[("ADMIN_NUMBERS", owner)], 4).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await; // enrolled, never online
    stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
    stage.sim.run_until(5 * MINUTE).await;

    let call = caller_leg(&stage.sim.world(), CUSTOMER)
        .cloned()
        .expect("caller");
    assert!(
        call.voicemail_recorded,
        "the caller left a voicemail; heard {:?}",
        call.heard
    );
    use homeline_core::store::VoicemailStore;
    let stored = stage
        .app
        .store
        .list_voicemails(10)
        .await
        .expect("list voicemails");
    assert_eq!(stored.len(), 1, "one voicemail item in DynamoDB");
    assert_eq!(stored[0].caller, CUSTOMER);
    assert_eq!(stored[0].skill, "sales");
    assert_eq!(texts_to(&stage, owner).len(), 1, "the owner is told once");
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.voicemail, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hangs_up_while_the_workers_phone_rings_and_the_leg_is_canceled() {
    let stage = Stage::start(&[], 5).await;
    stage.worker(ANA, "sales", slow_to_answer(18_000)).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 5_000, '1'));
    until_ringing(&stage, ANA).await;
    let caller_sid = caller_leg(&stage.sim.world(), CUSTOMER)
        .unwrap()
        .sid
        .clone();
    stage.sim.hang_up(&caller_sid);
    let hung_up_at = stage.sim.now();
    stage.sim.run_for(MINUTE).await;

    {
        let world = stage.sim.world();
        let leg = legs_to(&world, ANA)[0].clone();
        assert_eq!(
            leg.status,
            CallStatus::Canceled,
            "the ringing leg is canceled"
        );
        assert!(leg.answered.is_none(), "Ana never answers into silence");
        assert!(leg.ended.unwrap() - hung_up_at < 2_000, "canceled at once");
        let updates = world
            .rest
            .iter()
            .filter(|r| r.path.ends_with(&format!("/Calls/{}.json", leg.sid)))
            .count();
        assert_eq!(updates, 1, "one update of the leg");
    }
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.hung_up, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_texts_off_while_ringing() {
    let stage = Stage::start(&[], 6).await;
    ana_first_then_ben(&stage, slow_to_answer(15_000)).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    until_ringing(&stage, ANA).await;
    let now = stage.sim.now();
    stage.sim.sms_at(now, ANA, "off");
    stage.sim.run_for(5 * MINUTE).await;

    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    {
        let world = stage.sim.world();
        assert!(
            legs_to(&world, ANA).iter().all(|l| l.bridged.is_none()),
            "Ana is not bridged after going off"
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_callbacks_act_once() {
    // One miss takes a worker off duty with one SMS, so a duplicated
    // callback that counted a miss twice would text twice.
    let stage = Stage::start(&[("MISSES_BEFORE_OFFLINE", "1")], 7).await;
    stage.worker(ANA, "sales", Phone::voicemail()).await;
    stage.worker(BEN, "sales", Phone::Busy).await;
    stage.worker(CAL, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(1_000, BEN, "on sales");
    stage.sim.sms_at(2_000, CAL, "on sales");
    stage.sim.run_until(5_000).await;
    // From now on every status, AMD, recording and TaskRouter event callback
    // arrives twice, each copy up to 3 s late (so out of order), half the
    // duplicates at the same instant as the original.
    {
        let mut world = stage.sim.world();
        world.chaos = Some(Chaos {
            duplicate: true,
            max_delay_ms: 3_000,
        });
        // Copies due at the same instant are delivered concurrently.
        world.concurrent = true;
    }
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(6 * MINUTE).await;

    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(CAL));
    {
        let world = stage.sim.world();
        for res in world.tr.reservations.keys() {
            let rejects = world
                .rest
                .iter()
                .filter(|r| r.path.ends_with(&format!("/Reservations/{res}")))
                .count();
            assert!(rejects <= 1, "reservation {res} updated {rejects} times");
        }
        for phone in [ANA, BEN] {
            let misses = world
                .messages
                .iter()
                .filter(|m| m.to == phone && m.at > 5_000)
                .count();
            assert_eq!(misses, 1, "{phone} gets exactly one miss SMS");
        }
    }
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.to_person, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_answering_429_and_500_for_a_while() {
    let stage = Stage::start(&[], 8).await;
    ana_first_then_ben(&stage, Phone::voicemail()).await;
    stage.sim.run_until(5_000).await;
    // Each of the next requests is answered 429 then 500, alternately, six times.
    stage
        .sim
        .world()
        .faults
        .extend([429, 500, 429, 500, 429, 500]);
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(6 * MINUTE).await;

    {
        let world = stage.sim.world();
        assert!(world.faults.is_empty(), "the faults were served");
        let failed = world
            .rest
            .iter()
            .filter(|r| r.status == 429 || r.status == 500)
            .count();
        assert_eq!(failed, 6);
    }
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_presses_nothing_reaches_the_first_skill() {
    // No menu key: the menu repeats once, then the first skill (sales) takes the call.
    let stage = Stage::start(&[], 9).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage
        .sim
        .call_in(homeline_tests::Caller::new(CUSTOMER, 5_000, None));
    stage.sim.run_until(5 * MINUTE).await;
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(ANA));
    {
        let world = stage.sim.world();
        assert!(
            world
                .calls
                .values()
                .all(|c| !matches!(c.leg, Leg::InQueue { .. }))
        );
    }
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screening_assistant_is_never_bridged_and_the_next_worker_gets_the_caller() {
    let stage = Stage::start(&[], 10).await;
    ana_first_then_ben(&stage, Phone::screener()).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    run_through_a_cooldown(&stage, ANA).await;

    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    {
        let world = stage.sim.world();
        let leg = legs_to(&world, ANA)[0].clone();
        assert!(leg.bridged.is_none());
        // Hung up by Homeline after the machine verdict, not left to the assistant.
        let hung_up = leg.ended.unwrap() - leg.answered.unwrap();
        assert!(hung_up < 10_000, "the assistant's leg lasted {hung_up} ms");
    }
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.to_machine, 0);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_answer_mode_bridges_after_the_verdict() {
    let stage = Stage::start(&[("ANSWER_MODE", "sync")], 11).await;
    ana_first_then_ben(&stage, Phone::voicemail()).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(5 * MINUTE).await;

    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    {
        let world = stage.sim.world();
        let create = world
            .rest
            .iter()
            .find(|r| r.path.ends_with("/Calls.json"))
            .expect("a call placed");
        assert_eq!(create.param("MachineDetection"), Some("Enable"));
        assert_ne!(create.param("AsyncAmd"), Some("true"), "sync AMD");
        let ben = legs_to(&world, BEN)[0].clone();
        assert_eq!(ben.answered_by.as_deref(), Some("human"));
    }
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.to_machine, 0);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservation_timing_out_while_ringing_hangs_up_the_leg_and_moves_on() {
    let stage = Stage::start(&[], 12).await;
    // A workflow whose reservation timeout (15 s) is shorter than the ring time (20 s).
    stage.sim.world().tr.settings.reservation_timeout_ms = 15_000;
    ana_first_then_ben(&stage, Phone::NoAnswer).await;
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    run_through_a_cooldown(&stage, ANA).await;

    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    {
        let world = stage.sim.world();
        let ana_res = world
            .tr
            .reservations
            .values()
            .find(|r| world.tr.workers[&r.worker_sid].attributes["contact_uri"] == ANA)
            .expect("Ana was offered the call");
        assert_eq!(ana_res.status, ReservationStatus::Timeout);
        let leg = legs_to(&world, ANA)[0].clone();
        assert_eq!(
            leg.status,
            CallStatus::Canceled,
            "the ringing leg is hung up"
        );
        let timed_out_at = ana_res.created + 15_000;
        assert!(leg.ended.unwrap() - timed_out_at < 2_000, "at once");
    }
    // A first miss is a cooldown the scheduler ends, not a text.
    assert!(
        texts_to(&stage, ANA).iter().all(|t| !t.contains("missed")),
        "{:?}",
        texts_to(&stage, ANA)
    );
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// The caller's task's creation → when they left the queue.
fn waited_in_queue(stage: &Stage, from: &str) -> u64 {
    let world = stage.sim.world();
    let call = caller_leg(&world, from).expect("caller");
    let task = world
        .tr
        .tasks
        .values()
        .find(|t| t.attributes["call_sid"].as_str() == Some(call.sid.as_str()))
        .expect("the caller's task");
    call.left_queue.expect("left the queue") - task.created
}

/// Issue 15 point 3: 2 while waiting is voicemail now, and the nobody
/// queue's redirect later does not restart the message under way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_presses_2_while_waiting_leaves_a_message_at_once() {
    let stage = Stage::start(&[], 21).await;
    stage.worker(ANA, "sales", Phone::NoAnswer).await;
    stage.sim.sms_at(0, ANA, "on sales");
    let mut customer = caller(CUSTOMER, 10_000, '1');
    customer.wait_key = Some(('2', 0));
    // Still recording when the task reaches the nobody queue (60 s).
    customer.message = 90_000;
    stage.sim.call_in(customer);
    stage.sim.run_until(4 * MINUTE).await;

    let call = caller_leg(&stage.sim.world(), CUSTOMER)
        .cloned()
        .expect("caller");
    assert!(call.voicemail_recorded, "heard {:?}", call.heard);
    assert!(
        call.heard
            .iter()
            .any(|h| h == "Press 1 for a callback, 2 for voicemail."),
        "{:?}",
        call.heard
    );
    let apologies = call
        .heard
        .iter()
        .filter(|h| h.starts_with("Sorry, no one from sales"))
        .count();
    assert_eq!(
        apologies, 1,
        "voicemail once, never restarted: {:?}",
        call.heard
    );
    assert!(
        waited_in_queue(&stage, CUSTOMER) < 30_000,
        "left in the first hold stretch"
    );
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// Issue 15 points 4 and 8: a caller who presses 1 while Ana is on
/// another call confirms the number on file and is let go; once Ana is
/// free she calls them back, and the simulated day counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_presses_1_while_waiting_is_called_back_and_counted() {
    const FIRST: &str = "+15557770002";
    let stage = Stage::start(&[], 24).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(FIRST, 10_000, '1'));
    let mut customer = caller(CUSTOMER, 20_000, '1');
    customer.wait_key = Some(('1', 0));
    stage.sim.call_in(customer);
    stage.sim.run_until(6 * MINUTE).await;

    assert_eq!(bridged_to(&stage, FIRST).as_deref(), Some(ANA));
    let call = caller_leg(&stage.sim.world(), CUSTOMER)
        .cloned()
        .expect("caller");
    assert!(
        call.heard
            .iter()
            .any(|h| h.starts_with("We will call you back")),
        "{:?}",
        call.heard
    );
    assert!(
        waited_in_queue(&stage, CUSTOMER) < 30_000,
        "left in the first hold stretch"
    );
    // The callback task keeps the caller's place: it starts, virtually,
    // when their own task was created (whole seconds, as Twilio dates).
    let starts = |key: &str| {
        let world = stage.sim.world();
        let task = world
            .tr
            .tasks
            .values()
            .find(|t| t.attributes[key].as_str() == Some(call.sid.as_str()))
            .map(|t| (t.created / 1000, t.virtual_start / 1000));
        task.expect("task")
    };
    assert_eq!(starts("original_call_sid").1, starts("call_sid").0);
    let callbacks = Callbacks::of(&stage.sim.world());
    assert_eq!((callbacks.requested, callbacks.completed), (1, 1));
    // Ana's first call: a minute's talk, then her callback leg.
    let to_callback = callbacks.to_callback[0];
    assert!(
        (30_000..=180_000).contains(&to_callback),
        "called back {to_callback} ms after the request"
    );
    assert!(
        callbacks
            .line()
            .starts_with("callbacks: 1 requested, 1 completed")
    );
    // Booked and called back: never also a missed call to claim.
    let texts = texts_to(&stage, ANA);
    assert!(texts.iter().all(|t| !t.contains("CLAIM")), "{texts:?}");
    let outcome = assert_invariants(&stage);
    assert_eq!((outcome.to_person, outcome.callbacks), (1, 1));
    stage.assert_spec_clean().await;
}

/// Issue 15 point 3: MAX_WAIT_SECS bounds the wait whatever the workflow
/// does: the way out once more, then voicemail, within one heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_max_wait_secs_the_caller_is_offered_voicemail_once_more_then_taken_there() {
    let stage = Stage::start(&[("MAX_WAIT_SECS", "30")], 22).await;
    stage.worker(ANA, "sales", Phone::NoAnswer).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(4 * MINUTE).await;

    let call = caller_leg(&stage.sim.world(), CUSTOMER)
        .cloned()
        .expect("caller");
    let last_offers = call
        .heard
        .iter()
        .filter(|h| *h == "Sorry, everyone is still busy.")
        .count();
    assert_eq!(last_offers, 1, "{:?}", call.heard);
    assert!(call.voicemail_recorded, "heard {:?}", call.heard);
    let waited = waited_in_queue(&stage, CUSTOMER);
    assert!(
        (30_000..=55_000).contains(&waited),
        "out by MAX_WAIT_SECS plus one heartbeat, before the workflow's 60 s: {waited} ms"
    );
    assert_invariants(&stage);
    stage.assert_spec_clean().await;
}

/// The worker leg that was bridged to the caller from `from`.
fn bridged_leg_from(stage: &Stage, from: &str) -> Option<String> {
    let world = stage.sim.world();
    let peer = caller_leg(&world, from)?.peer.as_ref()?;
    world.calls.get(peer).map(|leg| leg.from.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_worker_caller_id_caller_the_worker_sees_the_customer_unless_withheld() {
    let anonymous = "anonymous";
    let stage = Stage::start(
        &[
            ("WORKER_CALLER_ID", "caller"),
            ("ANONYMOUS_CALLERS", "allow"),
        ],
        21,
    )
    .await;
    for worker in [ANA, BEN] {
        stage.worker(worker, "sales", Phone::fast_human()).await;
        stage.sim.sms_at(0, worker, "on sales");
    }
    // Through the menu: the token the incoming call's webhook carried must
    // reach the assignment callback.
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.call_in(caller(anonymous, 12_000, '1'));
    stage.sim.run_until(5 * MINUTE).await;

    assert_eq!(
        bridged_leg_from(&stage, CUSTOMER).as_deref(),
        Some(CUSTOMER),
        "the worker's phone showed the customer's number"
    );
    let business = stage.app.config.twilio.caller_id.clone();
    assert_eq!(
        bridged_leg_from(&stage, anonymous),
        Some(business),
        "a withheld caller's leg shows the business's number"
    );
    let outcome = assert_invariants(&stage);
    assert_eq!(outcome.to_person, 2);
    stage.assert_spec_clean().await;
}

/// The worker who took `from`'s call that arrived at `arrive`.
fn bridged_to_call_at(stage: &Stage, from: &str, arrive: u64) -> Option<String> {
    let world = stage.sim.world();
    let call = world.calls.values().find(|c| {
        c.caller
            .as_ref()
            .is_some_and(|k| k.from == from && k.arrive == arrive)
    })?;
    let peer = call.peer.as_ref()?;
    world.calls.get(peer).map(|w| w.to.clone())
}

/// Issue 15 point 5: a caller Ana answered calls again while Ben has been
/// free longer; the workflow offers them to Ana first. With
/// `STICKY_DAYS=0` the longest idle, Ben, takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_caller_reaches_their_last_worker_while_others_are_free() {
    for (sticky_days, second_goes_to) in [("30", ANA), ("0", BEN)] {
        let stage = Stage::start(&[("STICKY_DAYS", sticky_days)], 23).await;
        ana_first_then_ben(&stage, Phone::fast_human()).await;
        // Ana, the longest idle, takes the first call and talks a minute;
        // Ben has been free since then.
        stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
        stage.sim.call_in(caller(CUSTOMER, 4 * MINUTE, '1'));
        stage.sim.run_until(8 * MINUTE).await;
        assert_eq!(
            bridged_to_call_at(&stage, CUSTOMER, 10_000).as_deref(),
            Some(ANA)
        );
        assert_eq!(
            bridged_to_call_at(&stage, CUSTOMER, 4 * MINUTE).as_deref(),
            Some(second_goes_to),
            "STICKY_DAYS={sticky_days}"
        );
        let outcome = assert_invariants(&stage);
        assert_eq!(outcome.to_person, 2);
        stage.assert_spec_clean().await;
    }
}
