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

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::Deadline;
use shared::config::Config;
use shared::domain::attempt::{self, AnsweredBy, LegEvent, Reply, paths, whole_secs};
use shared::http::{self, Rejection, TwilioRequest};
use shared::leg::{self, LegCallback};
use shared::store::{Attempt, Store};
use shared::twiml::{Dial, Gather, Queue, Response as Twiml};

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    let deadline = Deadline::after(leg::CALL_WEBHOOK_BUDGET);
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    if request.path == paths::AFTER_BRIDGE {
        return http::twiml(after_bridge(request.param("DialCallStatus")));
    }
    let (leg, event) = match parse(&request) {
        Ok(parsed) => parsed,
        Err(rejection) => return rejection.into_response(),
    };
    match leg::handle_event(&app, &leg, &event, deadline).await {
        Ok(decided) => http::twiml(render(&app.config, decided.reply, decided.attempt.as_ref())),
        Err(error) => leg::store_failure(&error, &leg),
    }
}

fn parse(request: &TwilioRequest) -> Result<(LegCallback, LegEvent), Rejection> {
    let event = match request.path.as_str() {
        paths::ANSWER => LegEvent::Answered {
            // Absent with async AMD; an unexpected value counts as `unknown`.
            answered_by: request
                .param("AnsweredBy")
                .map(|v| AnsweredBy::parse(v).unwrap_or(AnsweredBy::Unknown)),
        },
        paths::VERDICT => {
            let value = request.require("AnsweredBy")?;
            LegEvent::Verdict(AnsweredBy::parse(value).ok_or_else(|| {
                Rejection::BadRequest(format!("AnsweredBy {value:?} is not a known verdict"))
            })?)
        }
        paths::KEY => LegEvent::Key(
            request
                .param("Digits")
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        ),
        paths::BRIDGE => LegEvent::BridgeRequested,
        other => return Err(Rejection::BadRequest(format!("no route {other}"))),
    };
    Ok((LegCallback::from_request(request)?, event))
}

const GOODBYE: &str = "This call is no longer waiting for you. Goodbye.";
const CALLER_GONE: &str = "Sorry, the caller has already hung up. Goodbye.";
/// How long a leg waits for the redirect a `human` verdict is sending.
const HOLD_SECS: u32 = 5;

/// "Homeline call for sales."
fn whisper(config: &Config, attempt: &Attempt) -> String {
    format!("{} call for {}.", config.business_name, attempt.skill)
}

/// The TwiML for a reply. Replies that need the attempt fall back to a
/// hang-up without one (they never occur without it).
pub fn render(config: &Config, reply: Reply, attempt: Option<&Attempt>) -> String {
    let url = |path: &str, a: &Attempt| {
        config.url(&attempt::leg_url(path, &a.task_sid, &a.reservation_sid))
    };
    let response = match (reply, attempt) {
        (Reply::Bridge, Some(a)) => Twiml::new().say(whisper(config, a)).dial(
            Dial::new().action(&url(paths::AFTER_BRIDGE, a)).queue(
                Queue::new("")
                    .reservation_sid(&a.reservation_sid)
                    .post_work_activity_sid(&config.activities.available),
            ),
        ),
        (Reply::Prompt, Some(a)) => {
            let key = url(paths::KEY, a);
            Twiml::new()
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .num_digits(1)
                        .timeout(whole_secs(config.press1_timeout))
                        .action(&key)
                        .say(format!("{} Press 1 to take it.", whisper(config, a))),
                )
                // No key before the timeout: tell the key route so.
                .redirect(key)
        }
        // If the redirect never arrives, fetch the bridge ourselves.
        (Reply::Hold, Some(a)) => Twiml::new()
            .pause(HOLD_SECS)
            .redirect(url(paths::BRIDGE, a)),
        (Reply::Goodbye, _) => Twiml::new().say(GOODBYE).hangup(),
        (Reply::Empty, _) => Twiml::new(),
        (Reply::Hangup | Reply::Bridge | Reply::Prompt | Reply::Hold, _) => Twiml::new().hangup(),
    };
    response.to_xml()
}

/// After the bridge: hang up, or say why there was none.
pub fn after_bridge(dial_call_status: Option<&str>) -> String {
    if attempt::bridge_happened(dial_call_status) {
        Twiml::new().hangup().to_xml()
    } else {
        Twiml::new().say(CALLER_GONE).hangup().to_xml()
    }
}
