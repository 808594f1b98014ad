//! Workers' `until`s and `OFF_AT_CLOSE` against DynamoDB Local and the
//! Twilio fake (every request checked against Twilio's OpenAPI spec): the
//! scheduler makes a pending `until` at its time, not a minute before, with
//! one SMS; at closing it takes everyone on duty off once.

use homeline_core::App;
use homeline_core::domain::worker::WorkerEvent;
use homeline_core::model::{Activity, WorkerProfile};
use homeline_core::service::worker;
use homeline_core::store::{DynamoStore, WorkerStore};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::{RecordedRequest, TwilioFake};
use testkit::{ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, ACTIVITY_UNAVAILABLE};

use super::digest::{HOUR, MIDNIGHT, deadline, texts_to, tick};

const ANA: &str = "+15550000011";
const BEN: &str = "+15550000012";
const CY: &str = "+15550000013";
/// Thursday 2026-12-03 in Chicago: 13:00, and the 17:00 closing.
const ONE_PM: i64 = MIDNIGHT + 13 * HOUR;
const CLOSING: i64 = MIDNIGHT + 17 * HOUR;

struct Rig {
    app: App<DynamoStore>,
    twilio: TwilioFake,
}

async fn rig(settings: &[(&str, &str)]) -> Rig {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.extend_from_slice(&[
        ("TIME_ZONE", "America/Chicago"),
        ("SKILLS", "sales,support"),
        ("COVERAGE_ALERT_MINS", "0"),
        ("FOLLOW_UP_ESCALATE_MINS", "1440"),
    ]);
    overrides.extend_from_slice(settings);
    let app = App::new(testkit::test_config(&overrides), fresh_store().await);
    Rig { app, twilio }
}

impl Rig {
    /// Enrolls `phone` with `skills`, in `activity` here and in TaskRouter.
    async fn worker(&self, phone: &str, skills: &[&str], activity: Activity) -> String {
        let activity_sid = match activity {
            Activity::Available => ACTIVITY_AVAILABLE,
            Activity::Offline => ACTIVITY_OFFLINE,
            Activity::Unavailable => ACTIVITY_UNAVAILABLE,
        };
        let worker_sid = self.twilio.add_worker(
            phone,
            &json!({"contact_uri": phone, "skills": skills}),
            activity_sid,
        );
        let mut profile =
            WorkerProfile::new(phone, "W", skills.iter().map(|s| s.to_string()).collect());
        profile.worker_sid = Some(worker_sid.clone());
        profile.activity = Some(activity);
        assert!(
            self.app
                .store
                .put_worker(&profile)
                .await
                .expect("put")
                .applied()
        );
        worker_sid
    }

    /// The state change intake's `on`/`off` (with or without `until`) makes.
    async fn apply(&self, phone: &str, event: &WorkerEvent<'_>) {
        worker::apply(&self.app.store, phone, event)
            .await
            .expect("applied")
            .expect("enrolled");
    }

    async fn profile(&self, phone: &str) -> WorkerProfile {
        self.app
            .store
            .get_worker(phone)
            .await
            .expect("get")
            .expect("stored")
    }

    fn activity_sid(&self, worker_sid: &str) -> String {
        self.twilio.worker(worker_sid).expect("worker").activity_sid
    }

    /// The `until` due at 13:00 is made by the 13:00 tick, not the one a
    /// minute before, and moves TaskRouter worker `sid` to `activity_sid`:
    /// the one REST update, returned.
    async fn until_made_at_one_pm(&self, sid: &str, activity_sid: &str) -> RecordedRequest {
        let early = self.tick(ONE_PM - 60, "untils").await;
        assert_eq!(early, report(0, 0), "a minute early");
        assert!(self.twilio.worker_updates().is_empty());
        assert!(self.twilio.messages_sent().is_empty());
        assert_eq!(self.tick(ONE_PM, "untils").await, report(1, 1));
        let mut updates = self.twilio.worker_updates();
        assert_eq!(updates.len(), 1, "{updates:?}");
        let update = updates.remove(0);
        assert_eq!(update.path_sid("Workers"), Some(sid));
        assert_eq!(update.param("ActivitySid"), Some(activity_sid));
        assert_eq!(self.activity_sid(sid), activity_sid);
        update
    }

    /// A repeated tick, and two overlapping ones, do nothing more: still
    /// one REST update and one SMS.
    async fn nothing_more_after_one_pm(&self) {
        let (a, b) = tokio::join!(
            self.tick(ONE_PM + 60, "untils"),
            self.tick(ONE_PM + 60, "untils")
        );
        for run in [self.tick(ONE_PM, "untils").await, a, b] {
            assert_eq!(run, report(0, 0));
        }
        assert_eq!(self.twilio.worker_updates().len(), 1);
        assert_eq!(self.twilio.messages_sent().len(), 1);
        self.twilio.assert_spec_valid();
    }

    /// One tick's report of `job`.
    async fn tick(&self, at: i64, job: &str) -> serde_json::Value {
        scheduler::handle(&self.app, &tick(at), deadline()).await[job].clone()
    }
}

fn report(due: usize, moved: usize) -> serde_json::Value {
    json!({ "due": due, "moved": moved, "failed": 0, "cut_short": false })
}

#[tokio::test]
async fn on_until_is_taken_off_at_its_time_not_before_with_one_sms() {
    let rig = rig(&[]).await;
    let sid = rig.worker(ANA, &["sales"], Activity::Offline).await;
    let sales = ["sales".to_string()];
    let on = WorkerEvent::OnDuty {
        worker_sid: &sid,
        skills: &sales,
        until: Some(ONE_PM),
    };
    rig.apply(ANA, &on).await;
    let off = rig.until_made_at_one_pm(&sid, ACTIVITY_OFFLINE).await;
    assert_eq!(off.param("RejectPendingReservations"), Some("true"));
    let profile = rig.profile(ANA).await;
    assert_eq!(
        (profile.activity, profile.duty_until),
        (Some(Activity::Offline), None)
    );
    assert_eq!(
        texts_to(&rig.twilio, ANA),
        ["Homeline: you are off duty now, as you asked. Text ON to take calls again."]
    );

    rig.nothing_more_after_one_pm().await;
}

#[tokio::test]
async fn off_until_comes_back_at_its_time_with_its_skills_and_one_sms() {
    let rig = rig(&[]).await;
    // Off in TaskRouter already, as Ana's `off until 1pm` left her.
    let sid = rig
        .worker(ANA, &["sales", "support"], Activity::Offline)
        .await;
    let off = WorkerEvent::OffDuty {
        worker_sid: Some(&sid),
        until: Some(ONE_PM),
    };
    rig.apply(ANA, &off).await;
    let back = rig.until_made_at_one_pm(&sid, ACTIVITY_AVAILABLE).await;
    let attributes: serde_json::Value =
        serde_json::from_str(back.param("Attributes").expect("attributes")).expect("JSON");
    assert_eq!(attributes["skills"], json!(["sales", "support"]));
    assert_eq!(attributes["contact_uri"], ANA);
    let fake = rig.twilio.worker(&sid).expect("worker");
    assert_eq!(
        fake.attributes_json()["skills"],
        json!(["sales", "support"])
    );
    let profile = rig.profile(ANA).await;
    assert_eq!(
        (profile.activity, profile.duty_until),
        (Some(Activity::Available), None)
    );
    assert_eq!(
        texts_to(&rig.twilio, ANA),
        ["Homeline: you are back on duty for sales, support, as you asked. Text OFF to stop."]
    );
    rig.nothing_more_after_one_pm().await;
}

#[tokio::test]
async fn a_plain_on_or_off_meanwhile_forgets_the_until() {
    let rig = rig(&[]).await;
    let sid = rig.worker(ANA, &["sales"], Activity::Available).await;
    let sales = ["sales".to_string()];
    let off = WorkerEvent::OffDuty {
        worker_sid: Some(&sid),
        until: Some(ONE_PM),
    };
    rig.apply(ANA, &off).await;
    // Ana texts a plain `on` before 13:00.
    let on = WorkerEvent::OnDuty {
        worker_sid: &sid,
        skills: &sales,
        until: None,
    };
    rig.apply(ANA, &on).await;
    assert_eq!(rig.profile(ANA).await.duty_until, None);
    assert_eq!(rig.tick(ONE_PM, "untils").await, report(0, 0));
    // Then `on until 14:00`, and a plain `off` before it.
    let two_pm = ONE_PM + HOUR;
    let until_two = WorkerEvent::OnDuty {
        worker_sid: &sid,
        skills: &sales,
        until: Some(two_pm),
    };
    rig.apply(ANA, &until_two).await;
    let plain_off = WorkerEvent::OffDuty {
        worker_sid: Some(&sid),
        until: None,
    };
    rig.apply(ANA, &plain_off).await;
    assert_eq!(rig.profile(ANA).await.duty_until, None);
    assert_eq!(rig.tick(two_pm, "untils").await, report(0, 0));
    assert!(rig.twilio.worker_updates().is_empty());
    assert!(rig.twilio.messages_sent().is_empty());
}

#[tokio::test]
async fn closing_takes_everyone_on_duty_off_once_and_leaves_a_later_on_alone() {
    let rig = rig(&[("BUSINESS_HOURS", "mon-fri 09:00-17:00")]).await;
    let ana = rig.worker(ANA, &["sales"], Activity::Available).await;
    let ben = rig.worker(BEN, &["support"], Activity::Unavailable).await;
    let cy = rig.worker(CY, &["sales"], Activity::Offline).await;
    // Ana said she would stay until 20:00: closing wins.
    let sales = ["sales".to_string()];
    let until_eight = WorkerEvent::OnDuty {
        worker_sid: &ana,
        skills: &sales,
        until: Some(MIDNIGHT + 20 * HOUR),
    };
    rig.apply(ANA, &until_eight).await;

    assert_eq!(
        rig.tick(CLOSING - 60, "off_at_close").await,
        report(0, 0),
        "still open"
    );
    assert!(rig.twilio.worker_updates().is_empty());

    // The first tick comes a few minutes late.
    assert_eq!(rig.tick(CLOSING + 180, "off_at_close").await, report(2, 2));
    for sid in [&ana, &ben, &cy] {
        assert_eq!(rig.activity_sid(sid), ACTIVITY_OFFLINE, "{sid}");
    }
    let closed =
        "Homeline: we are closed for the day, so you are off duty. Text ON to take calls again.";
    assert_eq!(texts_to(&rig.twilio, ANA), [closed]);
    assert_eq!(texts_to(&rig.twilio, BEN), [closed]);
    assert!(texts_to(&rig.twilio, CY).is_empty(), "Cy was off already");
    assert_eq!(
        rig.profile(ANA).await.duty_until,
        None,
        "nothing left for 20:00"
    );
    assert_eq!(rig.twilio.worker_updates().len(), 2);

    // Repeated and overlapping ticks send nothing more.
    let (a, b) = tokio::join!(
        rig.tick(CLOSING + 240, "off_at_close"),
        rig.tick(CLOSING + 240, "off_at_close")
    );
    for run in [rig.tick(CLOSING + 180, "off_at_close").await, a, b] {
        assert_eq!(run, report(0, 0));
    }
    // Cy goes on after closing: not taken off that evening.
    let on = WorkerEvent::OnDuty {
        worker_sid: &cy,
        skills: &sales,
        until: None,
    };
    rig.apply(CY, &on).await;
    assert_eq!(rig.tick(CLOSING + 300, "off_at_close").await, report(0, 0));
    assert_eq!(rig.profile(CY).await.activity, Some(Activity::Available));
    assert_eq!(rig.tick(MIDNIGHT + 20 * HOUR, "untils").await, report(0, 0));
    assert_eq!(rig.twilio.worker_updates().len(), 2);
    assert_eq!(rig.twilio.messages_sent().len(), 2);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn off_at_close_false_leaves_everyone_on() {
    let rig = rig(&[
        ("BUSINESS_HOURS", "mon-fri 09:00-17:00"),
        ("OFF_AT_CLOSE", "false"),
    ])
    .await;
    let ana = rig.worker(ANA, &["sales"], Activity::Available).await;
    assert_eq!(rig.tick(CLOSING, "off_at_close").await, report(0, 0));
    assert_eq!(rig.activity_sid(&ana), ACTIVITY_AVAILABLE);
    assert_eq!(rig.profile(ANA).await.activity, Some(Activity::Available));
    assert!(rig.twilio.worker_updates().is_empty());
    assert!(rig.twilio.messages_sent().is_empty());
}

#[tokio::test]
async fn an_off_until_due_after_closing_stays_off_and_is_told_once() {
    let rig = rig(&[("BUSINESS_HOURS", "mon-fri 09:00-17:00")]).await;
    let sid = rig.worker(ANA, &["sales"], Activity::Offline).await;
    let off = WorkerEvent::OffDuty {
        worker_sid: Some(&sid),
        until: Some(CLOSING + HOUR),
    };
    rig.apply(ANA, &off).await;
    assert_eq!(rig.tick(CLOSING + HOUR, "untils").await, report(1, 0));
    assert_eq!(rig.activity_sid(&sid), ACTIVITY_OFFLINE);
    assert!(rig.twilio.worker_updates().is_empty());
    assert_eq!(
        texts_to(&rig.twilio, ANA),
        ["Homeline: we are closed now, so you stay off duty. Text ON to take calls anyway."]
    );
    assert_eq!(rig.tick(CLOSING + HOUR + 60, "untils").await, report(0, 0));
    assert_eq!(rig.twilio.messages_sent().len(), 1);
    rig.twilio.assert_spec_valid();
}
