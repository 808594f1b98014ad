//! CPU per webhook: one representative request of each function through its
//! real `handle` (signature check, parsing, decision, state, TwiML or JSON),
//! on the in-memory store, choosing requests that make no Twilio call so
//! only Homeline's own work is timed. `make bench` prints these.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use homeline_core::App;
use homeline_core::model::{Activity, AttemptState, WorkerProfile};
use homeline_core::store::{AttemptStore, MemoryStore, WorkerStore};
use serde_json::json;
use testkit::events::Webhook;
use testkit::fixtures::{self, WORKER_CALL_SID, WORKER_PHONE};

fn app(runtime: &tokio::runtime::Runtime) -> App<MemoryStore> {
    let store = MemoryStore::new();
    runtime.block_on(async {
        let mut profile = WorkerProfile::new(WORKER_PHONE, "Ada", vec!["sales".into()]);
        profile.worker_sid = Some(fixtures::WORKER_SID.into());
        profile.activity = Some(Activity::Available);
        assert!(store.put_worker(&profile).await.expect("store").applied());
        for (reservation_sid, state) in [
            (fixtures::RESERVATION_SID, AttemptState::Dialing),
            (fixtures::BUSY_RESERVATION_SID, AttemptState::Completed),
        ] {
            let mut attempt = homeline_core::domain::attempt::dialing(
                reservation_sid,
                fixtures::TASK_SID,
                fixtures::WORKER_SID,
                WORKER_PHONE,
                "sales",
                Some(fixtures::CUSTOMER_CALL_SID.into()),
                0,
            );
            attempt.state = state;
            attempt.call_sid = Some(WORKER_CALL_SID.into());
            assert!(
                store
                    .create_attempt(&attempt)
                    .await
                    .expect("store")
                    .applied()
            );
        }
    });
    App::new(testkit::test_config(&[]), store)
}

fn fixture(name: &str) -> Webhook {
    fixtures::all()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .webhook
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = app(&runtime);
    let leg_query = [
        ("TaskSid", fixtures::TASK_SID),
        ("ReservationSid", fixtures::BUSY_RESERVATION_SID),
    ];
    let cases: Vec<(&str, Webhook)> = vec![
        ("intake: SMS status", fixture("intake-sms-status")),
        ("inbound: call, greeting + menu", fixture("inbound-call")),
        (
            "inbound: menu digit, enqueue",
            fixture("inbound-menu-digit"),
        ),
        // The attempt exists: a repeated callback, answered `{}` without ringing again.
        ("assignment: repeated callback", fixture("assignment")),
        (
            "amd-result: after the bridge",
            Webhook::form(
                "/amd-result/after-bridge",
                &[
                    ("CallSid", WORKER_CALL_SID),
                    ("DialCallStatus", "completed"),
                ],
            )
            .query(&leg_query),
        ),
        (
            "dial-status: completed, settled",
            Webhook::form(
                "/dial-status",
                &[
                    ("CallSid", WORKER_CALL_SID),
                    ("CallStatus", "completed"),
                    ("CallDuration", "95"),
                ],
            )
            .query(&leg_query),
        ),
        (
            "taskrouter-events: activity update",
            Webhook::form(
                "/taskrouter-events",
                &[
                    ("EventType", "worker.activity.update"),
                    ("WorkerSid", fixtures::WORKER_SID),
                    ("WorkerActivitySid", testkit::ACTIVITY_AVAILABLE),
                    (
                        "WorkerAttributes",
                        &json!({"contact_uri": WORKER_PHONE, "skills": ["sales"]}).to_string(),
                    ),
                ],
            ),
        ),
    ];
    for (name, webhook) in cases {
        let function = name.split(':').next().unwrap_or_default();
        let request = || webhook.request();
        let run = |request| {
            let app = app.clone();
            async move {
                match function {
                    "intake" => intake::handle(app, request).await,
                    "inbound" => inbound::handle(app, request).await,
                    "assignment" => assignment::handle(app, request).await,
                    "amd-result" => amd_result::handle(app, request).await,
                    "dial-status" => dial_status::handle(app, request).await,
                    _ => taskrouter_events::handle(app, request).await,
                }
            }
        };
        let status = runtime.block_on(run(request())).status().as_u16();
        assert!(status < 300, "{name} answered {status}");
        c.bench_function(name, |b| {
            b.iter_batched(
                request,
                |request| runtime.block_on(run(black_box(request))),
                criterion::BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
