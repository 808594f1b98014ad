//! `amd-result`: the worker leg's TwiML and async AMD verdicts.
//!
//! Routes (all signed; the attempt's task and reservation SIDs travel in the query):
//! - `POST /amd-result`: the leg's answer URL. Sync AMD: decides by `AnsweredBy`.
//!   Async AMD (hybrid, screen): the whisper and press-1 prompt, never the bridge.
//! - `POST /amd-result/verdict`: async AMD verdict (`AnsweredBy`).
//! - `POST /amd-result/key`: the prompt's `<Gather>` action (`Digits`), and
//!   its fall-through on timeout (no `Digits`).
//! - `POST /amd-result/bridge`: where a `human` verdict redirects the leg.
//! - `POST /amd-result/after-bridge`: the bridge's `<Dial action>`.

use homeline_core::App;
use homeline_core::config::Config;
use homeline_core::domain::attempt::LegCallback;
use homeline_core::domain::attempt::{self, AnsweredBy, LegEvent, Reply, whole_secs};
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::model::{Attempt, TaskKind};
use homeline_core::routes::{Budget, paths};
use homeline_core::service::attempt::{self as service, BridgeEnd};
use homeline_core::service::callback::{self, Dialed};
use homeline_core::store::Store;
use homeline_core::store::now_secs;
use homeline_core::twiml::{Dial, Gather, Queue, Response as Twiml};
use lambda_http::{Body, Request, Response};

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let deadline = Budget::Webhook.deadline();
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    if request.path == paths::LEG_AFTER_BRIDGE {
        let dial_call_status = request.param("DialCallStatus");
        let reached = attempt::bridge_happened(dial_call_status);
        if let (Some(task_sid), Some(reservation_sid)) =
            (request.query("TaskSid"), request.query("ReservationSid"))
        {
            // The other party answered `DialCallDuration` seconds before the
            // Dial ended: the record's answer time is theirs, not the end of
            // the conversation (the digest's answer times read it).
            let talked = request
                .param("DialCallDuration")
                .and_then(|secs| secs.trim().parse::<i64>().ok())
                .unwrap_or(0)
                .max(0);
            let ended = service::bridge_ended(
                &app,
                task_sid,
                reservation_sid,
                reached,
                now_secs() - talked,
                deadline,
            )
            .await;
            if let BridgeEnd::Callback(dialed) = ended {
                return http::twiml(after_callback(dialed));
            }
        }
        return http::twiml(after_bridge(dial_call_status));
    }
    let (leg, event) = match parse(&request) {
        Ok(parsed) => parsed,
        Err(rejection) => return rejection.into_response(),
    };
    match service::leg_event(&app, &leg, event, deadline).await {
        Ok(executed) => {
            let mut reply = executed.reply;
            if let (Reply::Bridge, Some(attempt)) = (reply, &executed.attempt)
                && matches!(attempt.kind, TaskKind::Callback(_))
                && !callback::accept(&app, attempt, deadline).await
            {
                reply = Reply::Goodbye;
            }
            http::twiml(render(&app.config, reply, executed.attempt.as_ref()))
        }
        Err(error) => http::store_failure(&error, &leg),
    }
}

fn parse(request: &TwilioRequest) -> Result<(LegCallback, LegEvent), Rejection> {
    let event = match request.path.as_str() {
        paths::LEG_ANSWER => LegEvent::Answered {
            // Absent with async AMD; an unexpected value counts as `unknown`.
            answered_by: request
                .param("AnsweredBy")
                .map(|v| AnsweredBy::parse(v).unwrap_or(AnsweredBy::Unknown)),
        },
        paths::LEG_VERDICT => {
            let value = request.require("AnsweredBy")?;
            LegEvent::Verdict(AnsweredBy::parse(value).ok_or_else(|| {
                Rejection::BadRequest(format!("AnsweredBy {value:?} is not a known verdict"))
            })?)
        }
        paths::LEG_KEY => LegEvent::Key(
            request
                .param("Digits")
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        ),
        paths::LEG_BRIDGE => LegEvent::BridgeRequested,
        other => return Err(Rejection::BadRequest(format!("no route {other}"))),
    };
    Ok((http::leg_callback(request)?, event))
}

const GOODBYE: &str = "This call is no longer waiting for you. Goodbye.";
const CALLER_GONE: &str = "Sorry, the caller has already hung up. Goodbye.";
/// How long a leg waits for the redirect a `human` verdict is sending.
const HOLD_SECS: u32 = 5;

/// "Homeline call for sales.", or "Homeline call for sales, returning
/// caller." when the task named this worker as the caller's last; for a
/// callback "Callback for sales, caller waited 4 minutes."
fn whisper(config: &Config, attempt: &Attempt) -> String {
    if let TaskKind::Callback(callback) = &attempt.kind {
        let waited = attempt.created_at.saturating_sub(callback.queued_at);
        return attempt::callback_whisper(&attempt.skill, waited);
    }
    let returning = if attempt.returning {
        ", returning caller"
    } else {
        ""
    };
    format!(
        "{} call for {}{returning}.",
        config.business_name, attempt.skill
    )
}

/// The TwiML for a reply. Replies that need the attempt fall back to a
/// hang-up without one (they never occur without it).
pub fn render(config: &Config, reply: Reply, attempt: Option<&Attempt>) -> String {
    let url = |path: &str, a: &Attempt| {
        config.url(&attempt::leg_url(path, &a.task_sid, &a.reservation_sid))
    };
    let response = match (reply, attempt) {
        (Reply::Bridge, Some(a)) => match &a.kind {
            TaskKind::Call => Twiml::new().say(whisper(config, a)).dial(
                Dial::new().action(&url(paths::LEG_AFTER_BRIDGE, a)).queue(
                    Queue::new("")
                        .reservation_sid(&a.reservation_sid)
                        .post_work_activity_sid(&config.activities.available),
                ),
            ),
            // The customer sees the business, never the worker's phone.
            TaskKind::Callback(callback) => Twiml::new().say(whisper(config, a)).dial(
                Dial::new()
                    .action(&url(paths::LEG_AFTER_BRIDGE, a))
                    .caller_id(&config.callback_caller_id)
                    .timeout(whole_secs(config.ring_timeout))
                    .number(callback.number.clone()),
            ),
        },
        (Reply::Prompt, Some(a)) => {
            let key = url(paths::LEG_KEY, a);
            Twiml::new()
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .num_digits(1)
                        .timeout(whole_secs(config.press1_timeout))
                        .action(&key)
                        .say(format!("{} {}", whisper(config, a), press_1(a))),
                )
                // No key before the timeout: tell the key route so.
                .redirect(key)
        }
        // If the redirect never arrives, fetch the bridge ourselves.
        (Reply::Hold, Some(a)) => Twiml::new()
            .pause(HOLD_SECS)
            .redirect(url(paths::LEG_BRIDGE, a)),
        (Reply::Goodbye, _) => Twiml::new().say(GOODBYE).hangup(),
        (Reply::Empty, _) => Twiml::new(),
        (Reply::Hangup | Reply::Bridge | Reply::Prompt | Reply::Hold, _) => Twiml::new().hangup(),
    };
    response.to_xml()
}

/// What 1 does, in the whisper's words.
fn press_1(attempt: &Attempt) -> &'static str {
    match attempt.kind {
        TaskKind::Call => "Press 1 to take it.",
        TaskKind::Callback(_) => "Press 1 to call them.",
    }
}

/// After a callback's dial: goodbye, or what happens next.
pub fn after_callback(dialed: Dialed) -> String {
    let said = match dialed {
        Dialed::Reached => return Twiml::new().hangup().to_xml(),
        Dialed::Retry => "The customer did not answer. We will try them again later. Goodbye.",
        Dialed::FollowUp => {
            "The customer did not answer again. They are now a follow-up for the team. Goodbye."
        }
    };
    Twiml::new().say(said).hangup().to_xml()
}

/// After the bridge: hang up, or say why there was none.
pub fn after_bridge(dial_call_status: Option<&str>) -> String {
    if attempt::bridge_happened(dial_call_status) {
        Twiml::new().hangup().to_xml()
    } else {
        Twiml::new().say(CALLER_GONE).hangup().to_xml()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeline_core::model::{AttemptState, WorkerProfile};
    use homeline_core::store::{AttemptStore, MemoryStore, WorkerStore};
    use testkit::events::{badly_signed_form_request, body_text, form_request};
    use testkit::{ACTIVITY_AVAILABLE, sid, test_config};

    const PHONE: &str = "+15551230001";

    fn app(mode: &str) -> App<MemoryStore> {
        App::new(test_config(&[("ANSWER_MODE", mode)]), MemoryStore::new())
    }

    fn attempt(state: AttemptState) -> Attempt {
        let (wr, wt, wk) = (sid("WR", 1), sid("WT", 1), sid("WK", 1));
        Attempt {
            call_sid: Some(sid("CA", 1)),
            state,
            ..attempt::dialing(&wr, &wt, &wk, PHONE, "sales", None, 0)
        }
    }

    async fn seeded(mode: &str, state: AttemptState) -> App<MemoryStore> {
        let app = app(mode);
        assert!(
            app.store
                .create_attempt(&attempt(state))
                .await
                .expect("test setup")
                .applied()
        );
        let mut profile = WorkerProfile::new(PHONE, "Ann", vec!["sales".into()]);
        profile.misses = 0;
        save(&app, &profile).await;
        app
    }

    async fn save(app: &App<MemoryStore>, profile: &WorkerProfile) {
        let write = app.store.put_worker(profile).await.expect("store works");
        assert!(write.applied());
    }

    async fn post(app: &App<MemoryStore>, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let (wt, wr) = (sid("WT", 1), sid("WR", 1));
        let query = [("TaskSid", wt.as_str()), ("ReservationSid", wr.as_str())];
        let response = handle(app.clone(), form_request(path, &query, params)).await;
        (response.status().as_u16(), body_text(&response))
    }

    async fn state(app: &App<MemoryStore>) -> (AttemptState, Option<String>) {
        let a = app
            .store
            .get_attempt(&sid("WT", 1), &sid("WR", 1))
            .await
            .expect("test setup")
            .expect("test setup");
        (a.state, a.outcome)
    }

    fn leg_query() -> String {
        format!(
            "TaskSid={}&amp;ReservationSid={}",
            sid("WT", 1),
            sid("WR", 1)
        )
    }

    fn expected_bridge() -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Homeline call for sales.</Say><Dial action="https://homeline.example.com/amd-result/after-bridge?{q}"><Queue reservationSid="{wr}" postWorkActivitySid="{ACTIVITY_AVAILABLE}"/></Dial></Response>"#,
            q = leg_query(),
            wr = sid("WR", 1),
        )
    }

    fn expected_prompt() -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="8" action="https://homeline.example.com/amd-result/key?{q}"><Say>Homeline call for sales. Press 1 to take it.</Say></Gather><Redirect>https://homeline.example.com/amd-result/key?{q}</Redirect></Response>"#,
            q = leg_query(),
        )
    }

    #[tokio::test]
    async fn hybrid_answer_plays_the_prompt_and_marks_the_attempt_answered() {
        let app = seeded("hybrid", AttemptState::Dialing).await;
        let (status, body) = post(&app, "/amd-result", &[("CallSid", &sid("CA", 1))]).await;
        assert_eq!(status, 200);
        assert_eq!(body, expected_prompt());
        assert_eq!(state(&app).await, (AttemptState::Answered, None));
        // Twilio repeats the answer URL: the same prompt, nothing else.
        assert_eq!(post(&app, "/amd-result", &[]).await.1, expected_prompt());
    }

    #[tokio::test]
    async fn sync_human_bridges_with_the_whisper_and_resets_misses() {
        let app = seeded("sync", AttemptState::Dialing).await;
        let mut profile = app
            .store
            .get_worker(PHONE)
            .await
            .expect("store works")
            .expect("attempt exists");
        profile.misses = 2;
        save(&app, &profile).await;
        let (status, body) = post(&app, "/amd-result", &[("AnsweredBy", "human")]).await;
        assert_eq!(status, 200);
        assert_eq!(body, expected_bridge());
        assert_eq!(
            state(&app).await,
            (AttemptState::Bridging, Some("human".into()))
        );
        let profile = app
            .store
            .get_worker(PHONE)
            .await
            .expect("store works")
            .expect("attempt exists");
        assert_eq!((profile.misses, profile.answered_total), (0, 1));
        // Delivered twice: bridges again (the first reply never ran), counts once.
        assert_eq!(
            post(&app, "/amd-result", &[("AnsweredBy", "human")])
                .await
                .1,
            expected_bridge()
        );
        let profile = app
            .store
            .get_worker(PHONE)
            .await
            .expect("store works")
            .expect("attempt exists");
        assert_eq!(profile.answered_total, 1);
    }

    #[tokio::test]
    async fn sync_unknown_prompts_and_key_one_bridges() {
        let app = seeded("sync", AttemptState::Dialing).await;
        let (_, body) = post(&app, "/amd-result", &[("AnsweredBy", "unknown")]).await;
        assert_eq!(body, expected_prompt());
        let (_, body) = post(&app, "/amd-result/key", &[("Digits", "1")]).await;
        assert_eq!(body, expected_bridge());
        assert_eq!(
            state(&app).await,
            (AttemptState::Bridging, Some("key".into()))
        );
    }

    #[tokio::test]
    async fn another_key_asks_again() {
        let app = seeded("hybrid", AttemptState::Answered).await;
        let (_, body) = post(&app, "/amd-result/key", &[("Digits", "5")]).await;
        assert_eq!(body, expected_prompt());
        assert_eq!(state(&app).await, (AttemptState::Answered, None));
    }

    #[tokio::test]
    async fn late_key_press_after_a_miss_gets_a_goodbye() {
        let app = seeded("hybrid", AttemptState::Missed).await;
        let (status, body) = post(&app, "/amd-result/key", &[("Digits", "1")]).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>This call is no longer waiting for you. Goodbye.</Say><Hangup/></Response>"#
        );
        assert_eq!(state(&app).await.0, AttemptState::Missed);
    }

    #[tokio::test]
    async fn late_key_press_after_a_human_verdict_holds_for_the_redirect() {
        let app = app("hybrid");
        let mut bridged = attempt(AttemptState::Bridging);
        bridged.outcome = Some("human".into());
        assert!(
            app.store
                .create_attempt(&bridged)
                .await
                .expect("test setup")
                .applied()
        );
        let (_, body) = post(&app, "/amd-result/key", &[("Digits", "1")]).await;
        assert!(!body.contains("<Dial"), "{body}");
        assert!(body.contains("<Pause length=\"5\"/>"), "{body}");
    }

    #[tokio::test]
    async fn bridge_url_bridges_only_a_decided_human() {
        let app = seeded("hybrid", AttemptState::Bridging).await;
        assert_eq!(
            post(&app, "/amd-result/bridge", &[]).await.1,
            expected_bridge()
        );
        let app = seeded("hybrid", AttemptState::Canceled).await;
        assert!(
            post(&app, "/amd-result/bridge", &[])
                .await
                .1
                .contains("Goodbye")
        );
    }

    #[tokio::test]
    async fn late_verdict_does_nothing() {
        let app = seeded("hybrid", AttemptState::Bridging).await;
        for verdict in ["human", "machine_start", "unknown"] {
            let (status, body) =
                post(&app, "/amd-result/verdict", &[("AnsweredBy", verdict)]).await;
            assert_eq!(status, 200);
            assert!(body.ends_with("<Response/>"), "{body}");
            assert_eq!(state(&app).await, (AttemptState::Bridging, None));
        }
    }

    #[tokio::test]
    async fn after_bridge_tells_the_worker_when_the_caller_is_gone() {
        let app = app("hybrid");
        let (_, gone) = post(
            &app,
            "/amd-result/after-bridge",
            &[("DialCallStatus", "failed")],
        )
        .await;
        assert!(gone.contains("the caller has already hung up"), "{gone}");
    }

    #[tokio::test]
    async fn unknown_reservation_hangs_up() {
        let app = app("hybrid");
        let (_, body) = post(&app, "/amd-result", &[]).await;
        assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    }

    #[tokio::test]
    async fn malformed_requests_are_400() {
        let app = seeded("hybrid", AttemptState::Answered).await;
        assert_eq!(
            post(&app, "/amd-result/verdict", &[("AnsweredBy", "robot")])
                .await
                .0,
            400
        );
        assert_eq!(post(&app, "/amd-result/elsewhere", &[]).await.0, 400);
        let response = handle(app.clone(), form_request("/amd-result", &[], &[])).await;
        assert_eq!(response.status().as_u16(), 400);
    }

    #[tokio::test]
    async fn bad_signature_is_403_and_changes_nothing() {
        let app = seeded("sync", AttemptState::Dialing).await;
        let (wt, wr) = (sid("WT", 1), sid("WR", 1));
        let query = [("TaskSid", wt.as_str()), ("ReservationSid", wr.as_str())];
        for path in [
            "/amd-result",
            "/amd-result/verdict",
            "/amd-result/key",
            "/amd-result/bridge",
            "/amd-result/after-bridge",
        ] {
            let params = [("AnsweredBy", "human"), ("Digits", "1")];
            let response = handle(
                app.clone(),
                badly_signed_form_request(path, &query, &params),
            )
            .await;
            assert_eq!(response.status().as_u16(), 403, "{path}");
            assert_eq!(state(&app).await, (AttemptState::Dialing, None), "{path}");
        }
    }
}
