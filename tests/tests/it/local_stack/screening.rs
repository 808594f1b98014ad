//! Spam and blocked callers: the blocklist admins keep by SMS, withheld
//! caller IDs under each `ANONYMOUS_CALLERS`, and failed STIR/SHAKEN checks.
//! The real functions on DynamoDB Local behind the Twilio stand-in; every
//! REST request is checked by Prism.

use homeline_core::domain::intake::replies;
use homeline_core::domain::screening::texts;
use homeline_core::store::BlocklistStore;
use homeline_tests::harness::{Stage, caller, caller_leg, legs_to};
use homeline_tests::{Caller, Outcome, Phone};

const ADMIN: &str = "+15559990001";
const ANA: &str = "+15550001001";
const BEN: &str = "+15550001002";
const STRANGER: &str = "+15558880001";
const SPAMMER: &str = "+15557770001";
const CUSTOMER: &str = "+15557770002";
const MINUTE: u64 = 60_000;

fn outcome(stage: &Stage) -> Outcome {
    let world = stage.sim.world();
    let outcome = Outcome::of(&world);
    assert!(
        outcome.invariant_failures().is_empty(),
        "{:?}\n{}",
        outcome.invariant_failures(),
        outcome.table()
    );
    outcome
}

/// The SMS replies and texts `phone` got, in order.
fn texts_to(stage: &Stage, phone: &str) -> Vec<String> {
    let world = stage.sim.world();
    world
        .messages
        .iter()
        .filter(|m| m.to == phone)
        .map(|m| m.body.clone())
        .collect()
}

/// What `/inbound` answered the call from `from` (the first document).
fn first_answer(stage: &Stage, from: &str) -> String {
    let world = stage.sim.world();
    world
        .delivered
        .iter()
        .find(|d| d.path == "/inbound" && d.param("From") == Some(from))
        .map(|d| d.body.clone())
        .unwrap_or_else(|| panic!("no call from {from} reached /inbound"))
}

/// The worker a call from `from` reached (`None`: no call from there did).
fn bridged_to(stage: &Stage, from: &str) -> Option<String> {
    let world = stage.sim.world();
    world
        .calls
        .values()
        .filter(|c| c.caller.is_some() && c.from == from)
        .find_map(|c| world.calls.get(c.peer.as_ref()?))
        .map(|w| w.to.clone())
}

/// No worker's phone rang and no TaskRouter task was made for anyone.
fn assert_no_worker_rang_and_no_task(stage: &Stage) {
    let world = stage.sim.world();
    assert!(legs_to(&world, ANA).is_empty(), "Ana's phone rang");
    assert!(world.tr.tasks.is_empty(), "a task was created");
    let calls_created = world
        .rest
        .iter()
        .filter(|r| r.path.ends_with("/Calls.json"))
        .count();
    assert_eq!(calls_created, 0, "a worker leg was placed");
}

/// Ana, a quick human, on duty for sales from the start.
async fn ana_on_duty(stage: &Stage) {
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_blocks_by_sms_the_blocked_caller_is_rejected_and_unblocked_rings_through() {
    let stage = Stage::start(&[("ADMIN_NUMBERS", ADMIN)], 31).await;
    ana_on_duty(&stage).await;
    stage.sim.sms_at(1_000, ADMIN, "Block +1 (555) 777-0001");
    stage.sim.sms_at(2_000, ADMIN, "blocked");
    stage.sim.call_in(caller(SPAMMER, 10_000, '1'));
    stage.sim.run_until(MINUTE).await;

    assert_eq!(
        texts_to(&stage, ADMIN),
        [texts::blocked(SPAMMER, true), format!("Blocked: {SPAMMER}")]
    );
    let answer = first_answer(&stage, SPAMMER);
    assert!(
        answer.contains("<Response><Reject/></Response>"),
        "{answer}"
    );
    assert_no_worker_rang_and_no_task(&stage);
    assert_eq!(outcome(&stage).rejected, 1);

    stage
        .sim
        .sms_at(MINUTE + 1_000, ADMIN, "unblock +15557770001");
    stage.sim.call_in(caller(SPAMMER, MINUTE + 10_000, '1'));
    stage.sim.run_until(4 * MINUTE).await;
    assert_eq!(
        texts_to(&stage, ADMIN).last(),
        Some(&texts::unblocked(SPAMMER, true))
    );
    assert_eq!(bridged_to(&stage, SPAMMER).as_deref(), Some(ANA));
    let outcome = outcome(&stage);
    assert_eq!((outcome.rejected, outcome.to_person), (1, 1));
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_or_a_workers_block_changes_nothing_and_a_bad_number_gets_the_example() {
    let stage = Stage::start(&[("ADMIN_NUMBERS", ADMIN)], 32).await;
    ana_on_duty(&stage).await;
    stage.worker(BEN, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(1_000, STRANGER, "block +15557770002");
    stage.sim.sms_at(1_500, BEN, "block +15557770002");
    stage.sim.sms_at(2_000, ADMIN, "block 555-0002");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(3 * MINUTE).await;

    assert_eq!(texts_to(&stage, STRANGER), [replies::stranger()]);
    assert_eq!(texts_to(&stage, BEN), [texts::admins_only()]);
    assert_eq!(texts_to(&stage, ADMIN), [texts::example()]);
    let blocked = stage.app.store.list_blocked().await.expect("blocklist");
    assert_eq!(blocked, vec![], "nothing was blocked");
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(ANA));
    assert_eq!(outcome(&stage).to_person, 1);
    stage.assert_spec_clean().await;
}

/// A caller whose caller ID is withheld as Twilio sends it.
fn anonymous(arrive: u64) -> Caller {
    caller("anonymous", arrive, '1')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_go_to_voicemail_by_default_and_never_ring_a_worker() {
    let stage = Stage::start(&[], 33).await;
    ana_on_duty(&stage).await;
    stage.sim.call_in(anonymous(10_000));
    stage.sim.run_until(3 * MINUTE).await;

    let call = caller_leg(&stage.sim.world(), "anonymous")
        .cloned()
        .expect("the caller");
    assert!(call.voicemail_recorded, "heard {:?}", call.heard);
    assert_no_worker_rang_and_no_task(&stage);
    assert_eq!(outcome(&stage).voicemail, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_are_rejected_under_reject() {
    let stage = Stage::start(&[("ANONYMOUS_CALLERS", "reject")], 34).await;
    ana_on_duty(&stage).await;
    stage.sim.call_in(anonymous(10_000));
    stage.sim.run_until(2 * MINUTE).await;

    let answer = first_answer(&stage, "anonymous");
    assert!(
        answer.contains("<Response><Reject/></Response>"),
        "{answer}"
    );
    assert_no_worker_rang_and_no_task(&stage);
    assert_eq!(outcome(&stage).rejected, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_reach_a_worker_under_allow() {
    let stage = Stage::start(&[("ANONYMOUS_CALLERS", "allow")], 35).await;
    ana_on_duty(&stage).await;
    stage.sim.call_in(anonymous(10_000));
    stage.sim.run_until(3 * MINUTE).await;

    assert_eq!(bridged_to(&stage, "anonymous").as_deref(), Some(ANA));
    assert_eq!(outcome(&stage).to_person, 1);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_stir_shaken_check_failed_goes_to_voicemail_not_to_workers() {
    // Allowed anonymous callers change nothing for a spoofed number.
    let stage = Stage::start(&[("ANONYMOUS_CALLERS", "allow")], 36).await;
    ana_on_duty(&stage).await;
    let mut spoofed = caller(SPAMMER, 10_000, '1');
    spoofed.stir_verstat = Some("TN-Validation-Failed-B".into());
    stage.sim.call_in(spoofed);
    stage.sim.run_until(3 * MINUTE).await;

    let call = caller_leg(&stage.sim.world(), SPAMMER)
        .cloned()
        .expect("the caller");
    assert!(call.voicemail_recorded, "heard {:?}", call.heard);
    assert_no_worker_rang_and_no_task(&stage);

    // A verified caller after it reaches Ana as usual.
    let mut verified = caller(CUSTOMER, 3 * MINUTE, '1');
    verified.stir_verstat = Some("TN-Validation-Passed-A".into());
    stage.sim.call_in(verified);
    stage.sim.run_until(6 * MINUTE).await;
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(ANA));
    let outcome = outcome(&stage);
    assert_eq!((outcome.voicemail, outcome.to_person), (1, 1));
    stage.assert_spec_clean().await;
}
