//! Issue 14's claim loop: `claim 7` by SMS, the call to the claimer's phone,
//! press 1, the dial to the customer from `CALLBACK_CALLER_ID`, and what
//! each outcome does to the follow-up. DynamoDB Local and the Twilio fake
//! (every request checked against Twilio's OpenAPI spec).

use crate::common;

use common::{ANA, STRANGER, answer, sms};
use homeline_core::App;
use homeline_core::model::{FollowUp, FollowUpReason, FollowUpState, WorkerProfile};
use homeline_core::service::follow_up;
use homeline_core::store::{DynamoStore, FollowUpStore, WorkerStore};
use testkit::dynamo::fresh_store;
use testkit::events;
use testkit::twilio_fake::{Failure, Route, TwilioFake};
use testkit::{CALLER_ID, PUBLIC_BASE_URL};

const BEN: &str = "+15551230002";
const CUSTOMER: &str = "+15557654321";
const CUSTOMER_CALL: &str = "CA00000000000000000000000000000c01";
/// The business's main number, verified in Twilio as an outgoing caller ID.
const MAIN_LINE: &str = "+15550001111";
/// The owner: in `ADMIN_NUMBERS`, not enrolled.
const OWNER: &str = "+15550002222";

struct Rig {
    app: App<DynamoStore>,
    twilio: TwilioFake,
}

/// Ana and Ben enrolled for sales, and one open voicemail follow-up (#1).
async fn rig() -> Rig {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("CALLBACK_CALLER_ID", MAIN_LINE));
    overrides.push(("ADMIN_NUMBERS", OWNER));
    let app = App::new(testkit::test_config(&overrides), fresh_store().await);
    for (phone, name) in [(ANA, "Ana"), (BEN, "Ben")] {
        let worker = WorkerProfile::new(phone, name, vec!["sales".into()]);
        assert!(
            app.store
                .put_worker(&worker)
                .await
                .expect("enroll")
                .applied()
        );
    }
    let new = follow_up::new(
        CUSTOMER_CALL,
        CUSTOMER,
        "sales",
        FollowUpReason::Voicemail,
        None,
    );
    let opened = app.store.open_follow_up(&new).await.expect("open");
    assert_eq!(opened.number, 1);
    Rig { app, twilio }
}

impl Rig {
    async fn text(&self, from: &str, body: &str) -> String {
        let (status, xml) = answer(&self.app, sms(from, body)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }

    async fn follow_up(&self) -> FollowUp {
        self.app
            .store
            .get_follow_up(CUSTOMER_CALL)
            .await
            .expect("read")
            .expect("stored")
    }

    /// A step of the call back on the claimer's phone, as Twilio requests it.
    async fn step(&self, path: &str, claim: &str, extra: &[(&str, &str)]) -> String {
        let mut params = vec![
            ("AccountSid", testkit::ACCOUNT_SID),
            ("CallSid", "CA00000000000000000000000000000b01"),
            ("From", CALLER_ID),
            ("To", ANA),
            ("Direction", "outbound-api"),
        ];
        params.extend_from_slice(extra);
        let query = [("call", CUSTOMER_CALL), ("claim", claim)];
        let (status, xml) = answer(&self.app, events::form_request(path, &query, &params)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }
}

fn twiml(inner: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>"#)
}

#[tokio::test]
async fn the_first_claim_rings_the_claimer_from_the_business_number_and_later_claimers_hear_who_has_it()
 {
    let rig = rig().await;
    let reply = rig.text(ANA, "Claim 1").await;
    assert!(
        reply.contains("#1 is yours. Calling you now: answer and press 1 to call +15557654321 from the business line."),
        "{reply}"
    );
    let calls = rig.twilio.calls_created();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.param("To"), Some(ANA));
    assert_eq!(
        call.param("From"),
        Some(CALLER_ID),
        "the business's Twilio number"
    );
    let query = format!("call={CUSTOMER_CALL}&claim=1");
    assert_eq!(
        call.param("Url"),
        Some(format!("{PUBLIC_BASE_URL}/intake/callback?{query}").as_str())
    );
    assert_eq!(
        call.param("StatusCallback"),
        Some(format!("{PUBLIC_BASE_URL}/intake/callback/status?{query}").as_str())
    );
    let claimed = rig.follow_up().await;
    assert_eq!(claimed.state, FollowUpState::Claimed);
    assert_eq!(claimed.owner.as_deref(), Some(ANA));

    let reply = rig.text(BEN, "claim #1").await;
    assert!(
        reply.contains("#1 is already being handled by Ana."),
        "{reply}"
    );
    let reply = rig.text(ANA, "claim 1").await;
    assert!(reply.contains("your phone is being called now"), "{reply}");
    let reply = rig.text(STRANGER, "claim 1").await;
    assert!(reply.contains("not on the Homeline roster"), "{reply}");
    let reply = rig.text(BEN, "done 1").await;
    assert!(reply.contains("already being handled by Ana"), "{reply}");
    let reply = rig.text(ANA, "claim 9").await;
    assert!(reply.contains("There is no open follow-up #9."), "{reply}");
    assert_eq!(rig.twilio.calls_created().len(), 1, "nobody else was rung");
    assert_eq!(rig.follow_up().await, claimed, "nothing changed");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn two_workers_claiming_at_once_make_exactly_one_call() {
    let rig = rig().await;
    // Both SMS webhooks at the same instant, on DynamoDB Local.
    let (ana, ben) = tokio::join!(rig.text(ANA, "claim 1"), rig.text(BEN, "claim 1"));
    let calls = rig.twilio.calls_created();
    assert_eq!(calls.len(), 1, "one claimer's phone rung: {calls:?}");
    let winner = calls[0].param("To").expect("a To");
    let claimed = rig.follow_up().await;
    assert_eq!(claimed.state, FollowUpState::Claimed);
    assert_eq!(claimed.owner.as_deref(), Some(winner));
    assert_eq!(claimed.claims, 1, "claimed once");
    let (won, lost, name) = if winner == ANA {
        (ana, ben, "Ana")
    } else {
        (ben, ana, "Ben")
    };
    assert!(won.contains("#1 is yours."), "{won}");
    assert!(
        lost.contains(&format!("#1 is already being handled by {name}.")),
        "{lost}"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn press_1_dials_the_customer_with_the_callback_caller_id_and_the_outcome_settles_it() {
    let rig = rig().await;
    rig.text(ANA, "claim 1").await;
    let whisper = rig
        .step("/intake/callback", "1", &[("CallStatus", "in-progress")])
        .await;
    let key_url = format!("{PUBLIC_BASE_URL}/intake/callback/key?call={CUSTOMER_CALL}&amp;claim=1");
    assert_eq!(
        whisper,
        twiml(&format!(
            r#"<Gather input="dtmf" numDigits="1" timeout="8" action="{key_url}" actionOnEmptyResult="true"><Say>Homeline call back number 1, for sales. The caller, 1 5 5 5 7 6 5 4 3 2 1, left a voicemail. Press 1 to call them now.</Say></Gather>"#
        ))
    );
    let dial = rig
        .step("/intake/callback/key", "1", &[("Digits", "1")])
        .await;
    let dialed_url =
        format!("{PUBLIC_BASE_URL}/intake/callback/dialed?call={CUSTOMER_CALL}&amp;claim=1");
    assert_eq!(
        dial,
        twiml(&format!(
            r#"<Dial callerId="{MAIN_LINE}" action="{dialed_url}" method="POST" timeout="20"><Number>{CUSTOMER}</Number></Dial>"#
        ))
    );
    assert_eq!(rig.follow_up().await.state, FollowUpState::Calling);

    // The customer does not answer: open again, the claimer told, a try counted.
    let said = rig
        .step(
            "/intake/callback/dialed",
            "1",
            &[("DialCallStatus", "no-answer")],
        )
        .await;
    assert!(
        said.contains("did not answer; #1 is open again (tried 1x)"),
        "{said}"
    );
    let reopened = rig.follow_up().await;
    assert_eq!(
        (reopened.state, reopened.failed_calls),
        (FollowUpState::Open, 1)
    );
    assert_eq!(reopened.owner, None);
    // The claimer's call then ends: a late step of that ring changes nothing.
    rig.step(
        "/intake/callback/status",
        "1",
        &[("CallStatus", "completed")],
    )
    .await;
    assert_eq!(rig.follow_up().await, reopened);
    assert!(
        rig.twilio.messages_sent().is_empty(),
        "no miss text for a call that was taken"
    );

    // Ben tries later and reaches them: done, and its number is free.
    rig.text(BEN, "claim 1").await;
    rig.step("/intake/callback/key", "2", &[("Digits", "1")])
        .await;
    let said = rig
        .step(
            "/intake/callback/dialed",
            "2",
            &[("DialCallStatus", "completed")],
        )
        .await;
    assert!(said.contains("#1 is done."), "{said}");
    let done = rig.follow_up().await;
    assert_eq!(
        (done.state, done.owner.as_deref()),
        (FollowUpState::Done, Some(BEN))
    );
    let reply = rig.text(ANA, "missed").await;
    assert!(reply.contains("No open follow-ups."), "{reply}");
    let reply = rig.text(ANA, "claim 1").await;
    assert!(reply.contains("There is no open follow-up #1."), "{reply}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_unanswered_ring_or_no_key_opens_it_again_and_the_claimer_is_told() {
    let rig = rig().await;
    rig.text(ANA, "claim 1").await;
    rig.step(
        "/intake/callback/status",
        "1",
        &[("CallStatus", "no-answer")],
    )
    .await;
    let reopened = rig.follow_up().await;
    assert_eq!(
        (reopened.state, reopened.owner),
        (FollowUpState::Open, None)
    );
    let texts = rig.twilio.messages_sent();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].param("To"), Some(ANA));
    assert_eq!(
        texts[0].param("Body"),
        Some("You did not take the call for #1; it is open again. Text CLAIM 1 to try again.")
    );
    // The answer URL of that ring, fetched late, whispers nothing.
    let late = rig
        .step("/intake/callback", "1", &[("CallStatus", "in-progress")])
        .await;
    assert!(
        late.contains("no longer needed") && !late.contains("<Gather"),
        "{late}"
    );

    // Ben claims it; a repeat of Ana's ring's status arrives late and must
    // not take it from him.
    rig.text(BEN, "claim 1").await;
    rig.step(
        "/intake/callback/status",
        "1",
        &[("CallStatus", "no-answer")],
    )
    .await;
    let bens = rig.follow_up().await;
    assert_eq!(
        (bens.state, bens.owner.as_deref()),
        (FollowUpState::Claimed, Some(BEN))
    );
    assert_eq!(rig.twilio.messages_sent().len(), 1, "nobody told twice");

    // Ben answers but presses nothing (his voicemail picked up): open again.
    let said = rig.step("/intake/callback/key", "2", &[]).await;
    assert!(said.contains("Follow-up 1 is open again"), "{said}");
    assert_eq!(rig.follow_up().await.state, FollowUpState::Open);
    assert!(
        !rig.twilio
            .calls_created()
            .iter()
            .any(|c| c.param("To") == Some(CUSTOMER)),
        "the customer is never called without a 1"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_claimer_whose_phone_cannot_be_called_leaves_it_open_and_done_closes_by_hand() {
    let rig = rig().await;
    // Not retried: the account may not call that number (geo permissions).
    rig.twilio.fail_next_with(
        Route::CreateCall,
        1,
        Failure::twilio(400, 21215, "Account not authorized to call this number"),
    );
    let reply = rig.text(ANA, "claim 1").await;
    assert!(
        reply.contains("could not call your phone just now; #1 is open again"),
        "{reply}"
    );
    assert_eq!(rig.follow_up().await.state, FollowUpState::Open);

    let reply = rig.text(BEN, "missed").await;
    assert!(reply.contains("Open: #1 +15557654321 sales"), "{reply}");
    let reply = rig.text(BEN, "done 1").await;
    assert!(reply.contains("#1 is done. Thank you."), "{reply}");
    let done = rig.follow_up().await;
    assert_eq!(
        (done.state, done.owner.as_deref()),
        (FollowUpState::Done, Some(BEN))
    );
    let reply = rig.text(ANA, "claim").await;
    assert!(reply.contains("Which follow-up?"), "{reply}");
}

#[tokio::test]
async fn an_admin_who_is_not_enrolled_may_claim_but_not_go_on_duty() {
    let rig = rig().await;
    let reply = rig.text(OWNER, "on sales").await;
    assert!(reply.contains("not on the Homeline roster"), "{reply}");
    let reply = rig.text(OWNER, "missed").await;
    assert!(reply.contains("Open: #1 +15557654321 sales"), "{reply}");
    let reply = rig.text(OWNER, "claim 1").await;
    assert!(reply.contains("#1 is yours. Calling you now"), "{reply}");
    let calls = rig.twilio.calls_created();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].param("To"), Some(OWNER));
    let claimed = rig.follow_up().await;
    assert_eq!(claimed.owner.as_deref(), Some(OWNER));
    let reply = rig.text(ANA, "claim 1").await;
    assert!(
        reply.contains(&format!("#1 is already being handled by {OWNER}.")),
        "{reply}"
    );
    assert!(
        rig.app
            .store
            .get_worker(OWNER)
            .await
            .expect("read")
            .is_none(),
        "the admin is not enrolled by it"
    );
    rig.twilio.assert_spec_valid();
}
