//! The customer line end to end through the handler, on DynamoDB Local and
//! the Twilio fake (every REST request checked against Twilio's spec).
//! Run under `scripts/local-stack.sh run -- cargo test -p inbound`.

use chrono::{Datelike, Duration, Utc};
use homeline_core::App;
use homeline_core::model::{
    Activity, FollowUp, FollowUpReason, FollowUpState, Voicemail, WorkerProfile,
};
use homeline_core::service::call_record;
use homeline_core::store::{
    CallRecordStore, DynamoStore, FollowUpStore, Marker, VoicemailStore, WorkerStore, now_secs,
};
use lambda_http::http::StatusCode;
use testkit::dynamo::fresh_store;
use testkit::events::{badly_signed_form_request, body_text, form_request, unsigned_form_request};
use testkit::twilio_fake::{Failure, Route, TwilioFake};
use testkit::{CALLER_ID, PUBLIC_BASE_URL, WORKFLOW_SID};

const CUSTOMER: &str = "+15557654321";
const CALL_SID: &str = "CA00000000000000000000000000000c01";
const RECORDING_SID: &str = "RE00000000000000000000000000000e01";
const RECORDING_URL: &str = "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE00000000000000000000000000000e01";

async fn line(extra: &[(&str, &str)]) -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.extend_from_slice(extra);
    let config = testkit::test_config(&overrides);
    (App::new(config, fresh_store().await), twilio)
}

/// The parameters of a voice webhook from the customer's call.
fn call(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", CALL_SID),
        ("From", CUSTOMER),
        ("To", "+15550009999"),
        ("CallStatus", "in-progress"),
        ("Direction", "inbound"),
    ];
    params.extend_from_slice(extra);
    params
}

async fn post(
    app: &App<DynamoStore>,
    path: &str,
    query: &[(&str, &str)],
    params: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = inbound::handle(app.clone(), form_request(path, query, params)).await;
    (response.status(), body_text(&response))
}

/// The menu step's answer on try `try_no` to `digits` (`None`: no Digits at all).
async fn menu(app: &App<DynamoStore>, try_no: &str, digits: Option<&str>) -> (StatusCode, String) {
    let mut params = call(&[]);
    if let Some(digits) = digits {
        params.push(("Digits", digits));
    }
    post(app, "/inbound/menu", &[("try", try_no)], &params).await
}

fn expected_enqueue(before: &str, skill: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{before}<Enqueue workflowSid="{WORKFLOW_SID}" action="{PUBLIC_BASE_URL}/inbound/after-queue?skill={skill}" waitUrl="{PUBLIC_BASE_URL}/inbound/wait?skill={skill}"><Task>{{&quot;skill&quot;:&quot;{skill}&quot;}}</Task></Enqueue></Response>"#
    )
}

fn expected_menu(before: &str, try_no: u32) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{before}<Gather input="dtmf" numDigits="1" timeout="5" action="{PUBLIC_BASE_URL}/inbound/menu?try={try_no}" actionOnEmptyResult="true"><Say>For sales, press 1. For support, press 2.</Say></Gather></Response>"#
    )
}

fn expected_voicemail(before: &str, apology: &str, skill: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{before}<Say>{apology}</Say><Record action="{PUBLIC_BASE_URL}/inbound/recorded" maxLength="120" playBeep="true" recordingStatusCallback="{PUBLIC_BASE_URL}/inbound/recording-status?skill={skill}&amp;caller=%2B15557654321" transcribe="true" transcribeCallback="{PUBLIC_BASE_URL}/inbound/transcription?skill={skill}&amp;caller=%2B15557654321"/><Say>We did not receive a message. Goodbye.</Say><Hangup/></Response>"#
    )
}

const GREETING: &str = "<Say>Thank you for calling.</Say>";

#[tokio::test]
async fn menu_digits_map_to_skills() {
    let (app, twilio) = line(&[]).await;
    let (status, body) = post(&app, "/inbound", &[], &call(&[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, expected_menu(GREETING, 1));

    for (digit, skill) in [("1", "sales"), ("2", "support")] {
        let (status, body) = menu(&app, "1", Some(digit)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, expected_enqueue("", skill), "digit {digit}");
    }
    assert!(twilio.requests().is_empty(), "the menu needs no REST call");
}

#[tokio::test]
async fn one_skill_line_has_no_menu() {
    let (app, _twilio) = line(&[("SKILLS", "sales")]).await;
    let (status, body) = post(&app, "/inbound", &[], &call(&[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, expected_enqueue(GREETING, "sales"));
    assert!(!body.contains("<Gather"));
}

/// A token as Twilio sends it on the incoming call's webhook (shape not documented).
const TOKEN: &str = "calltoken-4f1e";

/// The task attributes' `call_token`, as the `<Task>` body escapes it.
fn task_token() -> String {
    format!("&quot;call_token&quot;:&quot;{TOKEN}&quot;")
}

#[tokio::test]
async fn with_caller_the_call_s_token_reaches_the_task_through_the_menu() {
    let (app, _twilio) = line(&[("WORKER_CALLER_ID", "caller")]).await;
    let (_, body) = post(&app, "/inbound", &[], &call(&[("CallToken", TOKEN)])).await;
    let menu_action = format!("{PUBLIC_BASE_URL}/inbound/menu?try=1&amp;CallToken={TOKEN}");
    assert!(body.contains(&menu_action), "{body}");
    // The menu's own request need not carry it: the signed query does.
    let menu_query = [("try", "1"), ("CallToken", TOKEN)];
    let mut params = call(&[]);
    params.push(("Digits", "7"));
    let (_, body) = post(&app, "/inbound/menu", &menu_query, &params).await;
    let again = format!("{PUBLIC_BASE_URL}/inbound/menu?try=2&amp;CallToken={TOKEN}");
    assert!(body.contains(&again), "the repeat keeps it: {body}");
    params.pop();
    params.push(("Digits", "2"));
    let (_, body) = post(&app, "/inbound/menu", &menu_query, &params).await;
    assert!(body.contains("<Enqueue"), "{body}");
    assert!(body.contains(&task_token()), "{body}");
    assert!(
        body.contains("&quot;skill&quot;:&quot;support&quot;"),
        "{body}"
    );

    let (app, _twilio) = line(&[("WORKER_CALLER_ID", "caller"), ("SKILLS", "sales")]).await;
    let (_, body) = post(&app, "/inbound", &[], &call(&[("CallToken", TOKEN)])).await;
    assert!(body.contains(&task_token()), "one skill, no menu: {body}");
    let (_, body) = post(&app, "/inbound", &[], &call(&[])).await;
    assert_eq!(
        body,
        expected_enqueue(GREETING, "sales"),
        "no token, none in the task"
    );
}

#[tokio::test]
async fn with_business_the_call_s_token_goes_nowhere() {
    let (app, _twilio) = line(&[]).await;
    let (_, body) = post(&app, "/inbound", &[], &call(&[("CallToken", TOKEN)])).await;
    assert_eq!(body, expected_menu(GREETING, 1));
    let mut params = call(&[("CallToken", TOKEN)]);
    params.push(("Digits", "1"));
    let (_, body) = post(&app, "/inbound/menu", &[("try", "1")], &params).await;
    assert_eq!(body, expected_enqueue("", "sales"));
}

#[tokio::test]
async fn invalid_input_repeats_the_menu_once_then_takes_the_first_skill() {
    let (app, _twilio) = line(&[]).await;
    let sorry = "<Say>Sorry, that is not an option.</Say>";

    let (_, body) = menu(&app, "1", Some("7")).await;
    assert_eq!(body, expected_menu(sorry, 2), "invalid digit: menu again");
    let (_, body) = menu(&app, "1", None).await;
    assert_eq!(body, expected_menu(sorry, 2), "no input: menu again");

    let (_, body) = menu(&app, "2", Some("")).await;
    assert_eq!(
        body,
        expected_enqueue("", "sales"),
        "second miss: first skill"
    );
    let (_, body) = menu(&app, "2", Some("2")).await;
    assert_eq!(
        body,
        expected_enqueue("", "support"),
        "a valid second answer counts"
    );

    let (status, _) = menu(&app, "x", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wait_announces_the_position_and_the_way_out_over_one_play_of_hold_music() {
    let (app, _twilio) = line(&[("HOLD_MUSIC_URL", "https://music.example.com/hold.mp3")]).await;
    let queue = [
        ("QueuePosition", "2"),
        ("QueueTime", "30"),
        ("CurrentQueueSize", "3"),
    ];
    let (_, body) = post(&app, "/inbound/wait", &[], &call(&queue)).await;
    assert_eq!(
        body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" action="{PUBLIC_BASE_URL}/inbound/wait-key" timeout="1"><Say>You are caller number 2.</Say><Say>Press 1 for a callback, 2 for voicemail.</Say><Play loop="1">https://music.example.com/hold.mp3</Play></Gather></Response>"#
        )
    );
    let (_, body) = post(&app, "/inbound/wait", &[], &call(&[])).await;
    assert!(
        !body.contains("caller number"),
        "no position, no announcement: {body}"
    );
}

/// MAX_WAIT_SECS bounds the wait: the stretch before it is cut to fit, and
/// once it is up the way out is offered once more, then voicemail.
#[tokio::test]
async fn after_max_wait_secs_the_caller_is_offered_voicemail_once_more_then_leaves() {
    let (app, _twilio) = line(&[("MAX_WAIT_SECS", "120")]).await;
    let (_, near) = post(&app, "/inbound/wait", &[], &call(&[("QueueTime", "110")])).await;
    assert!(near.contains(r#"<Pause length="10"/>"#), "{near}");
    assert!(
        !near.contains("<Play"),
        "a whole clip would overrun: {near}"
    );
    let leaves = Marker::CallerLeaves { call_sid: CALL_SID };
    assert!(!leaves.is_claimed(&app.store).await.expect("readable"));
    let (_, last) = post(&app, "/inbound/wait", &[], &call(&[("QueueTime", "120")])).await;
    assert!(
        leaves.is_claimed(&app.store).await.expect("readable"),
        "the last offer marks the caller: no worker is rung once they leave"
    );
    assert_eq!(
        last,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" action="{PUBLIC_BASE_URL}/inbound/wait-key" timeout="5"><Say>Sorry, everyone is still busy.</Say><Say>Press 1 for a callback, 2 for voicemail.</Say></Gather><Leave/></Response>"#
        )
    );
}

/// `digits` pressed while waiting for sales: the (empty) answer and the URL
/// of the one REST redirect of the caller's call.
async fn leave_the_wait(
    app: &App<DynamoStore>,
    twilio: &TwilioFake,
    digits: &'static str,
) -> (String, String) {
    let (status, leaving) = post(
        app,
        "/inbound/wait-key",
        &[("skill", "sales")],
        &call(&[("Digits", digits)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        leaving, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
        "the redirect runs the call now"
    );
    let redirects = twilio.requests_for(Route::UpdateCall);
    assert_eq!(redirects.len(), 1, "{redirects:?}");
    assert_eq!(redirects[0].path_sid("Calls"), Some(CALL_SID));
    let url = redirects[0].param("Url").expect("a redirect").to_string();
    (leaving, url)
}

/// 2 takes the caller out over REST, so it holds whether Twilio runs the
/// key's answer inside the queue or as the call's next document
/// (docs/twilio.md, "Queue TwiML"); the marker keeps workers from being rung
/// for them and the nobody queue's redirect from restarting the message.
#[tokio::test]
async fn two_while_waiting_redirects_to_the_skills_voicemail_and_any_other_key_waits_on() {
    let (app, twilio) = line(&[]).await;
    let (_, waiting) = post(&app, "/inbound/wait", &[("skill", "sales")], &call(&[])).await;
    assert!(
        waiting.contains(&format!(
            r#"action="{PUBLIC_BASE_URL}/inbound/wait-key?skill=sales""#
        )),
        "the key's URL names the skill: {waiting}"
    );
    let (leaving, url) = leave_the_wait(&app, &twilio, "2").await;
    assert_eq!(
        url,
        format!("{PUBLIC_BASE_URL}/inbound/voicemail?skill=sales")
    );
    let chosen = (Marker::CallerLeaves { call_sid: CALL_SID })
        .is_claimed(&app.store)
        .await
        .expect("readable");
    assert!(
        chosen,
        "marked: no worker is rung for the caller from now on"
    );
    let (_, again) = post(
        &app,
        "/inbound/wait-key",
        &[("skill", "sales")],
        &call(&[("Digits", "2")]),
    )
    .await;
    assert_eq!(again, leaving);
    assert_eq!(
        twilio.requests_for(Route::UpdateCall).len(),
        1,
        "a repeat of the key redirects nothing twice"
    );
    for digits in ["3", "9", ""] {
        let (_, staying) = post(&app, "/inbound/wait-key", &[], &call(&[("Digits", digits)])).await;
        assert_eq!(
            staying, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
            "{digits:?}"
        );
    }
    assert_eq!(twilio.requests_for(Route::UpdateCall).len(), 1);
    twilio.assert_spec_valid();
    let (status, _) = post(
        &app,
        "/inbound/wait-key",
        &[("skill", "no-such-skill")],
        &call(&[("Digits", "2")]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown skill changes nothing"
    );
}

#[tokio::test]
async fn two_while_waiting_leaves_by_twiml_when_the_redirect_fails() {
    let (app, twilio) = line(&[]).await;
    twilio.fail_next(Route::UpdateCall, 10, 400);
    let (_, leaving) = post(&app, "/inbound/wait-key", &[], &call(&[("Digits", "2")])).await;
    assert_eq!(
        leaving,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Leave/></Response>"#
    );
}

#[tokio::test]
async fn the_wait_url_lets_a_caller_nobody_will_take_leave() {
    let (app, _twilio) = line(&[]).await;
    let (_, holding) = post(&app, "/inbound/wait", &[], &call(&[])).await;
    assert!(holding.contains("<Play"), "{holding}");
    let marked = (Marker::CallerLeaves { call_sid: CALL_SID })
        .claim(&app.store)
        .await
        .expect("marked");
    assert!(marked.applied());
    let (status, leaving) = post(&app, "/inbound/wait", &[], &call(&[])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        leaving,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Leave/></Response>"#
    );
}

#[tokio::test]
async fn queue_results_end_quietly_or_go_to_voicemail() {
    let (app, _twilio) = line(&[]).await;
    for result in ["bridged", "hangup"] {
        let (status, body) = post(
            &app,
            "/inbound/after-queue",
            &[("skill", "sales")],
            &call(&[("QueueResult", result), ("QueueTime", "12")]),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
            "{result}"
        );
    }
    let apology = "Sorry, no one from support can take your call right now. Please leave a message after the tone, and we will call you back.";
    // `redirected`: whichever TwiML then runs the call offers voicemail.
    for result in ["queue-full", "error", "system-error", "redirected", "leave"] {
        let (_, body) = post(
            &app,
            "/inbound/after-queue",
            &[("skill", "support")],
            &call(&[("QueueResult", result)]),
        )
        .await;
        assert_eq!(body, expected_voicemail("", apology, "support"), "{result}");
    }
    let (status, _) = post(
        &app,
        "/inbound/after-queue",
        &[("skill", "billing")],
        &call(&[("QueueResult", "error")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a skill not configured");
}

#[tokio::test]
async fn custom_twiml_replaces_voicemail() {
    let (app, _twilio) =
        line(&[("NO_ANSWER_TWIML_URL", "https://biz.example.com/closed.xml")]).await;
    let (_, body) = post(
        &app,
        "/inbound/voicemail",
        &[("skill", "sales")],
        &call(&[]),
    )
    .await;
    assert_eq!(
        body,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Redirect>https://biz.example.com/closed.xml</Redirect></Response>"#
    );
}

#[tokio::test]
async fn outside_business_hours_callers_go_straight_to_voicemail() {
    // Open only on the day after tomorrow: closed now, whatever the hour.
    let day = (Utc::now() + Duration::days(2)).weekday().to_string();
    let hours = format!("{day} 00:00-24:00");
    let (app, twilio) = line(&[("BUSINESS_HOURS", &hours), ("TIME_ZONE", "UTC")]).await;
    let (status, body) = post(&app, "/inbound", &[], &call(&[])).await;
    assert_eq!(status, StatusCode::OK);
    let apology = "Sorry, we are closed right now. Please leave a message after the tone, and we will call you back.";
    assert_eq!(body, expected_voicemail(GREETING, apology, "general"));
    assert!(!body.contains("<Enqueue"));
    assert!(twilio.requests().is_empty());

    // Open from yesterday to tomorrow: the menu as usual.
    let from = (Utc::now() - Duration::days(1)).weekday().to_string();
    let to = (Utc::now() + Duration::days(1)).weekday().to_string();
    let hours = format!("{from}-{to} 00:00-24:00");
    let (app, _twilio) = line(&[("BUSINESS_HOURS", &hours)]).await;
    let (_, body) = post(&app, "/inbound", &[], &call(&[])).await;
    assert_eq!(body, expected_menu(GREETING, 1));
}

fn recording(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", CALL_SID),
        ("RecordingSid", RECORDING_SID),
        ("RecordingUrl", RECORDING_URL),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "42"),
        ("RecordingChannels", "1"),
        ("RecordingSource", "RecordVerb"),
    ];
    params.retain(|(k, _)| extra.iter().all(|(e, _)| e != k));
    params.extend_from_slice(extra);
    params
}

async fn voicemails(app: &App<DynamoStore>) -> Vec<Voicemail> {
    app.store
        .list_voicemails(10)
        .await
        .expect("list voicemails")
}

/// Twilio reports the recording of the customer's voicemail for sales complete.
async fn recording_completed(app: &App<DynamoStore>) -> StatusCode {
    post(
        app,
        "/inbound/recording-status",
        &STATUS_QUERY,
        &recording(&[]),
    )
    .await
    .0
}

/// Where accepted SMS went, sorted.
fn texted(twilio: &TwilioFake) -> Vec<String> {
    let mut to: Vec<String> = twilio
        .messages_sent()
        .iter()
        .filter_map(|m| m.param("To").map(str::to_string))
        .collect();
    to.sort_unstable();
    to
}

const STATUS_QUERY: [(&str, &str); 2] = [("skill", "sales"), ("caller", CUSTOMER)];

#[tokio::test]
async fn recording_completed_is_stored_and_announced_once_per_number_even_when_delivered_twice() {
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001, +15550000002")]).await;
    // The voicemail step hands Twilio the status callback carrying skill and caller.
    let (_, body) = post(
        &app,
        "/inbound/voicemail",
        &[("skill", "sales")],
        &call(&[]),
    )
    .await;
    assert!(body.contains("/inbound/recording-status?skill=sales&amp;caller=%2B15557654321"));

    for delivery in 0..2 {
        let (status, _) = post(
            &app,
            "/inbound/recording-status",
            &STATUS_QUERY,
            &recording(&[]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "delivery {delivery}");
    }
    let voicemails = voicemails(&app).await;
    assert_eq!(voicemails.len(), 1);
    let voicemail = &voicemails[0];
    assert_eq!(voicemail.recording_sid, RECORDING_SID);
    assert_eq!(voicemail.call_sid, CALL_SID);
    assert_eq!(voicemail.caller, CUSTOMER);
    assert_eq!(voicemail.skill, "sales");
    assert_eq!(voicemail.recording_url, RECORDING_URL);
    assert_eq!(voicemail.duration_secs, 42);

    let follow_up = follow_up_of_the_call(&app).await;
    assert_eq!(follow_up.number, 1);
    assert_eq!(follow_up.reason, FollowUpReason::Voicemail);
    assert_eq!(follow_up.state, FollowUpState::Open);
    assert_eq!(
        (follow_up.caller.as_str(), follow_up.skill.as_str()),
        (CUSTOMER, "sales")
    );
    assert_eq!(follow_up.recording_url.as_deref(), Some(RECORDING_URL));

    assert_eq!(texted(&twilio), ["+15550000001", "+15550000002"]);
    for message in &twilio.messages_sent() {
        assert_eq!(message.param("From"), Some(CALLER_ID));
        let body = message.param("Body").unwrap_or_default();
        assert!(
            body.starts_with(&format!("Voicemail #1 (sales) from {CUSTOMER} at ")),
            "{body}"
        );
        assert!(
            body.ends_with(&format!(
                ". Reply CLAIM 1 to call them back from the business line. Listen: {RECORDING_URL}"
            )),
            "{body}"
        );
    }
    twilio.assert_spec_valid();
}

async fn follow_up_of_the_call(app: &App<DynamoStore>) -> FollowUp {
    app.store
        .get_follow_up(CALL_SID)
        .await
        .expect("read follow-up")
        .expect("a follow-up for the call")
}

#[tokio::test]
async fn the_skill_s_on_duty_workers_are_told_and_the_admins_unless_they_hear_escalations_only() {
    let (app, twilio) = line(&[
        ("ADMIN_NUMBERS", "+15550000001"),
        ("ADMIN_NOTIFY", "escalations"),
    ])
    .await;
    for (phone, skill, activity) in [
        ("+15550000011", "sales", Activity::Available),
        ("+15550000012", "support", Activity::Available),
        ("+15550000013", "sales", Activity::Offline),
    ] {
        let mut profile = WorkerProfile::new(phone, "worker", vec![skill.to_string()]);
        profile.activity = Some(activity);
        assert!(app.store.put_worker(&profile).await.expect("put").applied());
    }
    let status = recording_completed(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texted(&twilio), ["+15550000011"], "on duty for sales only");
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_caller_who_hung_up_after_abandon_secs_is_owed_a_call_back_and_texted_once_a_day() {
    let (app, twilio) = line(&[
        ("ADMIN_NUMBERS", "+15550000001"),
        (
            "CALLER_TEXT_BACK",
            "Sorry we missed you. We will call you back.",
        ),
    ])
    .await;
    let hung_up = |call_sid: &'static str, waited: &'static str| {
        let mut params = call(&[("QueueResult", "hangup"), ("QueueTime", waited)]);
        params.retain(|(k, _)| *k != "CallSid");
        params.push(("CallSid", call_sid));
        params
    };
    let short = "CA00000000000000000000000000000c02";
    let (status, body) = post(
        &app,
        "/inbound/after-queue",
        &[("skill", "sales")],
        &hung_up(short, "9"),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        )
    );
    assert_eq!(
        app.store.get_follow_up(short).await.expect("read"),
        None,
        "9 s is no abandoned call"
    );
    assert!(twilio.messages_sent().is_empty());

    for (call_sid, delivery) in [
        (CALL_SID, 0),
        (CALL_SID, 1),
        ("CA00000000000000000000000000000c03", 2),
    ] {
        let (status, body) = post(
            &app,
            "/inbound/after-queue",
            &[("skill", "sales")],
            &hung_up(call_sid, "10"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "delivery {delivery}");
        assert_eq!(body, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#);
    }
    let follow_up = follow_up_of_the_call(&app).await;
    assert_eq!(
        (follow_up.number, follow_up.reason),
        (1, FollowUpReason::Abandoned)
    );
    assert_eq!(follow_up.recording_url, None);
    let later = app
        .store
        .get_follow_up("CA00000000000000000000000000000c03")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(later.number, 2);

    let bodies: Vec<(String, String)> = twilio
        .messages_sent()
        .iter()
        .map(|m| {
            (
                m.param("To").unwrap_or_default().to_string(),
                m.param("Body").unwrap_or_default().to_string(),
            )
        })
        .collect();
    let to_admin: Vec<&String> = bodies
        .iter()
        .filter(|(to, _)| to == "+15550000001")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        to_admin.len(),
        2,
        "one announcement per follow-up: {bodies:?}"
    );
    assert!(
        to_admin[0].starts_with(&format!("Missed call #1 (sales) from {CUSTOMER} at ")),
        "{}",
        to_admin[0]
    );
    let to_caller: Vec<&String> = bodies
        .iter()
        .filter(|(to, _)| to == CUSTOMER)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        to_caller,
        ["Sorry we missed you. We will call you back."],
        "once a day"
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_failed_announcement_is_sent_on_redelivery_and_the_others_are_not_repeated() {
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001,+15550000002")]).await;
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::twilio(
            400,
            21611,
            "This 'From' number has exceeded the maximum number of queued messages",
        ),
    );
    let status = recording_completed(&app).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a lost SMS asks for a redelivery"
    );
    assert_eq!(texted(&twilio).len(), 1);

    let status = recording_completed(&app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texted(&twilio), ["+15550000001", "+15550000002"]);
    assert_eq!(voicemails(&app).await.len(), 1);
}

#[tokio::test]
async fn an_unfinished_recording_stores_nothing() {
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    let (status, _) = post(
        &app,
        "/inbound/recording-status",
        &STATUS_QUERY,
        &recording(&[("RecordingStatus", "absent")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(voicemails(&app).await.is_empty());
    assert!(twilio.requests().is_empty());
}

#[tokio::test]
async fn bad_signature_is_403_and_changes_nothing() {
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    let params = recording(&[]);
    for request in [
        badly_signed_form_request("/inbound/recording-status", &STATUS_QUERY, &params),
        unsigned_form_request("/inbound/recording-status", &STATUS_QUERY, &params),
        badly_signed_form_request("/inbound", &[], &call(&[])),
    ] {
        let response = inbound::handle(app.clone(), request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(!body_text(&response).contains("<Enqueue"));
    }
    assert!(voicemails(&app).await.is_empty());
    assert!(twilio.requests().is_empty());
}

#[tokio::test]
async fn a_signed_query_cannot_be_edited() {
    let (app, _twilio) = line(&[]).await;
    // Signed for skill=sales, delivered with skill=support.
    let mut event = testkit::events::form_event(
        "/inbound/after-queue",
        &[("skill", "sales")],
        &call(&[("QueueResult", "error")]),
    );
    event["rawQueryString"] = serde_json::json!("skill=support");
    let response = inbound::handle(app, testkit::events::request(&event)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

fn transcription(text: &'static str, status: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", CALL_SID),
        ("RecordingSid", RECORDING_SID),
        ("RecordingUrl", RECORDING_URL),
        ("TranscriptionSid", "TR00000000000000000000000000000e01"),
        ("TranscriptionStatus", status),
        ("TranscriptionText", text),
    ]
}

#[tokio::test]
async fn a_transcript_updates_the_follow_up_and_one_that_comes_first_is_quoted_in_the_announcement()
{
    // The usual order: the recording, announced at once, then its transcript.
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    assert_eq!(recording_completed(&app).await, StatusCode::OK);
    let (status, _) = post(
        &app,
        "/inbound/transcription",
        &STATUS_QUERY,
        &transcription("Hi, the boiler is leaking again.", "completed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let follow_up = follow_up_of_the_call(&app).await;
    assert_eq!(
        follow_up.transcript.as_deref(),
        Some("Hi, the boiler is leaking again.")
    );
    assert_eq!(
        twilio.messages_sent().len(),
        1,
        "announced once, before the transcript"
    );

    // The transcript first: the announcement quotes it, the recording adds nothing.
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    let (status, _) = post(
        &app,
        "/inbound/transcription",
        &STATUS_QUERY,
        &transcription("Hi,\nthe boiler is leaking again.", "completed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(recording_completed(&app).await, StatusCode::OK);
    let sent = twilio.messages_sent();
    assert_eq!(sent.len(), 1);
    let body = sent[0].param("Body").unwrap_or_default();
    assert!(
        body.contains(r#""Hi, the boiler is leaking again." Reply CLAIM 1"#),
        "{body}"
    );
    assert_eq!(follow_up_of_the_call(&app).await.number, 1);

    // A failed transcription (a recording over 120 s) changes nothing.
    let (app, twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    let (status, _) = post(
        &app,
        "/inbound/transcription",
        &STATUS_QUERY,
        &transcription("", "failed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.store.get_follow_up(CALL_SID).await.expect("read"), None);
    assert!(twilio.requests().is_empty());
}

// ---- keep my place: 1 while waiting books a callback ----

/// The caller's own task, as `<Enqueue>` made it before they pressed 1.
const CALLER_TASK: &str = "WT00000000000000000000000000000c01";
const ENQUEUED_AT: &str = "2026-12-01T10:00:00Z";

/// The question about the number to call back, on try `try_no`, after `before`.
fn expected_callback_question(before: &str, say: &str, try_no: u32) -> String {
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?><Response>{before}<Gather input="dtmf" finishOnKey="#" timeout="10" action="{PUBLIC_BASE_URL}/inbound/callback-key?skill=sales&amp;try={try_no}"><Say>{say}</Say></Gather><Redirect>{PUBLIC_BASE_URL}/inbound/callback-key?skill=sales&amp;try={try_no}</Redirect></Response>"##
    )
}

const CONFIRM: &str = "We will call you back at 5 5 5, 7 6 5, 4 3 2 1. Press 1 to confirm, or enter another number, then press pound.";
const KEY_A_NUMBER: &str =
    "Please enter the number we should call you back on, with its area code, then press pound.";
const REFUSED: &str = "<Say>Sorry, we cannot call that number back. It must be a full number in the United States or Canada, and not a premium-rate one.</Say>";

fn booked(spoken: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you. We will call you back at {spoken} when it is your turn. Goodbye.</Say><Hangup/></Response>"#
    )
}

/// A caller waiting for sales with their task in the fake.
async fn waiting_caller() -> (App<DynamoStore>, TwilioFake) {
    let (app, twilio) = line(&[]).await;
    let attributes = serde_json::json!({"skill": "sales", "call_sid": CALL_SID, "from": CUSTOMER});
    twilio.add_task(CALLER_TASK, attributes, ENQUEUED_AT);
    (app, twilio)
}

/// The callback key step on try `try_no` with `params`.
async fn callback_key(
    app: &App<DynamoStore>,
    try_no: &str,
    params: &[(&str, &str)],
) -> (StatusCode, String) {
    post(
        app,
        "/inbound/callback-key",
        &[("skill", "sales"), ("try", try_no)],
        params,
    )
    .await
}

#[tokio::test]
async fn one_while_waiting_confirms_the_number_and_books_a_callback_in_the_caller_s_place() {
    let (app, twilio) = waiting_caller().await;
    let (_, url) = leave_the_wait(&app, &twilio, "1").await;
    assert_eq!(
        url,
        format!("{PUBLIC_BASE_URL}/inbound/callback?skill=sales")
    );
    let left = (Marker::CallerLeaves { call_sid: CALL_SID })
        .is_claimed(&app.store)
        .await
        .expect("readable");
    assert!(left, "no worker is rung for the caller's own task any more");

    let (_, question) = post(&app, "/inbound/callback", &[("skill", "sales")], &call(&[])).await;
    assert_eq!(question, expected_callback_question("", CONFIRM, 1));

    let (status, answer) = callback_key(&app, "1", &call(&[("Digits", "1")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, booked("5 5 5, 7 6 5, 4 3 2 1"));
    let created = twilio.requests_for(Route::CreateTask);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].param("WorkflowSid"), Some(WORKFLOW_SID));
    assert_eq!(created[0].param("TaskChannel"), Some("voice"));
    assert_eq!(
        created[0].param("VirtualStartTime"),
        Some(ENQUEUED_AT),
        "the callback keeps the place the caller's task had"
    );
    let attributes: serde_json::Value =
        serde_json::from_str(created[0].param("Attributes").expect("attributes")).expect("JSON");
    assert_eq!(attributes["type"], "callback");
    assert_eq!(attributes["skill"], "sales");
    assert_eq!(attributes["callback_number"], CUSTOMER);
    assert_eq!(attributes["original_call_sid"], CALL_SID);
    assert_eq!(attributes.get("call_sid"), None, "not the caller's task");
    assert_eq!(
        twilio.task_status(CALLER_TASK).as_deref(),
        Some("canceled"),
        "the caller's own task is canceled"
    );
    let today = call_record::day(app.config.time_zone, now_secs());
    let records = app.store.list_call_records(&today).await.expect("listed");
    let record = records.iter().find(|r| r.call_sid == CALL_SID);
    assert!(
        record.and_then(|r| r.callback_requested_at).is_some(),
        "the call's record notes the callback: {records:?}"
    );

    let (_, again) = callback_key(&app, "1", &call(&[("Digits", "1")])).await;
    assert_eq!(again, answer, "a repeated webhook answers the same");
    assert_eq!(
        twilio.requests_for(Route::CreateTask).len(),
        1,
        "and creates no second task"
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_refused_callback_number_is_asked_once_more_then_voicemail() {
    let (app, twilio) = waiting_caller().await;
    let withheld = |digits| {
        vec![
            ("AccountSid", testkit::ACCOUNT_SID),
            ("CallSid", CALL_SID),
            ("From", "+266696687"),
            ("To", "+15550009999"),
            ("CallStatus", "in-progress"),
            ("Digits", digits),
        ]
    };
    let (_, question) = post(
        &app,
        "/inbound/callback",
        &[("skill", "sales")],
        &withheld(""),
    )
    .await;
    assert_eq!(
        question,
        expected_callback_question("", KEY_A_NUMBER, 1),
        "a withheld number must be keyed"
    );
    let (_, premium) = callback_key(&app, "1", &withheld("9005551234")).await;
    assert_eq!(
        premium,
        expected_callback_question(REFUSED, KEY_A_NUMBER, 2)
    );
    let (_, confirm_nothing) = callback_key(&app, "1", &withheld("1")).await;
    assert_eq!(
        confirm_nothing,
        expected_callback_question(REFUSED, KEY_A_NUMBER, 2),
        "1 confirms nothing when nothing is on file"
    );
    let (_, short_code) = callback_key(&app, "2", &withheld("911")).await;
    assert!(
        short_code.starts_with(&format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>{REFUSED}<Say>Sorry, no one from sales"#
        )),
        "the second refusal leads to voicemail: {short_code}"
    );
    assert!(short_code.contains("<Record "), "{short_code}");
    let (_, nothing_keyed) = callback_key(&app, "2", &call(&[])).await;
    assert!(nothing_keyed.contains("<Record "), "{nothing_keyed}");
    assert!(twilio.requests_for(Route::CreateTask).is_empty());

    let (_, keyed) = callback_key(&app, "2", &withheld("5552340002")).await;
    assert_eq!(keyed, booked("5 5 5, 2 3 4, 0 0 0 2"));
    let created = twilio.requests_for(Route::CreateTask);
    assert_eq!(created.len(), 1);
    assert!(
        created[0]
            .param("Attributes")
            .is_some_and(|a| a.contains(r#""callback_number":"+15552340002""#)),
        "{created:?}"
    );
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn the_enqueue_action_after_one_asks_the_same_question() {
    let (app, _twilio) = waiting_caller().await;
    let (_, before) = post(
        &app,
        "/inbound/after-queue",
        &[("skill", "sales")],
        &call(&[("QueueResult", "redirected"), ("QueueTime", "40")]),
    )
    .await;
    assert!(before.contains("<Record "), "no 1 yet: voicemail: {before}");
    post(
        &app,
        "/inbound/wait-key",
        &[("skill", "sales")],
        &call(&[("Digits", "1")]),
    )
    .await;
    for result in ["redirected", "leave"] {
        let (_, after) = post(
            &app,
            "/inbound/after-queue",
            &[("skill", "sales")],
            &call(&[("QueueResult", result), ("QueueTime", "40")]),
        )
        .await;
        assert_eq!(
            after,
            expected_callback_question("", CONFIRM, 1),
            "{result}: whichever of the two runs the call"
        );
    }
}

#[tokio::test]
async fn a_callback_twilio_will_not_create_becomes_a_follow_up() {
    let (app, twilio) = waiting_caller().await;
    twilio.fail_next(Route::CreateTask, 1, 400);
    let (_, answer) = callback_key(&app, "1", &call(&[("Digits", "1")])).await;
    assert_eq!(
        answer,
        booked("5 5 5, 7 6 5, 4 3 2 1"),
        "the caller is promised a call all the same"
    );
    let follow_up = follow_up_of_the_call(&app).await;
    assert_eq!(follow_up.reason, FollowUpReason::CallbackMissed);
    assert_eq!(follow_up.caller, CUSTOMER);
    assert_eq!(follow_up.skill, "sales");
    assert_eq!(
        twilio.task_status(CALLER_TASK).as_deref(),
        Some("pending"),
        "nothing created, nothing canceled: the offer cancels it"
    );
    twilio.assert_spec_valid();
}
