//! The REST client against the Twilio fake at the HTTP boundary, every
//! request checked against Twilio's OpenAPI spec by Prism.
//!
//! Run with the local stack: `scripts/local-stack.sh run -- cargo test -p homeline-core twilio_client`.

use std::time::Duration;

use homeline_core::Deadline;
use homeline_core::twilio::{
    CallUpdate, MachineDetection, NewCall, Replay, Settled, TwilioClient, TwilioError,
    WorkerUpdate, sid_of, text_of,
};
use serde_json::json;
use testkit::twilio_fake::{Failure, Route, SpecVerdict, TwilioFake};
use testkit::{
    ACCOUNT_SID, ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, ACTIVITY_UNAVAILABLE, AUTH_TOKEN, CALLER_ID,
    WORKSPACE_SID, sid,
};
use tokio::time::Instant;

async fn setup() -> (TwilioFake, TwilioClient) {
    let twilio = TwilioFake::start().await;
    let client = TwilioClient::new(&twilio.config().twilio);
    (twilio, client)
}

fn budget() -> Deadline {
    Deadline::after(Duration::from_secs(5))
}

fn worker_call() -> NewCall {
    NewCall {
        to: "+15551230001".into(),
        from: CALLER_ID.into(),
        url: "https://homeline.example.com/assignment/whisper?r=WR1".into(),
        status_callback: "https://homeline.example.com/dial-status".into(),
        status_callback_events: vec!["initiated", "ringing", "answered", "completed"],
        timeout_secs: 20,
        machine_detection: Some(MachineDetection {
            mode: "Enable",
            timeout_secs: 5,
            async_callback: Some("https://homeline.example.com/amd-result".into()),
        }),
        call_token: None,
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The fake is as strict as Twilio's `From` rule (docs/twilio.md, "Forwarded
/// caller ID"): a number the account does not own only with the token of
/// that number's live inbound call, sent as `CallToken`; else 400/21210.
#[tokio::test]
async fn a_call_presents_a_customer_s_number_only_with_their_live_call_s_token() {
    let (twilio, client) = setup().await;
    let customer = "+15557654321";
    let (inbound, token) = twilio.inbound_call(customer);
    let presenting = |from: &str, token: Option<&str>| NewCall {
        from: from.into(),
        call_token: token.and_then(homeline_core::model::CallToken::parse),
        ..worker_call()
    };
    client
        .create_call(&presenting(customer, Some(&token)), budget())
        .await
        .expect("a forwarded call may show the caller");
    assert_eq!(
        twilio.calls_created()[0].param("CallToken"),
        Some(token.as_str())
    );
    for (from, with) in [
        (customer, None),
        (customer, Some("calltoken-forged")),
        ("+15557654322", Some(token.as_str())),
    ] {
        let refused = client.create_call(&presenting(from, with), budget()).await;
        assert!(
            matches!(&refused, Err(e) if e.code() == Some(21210) && e.is_refusal()),
            "{from} {with:?}: {refused:?}"
        );
    }
    twilio.set_call_status(&inbound, "completed");
    let ended = client
        .create_call(&presenting(customer, Some(&token)), budget())
        .await;
    assert!(
        matches!(&ended, Err(e) if e.code() == Some(21210)),
        "{ended:?}"
    );
    assert_eq!(twilio.calls_created().len(), 1);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn create_call_sends_twilios_form_with_basic_auth() {
    let (twilio, client) = setup().await;

    let call_sid = client
        .create_call(&worker_call(), budget())
        .await
        .expect("call placed");

    assert!(
        call_sid.starts_with("CA") && call_sid.len() == 34,
        "{call_sid}"
    );
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    );
    assert_eq!(request.auth_user.as_deref(), Some(ACCOUNT_SID));
    assert!(
        request.authenticated,
        "the auth token was not sent as the password"
    );
    assert_eq!(
        request.form,
        pairs(&[
            ("To", "+15551230001"),
            ("From", CALLER_ID),
            (
                "Url",
                "https://homeline.example.com/assignment/whisper?r=WR1"
            ),
            ("Method", "POST"),
            ("StatusCallback", "https://homeline.example.com/dial-status"),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", "20"),
            ("MachineDetection", "Enable"),
            ("MachineDetectionTimeout", "5"),
            ("AsyncAmd", "true"),
            (
                "AsyncAmdStatusCallback",
                "https://homeline.example.com/amd-result"
            ),
            ("AsyncAmdStatusCallbackMethod", "POST"),
        ])
    );
    assert_eq!(
        twilio.calls_created()[0].sid.as_deref(),
        Some(call_sid.as_str())
    );
    assert_eq!(twilio.call_status(&call_sid).as_deref(), Some("queued"));
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn sync_amd_and_no_amd_calls_leave_out_the_async_fields() {
    let (twilio, client) = setup().await;
    let mut sync = worker_call();
    sync.machine_detection = Some(MachineDetection {
        mode: "DetectMessageEnd",
        timeout_secs: 8,
        async_callback: None,
    });
    let mut plain = worker_call();
    plain.machine_detection = None;
    plain.status_callback_events = vec!["completed"];

    client
        .create_call(&sync, budget())
        .await
        .expect("sync AMD call");
    client
        .create_call(&plain, budget())
        .await
        .expect("plain call");

    let calls = twilio.calls_created();
    assert_eq!(calls[0].param("MachineDetection"), Some("DetectMessageEnd"));
    assert_eq!(calls[0].param("MachineDetectionTimeout"), Some("8"));
    assert_eq!(calls[0].param("AsyncAmd"), None);
    assert_eq!(calls[1].param("MachineDetection"), None);
    assert_eq!(calls[1].params("StatusCallbackEvent"), vec!["completed"]);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn api_key_credentials_are_used_when_configured() {
    let twilio = TwilioFake::start().await;
    let key = sid("SK", 9);
    twilio.set_credentials(&key, "key-secret");
    let config = testkit::test_config(&[
        ("TWILIO_API_URL", twilio.api_url()),
        ("TWILIO_TASKROUTER_URL", twilio.taskrouter_url()),
        ("TWILIO_API_KEY", &key),
        ("TWILIO_API_SECRET", "key-secret"),
    ]);
    let client = TwilioClient::new(&config.twilio);

    client
        .send_sms(CALLER_ID, "+15551230001", "hi", budget())
        .await
        .expect("sent with the API key");

    let sent = twilio.messages_sent();
    assert_eq!(sent[0].auth_user.as_deref(), Some(key.as_str()));
    assert!(sent[0].authenticated);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn wrong_credentials_are_a_typed_401_not_retried() {
    let (twilio, client) = setup().await;
    twilio.set_credentials(ACCOUNT_SID, "another-token");

    let error = client
        .send_sms(CALLER_ID, "+15551230001", "hi", budget())
        .await
        .expect_err("refused");

    assert_eq!((error.status(), error.code()), (Some(401), Some(20003)));
    assert_eq!(twilio.requests().len(), 1, "a 401 is final");
    assert!(
        !error.to_string().contains(AUTH_TOKEN) && !format!("{error:?}").contains(AUTH_TOKEN),
        "credentials leaked into the error: {error:?}"
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn update_call_sends_redirect_cancel_and_complete() {
    let (twilio, client) = setup().await;
    let redirected = sid("CA", 1);
    let ringing = sid("CA", 2);
    twilio.set_call_status(&ringing, "ringing");

    let redirect = CallUpdate::Redirect("https://homeline.example.com/inbound/voicemail".into());
    assert_eq!(
        client
            .update_call(&redirected, &redirect, budget())
            .await
            .expect("redirect"),
        Settled::Done
    );
    assert_eq!(
        client
            .update_call(&ringing, &CallUpdate::Cancel, budget())
            .await
            .expect("cancel"),
        Settled::Done
    );
    assert_eq!(
        client
            .update_call(&redirected, &CallUpdate::Complete, budget())
            .await
            .expect("hang up"),
        Settled::Done
    );

    let updates = twilio.call_updates();
    assert_eq!(
        updates[0].path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{redirected}.json")
    );
    assert_eq!(
        updates[0].form,
        pairs(&[
            ("Url", "https://homeline.example.com/inbound/voicemail"),
            ("Method", "POST")
        ])
    );
    assert_eq!(updates[1].form, pairs(&[("Status", "canceled")]));
    assert_eq!(updates[2].form, pairs(&[("Status", "completed")]));
    assert_eq!(twilio.call_status(&ringing).as_deref(), Some("canceled"));
    assert_eq!(
        twilio.call_status(&redirected).as_deref(),
        Some("completed")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn updating_an_ended_call_is_already_settled() {
    let (twilio, client) = setup().await;
    let ended = sid("CA", 3);
    twilio.set_call_status(&ended, "completed");

    let redirect = CallUpdate::Redirect("https://homeline.example.com/x".into());
    let outcome = client.update_call(&ended, &redirect, budget()).await;

    assert_eq!(outcome.expect("settled, not an error"), Settled::Already);
    let answered = twilio.requests_for(Route::UpdateCall);
    assert_eq!(answered.len(), 1, "a 400 is not retried");
    assert_eq!(answered[0].status, 400);

    twilio.fail_next_with(
        Route::UpdateCall,
        1,
        Failure::twilio(404, 20404, "The requested resource was not found"),
    );
    let gone = client
        .update_call(&sid("CA", 4), &CallUpdate::Complete, budget())
        .await;
    assert_eq!(gone.expect("a gone call is settled"), Settled::Already);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn send_sms_posts_to_from_body() {
    let (twilio, client) = setup().await;

    let message_sid = client
        .send_sms(
            CALLER_ID,
            "+15551230001",
            "You are online. Text OFF to stop.",
            budget(),
        )
        .await
        .expect("sent");

    assert!(message_sid.starts_with("SM") && message_sid.len() == 34);
    let sent = twilio.messages_sent();
    assert_eq!(
        sent[0].path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(
        sent[0].form,
        pairs(&[
            ("To", "+15551230001"),
            ("From", CALLER_ID),
            ("Body", "You are online. Text OFF to stop.")
        ])
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn workers_are_created_found_fetched_and_updated() {
    let (twilio, client) = setup().await;
    let attributes = json!({"skills": ["sales"], "contact_uri": "+15551230001"});

    let created = client
        .create_worker(
            "+15551230001",
            &attributes,
            Some(ACTIVITY_OFFLINE),
            budget(),
        )
        .await
        .expect("created");
    assert!(created.sid.starts_with("WK"));
    assert_eq!(created.attributes, attributes);
    assert_eq!(created.activity_name.as_deref(), Some("Offline"));
    assert!(!created.available);

    let found = client
        .find_worker("+15551230001", budget())
        .await
        .expect("listed")
        .expect("found");
    assert_eq!(found.sid, created.sid);
    assert_eq!(
        found.attributes, attributes,
        "attributes come from the single fetch"
    );
    assert!(
        client
            .find_worker("+15550000000", budget())
            .await
            .expect("listed")
            .is_none()
    );

    let update = WorkerUpdate {
        activity_sid: Some(ACTIVITY_AVAILABLE.into()),
        attributes: Some(json!({"skills": ["sales", "support"]})),
        reject_pending_reservations: false,
    };
    let updated = client
        .update_worker(&created.sid, &update, budget())
        .await
        .expect("updated");
    assert!(updated.available);
    assert_eq!(updated.activity_sid.as_deref(), Some(ACTIVITY_AVAILABLE));
    assert_eq!(updated.attributes["skills"][1], "support");

    let fetched = client
        .fetch_worker(&created.sid, budget())
        .await
        .expect("fetched");
    assert_eq!(fetched, updated);

    let workers_path = format!("/v1/Workspaces/{WORKSPACE_SID}/Workers");
    let requests = twilio.requests();
    let methods_paths: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let worker_path = format!("{workers_path}/{}", created.sid);
    assert_eq!(
        methods_paths,
        vec![
            ("POST", workers_path.as_str()),
            ("GET", workers_path.as_str()),
            ("GET", worker_path.as_str()),
            ("GET", workers_path.as_str()),
            ("POST", worker_path.as_str()),
            ("GET", worker_path.as_str()),
        ]
    );
    assert_eq!(
        requests[0].form,
        pairs(&[
            ("FriendlyName", "+15551230001"),
            ("Attributes", &attributes.to_string()),
            ("ActivitySid", ACTIVITY_OFFLINE),
        ])
    );
    assert_eq!(
        requests[1].query,
        pairs(&[("FriendlyName", "+15551230001")])
    );
    assert_eq!(
        requests[4].form,
        pairs(&[
            ("ActivitySid", ACTIVITY_AVAILABLE),
            ("Attributes", r#"{"skills":["sales","support"]}"#),
        ])
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn going_unavailable_rejects_pending_reservations() {
    let (twilio, client) = setup().await;
    let worker = twilio.add_worker("+15551230002", &json!({}), ACTIVITY_AVAILABLE);
    let (task, reservation) = (sid("WT", 1), sid("WR", 1));
    twilio.add_reservation(&task, &reservation, &worker);

    let update = WorkerUpdate {
        activity_sid: Some(ACTIVITY_UNAVAILABLE.into()),
        attributes: None,
        reject_pending_reservations: true,
    };
    client
        .update_worker(&worker, &update, budget())
        .await
        .expect("updated");

    assert_eq!(
        twilio.worker_updates()[0].form,
        pairs(&[
            ("ActivitySid", ACTIVITY_UNAVAILABLE),
            ("RejectPendingReservations", "true")
        ])
    );
    assert_eq!(
        twilio.reservation_status(&reservation).as_deref(),
        Some("rejected")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_taken_friendly_name_is_a_conflict() {
    let (twilio, client) = setup().await;
    twilio.add_worker("+15551230003", &json!({}), ACTIVITY_OFFLINE);

    let error = client
        .create_worker("+15551230003", &json!({}), None, budget())
        .await
        .expect_err("duplicate");

    assert!(error.is_conflict(), "{error:?}");
    assert_eq!(error.status(), Some(409));
    assert!(
        twilio.requests_for(Route::CreateWorker)[0]
            .param("ActivitySid")
            .is_none()
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn reject_reservation_sends_status_and_activity() {
    let (twilio, client) = setup().await;
    let (task, reservation) = (sid("WT", 2), sid("WR", 2));

    let outcome = client
        .reject_reservation(&task, &reservation, ACTIVITY_UNAVAILABLE, budget())
        .await
        .expect("rejected");

    assert_eq!(outcome, Settled::Done);
    let update = &twilio.reservation_updates()[0];
    assert_eq!(
        update.path,
        format!("/v1/Workspaces/{WORKSPACE_SID}/Tasks/{task}/Reservations/{reservation}")
    );
    assert_eq!(
        update.form,
        pairs(&[
            ("ReservationStatus", "rejected"),
            ("WorkerActivitySid", ACTIVITY_UNAVAILABLE)
        ])
    );
    assert_eq!(
        twilio.reservation_status(&reservation).as_deref(),
        Some("rejected")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn rejecting_a_settled_reservation_is_already_settled() {
    let (twilio, client) = setup().await;
    let (task, accepted, rejected_twice) = (sid("WT", 3), sid("WR", 3), sid("WR", 4));
    twilio.set_reservation_status(&task, &accepted, "accepted");

    let first = client
        .reject_reservation(&task, &accepted, ACTIVITY_UNAVAILABLE, budget())
        .await;
    assert_eq!(first.expect("settled"), Settled::Already);

    let once = client
        .reject_reservation(&task, &rejected_twice, ACTIVITY_UNAVAILABLE, budget())
        .await;
    let twice = client
        .reject_reservation(&task, &rejected_twice, ACTIVITY_UNAVAILABLE, budget())
        .await;
    assert_eq!(once.expect("first reject"), Settled::Done);
    assert_eq!(twice.expect("second reject"), Settled::Already);

    let statuses: Vec<u16> = twilio
        .requests_to("POST", "Tasks/*/Reservations/*")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses,
        vec![400, 200, 400],
        "each 400 answered once, not retried"
    );
    assert_eq!(
        twilio.reservation_status(&accepted).as_deref(),
        Some("accepted")
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn reject_with_another_client_error_stays_an_error() {
    let (twilio, client) = setup().await;
    twilio.fail_next_with(
        Route::UpdateReservation,
        1,
        Failure::twilio(400, 20001, "WorkerActivitySid is not a valid Activity"),
    );

    let error = client
        .reject_reservation(&sid("WT", 5), &sid("WR", 5), ACTIVITY_UNAVAILABLE, budget())
        .await
        .expect_err("not mistaken for settled");

    assert_eq!((error.status(), error.code()), (Some(400), Some(20001)));
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn cancel_task_once_then_already_settled() {
    let (twilio, client) = setup().await;
    let task = sid("WT", 6);

    let first = client.cancel_task(&task, "caller hung up", budget()).await;
    let second = client.cancel_task(&task, "caller hung up", budget()).await;

    assert_eq!(first.expect("canceled"), Settled::Done);
    assert_eq!(second.expect("settled"), Settled::Already);
    let updates = twilio.requests_for(Route::UpdateTask);
    assert_eq!(
        updates[0].path,
        format!("/v1/Workspaces/{WORKSPACE_SID}/Tasks/{task}")
    );
    assert_eq!(
        updates[0].form,
        pairs(&[
            ("AssignmentStatus", "canceled"),
            ("Reason", "caller hung up")
        ])
    );
    assert_eq!(updates[1].status, 400);
    assert_eq!(twilio.task_status(&task).as_deref(), Some("canceled"));
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn complete_task_once_then_already_settled() {
    let (twilio, client) = setup().await;
    let task = sid("WT", 16);
    twilio.set_task_status(&task, "wrapping");

    let first = client.complete_task(&task, "call ended", budget()).await;
    let second = client.complete_task(&task, "call ended", budget()).await;

    assert_eq!(first.expect("completed"), Settled::Done);
    assert_eq!(
        second.expect("a completed task is settled"),
        Settled::Already
    );
    let updates = twilio.requests_for(Route::UpdateTask);
    assert_eq!(
        updates[0].form,
        pairs(&[("AssignmentStatus", "completed"), ("Reason", "call ended")])
    );
    assert_eq!(updates[1].status, 400);
    assert_eq!(twilio.task_status(&task).as_deref(), Some("completed"));
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn list_activities_reads_the_workspace() {
    let (twilio, client) = setup().await;

    let activities = client.list_activities(budget()).await.expect("listed");

    let available = activities
        .iter()
        .find(|a| a.friendly_name == "Available")
        .expect("Available");
    assert_eq!(available.sid, ACTIVITY_AVAILABLE);
    assert!(available.available);
    assert_eq!(activities.len(), 3);
    assert_eq!(
        twilio.requests()[0].path,
        format!("/v1/Workspaces/{WORKSPACE_SID}/Activities")
    );
    twilio.assert_spec_valid();
}

/// The surface `homeline provision` uses: any resource, same credentials,
/// retries and typed errors as the typed calls.
#[tokio::test]
async fn generic_get_post_and_list_share_the_transport() {
    let (twilio, client) = setup().await;
    twilio.fail_next(Route::ListActivities, 1, 503);

    let url = client.workspaces_url(&format!("/{WORKSPACE_SID}/Activities?PageSize=1000"));
    let activities = client
        .list(url.clone(), "activities", budget())
        .await
        .expect("listed after a retry");
    let available = activities
        .iter()
        .find(|a| text_of(a, "friendly_name").as_deref() == Some("Available"))
        .expect("Available");
    assert_eq!(sid_of(available).expect("sid"), ACTIVITY_AVAILABLE);
    let statuses: Vec<u16> = twilio
        .requests_for(Route::ListActivities)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![503, 200]);
    assert!(matches!(
        client.list(url, "workers", budget()).await,
        Err(TwilioError::Decode(_))
    ));

    let form = [
        ("To", "+15551230001".to_string()),
        ("From", CALLER_ID.to_string()),
        ("Body", "hi".to_string()),
    ];
    let sent = client
        .post(
            client.account_url("/Messages.json"),
            &form,
            Replay::Unsure,
            budget(),
        )
        .await
        .expect("sent");
    assert_eq!(
        twilio.messages_sent()[0].sid.as_deref(),
        text_of(&sent, "sid").as_deref()
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn too_many_requests_then_success_is_retried() {
    let (twilio, client) = setup().await;
    twilio.fail_next(Route::CreateCall, 2, 429);

    let call_sid = client
        .create_call(&worker_call(), budget())
        .await
        .expect("placed after retries");

    let statuses: Vec<u16> = twilio
        .requests_for(Route::CreateCall)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 201]);
    assert_eq!(twilio.calls_created().len(), 1);
    assert_eq!(
        twilio.calls_created()[0].sid.as_deref(),
        Some(call_sid.as_str())
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (twilio, client) = setup().await;
    twilio.fail_next(Route::UpdateWorker, 1, 500);
    twilio.fail_next_with(
        Route::UpdateWorker,
        1,
        Failure::raw(503, "<html>busy</html>"),
    );
    let worker = twilio.add_worker("+15551230005", &json!({}), ACTIVITY_OFFLINE);

    let update = WorkerUpdate {
        activity_sid: Some(ACTIVITY_AVAILABLE.into()),
        ..WorkerUpdate::default()
    };
    let updated = client
        .update_worker(&worker, &update, budget())
        .await
        .expect("updated");

    assert!(updated.available);
    let statuses: Vec<u16> = twilio
        .requests_for(Route::UpdateWorker)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![500, 503, 200]);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_deadline() {
    let (twilio, client) = setup().await;
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::status(429).with_retry_after(1),
    );

    let started = Instant::now();
    client
        .send_sms(CALLER_ID, "+15551230001", "hi", budget())
        .await
        .expect("sent after Retry-After");

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(twilio.messages_sent().len(), 1);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn the_deadline_stops_retries() {
    let (twilio, client) = setup().await;
    twilio.fail_next(Route::UpdateTask, 1000, 503);
    let budget = Duration::from_millis(700);

    let started = Instant::now();
    let outcome = client
        .cancel_task(&sid("WT", 7), "caller hung up", Deadline::after(budget))
        .await;
    let elapsed = started.elapsed();

    assert!(
        matches!(outcome, Err(TwilioError::DeadlineExceeded)),
        "{outcome:?}"
    );
    assert!(
        elapsed <= budget + Duration::from_millis(300),
        "took {elapsed:?}"
    );
    let attempts = twilio.requests_for(Route::UpdateTask).len();
    assert!((2..20).contains(&attempts), "{attempts} attempts");
    twilio.idle().await;
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn slow_twilio_beyond_the_deadline_returns_in_time() {
    let (twilio, client) = setup().await;
    twilio.delay(Route::FetchWorker, Duration::from_secs(5));
    let worker = twilio.add_worker("+15551230006", &json!({}), ACTIVITY_OFFLINE);
    let budget = Duration::from_millis(500);

    let started = Instant::now();
    let outcome = client.fetch_worker(&worker, Deadline::after(budget)).await;
    let elapsed = started.elapsed();

    assert!(
        matches!(outcome, Err(TwilioError::DeadlineExceeded)),
        "{outcome:?}"
    );
    assert!(
        elapsed <= budget + Duration::from_millis(300),
        "took {elapsed:?}"
    );
    twilio.idle().await;
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_create_that_timed_out_after_sending_is_not_replayed() {
    let (twilio, client) = setup().await;
    let client = client.with_attempt_timeout(Duration::from_millis(300));
    // Twilio acted (the call exists) but answered late: placing it again
    // would ring the worker twice.
    twilio.delay(Route::CreateCall, Duration::from_secs(1));

    let started = Instant::now();
    let outcome = client.create_call(&worker_call(), budget()).await;

    assert!(
        matches!(outcome, Err(TwilioError::Transport(_))),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(twilio.requests_for(Route::CreateCall).len(), 1);
    twilio.idle().await;
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_update_that_timed_out_is_replayed_within_the_deadline() {
    let (twilio, client) = setup().await;
    let client = client.with_attempt_timeout(Duration::from_millis(300));
    twilio.delay(Route::UpdateTask, Duration::from_secs(1));

    let outcome = client
        .cancel_task(
            &sid("WT", 9),
            "caller hung up",
            Deadline::after(Duration::from_millis(1500)),
        )
        .await;

    assert!(
        matches!(outcome, Err(TwilioError::DeadlineExceeded)),
        "{outcome:?}"
    );
    let attempts = twilio.requests_for(Route::UpdateTask);
    assert!(attempts.len() >= 2, "{} attempts", attempts.len());
    // The first attempt canceled the task; the replays find it settled.
    assert_eq!(attempts[1].status, 400);
    twilio.idle().await;
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn twilio_error_bodies_become_typed_errors() {
    let (twilio, client) = setup().await;
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::twilio(
            400,
            21211,
            "The 'To' number +1555 is not a valid phone number.",
        ),
    );
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::raw(403, "<html>Forbidden</html>"),
    );

    let invalid = client
        .send_sms(CALLER_ID, "+15551230001", "hi", budget())
        .await
        .expect_err("invalid number");
    let forbidden = client
        .send_sms(CALLER_ID, "+15551230001", "hi", budget())
        .await
        .expect_err("forbidden");

    match invalid {
        TwilioError::Api {
            status,
            code,
            message,
        } => {
            assert_eq!((status, code), (400, 21211));
            assert!(message.contains("not a valid phone number"), "{message}");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!((forbidden.status(), forbidden.code()), (Some(403), Some(0)));
    assert!(forbidden.to_string().contains("Forbidden"), "{forbidden}");
    assert_eq!(twilio.requests().len(), 2, "4xx answers are final");
    twilio.assert_spec_valid();
}

/// The spec check itself: a request that breaks Twilio's spec is reported.
#[tokio::test]
async fn the_spec_check_reports_invalid_requests() {
    let twilio = TwilioFake::start().await;
    let http = homeline_core::https::client();
    let url = format!(
        "{}/v1/Workspaces/{WORKSPACE_SID}/Tasks/{}/Reservations/{}",
        twilio.taskrouter_url(),
        sid("WT", 8),
        sid("WR", 8)
    );
    let response = http
        .post(url)
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&[
            ("ReservationStatus", "declined"),
            ("WorkerActivitySid", "WA-not-a-sid"),
        ])
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(response.status(), 400, "the fake refuses it too");

    let violations = twilio.spec_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    match &violations[0].spec {
        SpecVerdict::Invalid { status, reasons } => {
            assert_eq!(*status, 422);
            let reasons = reasons.join("\n");
            assert!(reasons.contains("ReservationStatus"), "{reasons}");
            assert!(reasons.contains("WorkerActivitySid"), "{reasons}");
        }
        other => panic!("expected Prism to refuse the request, got {other:?}"),
    }
    let report =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| twilio.assert_spec_valid()))
            .expect_err("assert_spec_valid must fail");
    let report = report.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(report.contains("Reservations"), "{report}");
}
