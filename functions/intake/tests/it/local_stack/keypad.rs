//! Issue 14's keypad, for workers who would rather call: 4 calls back the
//! oldest open follow-up, 5 dials a number, 6 plays the newest voicemail;
//! each behind the worker's PIN, with a lock-out after five wrong tries.
//! DynamoDB Local and the Twilio fake (every request checked against
//! Twilio's OpenAPI spec).

use crate::common;

use common::{ANA, CALL_SID, answer, call, sms};
use homeline_core::App;
use homeline_core::domain::pin;
use homeline_core::model::{FollowUp, FollowUpReason, FollowUpState, WorkerProfile};
use homeline_core::service::follow_up;
use homeline_core::store::{DynamoStore, FollowUpStore, WorkerStore, now_secs};
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::TwilioFake;
use testkit::{CALLER_ID, PUBLIC_BASE_URL};

const BEN: &str = "+15551230002";
/// The business's main number, verified in Twilio as an outgoing caller ID.
const MAIN_LINE: &str = "+15550001111";
const OLDER: &str = "CA00000000000000000000000000000c01";
const NEWER: &str = "CA00000000000000000000000000000c02";
const OLDER_CALLER: &str = "+15557654321";
const NEWER_CALLER: &str = "+15558765432";
const RECORDING: &str = "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Recordings/RE00000000000000000000000000000001";
const PIN: &str = "4821";

struct Rig {
    app: App<DynamoStore>,
    twilio: TwilioFake,
}

/// Ana and Ben enrolled for sales; an older abandoned call (#1) and a newer
/// voicemail (#2), both open.
async fn rig() -> Rig {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("CALLBACK_CALLER_ID", MAIN_LINE));
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
    let mut older = follow_up::new(
        OLDER,
        OLDER_CALLER,
        "sales",
        FollowUpReason::Abandoned,
        None,
    );
    older.created_at -= 600;
    let newer = follow_up::new(
        NEWER,
        NEWER_CALLER,
        "sales",
        FollowUpReason::Voicemail,
        Some(RECORDING.into()),
    );
    for new in [older, newer] {
        app.store.open_follow_up(&new).await.expect("open");
    }
    Rig { app, twilio }
}

impl Rig {
    async fn text(&self, from: &str, body: &str) -> String {
        let (status, xml) = answer(&self.app, sms(from, body)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }

    /// A step of Ana's call to the worker line.
    async fn key(&self, path: &str, query: &[(&str, &str)], digits: Option<&str>) -> String {
        let (status, xml) = answer(&self.app, call(path, query, ANA, digits)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }

    /// Ana keys `entered` as her PIN for `then`.
    async fn pin(&self, then: &str, entered: &str) -> String {
        self.key(
            "/intake/voice/pin",
            &[("then", then), ("attempt", "1")],
            Some(entered),
        )
        .await
    }

    async fn follow_up(&self, call_sid: &str) -> FollowUp {
        self.app
            .store
            .get_follow_up(call_sid)
            .await
            .expect("read")
            .expect("stored")
    }

    async fn ana(&self) -> WorkerProfile {
        self.app
            .store
            .get_worker(ANA)
            .await
            .expect("read")
            .expect("enrolled")
    }

    /// Nothing about a customer was said or dialled.
    fn assert_nothing_revealed(&self, xml: &str) {
        for secret in [
            OLDER_CALLER,
            NEWER_CALLER,
            "7 6 5 4",
            "8 7 6 5",
            RECORDING,
            "<Dial",
            "<Play",
        ] {
            assert!(!xml.contains(secret), "{secret} in {xml}");
        }
        assert!(self.twilio.calls_created().is_empty(), "nobody was rung");
    }
}

#[tokio::test]
async fn a_guarded_key_without_the_right_pin_reveals_and_dials_nothing() {
    let rig = rig().await;
    // No PIN yet: 4, 5 and 6 say how to set one and hang up.
    for digit in ["4", "5", "6"] {
        let xml = rig
            .key("/intake/voice/menu", &[("attempt", "1")], Some(digit))
            .await;
        assert!(xml.contains("Text PIN and 4 to 8 digits"), "{xml}");
        assert!(xml.contains("<Hangup/>"), "{xml}");
        rig.assert_nothing_revealed(&xml);
    }
    // Nor does a PIN step reached without one.
    let xml = rig.pin("voicemail", PIN).await;
    rig.assert_nothing_revealed(&xml);

    // The PIN is set by SMS, from the enrolled phone; guessable ones are refused.
    let reply = rig.text(ANA, "pin 1234").await;
    assert!(reply.contains("Nothing changed"), "{reply}");
    assert_eq!(rig.ana().await.pin, None);
    let reply = rig.text(ANA, "PIN 4821").await;
    assert!(reply.contains("Your keypad PIN is set"), "{reply}");
    let stored = rig.ana().await.pin.expect("stored");
    assert!(!stored.0.contains(PIN), "the PIN itself is never stored");
    assert!(pin::matches(&stored, PIN));

    // Now the menu asks for it; a wrong one reveals nothing and asks again.
    let xml = rig
        .key("/intake/voice/menu", &[("attempt", "1")], Some("6"))
        .await;
    let ask = format!("{PUBLIC_BASE_URL}/intake/voice/pin?then=voicemail&amp;attempt=1");
    assert!(
        xml.contains(&format!(r##"<Gather input="dtmf" finishOnKey="#" timeout="10" action="{ask}" method="POST"><Say>Enter your PIN, then press pound.</Say></Gather>"##)),
        "{xml}"
    );
    // `#` alone is nothing keyed: asked again, not counted.
    let xml = rig.pin("voicemail", "#").await;
    assert!(
        xml.contains("attempt=2") && !xml.contains("not right"),
        "{xml}"
    );
    assert_eq!(rig.ana().await.pin_failures, 0);
    for then in ["voicemail", "call-back", "dial"] {
        let xml = rig.pin(then, "9999").await;
        assert!(xml.contains("That PIN is not right."), "{xml}");
        rig.assert_nothing_revealed(&xml);
        assert!(xml.contains("attempt=2"), "asked once more: {xml}");
    }
    // Steps past the PIN are refused on a call the PIN was not right on.
    let xml = rig
        .key(
            "/intake/voice/dial",
            &[("call", "CA00000000000000000000000000000999")],
            Some("5557654321"),
        )
        .await;
    rig.assert_nothing_revealed(&xml);
    let xml = rig
        .key(
            "/intake/voice/call-back",
            &[("follow_up", NEWER)],
            Some("1"),
        )
        .await;
    rig.assert_nothing_revealed(&xml);
    for call_sid in [OLDER, NEWER] {
        let untouched = rig.follow_up(call_sid).await;
        assert_eq!(
            (untouched.state, untouched.owner),
            (FollowUpState::Open, None)
        );
    }
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn five_wrong_pins_lock_the_keypad_for_an_hour_and_text_the_worker_once() {
    let rig = rig().await;
    rig.text(ANA, "pin 4821").await;
    let sms_before = rig.twilio.messages_sent().len();
    // Across calls: each call gets two tries, the count carries over.
    for try_no in 1..pin::LOCK_AFTER {
        let xml = rig.pin("call-back", "1357").await;
        let left = pin::LOCK_AFTER - try_no;
        assert!(xml.contains(&format!("{left} tries left")), "{xml}");
    }
    assert!(
        rig.twilio.messages_sent().len() == sms_before,
        "no text before the lock"
    );
    let xml = rig.pin("call-back", "1357").await;
    assert!(xml.contains("the keypad is locked for an hour"), "{xml}");
    let ana = rig.ana().await;
    let until = ana.pin_locked_until.expect("locked");
    assert!((until - now_secs() - pin::LOCK_SECS).abs() < 60, "{until}");
    let texts = rig.twilio.messages_sent();
    assert_eq!(texts.len(), sms_before + 1, "{texts:?}");
    let text = texts.last().expect("the lock-out text");
    assert_eq!(text.param("To"), Some(ANA));
    assert!(
        text.param("Body")
            .is_some_and(|b| b.contains("5 wrong PINs locked your keypad"))
    );

    // Locked: even the right PIN reveals and dials nothing, and no more texts.
    for entered in [PIN, "1357"] {
        let xml = rig.pin("call-back", entered).await;
        assert!(xml.contains("the keypad is locked"), "{xml}");
        rig.assert_nothing_revealed(&xml);
    }
    assert_eq!(rig.twilio.messages_sent().len(), sms_before + 1);
    assert_eq!(rig.follow_up(OLDER).await.state, FollowUpState::Open);
    // A new PIN by SMS, from the enrolled phone, lifts the lock.
    rig.text(ANA, "pin 90210").await;
    let xml = rig.pin("dial", "90210").await;
    assert!(xml.contains("/intake/voice/dial?call="), "{xml}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn key_4_offers_the_oldest_open_follow_up_and_1_calls_them_from_the_business_line() {
    let rig = rig().await;
    rig.text(ANA, "pin 4821").await;
    let xml = rig.pin("call-back", PIN).await;
    let offer =
        format!("{PUBLIC_BASE_URL}/intake/voice/call-back?call={CALL_SID}&amp;follow_up={OLDER}");
    assert!(
        xml.contains(&format!(
            r#"<Say>Homeline call back number 1, for sales. The caller, 1 5 5 5 7 6 5 4 3 2 1, hung up while waiting.</Say><Gather input="dtmf" numDigits="1" timeout="6" action="{offer}" method="POST"><Say>Press 1 to call them back now.</Say></Gather><Say>Goodbye.</Say><Hangup/>"#
        )),
        "{xml}"
    );
    // Hearing who it is takes nothing: a worker who hangs up now leaves it open.
    assert_eq!(rig.follow_up(OLDER).await.state, FollowUpState::Open);
    let grant = [("call", CALL_SID), ("follow_up", OLDER)];
    let xml = rig.key("/intake/voice/call-back", &grant, Some("1")).await;
    let dialed = format!("{PUBLIC_BASE_URL}/intake/callback/dialed?call={OLDER}&amp;claim=1");
    assert!(
        xml.contains(&format!(
            r#"<Response><Dial callerId="{MAIN_LINE}" action="{dialed}" method="POST" timeout="20"><Number>{OLDER_CALLER}</Number></Dial></Response>"#
        )),
        "{xml}"
    );
    let calling = rig.follow_up(OLDER).await;
    assert_eq!(calling.state, FollowUpState::Calling);
    assert_eq!(calling.owner.as_deref(), Some(ANA));
    assert!(
        rig.twilio.calls_created().is_empty(),
        "Ana is on the line: no ring"
    );
    // Ben, meanwhile, is offered the next oldest.
    let (_, xml) = answer(
        &rig.app,
        call(
            "/intake/voice/pin",
            &[("then", "call-back"), ("attempt", "1")],
            BEN,
            Some("4821"),
        ),
    )
    .await;
    assert!(xml.contains("needs your PIN"), "Ben has set none: {xml}");
    rig.text(BEN, "pin 2580").await;
    let (_, xml) = answer(
        &rig.app,
        call(
            "/intake/voice/pin",
            &[("then", "call-back"), ("attempt", "1")],
            BEN,
            Some("2580"),
        ),
    )
    .await;
    assert!(xml.contains(&format!("follow_up={NEWER}")), "{xml}");
    let grant = [("call", CALL_SID), ("follow_up", NEWER)];
    let (_, xml) = answer(
        &rig.app,
        call("/intake/voice/call-back", &grant, BEN, Some("1")),
    )
    .await;
    assert!(
        xml.contains(&format!("<Number>{NEWER_CALLER}</Number>")),
        "{xml}"
    );
    assert_eq!(rig.follow_up(NEWER).await.owner.as_deref(), Some(BEN));
    // A late 1 on Ana's offer of the older one dials nobody twice.
    let grant = [("call", CALL_SID), ("follow_up", OLDER)];
    let xml = rig.key("/intake/voice/call-back", &grant, Some("1")).await;
    assert!(!xml.contains("<Dial"), "{xml}");

    // The dial's outcome settles it, as for a claim by SMS.
    let query = [("call", OLDER), ("claim", "1")];
    let (_, said) = answer(
        &rig.app,
        testkit::events::form_request(
            "/intake/callback/dialed",
            &query,
            &[
                ("AccountSid", testkit::ACCOUNT_SID),
                ("CallSid", CALL_SID),
                ("From", ANA),
                ("To", CALLER_ID),
                ("DialCallStatus", "completed"),
            ],
        ),
    )
    .await;
    assert!(said.contains("<Hangup/>"), "{said}");
    assert_eq!(rig.follow_up(OLDER).await.state, FollowUpState::Done);
    // Nobody left waiting: Ana hears so.
    let xml = rig.pin("call-back", PIN).await;
    assert!(xml.contains("Nobody is waiting for a call back."), "{xml}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn key_5_dials_a_us_number_from_the_business_line_and_refuses_a_premium_one() {
    let rig = rig().await;
    rig.text(ANA, "pin 4821").await;
    let xml = rig.pin("dial", PIN).await;
    let dial_url = format!("{PUBLIC_BASE_URL}/intake/voice/dial?call={CALL_SID}&amp;attempt=1");
    assert!(xml.contains(&format!(r#"action="{dial_url}""#)), "{xml}");
    let grant = [("call", CALL_SID), ("attempt", "1")];

    for refused in ["9005551234", "8765550123", "911", "5557654"] {
        let xml = rig.key("/intake/voice/dial", &grant, Some(refused)).await;
        assert!(
            xml.contains("cannot be called from the business line"),
            "{xml}"
        );
        assert!(xml.contains("attempt=2"), "asked once more: {xml}");
        assert!(!xml.contains("<Dial"), "{xml}");
    }
    let last_try = [("call", CALL_SID), ("attempt", "2")];
    let xml = rig
        .key("/intake/voice/dial", &last_try, Some("19005551234"))
        .await;
    assert!(xml.contains("Goodbye.") && !xml.contains("<Dial"), "{xml}");

    let xml = rig
        .key("/intake/voice/dial", &grant, Some("5557654321"))
        .await;
    assert!(
        xml.contains(&format!(
            r#"<Say>Calling 1 5 5 5 7 6 5 4 3 2 1 from the business line.</Say><Dial callerId="{MAIN_LINE}" timeout="20"><Number>+15557654321</Number></Dial>"#
        )),
        "{xml}"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn key_6_plays_the_newest_voicemail_and_1_calls_them_back_unless_taken() {
    let rig = rig().await;
    rig.text(ANA, "pin 4821").await;
    let xml = rig.pin("voicemail", PIN).await;
    let action =
        format!("{PUBLIC_BASE_URL}/intake/voice/call-back?call={CALL_SID}&amp;follow_up={NEWER}");
    assert!(
        xml.contains(&format!(
            r#"<Say>Homeline call back number 2, for sales. The caller, 1 5 5 5 8 7 6 5 4 3 2, left a voicemail.</Say><Play>{RECORDING}</Play><Gather input="dtmf" numDigits="1" timeout="6" action="{action}" method="POST"><Say>Press 1 to call them back now.</Say></Gather>"#
        )),
        "{xml}"
    );
    assert_eq!(
        rig.follow_up(NEWER).await.state,
        FollowUpState::Open,
        "listening takes nothing"
    );

    let grant = [("call", CALL_SID), ("follow_up", NEWER)];
    // Ben claims it by SMS first: Ana is told, and nothing is dialled.
    rig.text(BEN, "claim 2").await;
    let xml = rig.key("/intake/voice/call-back", &grant, Some("1")).await;
    assert!(xml.contains("Someone else is calling them back"), "{xml}");
    assert!(!xml.contains("<Dial"), "{xml}");
    assert_eq!(rig.follow_up(NEWER).await.owner.as_deref(), Some(BEN));

    // Ben closes it; the older has no recording, so nothing is left to hear.
    rig.text(BEN, "done 2").await;
    let xml = rig.pin("voicemail", PIN).await;
    assert!(xml.contains("There is no voicemail waiting."), "{xml}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn one_after_the_voicemail_dials_the_caller_from_the_business_line() {
    let rig = rig().await;
    rig.text(ANA, "pin 4821").await;
    rig.pin("voicemail", PIN).await;
    let grant = [("call", CALL_SID), ("follow_up", NEWER)];
    let xml = rig.key("/intake/voice/call-back", &grant, Some("1")).await;
    let dialed = format!("{PUBLIC_BASE_URL}/intake/callback/dialed?call={NEWER}&amp;claim=1");
    assert!(
        xml.contains(&format!(
            r#"<Dial callerId="{MAIN_LINE}" action="{dialed}" method="POST" timeout="20"><Number>{NEWER_CALLER}</Number></Dial>"#
        )),
        "{xml}"
    );
    let calling = rig.follow_up(NEWER).await;
    assert_eq!(
        (calling.state, calling.owner.as_deref()),
        (FollowUpState::Calling, Some(ANA))
    );
    rig.twilio.assert_spec_valid();
}
