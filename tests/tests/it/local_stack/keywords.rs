//! Carrier keywords and the assignment callback's store outage, end to end:
//! the real functions on DynamoDB Local behind the Twilio stand-in, which
//! answers STOP/START/HELP itself and refuses SMS to an opted-out number
//! with 21610 (docs/twilio.md, "Carrier keywords", "Reject advice").
//! Run with `scripts/local-stack.sh run -- cargo test -p homeline-tests keywords`.

use super::scenarios::worker_activity;
use homeline_core::store::WorkerStore;
use homeline_tests::carrier::{self, Keyword};
use homeline_tests::harness::{Stage, caller, caller_leg, legs_to};
use homeline_tests::{Outcome, Phone};

const ANA: &str = "+15550001001";
const BEN: &str = "+15550001002";
const CUSTOMER: &str = "+15557770001";
const OWNER: &str = "+15559990001";
const MINUTE: u64 = 60_000;

/// Every SMS that reached `phone` after `since`: Homeline's, over REST or as
/// a TwiML reply, and Twilio's own keyword replies.
fn texts_to(stage: &Stage, phone: &str, since: u64) -> Vec<String> {
    let world = stage.sim.world();
    world
        .messages
        .iter()
        .filter(|m| m.to == phone && m.at >= since)
        .map(|m| m.body.clone())
        .collect()
}

/// Homeline's SMS sends to `phone` over REST (refused ones too).
fn sends_to(stage: &Stage, phone: &str) -> usize {
    let world = stage.sim.world();
    world
        .rest
        .iter()
        .filter(|r| r.path.ends_with("/Messages.json") && r.param("To") == Some(phone))
        .count()
}

async fn sms_blocked(stage: &Stage, phone: &str) -> bool {
    let profile = stage.app.store.get_worker(phone).await.expect("store");
    profile.expect("enrolled").sms_blocked
}

fn bridged_to(stage: &Stage, from: &str) -> Option<String> {
    let world = stage.sim.world();
    let call = caller_leg(&world, from)?;
    let peer = call.peer.as_ref()?;
    world.calls.get(peer).map(|w| w.to.clone())
}

fn assert_no_opted_out_replies(stage: &Stage) {
    let world = stage.sim.world();
    let refused: Vec<&String> = world
        .anomalies
        .iter()
        .filter(|a| a.contains("opted out"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_takes_the_worker_off_duty_without_a_second_reply_and_nothing_texts_them_until_start()
{
    let stage = Stage::start(&[("ADMIN_NUMBERS", OWNER)], 31).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(5_000, ANA, "STOP");
    stage.sim.sms_at(8_000, ANA, "help");
    // Nobody on duty now: the caller leaves a voicemail, announced to the
    // owner and to sales workers, Ana being one.
    stage.sim.call_in(caller(CUSTOMER, 20_000, '1'));
    stage.sim.run_until(3 * MINUTE).await;

    assert_eq!(
        texts_to(&stage, ANA, 5_000),
        vec![
            carrier::reply(Keyword::OptOut).to_string(),
            carrier::reply(Keyword::Help).to_string()
        ],
        "Twilio's replies only: no second reply, no voicemail announcement"
    );
    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    assert!(sms_blocked(&stage, ANA).await);
    assert_eq!(sends_to(&stage, ANA), 0, "not even tried");
    assert_eq!(texts_to(&stage, OWNER, 0).len(), 1, "the owner is told");
    assert!(legs_to(&stage.sim.world(), ANA).is_empty(), "never rung");

    // START lifts the block but is no `on`; the next `on` is, and is answered.
    let start_at = stage.sim.now();
    stage.sim.sms_at(start_at, ANA, "start");
    stage.sim.run_for(5_000).await;
    assert_eq!(
        texts_to(&stage, ANA, start_at),
        vec![carrier::reply(Keyword::OptIn).to_string()]
    );
    assert!(!sms_blocked(&stage, ANA).await);
    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    let on_at = stage.sim.now();
    stage.sim.sms_at(on_at, ANA, "on");
    stage.sim.run_for(5_000).await;
    let replies = texts_to(&stage, ANA, on_at);
    assert!(
        replies.len() == 1 && replies[0].starts_with("You're online for sales"),
        "{replies:?}"
    );
    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_AVAILABLE)
    );
    assert_no_opted_out_replies(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_worker_back_on_duty_is_not_texted_when_they_miss_a_call() {
    // A miss that texts: the one that takes the worker off duty.
    let stage = Stage::start(&[("MISSES_BEFORE_OFFLINE", "1")], 32).await;
    stage.worker(ANA, "sales", Phone::voicemail()).await;
    stage.worker(BEN, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(1_000, ANA, "stop");
    // Still blocked: the command works, silently.
    stage.sim.sms_at(2_000, ANA, "on sales");
    stage.sim.sms_at(3_000, BEN, "on sales");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(4 * MINUTE).await;

    assert_eq!(legs_to(&stage.sim.world(), ANA).len(), 1, "Ana was rung");
    assert_eq!(bridged_to(&stage, CUSTOMER).as_deref(), Some(BEN));
    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    assert_eq!(
        texts_to(&stage, ANA, 1_000),
        vec![carrier::reply(Keyword::OptOut).to_string()]
    );
    assert_eq!(sends_to(&stage, ANA), 0, "no miss notice tried");
    assert_no_opted_out_replies(&stage);
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_refusing_an_sms_with_21610_marks_the_worker_blocked() {
    // A miss that texts: the one that takes the worker off duty.
    let stage = Stage::start(&[("MISSES_BEFORE_OFFLINE", "1")], 33).await;
    stage.worker(ANA, "sales", Phone::voicemail()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.run_until(5_000).await;
    // Ana opted out in a way Homeline never saw (docs/twilio.md, "Carrier
    // keywords": whether a plain number passes STOP on is open).
    stage.sim.world().opted_out.push(ANA.to_string());
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(3 * MINUTE).await;

    assert_eq!(
        worker_activity(&stage, ANA).as_deref(),
        Some(testkit::ACTIVITY_OFFLINE)
    );
    assert_eq!(sends_to(&stage, ANA), 1, "the miss notice, refused, once");
    assert!(sms_blocked(&stage, ANA).await);
    stage.assert_spec_clean().await;
}

/// DynamoDB Local keeps running (other tests share it); the stage's table is
/// deleted mid-run, so every read and write of the functions fails from then
/// on, as in an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_offers_the_task_to_each_worker_once_and_texts_them_how_to_come_back() {
    let stage = Stage::start(&[], 34).await;
    stage.worker(ANA, "sales", Phone::fast_human()).await;
    stage.worker(BEN, "sales", Phone::fast_human()).await;
    stage.sim.sms_at(0, ANA, "on sales");
    stage.sim.sms_at(1_000, BEN, "on sales");
    stage.sim.run_until(5_000).await;
    let store = &stage.app.store;
    store
        .client()
        .delete_table()
        .table_name(store.table())
        .send()
        .await
        .expect("table deleted");
    stage.sim.call_in(caller(CUSTOMER, 10_000, '1'));
    stage.sim.run_until(4 * MINUTE).await;

    {
        let world = stage.sim.world();
        assert!(
            world.tr.offer_loops.is_empty(),
            "{:?}",
            world.tr.offer_loops
        );
        let offers: Vec<&str> = world
            .tr
            .reservations
            .values()
            .map(|r| r.worker_sid.as_str())
            .collect();
        assert_eq!(offers.len(), 2, "one offer per worker: {offers:?}");
    }
    for phone in [ANA, BEN] {
        assert_eq!(
            worker_activity(&stage, phone).as_deref(),
            Some(testkit::ACTIVITY_OFFLINE),
            "{phone}"
        );
        let told: Vec<String> = texts_to(&stage, phone, 5_000);
        assert_eq!(told.len(), 1, "{phone}: {told:?}");
        assert!(told[0].contains("Text ON"), "{}", told[0]);
        assert!(legs_to(&stage.sim.world(), phone).is_empty(), "not rung");
    }
    let outcome = Outcome::of(&stage.sim.world());
    assert_eq!(outcome.callers, 1);
    stage.assert_spec_clean().await;
}
