//! Handler tests on the in-memory store. Twilio points at an unroutable
//! placeholder, so every path here must answer without it.

use crate::common;

use common::{ANA, STRANGER, answer, call, sms};
use homeline_core::App;
use homeline_core::model::{Activity, WorkerProfile};
use homeline_core::store::{MemoryStore, WorkerStore};
use testkit::events;

async fn app_with_ana() -> App<MemoryStore> {
    let app = App::new(testkit::test_config(&[]), MemoryStore::new());
    let mut ana = WorkerProfile::new(ANA, "Ana", vec!["sales".into()]);
    ana.activity = Some(Activity::Offline);
    assert!(app.store.put_worker(&ana).await.expect("put").applied());
    app
}

/// Ana's key press (or none) on a voice-menu step; the TwiML answer.
async fn step(app: &App<MemoryStore>, path: &str, attempt: &str, digits: Option<&str>) -> String {
    answer(app, call(path, &[("attempt", attempt)], ANA, digits))
        .await
        .1
}

async fn ana(app: &App<MemoryStore>) -> WorkerProfile {
    app.store
        .get_worker(ANA)
        .await
        .expect("get")
        .expect("Ana enrolled")
}

#[tokio::test]
async fn stranger_sms_is_refused_and_nothing_is_stored() {
    let app = app_with_ana().await;
    for body in ["on sales", "off", "status"] {
        let (status, xml) = answer(&app, sms(STRANGER, body)).await;
        assert_eq!(status, 200);
        assert!(
            xml.contains("<Message>This number is not on the Homeline roster"),
            "{xml}"
        );
    }
    let workers = app.store.list_workers().await.expect("list");
    assert_eq!(workers.len(), 1, "only Ana: {workers:?}");
    assert_eq!(ana(&app).await.version, 1);
}

#[tokio::test]
async fn withheld_caller_id_is_a_stranger() {
    let app = app_with_ana().await;
    let (status, xml) = answer(&app, call("/intake/voice", &[], "anonymous", None)).await;
    assert_eq!(status, 200);
    assert!(
        xml.contains("not enrolled") && xml.ends_with("<Hangup/></Response>"),
        "{xml}"
    );
}

#[tokio::test]
async fn stranger_call_is_refused_and_hung_up_at_every_step() {
    let app = app_with_ana().await;
    for (path, digits) in [
        ("/intake/voice", None),
        ("/intake/voice/menu", Some("1")),
        ("/intake/voice/skill", Some("1")),
    ] {
        let (status, xml) = answer(&app, call(path, &[], STRANGER, digits)).await;
        assert_eq!(status, 200);
        assert!(
            xml.contains("<Say>This phone number is not enrolled"),
            "{xml}"
        );
        assert!(xml.ends_with("<Hangup/></Response>"), "{xml}");
        assert!(!xml.contains("<Gather"), "{xml}");
    }
    assert_eq!(app.store.list_workers().await.expect("list").len(), 1);
}

#[tokio::test]
async fn bad_or_missing_signature_is_403_and_changes_nothing() {
    let app = app_with_ana().await;
    let params = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("From", ANA),
        ("Body", "on sales"),
    ];
    for request in [
        events::badly_signed_form_request("/intake/sms", &[], &params),
        events::unsigned_form_request("/intake/sms", &[], &params),
        events::badly_signed_form_request("/intake/voice/skill", &[], &params),
    ] {
        let (status, body) = answer(&app, request).await;
        assert_eq!(status, 403);
        assert!(!body.contains("Message"), "{body}");
    }
    assert_eq!(ana(&app).await.version, 1);
}

#[tokio::test]
async fn missing_parameters_are_400() {
    let app = app_with_ana().await;
    let no_from = events::form_request("/intake/sms", &[], &[("Body", "status")]);
    let (status, body) = answer(&app, no_from).await;
    assert_eq!((status, body.contains("From")), (400, true), "{body}");
    let no_body = events::form_request("/intake/sms", &[], &[("From", ANA)]);
    let (status, body) = answer(&app, no_body).await;
    assert_eq!((status, body.contains("Body")), (400, true), "{body}");
    let no_from = events::form_request("/intake/voice", &[], &[("CallSid", "CA1")]);
    assert_eq!(answer(&app, no_from).await.0, 400);
    let elsewhere = events::form_request("/intake/fax", &[], &[("From", ANA)]);
    assert_eq!(answer(&app, elsewhere).await.0, 400);
}

#[tokio::test]
async fn status_help_and_unknown_skill_only_reply() {
    let app = app_with_ana().await;
    let (_, xml) = answer(&app, sms(ANA, " STATUS ")).await;
    assert!(
        xml.contains("<Message>Homeline: you are offline. Text ON to take calls."),
        "{xml}"
    );
    for body in ["menu", "what?", ""] {
        let (status, xml) = answer(&app, sms(ANA, body)).await;
        assert_eq!(status, 200);
        assert!(xml.contains("Skills: sales, support."), "{body:?}: {xml}");
    }
    let (_, xml) = answer(&app, sms(ANA, "on billing")).await;
    assert!(
        xml.contains("Unknown skill billing. Nothing changed. Skills: sales, support."),
        "{xml}"
    );
    assert_eq!(ana(&app).await.version, 1, "no command above writes");
}

#[tokio::test]
async fn voice_greets_by_name_with_an_absolute_signed_menu() {
    let app = app_with_ana().await;
    let (status, xml) = answer(&app, call("/intake/voice", &[], ANA, None)).await;
    assert_eq!(status, 200);
    let menu = format!("{}/intake/voice/menu?attempt=1", testkit::PUBLIC_BASE_URL);
    assert!(xml.contains(&format!("action=\"{menu}\"")), "{xml}");
    assert!(xml.contains("numDigits=\"1\""), "{xml}");
    assert!(
        xml.contains("<Say>Hello Ana. You are offline.</Say>"),
        "{xml}"
    );
    assert!(xml.contains("Press 1 to go online."), "{xml}");
    // No key: Twilio falls through to the Redirect, back to the same step.
    assert!(
        xml.ends_with(&format!(
            "<Redirect method=\"POST\">{menu}</Redirect></Response>"
        )),
        "{xml}"
    );
}

#[tokio::test]
async fn voice_no_input_repeats_once_then_says_goodbye() {
    let app = app_with_ana().await;
    let xml = step(&app, "/intake/voice/menu", "1", None).await;
    assert!(xml.contains("Sorry, I didn&apos;t get that."), "{xml}");
    assert!(xml.contains("/intake/voice/menu?attempt=2"), "{xml}");
    let xml = step(&app, "/intake/voice/menu", "2", None).await;
    assert!(xml.contains("<Say>Goodbye.</Say><Hangup/>"), "{xml}");
    assert!(!xml.contains("<Gather"), "{xml}");
}

#[tokio::test]
async fn voice_online_asks_for_the_skill_in_menu_order() {
    let app = app_with_ana().await;
    let xml = step(&app, "/intake/voice/menu", "1", Some("1")).await;
    assert!(xml.contains("/intake/voice/skill?attempt=1"), "{xml}");
    assert!(
        xml.contains("For sales, press 1. For support, press 2."),
        "{xml}"
    );
    let xml = step(&app, "/intake/voice/skill", "1", Some("7")).await;
    assert!(
        xml.contains("/intake/voice/skill?attempt=2") && xml.contains("Sorry"),
        "{xml}"
    );
    assert_eq!(ana(&app).await.version, 1);
}

#[tokio::test]
async fn voice_status_then_the_menu_again() {
    let app = app_with_ana().await;
    let xml = step(&app, "/intake/voice/menu", "2", Some("3")).await;
    assert!(xml.contains("<Say>You are offline.</Say>"), "{xml}");
    assert!(xml.contains("/intake/voice/menu?attempt=1"), "{xml}");
}

#[tokio::test]
async fn stop_is_never_answered_and_blocks_first_even_when_taskrouter_is_down() {
    let app = app_with_ana().await;
    let (status, xml) = answer(&app, sms(ANA, "STOP")).await;
    assert_eq!((status, xml.contains("<Message")), (200, false), "{xml}");
    assert!(
        ana(&app).await.sms_blocked,
        "stored before TaskRouter failed"
    );
    let (_, xml) = answer(&app, sms(ANA, "help")).await;
    assert!(!xml.contains("<Message"), "{xml}");
    let (_, xml) = answer(&app, sms(ANA, "status")).await;
    assert!(!xml.contains("<Message"), "blocked: no reply: {xml}");
    let (_, xml) = answer(&app, sms(ANA, "start")).await;
    assert!(!xml.contains("<Message"), "{xml}");
    let ana = ana(&app).await;
    assert!(!ana.sms_blocked);
    assert_eq!(ana.activity, Some(Activity::Offline));
}
