//! The stand-in checked on its own, with a tiny scripted Homeline double
//! (sync AMD, reject over REST, nobody queue → voicemail).

use std::sync::Arc;

use serde_json::json;

use crate::phones::{Caller, Phone, PhoneProfile, WorkerScript};
use crate::sim::World;
use crate::taskrouter::{Effects, TaskRouter};
use crate::{Endpoints, Reply, Sim, taskrouter_settings};

const UNAVAILABLE: &str = testkit::ACTIVITY_UNAVAILABLE;

struct Double {
    base: String,
    http: reqwest::Client,
}

fn get<'a>(v: &'a [(String, String)], k: &str) -> &'a str {
    v.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

impl Double {
    async fn post(&self, path: &str, form: &[(&str, &str)]) {
        self.http
            .post(format!("{}{path}", self.base))
            .basic_auth(testkit::ACCOUNT_SID, Some("12345"))
            .form(form)
            .send()
            .await
            .unwrap();
    }
}

impl Endpoints for Double {
    fn call(
        &self,
        path: String,
        query: Vec<(String, String)>,
        params: Vec<(String, String)>,
    ) -> Reply<'_> {
        Box::pin(async move {
            let ac = testkit::ACCOUNT_SID;
            let ws = testkit::WORKSPACE_SID;
            let twiml = |body: &str| (200, format!("<Response>{body}</Response>"));
            match path.as_str() {
                "/inbound" => twiml(&format!(
                    r#"<Say>Hello</Say><Enqueue workflowSid="{}" action="/inbound/after" waitUrl="/inbound/wait"><Task>{{"skill":"sales"}}</Task></Enqueue>"#,
                    testkit::WORKFLOW_SID
                )),
                "/inbound/wait" => twiml("<Say>Please hold</Say><Pause length=\"10\"/>"),
                "/inbound/after" => twiml(""),
                "/inbound/voicemail" => twiml(
                    r#"<Say>Leave a message</Say><Record action="/inbound/after" recordingStatusCallback="/inbound/recording" maxLength="60"/>"#,
                ),
                "/assignment" => {
                    let attrs: serde_json::Value =
                        serde_json::from_str(get(&params, "WorkerAttributes")).unwrap();
                    let res = get(&params, "ReservationSid");
                    let task = get(&params, "TaskSid");
                    let url = format!(
                        "{}/amd-result?ReservationSid={res}&TaskSid={task}",
                        crate::PUBLIC_BASE_URL
                    );
                    let status = format!(
                        "{}/dial-status?ReservationSid={res}&TaskSid={task}",
                        crate::PUBLIC_BASE_URL
                    );
                    self.post(
                        &format!("/2010-04-01/Accounts/{ac}/Calls.json"),
                        &[
                            ("To", attrs["contact_uri"].as_str().unwrap()),
                            ("From", testkit::CALLER_ID),
                            ("Url", &url),
                            ("StatusCallback", &status),
                            ("Timeout", "20"),
                            ("MachineDetection", "Enable"),
                            ("MachineDetectionTimeout", "5"),
                        ],
                    )
                    .await;
                    (200, "{}".into())
                }
                "/amd-result" => {
                    let res = get(&query, "ReservationSid");
                    if get(&params, "AnsweredBy") == "human" {
                        twiml(&format!(
                            r#"<Say>Call for sales</Say><Dial><Queue reservationSid="{res}"/></Dial>"#
                        ))
                    } else {
                        let task = get(&query, "TaskSid");
                        self.post(
                            &format!("/v1/Workspaces/{ws}/Tasks/{task}/Reservations/{res}"),
                            &[
                                ("ReservationStatus", "rejected"),
                                ("WorkerActivitySid", UNAVAILABLE),
                            ],
                        )
                        .await;
                        twiml("<Hangup/>")
                    }
                }
                "/dial-status" => {
                    if ["busy", "no-answer", "failed"].contains(&get(&params, "CallStatus")) {
                        let (res, task) = (get(&query, "ReservationSid"), get(&query, "TaskSid"));
                        self.post(
                            &format!("/v1/Workspaces/{ws}/Tasks/{task}/Reservations/{res}"),
                            &[
                                ("ReservationStatus", "rejected"),
                                ("WorkerActivitySid", UNAVAILABLE),
                            ],
                        )
                        .await;
                    }
                    (200, String::new())
                }
                "/taskrouter-events" => {
                    if get(&params, "EventType") == "task-queue.entered"
                        && get(&params, "TaskQueueSid") == testkit::NO_WORKER_QUEUE_SID
                    {
                        let attrs: serde_json::Value =
                            serde_json::from_str(get(&params, "TaskAttributes")).unwrap();
                        let call = attrs["call_sid"].as_str().unwrap();
                        let url = format!("{}/inbound/voicemail", crate::PUBLIC_BASE_URL);
                        self.post(
                            &format!("/2010-04-01/Accounts/{ac}/Calls/{call}.json"),
                            &[("Url", &url)],
                        )
                        .await;
                        self.post(
                            &format!("/v1/Workspaces/{ws}/Tasks/{}", get(&params, "TaskSid")),
                            &[("AssignmentStatus", "canceled"), ("Reason", "nobody")],
                        )
                        .await;
                    }
                    (204, String::new())
                }
                _ => (200, String::new()),
            }
        })
    }
}

async fn sim_with(workers: &[(&str, Phone)]) -> Sim {
    let config = testkit::test_config(&[]);
    // The double checks the stand-in's mechanics, not Homeline's answers to
    // the open readings (the scenarios do that).
    let settings = crate::taskrouter::Settings {
        readings: crate::Readings::convenient(),
        ..taskrouter_settings(&config)
    };
    let world = World::new(TaskRouter::new(settings), testkit::ACCOUNT_SID, 1);
    let sim = Sim::start(world, None).await;
    sim.connect(Arc::new(Double {
        base: sim.base_url.clone(),
        http: homeline_core::https::client(),
    }));
    for (i, (phone, behaviour)) in workers.iter().enumerate() {
        sim.add_worker(WorkerScript {
            phone: phone.to_string(),
            name: format!("w{i}"),
            skills: vec!["sales".into()],
            profile: PhoneProfile::always(behaviour.clone()),
            rejoin_after: None,
            claims: None,
        });
        let mut world = sim.world();
        let mut fx = Effects::default();
        let now = i as u64;
        world
            .tr
            .create_worker(
                &format!("w{i}"),
                json!({"skills":["sales"],"contact_uri":phone}),
                Some(testkit::ACTIVITY_AVAILABLE),
                now,
                &mut fx,
            )
            .unwrap();
        world.apply(fx);
    }
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_is_bridged_to_a_person_with_sync_amd() {
    let sim = sim_with(&[("+15550000001", Phone::fast_human())]).await;
    sim.call_in(Caller::new("+15551110001", 1_000, None));
    sim.run_until(600_000).await;
    let world = sim.world();
    let o = crate::Outcome::of(&world);
    assert_eq!((o.callers, o.to_person), (1, 1), "{}", o.table());
    assert!(
        o.invariant_failures().is_empty(),
        "{:?}",
        o.invariant_failures()
    );
    // Sync AMD: the worker hears nothing until the verdict (1.5 s after answering).
    let stats = &o.per_phone["fast human"];
    assert_eq!(stats.silence, vec![1_500]);
    // Then the three-word whisper (1.2 s) and the bridge.
    assert_eq!(stats.to_bridge, vec![1_500 + 1_200]);
    let caller = world.calls.values().find(|c| c.caller.is_some()).unwrap();
    assert!(caller.heard.contains(&"Please hold".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voicemail_phone_is_rejected_and_the_next_worker_gets_the_caller() {
    let sim = sim_with(&[
        ("+15550000001", Phone::voicemail()),
        ("+15550000002", Phone::fast_human()),
    ])
    .await;
    sim.call_in(Caller::new("+15551110001", 1_000, None));
    sim.run_until(600_000).await;
    let world = sim.world();
    let o = crate::Outcome::of(&world);
    assert_eq!((o.to_person, o.to_machine), (1, 0), "{}", o.table());
    assert_eq!(
        world
            .tr
            .workers
            .values()
            .filter(|w| w.activity_sid == UNAVAILABLE)
            .count(),
        1
    );
    assert!(
        o.invariant_failures().is_empty(),
        "{:?}",
        o.invariant_failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_then_nobody_left_sends_the_caller_to_voicemail() {
    let sim = sim_with(&[("+15550000001", Phone::Busy)]).await;
    sim.call_in(Caller::new("+15551110001", 1_000, None));
    sim.run_until(600_000).await;
    let world = sim.world();
    let o = crate::Outcome::of(&world);
    assert_eq!(o.voicemail, 1, "{}", o.table());
    assert!(
        world
            .delivered
            .iter()
            .any(|d| d.path == "/inbound/recording"
                && d.param("RecordingStatus") == Some("completed"))
    );
    assert!(
        world
            .delivered
            .iter()
            .any(|d| d.path == "/dial-status" && d.param("SipResponseCode") == Some("486"))
    );
    assert!(
        o.invariant_failures().is_empty(),
        "{:?}",
        o.invariant_failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_hangs_up_cancels_the_task_and_a_late_accept_fails() {
    let sim = sim_with(&[("+15550000001", Phone::slow_human())]).await;
    let mut caller = Caller::new("+15551110001", 1_000, None);
    caller.patience = 8_000;
    sim.call_in(caller);
    sim.run_until(600_000).await;
    let world = sim.world();
    let o = crate::Outcome::of(&world);
    assert_eq!((o.hung_up, o.to_person), (1, 0), "{}", o.table());
    let task = world.tr.tasks.values().next().unwrap();
    assert_eq!(task.status, crate::taskrouter::TaskStatus::Canceled);
    assert!(
        world
            .delivered
            .iter()
            .any(|d| d.param("EventType") == Some("reservation.canceled"))
    );
    // The double never hangs up the ringing leg: the worker answers into a failed Dial.
    let leg = world.calls.values().find(|c| c.phone.is_some()).unwrap();
    assert!(leg.bridged.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_faults_are_answered_and_recorded() {
    let sim = sim_with(&[]).await;
    sim.world().faults.extend([429, 500]);
    let http = homeline_core::https::client();
    let url = format!(
        "{}/v1/Workspaces/{}/Activities",
        sim.base_url,
        testkit::WORKSPACE_SID
    );
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(&url)
            .basic_auth("AC", Some("x"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![429, 500, 200]);
    assert_eq!(sim.world().rest.len(), 3);
}
