//! Follow-ups through the stand-in: a voicemail is announced, claimed by
//! SMS, and the customer is dialled from the business caller ID; an
//! unclaimed one is escalated on the scheduler's tick in simulated time.

use homeline_core::model::FollowUpState;
use homeline_core::routes::paths;
use homeline_core::store::FollowUpStore;
use homeline_tests::harness::{Stage, caller, caller_leg};
use homeline_tests::phones::Claims;
use homeline_tests::{Phone, PhoneProfile, WorkerScript};

const ANA: &str = "+15550001001";
const CUSTOMER: &str = "+15557770001";
const OWNER: &str = "+15559990001";
/// Not `TWILIO_CALLER_ID`, so a Dial without `callerId` (Twilio shows the
/// claimer's call's own `From`) is told apart.
const BUSINESS_MAIN: &str = "+15005550123";
const MINUTE: u64 = 60_000;

/// ANA is enrolled for sales but never on duty, so a sales caller leaves a
/// voicemail and ANA is texted its follow-up; she claims what she is asked
/// to, `claims` of the time, 30 s later.
async fn stage_with_ana(seed: u64, claims: Option<f64>) -> Stage {
    let stage = Stage::start(
        &[
            ("ADMIN_NUMBERS", OWNER),
            ("CALLBACK_CALLER_ID", BUSINESS_MAIN),
        ],
        seed,
    )
    .await;
    stage
        .enroll(WorkerScript {
            phone: ANA.into(),
            name: "Ana".into(),
            skills: vec!["sales".into()],
            profile: PhoneProfile::always(Phone::fast_human()),
            rejoin_after: None,
            claims: claims.map(|chance| Claims {
                chance,
                after: 30_000..=30_000,
            }),
        })
        .await;
    stage
}

fn texts_to(stage: &Stage, phone: &str) -> Vec<String> {
    let world = stage.sim.world();
    world
        .messages
        .iter()
        .filter(|m| m.to == phone)
        .map(|m| m.body.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_voicemail_is_called_back_from_the_business_number() {
    let stage = stage_with_ana(61, Some(1.0)).await;
    stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
    stage.sim.run_until(10 * MINUTE).await;

    let voicemail = caller_leg(&stage.sim.world(), CUSTOMER)
        .cloned()
        .expect("caller");
    assert!(voicemail.voicemail_recorded, "heard {:?}", voicemail.heard);
    let follow_up = stage
        .app
        .store
        .get_follow_up(&voicemail.sid)
        .await
        .expect("read")
        .expect("the voicemail opened a follow-up");
    assert_eq!(follow_up.state, FollowUpState::Done, "{follow_up:?}");
    assert_eq!(follow_up.owner.as_deref(), Some(ANA));
    assert!(
        follow_up
            .transcript
            .as_deref()
            .is_some_and(|t| t.contains(CUSTOMER)),
        "the stand-in's transcript reached the follow-up: {:?}",
        follow_up.transcript
    );

    {
        let world = stage.sim.world();
        let customer_legs: Vec<_> = world
            .calls
            .values()
            .filter(|c| c.dialed_by.is_some())
            .collect();
        assert_eq!(customer_legs.len(), 1, "the customer is dialled once");
        let leg = customer_legs[0];
        assert_eq!(leg.to, CUSTOMER);
        assert_eq!(
            leg.from, BUSINESS_MAIN,
            "the customer sees CALLBACK_CALLER_ID, not {}",
            leg.from
        );
        assert!(leg.answered.is_some());
        let dialed = world
            .delivered
            .iter()
            .find(|d| d.path == paths::CALL_BACK_DIALED)
            .expect("the Dial's action was requested");
        assert_eq!(dialed.param("DialCallStatus"), Some("completed"));
        assert_eq!(dialed.param("DialCallSid"), Some(leg.sid.as_str()));
        assert_eq!(dialed.param("DialCallDuration"), Some("60"));
        // The transcript came after the recording status callback (the default order).
        let at = |path: &str| world.delivered.iter().position(|d| d.path == path);
        let order = (
            at(paths::INBOUND_RECORDING_STATUS),
            at(paths::INBOUND_TRANSCRIPTION),
        );
        assert!(matches!(order, (Some(r), Some(t)) if r < t), "{order:?}");
    }

    let day = stage.follow_up_outcome().await;
    assert_eq!((day.created, day.claimed, day.reached), (1, 1, 1));
    assert!(day.invariant_failures().is_empty(), "{day:?}");
    stage.assert_spec_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_that_comes_first_still_reaches_the_follow_up() {
    let stage = stage_with_ana(62, None).await;
    stage.sim.world().transcription_first = true;
    stage.sim.call_in(caller(CUSTOMER, 1_000, '1'));
    stage.sim.run_until(5 * MINUTE).await;

    let sid = caller_leg(&stage.sim.world(), CUSTOMER)
        .expect("caller")
        .sid
        .clone();
    let follow_up = stage.app.store.get_follow_up(&sid).await.expect("read");
    assert!(
        follow_up.is_some_and(|f| f.transcript.is_some() && f.recording_url.is_some()),
        "the transcript and the recording both reached one follow-up"
    );
    let world = stage.sim.world();
    let at = |path: &str| world.delivered.iter().position(|d| d.path == path);
    let order = (
        at(paths::INBOUND_TRANSCRIPTION),
        at(paths::INBOUND_RECORDING_STATUS),
    );
    assert!(matches!(order, (Some(t), Some(r)) if t < r), "{order:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclaimed_voicemail_is_escalated_once_thirty_simulated_minutes_later() {
    let stage = stage_with_ana(63, None).await;
    // Late in the run, so a follow-up stamped by the wall clock (seconds
    // into the run) would look 20 minutes older than it is.
    stage.sim.call_in(caller(CUSTOMER, 20 * MINUTE, '1'));
    stage.sim.run_until(21 * MINUTE).await;
    let announced = texts_to(&stage, OWNER).len();
    assert_eq!(announced, 1, "the owner is told of the voicemail");

    stage.sim.run_until(50 * MINUTE).await;
    assert_eq!(
        texts_to(&stage, OWNER).len(),
        announced,
        "not escalated before 30 simulated minutes: {:?}",
        texts_to(&stage, OWNER)
    );
    stage.sim.run_until(53 * MINUTE).await;
    let texts = texts_to(&stage, OWNER);
    assert_eq!(texts.len(), announced + 1, "escalated once: {texts:?}");
    assert!(texts[announced].contains("Nobody has claimed"), "{texts:?}");
    stage.sim.run_until(60 * MINUTE).await;
    assert_eq!(texts_to(&stage, OWNER).len(), announced + 1, "only once");
    assert_eq!(stage.follow_up_outcome().await.escalated, 1);
}
