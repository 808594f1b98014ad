//! Every SMS to a worker keeps to their SMS block: `service::worker::text`
//! against the Twilio fake, which refuses numbers that texted STOP with
//! 21610 as Twilio does (docs/twilio.md, "Carrier keywords").

use std::time::Duration;

use homeline_core::service::worker::{Texted, text};
use homeline_core::store::{MemoryStore, WorkerStore};
use homeline_core::{App, Deadline, model::WorkerProfile};
use testkit::twilio_fake::{Route, TwilioFake};

const ANA: &str = "+15551230001";
const BEN: &str = "+15551230002";
const OUTSIDER: &str = "+15551239999";

async fn setup() -> (TwilioFake, App<MemoryStore>) {
    let twilio = TwilioFake::start().await;
    let app = App::new(twilio.config(), MemoryStore::new());
    for phone in [ANA, BEN] {
        let profile = WorkerProfile::new(phone, "W", vec!["sales".into()]);
        assert!(app.store.put_worker(&profile).await.expect("put").applied());
    }
    (twilio, app)
}

fn budget() -> Deadline {
    Deadline::after(Duration::from_secs(5))
}

async fn blocked(app: &App<MemoryStore>, phone: &str) -> bool {
    let profile = app.store.get_worker(phone).await.expect("get");
    profile.expect("enrolled").sms_blocked
}

#[tokio::test]
async fn a_worker_marked_blocked_is_not_texted() {
    let (twilio, app) = setup().await;
    let mut ana = app.store.get_worker(ANA).await.expect("get").expect("ana");
    ana.sms_blocked = true;
    assert!(app.store.put_worker(&ana).await.expect("put").applied());

    let texted = text(&app, ANA, "hello", budget()).await.expect("no error");
    assert_eq!(texted, Texted::Blocked);
    assert!(twilio.requests_for(Route::SendMessage).is_empty());

    let texted = text(&app, BEN, "hello", budget()).await.expect("sent");
    assert!(matches!(texted, Texted::Sent(_)), "{texted:?}");
    assert_eq!(twilio.requests_for(Route::SendMessage).len(), 1);
}

#[tokio::test]
async fn twilios_21610_marks_the_worker_blocked_once_and_is_not_retried() {
    let (twilio, app) = setup().await;
    twilio.opt_out(ANA);

    let texted = text(&app, ANA, "hello", budget()).await.expect("no error");
    assert_eq!(texted, Texted::Blocked);
    assert!(blocked(&app, ANA).await);
    assert_eq!(
        twilio.requests_for(Route::SendMessage).len(),
        1,
        "not retried"
    );

    // Known blocked now: not even tried.
    let texted = text(&app, ANA, "again", budget()).await.expect("no error");
    assert_eq!(texted, Texted::Blocked);
    assert_eq!(twilio.requests_for(Route::SendMessage).len(), 1);
    assert!(!blocked(&app, BEN).await);

    // A number on no profile (a configured voicemail number): refused, nothing stored.
    twilio.opt_out(OUTSIDER);
    let texted = text(&app, OUTSIDER, "hello", budget())
        .await
        .expect("no error");
    assert_eq!(texted, Texted::Blocked);
    assert_eq!(app.store.get_worker(OUTSIDER).await.expect("get"), None);
    twilio.assert_spec_valid();
}
