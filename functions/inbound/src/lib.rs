//! `inbound`: the customer line's voice webhook and the steps below it.
//!
//! | path | Twilio calls it as | answers |
//! |---|---|---|
//! | `/inbound` | the number's voice URL | `<Reject>` for a blocked number (or a withheld one under `ANONYMOUS_CALLERS=reject`); voicemail for a withheld caller ID or a failed STIR/SHAKEN check; else greeting, then menu or queue (voicemail after hours) |
//! | `/inbound/menu?try=N` | the menu `<Gather>` action | queue for the chosen skill, or the menu again |
//! | `/inbound/wait?skill=S` | the `<Enqueue>` `waitUrl` | position (first time, with the estimated wait when honest) and "press 2 for voicemail" in a `<Gather>` with one hold stretch; after `MAX_WAIT_SECS` the offer once more, then `<Leave/>`; `<Leave/>` at once when nobody will take the caller |
//! | `/inbound/wait-key?skill=S` | that `<Gather>`'s action | for 1 (callback) or 2 (voicemail), the caller marked and redirected over REST (`<Leave/>` if that failed); else nothing, so the wait goes on |
//! | `/inbound/callback?skill=S&try=N` | the redirect of 1 | the number on file read out, "press 1 to confirm, or enter another number then #" (a withheld or uncallable one: key a number) |
//! | `/inbound/callback-key?skill=S&try=N` | that `<Gather>`'s action | a callable number: the callback task booked (`service::callback`), goodbye; else refused and asked once more, then voicemail |
//! | `/inbound/after-queue?skill=S` | the `<Enqueue>` `action` | nothing (a follow-up when the caller hung up after `ABANDON_SECS`), the callback question for a caller who pressed 1, or voicemail |
//! | `/inbound/voicemail?skill=S` | redirect by `taskrouter-events` | apology and `<Record>` |
//! | `/inbound/recorded` | the `<Record>` action | thanks, goodbye |
//! | `/inbound/recording-status?skill=S&caller=C` | `recordingStatusCallback` | stores the voicemail, opens and announces its follow-up |
//! | `/inbound/transcription?skill=S&caller=C` | `transcribeCallback` | adds the transcript to the follow-up (opens it first when the transcript came first) |
//! | `/inbound/call-ended` | the number's `StatusCallback` | a follow-up for a caller who waited `ABANDON_SECS`, left for voicemail and hung up without a message; else nothing |
//! | `GET /inbound/hold-music` | `<Play>` in the wait document | the stack's own hold music (unsigned media) |
//!
//! The skill and the caller travel in the query of URLs we hand to Twilio, so
//! the signature covers them.
//!
//! The arrival, the menu choice, an abandoned wait and a voicemail are noted
//! in the call's record (`service::call_record`), bounded, never failing
//! the answer.

use std::time::Duration;

use tracing::Instrument as _;

use homeline_core::domain::attempt::CallStatus;
use homeline_core::domain::follow_up::FollowUpEvent;
use homeline_core::domain::inbound::{
    self as decide, AfterQueue, GENERAL_MAILBOX, HoldStretch, MenuStep, WaitStep,
};
use homeline_core::domain::intake::prompts;
use homeline_core::domain::returning;
use homeline_core::domain::screening::{self, Screen};
use homeline_core::hold_music;
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::metrics::{self, Metric, VoicemailReason};
use homeline_core::model::{CallToken, FollowUpReason, Voicemail, WorkerCallerId};
use homeline_core::routes::paths;
use homeline_core::service::call_record::{self, Step};
use homeline_core::service::caller::WaitExit;
use homeline_core::service::{self, follow_up};
use homeline_core::store::{Store, StoreError, now_secs};
use homeline_core::twiml::{Enqueue, Gather, Play, Record, Response as Twiml};
use homeline_core::{App, Config, Deadline};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// Call webhooks have 15 s in all; keep a margin for the answer itself.
const BUDGET: Duration = Duration::from_secs(12);
/// Seconds the menu waits for a key.
const MENU_TIMEOUT_SECS: u32 = 5;

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    if http::is_get_of(&event, paths::HOLD_MUSIC) {
        return http::media(hold_music::CONTENT_TYPE, hold_music::clip());
    }
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => {
            tracing::warn!(path = event.uri().path(), %rejection, "inbound request refused");
            return rejection.into_response();
        }
    };
    let result = match request.path.trim_end_matches('/') {
        "/inbound" => Ok(http::twiml(entry(&app, &request).await)),
        "/inbound/menu" => menu(&app, &request).await,
        "/inbound/wait" => Ok(http::twiml(wait(&app, &request).await)),
        "/inbound/wait-key" => wait_key(&app, &request).await,
        "/inbound/callback" => callback_ask(&app.config, &request),
        "/inbound/callback-key" => callback_key(&app, &request).await,
        "/inbound/after-queue" => after_queue(&app, &request).await,
        "/inbound/voicemail" => from_queue_to_voicemail(&app, &request).await,
        "/inbound/recorded" => Ok(http::twiml(recorded(&request))),
        "/inbound/recording-status" => recording_status(&app, &request).await,
        "/inbound/transcription" => transcription(&app, &request).await,
        "/inbound/call-ended" => call_ended(&app, &request).await,
        other => {
            tracing::warn!(path = other, "no such inbound step");
            return status(StatusCode::NOT_FOUND);
        }
    };
    result.unwrap_or_else(|rejection| {
        tracing::warn!(path = %request.path, %rejection, "inbound request refused");
        rejection.into_response()
    })
}

/// The first answer: the screen (before any queue or task exists, so a
/// blocked or suspect caller never rings a worker), then the greeting and
/// voicemail after hours, the queue for a one-skill line, or the menu. The
/// call's record starts here.
async fn entry<S: Store>(app: &App<S>, request: &TwilioRequest) -> String {
    let config = &app.config;
    metrics::emit(Metric::CallArrived);
    let call_sid = request.param("CallSid");
    let from = request.param("From");
    // The blocklist read and the arrival's record share one budget, so a
    // hanging store delays the greeting by RECORD_BUDGET at most.
    let before_greeting = Deadline::after(call_record::RECORD_BUDGET);
    let blocked = service::blocklist::is_blocked(&app.store, from, before_greeting).await;
    let stir_verstat = request.param("StirVerstat");
    match screening::screen(from, stir_verstat, config.anonymous_callers, blocked) {
        Screen::Admit => {}
        Screen::Reject => {
            tracing::info!(call_sid, blocked, "caller rejected");
            // First and only verb: Twilio does not answer the call.
            return Twiml::new().reject().to_xml();
        }
        Screen::Voicemail(suspect) => {
            tracing::info!(
                call_sid,
                ?suspect,
                stir_verstat,
                "suspect caller: voicemail"
            );
            metrics::emit(Metric::Voicemail(VoicemailReason::Screened));
            let apology = screening::voicemail_apology();
            return voicemail_after(config, request, GENERAL_MAILBOX, &apology, Twiml::new());
        }
    }
    let greeting = Twiml::new().say(config.greeting.as_str());
    let open = config
        .business_hours
        .as_ref()
        // The store's clock, so a simulated day's hours are its own.
        .is_none_or(|hours| hours.is_open_at(now_secs()));
    let only_skill = match config.skills.as_slice() {
        [only] if open => Some(only.as_str()),
        _ => None,
    };
    let arrived = Step::Arrived {
        caller: request.param("From").unwrap_or("unknown"),
        after_hours: !open,
    };
    let queued = only_skill.map(|skill| Step::Queued { skill });
    let steps: Vec<Step> = std::iter::once(arrived).chain(queued).collect();
    // The caller's last worker is read with the record, on the same budget.
    let last_worker = async {
        match only_skill {
            Some(skill) => previous_worker(app, request, skill, before_greeting).await,
            None => None,
        }
    };
    let ((), last_worker) =
        tokio::join!(note_by(app, request, &steps, before_greeting), last_worker);
    if !open {
        tracing::info!(
            call_sid = request.param("CallSid"),
            "after hours: voicemail"
        );
        metrics::emit(Metric::Voicemail(VoicemailReason::AfterHours));
        return voicemail(config, request, GENERAL_MAILBOX, greeting);
    }
    let call_token = call_token(config, request);
    match only_skill {
        Some(only) => {
            let attributes = task_attributes(only, call_token.as_ref(), last_worker.as_deref());
            enqueue(config, greeting, only, &attributes)
        }
        None => menu_offer(config, greeting, 1, call_token.as_ref()),
    }
}

/// The worker who last answered the caller (`From`), when the task for
/// `skill` should name them (`STICKY_DAYS`): one read, done by `deadline`
/// or given up, so the greeting and the queue never wait for it.
async fn previous_worker<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    skill: &str,
    deadline: Deadline,
) -> Option<String> {
    let from = request.param("From");
    let sticky_days = app.config.sticky_days;
    service::returning::previous_worker(&app.store, sticky_days, from, skill, deadline).await
}

/// The call's `CallToken` under `WORKER_CALLER_ID=caller` (else none, and
/// nothing below changes): from the request, or from the menu's signed
/// query, where the entry put it because Twilio documents `CallToken` on the
/// incoming call's webhook only (docs/twilio.md, "Forwarded caller ID").
fn call_token(config: &Config, request: &TwilioRequest) -> Option<CallToken> {
    if config.worker_caller_id != WorkerCallerId::Caller {
        return None;
    }
    request
        .param(CALL_TOKEN)
        .or_else(|| request.query(CALL_TOKEN))
        .and_then(CallToken::parse)
}

/// The webhook parameter, and the name it travels under in the menu's query.
const CALL_TOKEN: &str = "CallToken";

/// Notes `steps` of the caller's call in its record (never fails the answer).
async fn note<S: Store>(app: &App<S>, request: &TwilioRequest, steps: &[Step<'_>]) {
    note_by(app, request, steps, Deadline::after(BUDGET)).await;
}

/// [`note`], done by `deadline` at the latest.
async fn note_by<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    steps: &[Step<'_>],
    deadline: Deadline,
) {
    if let Some(call_sid) = request.param("CallSid") {
        call_record::note(app, call_sid, now_secs(), steps, deadline).await;
    }
}

fn menu_offer(
    config: &Config,
    twiml: Twiml,
    try_no: u32,
    call_token: Option<&CallToken>,
) -> String {
    let try_no = try_no.to_string();
    let mut pairs = vec![("try", try_no.as_str())];
    pairs.extend(call_token.map(|token| (CALL_TOKEN, token.expose())));
    let action = config.url(&format!("/inbound/menu?{}", query(&pairs)));
    twiml
        .gather(
            Gather::new()
                .input("dtmf")
                .num_digits(1)
                .timeout(MENU_TIMEOUT_SECS)
                .action(&action)
                .action_on_empty_result(true)
                .say(prompts::skill_menu(&config.skills)),
        )
        .to_xml()
}

async fn menu<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let config = &app.config;
    let try_no = match request.query("try") {
        None => 1,
        Some(n) => n
            .parse()
            .map_err(|_| Rejection::BadRequest(format!("try={n:?} is not a number")))?,
    };
    let call_token = call_token(config, request);
    let xml = match decide::choose_skill(&config.skills, request.param("Digits"), try_no) {
        MenuStep::Enqueue(skill) => {
            tracing::info!(call_sid = request.param("CallSid"), skill, "menu choice");
            // The read has the arrival's small budget: the queue never waits.
            let before_queue = Deadline::after(call_record::RECORD_BUDGET);
            let queued = [Step::Queued { skill }];
            let ((), last_worker) = tokio::join!(
                note(app, request, &queued),
                previous_worker(app, request, skill, before_queue)
            );
            let attributes = task_attributes(skill, call_token.as_ref(), last_worker.as_deref());
            enqueue(config, Twiml::new(), skill, &attributes)
        }
        MenuStep::Repeat { next_try } => menu_offer(
            config,
            Twiml::new().say("Sorry, that is not an option."),
            next_try,
            call_token.as_ref(),
        ),
    };
    Ok(http::twiml(xml))
}

/// `<Enqueue>` into the workflow with the task's `attributes`
/// ([`task_attributes`]); TaskRouter adds call_sid, from and to itself.
fn enqueue(config: &Config, twiml: Twiml, skill: &str, attributes: &serde_json::Value) -> String {
    let action = config.url(&format!(
        "/inbound/after-queue?{}",
        query(&[("skill", skill)])
    ));
    twiml
        .enqueue(
            Enqueue::workflow(&config.twilio.workflow_sid)
                .action(&action)
                .wait_url(&config.url(&format!(
                    "{}?{}",
                    paths::INBOUND_WAIT,
                    query(&[("skill", skill)])
                )))
                .task(attributes),
        )
        .to_xml()
}

/// The task's attributes: its skill; the call's token, which rides in the
/// task for the assignment callback that places the worker leg; and for a
/// returning caller their last worker, whom the workflow tries first
/// (docs/twilio.md, "Returning callers").
fn task_attributes(
    skill: &str,
    call_token: Option<&CallToken>,
    last_worker: Option<&str>,
) -> serde_json::Value {
    let mut task = serde_json::json!({ "skill": skill });
    if let Some(token) = call_token {
        task["call_token"] = token.expose().into();
    }
    if let Some(worker_sid) = last_worker {
        task[returning::LAST_WORKER_ATTRIBUTE] = worker_sid.into();
        task[returning::RETURNING_ATTRIBUTE] = true.into();
    }
    task
}

/// Seconds the wait's `<Gather>` listens after its last prompt: short, so
/// the heartbeat stays within one hold stretch.
const WAIT_KEY_TIMEOUT_SECS: u32 = 1;

/// The wait loop: the caller's position (on the first fetch with the
/// estimated wait, when honest), the way out and one hold stretch,
/// all inside a `<Gather>` so a key interrupts the music. Twilio requests
/// the wait URL again when it ends, so each fetch is a heartbeat: one read
/// of the store (the first also reads the skill's recent waits), and `<Leave/>` (the Enqueue action then offers voicemail)
/// once the caller's task reached the nobody queue or TaskRouter canceled
/// it, or once `MAX_WAIT_SECS` is up and the last offer went unanswered.
async fn wait<S: Store>(app: &App<S>, request: &TwilioRequest) -> String {
    let call_sid = request.param("CallSid");
    let queue_time = request.param("QueueTime");
    let position = request.param("QueuePosition");
    let skill = request.query("skill");
    let config = &app.config;
    // The first fetch's estimate is read beside the heartbeat's own read.
    let (step, estimate) = tokio::join!(
        service::caller::wait_step(app, call_sid, queue_time),
        service::estimate::for_caller(&app.store, config.max_wait, skill, position, queue_time)
    );
    // The skill rides along (signed) so that 2 can redirect to its voicemail.
    let key_url = match skill {
        Some(skill) => format!("{}?{}", paths::INBOUND_WAIT_KEY, query(&[("skill", skill)])),
        None => paths::INBOUND_WAIT_KEY.to_string(),
    };
    let offer = Gather::new()
        .input("dtmf")
        .num_digits(1)
        .action(&config.url(&key_url));
    match step {
        WaitStep::Leave => {
            tracing::info!(call_sid, "nobody will take the caller: leaving the queue");
            Twiml::new().leave().to_xml()
        }
        WaitStep::LastOffer => {
            tracing::info!(
                call_sid,
                "longest wait reached: the last offer, then voicemail"
            );
            if let Some(call_sid) = call_sid {
                service::caller::last_offer(app, call_sid).await;
            }
            let last = offer
                .timeout(decide::LAST_OFFER_SECS)
                .say("Sorry, everyone is still busy.")
                .say(decide::wait_offer());
            Twiml::new().gather(last).leave().to_xml()
        }
        WaitStep::Hold(stretch) => {
            let mut hold = offer.timeout(WAIT_KEY_TIMEOUT_SECS);
            if let Some(position) = decide::position_announcement(position) {
                hold = hold.say(position);
            }
            if let Some(estimate) = estimate {
                hold = hold.say(estimate.announcement());
            }
            hold = hold.say(decide::wait_offer());
            hold = match stretch {
                HoldStretch::Music => {
                    hold.play_with(Play::new(config.hold_music_url.as_str()).loop_count(1))
                }
                HoldStretch::Pause(secs) => hold.pause(secs),
            };
            Twiml::new().gather(hold).to_xml()
        }
    }
}

/// A key pressed while waiting: 1 leaves the queue for the callback
/// question, 2 for the skill's voicemail (`service::caller::choose`:
/// marked, then redirected over REST, so it holds whether Twilio runs this
/// answer inside the queue or not; `<Leave/>` only when the redirect failed,
/// and the Enqueue action then asks the same); anything else ends this
/// document, so the wait URL is fetched again and the wait goes on.
async fn wait_key<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let mailbox = mailbox(&app.config, request)?;
    let xml = match decide::wait_choice(request.param("Digits")) {
        Some(option) => {
            let call_sid = request.require("CallSid")?;
            tracing::info!(call_sid, skill = %mailbox, ?option, "caller left the wait");
            match service::caller::choose(app, call_sid, option, &mailbox, Deadline::after(BUDGET))
                .await
            {
                WaitExit::Redirected => Twiml::new().to_xml(),
                WaitExit::Leave => Twiml::new().leave().to_xml(),
            }
        }
        None => Twiml::new().to_xml(),
    };
    Ok(http::twiml(xml))
}

async fn after_queue<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let config = &app.config;
    let mailbox = mailbox(config, request)?;
    let result = request.require("QueueResult")?;
    tracing::info!(
        call_sid = request.param("CallSid"),
        queue_result = result,
        skill = %mailbox,
        "caller left the queue"
    );
    metrics::emit_queue_left(result, request.param("QueueTime"));
    let abandon_after = config.abandon_after.as_secs();
    let abandoned = decide::abandoned(result, request.param("QueueTime"), abandon_after);
    if result == "hangup" {
        // The caller was never bridged, even when a worker took the call a
        // moment before (the record says so whatever the wait).
        let steps: &[Step<'_>] = if abandoned {
            &[Step::HungUpInQueue, Step::Abandoned]
        } else {
            &[Step::HungUpInQueue]
        };
        note(app, request, steps).await;
    }
    if abandoned {
        let call_sid = request.require("CallSid")?;
        let caller = request.param("From").unwrap_or("unknown");
        let new = follow_up::new(call_sid, caller, &mailbox, FollowUpReason::Abandoned, None);
        // The caller is gone: whatever fails here, the answer is the same.
        if let Err(error) = follow_up::open(app, &new, Deadline::after(BUDGET)).await {
            tracing::error!(call_sid, %error, "abandoned caller's follow-up not opened");
        }
    }
    let xml = match decide::after_queue(result) {
        AfterQueue::End => Twiml::new().to_xml(),
        // The same question the redirect asks, whichever runs the call.
        AfterQueue::Voicemail
            if service::caller::chose_callback(app, request.require("CallSid")?).await =>
        {
            callback_question(config, request, &mailbox, 1, Twiml::new())
        }
        AfterQueue::Voicemail => {
            note(app, request, &[Step::SentToVoicemail]).await;
            voicemail(config, request, &mailbox, Twiml::new())
        }
    };
    Ok(http::twiml(xml))
}

/// Where a caller is redirected from the queue to voicemail (pressed 2, the
/// last offer, nobody to take the call): noted first, so a worker who
/// pressed 1 at the same moment is not counted as answering them.
async fn from_queue_to_voicemail<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let mailbox = mailbox(&app.config, request)?;
    note(app, request, &[Step::SentToVoicemail]).await;
    let xml = voicemail(&app.config, request, &mailbox, Twiml::new());
    Ok(http::twiml(xml))
}

/// The call is over (the number's status callback): the safety net for a
/// caller who left the queue for voicemail after `ABANDON_SECS` and hung up
/// before or without a message, since Twilio requests no `<Record>` action
/// for an empty recording and a caller gone during the apology never reached
/// `<Record>`. Such a caller is noted abandoned and gets a follow-up as in
/// [`after_queue`], announced by the scheduler a little later unless the
/// message's callback comes meanwhile (`follow_up::open_quietly`); every
/// other call is only acknowledged. A repeated callback finds the follow-up
/// open (one per call).
async fn call_ended<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let deadline = Deadline::after(BUDGET);
    let call_sid = request.require("CallSid")?;
    let call_status = request.require("CallStatus")?;
    let call_status = CallStatus::parse(call_status)
        .ok_or_else(|| Rejection::BadRequest(format!("unknown CallStatus {call_status:?}")))?;
    if !call_status.is_final() {
        return Ok(acknowledged());
    }
    let ended_at = now_secs();
    // The SDK retries a failed read within its bounds, well inside BUDGET.
    let record = match call_record::find(&app.store, app.config.time_zone, ended_at, call_sid).await
    {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(acknowledged()),
        Err(error) => {
            tracing::error!(call_sid, %error, "ended call's record not read");
            return Ok(status(StatusCode::INTERNAL_SERVER_ERROR));
        }
    };
    let abandon_after = app.config.abandon_after.as_secs();
    if !decide::abandoned_at_end(&record, ended_at, abandon_after) {
        return Ok(acknowledged());
    }
    tracing::info!(call_sid, "caller hung up in voicemail without a message");
    call_record::note(app, call_sid, ended_at, &[Step::Abandoned], deadline).await;
    let caller = record.caller.as_deref().unwrap_or("unknown");
    let skill = record.skill.as_deref().unwrap_or(GENERAL_MAILBOX);
    let new = follow_up::new(call_sid, caller, skill, FollowUpReason::Abandoned, None);
    let span = tracing::info_span!("abandoned", call_sid);
    match follow_up::open_quietly(app, &new, deadline)
        .instrument(span)
        .await
    {
        Ok(_) => Ok(acknowledged()),
        Err(error) => {
            tracing::error!(call_sid, %error, "follow-up not opened");
            Ok(status(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// Seconds of silence that end the keying of a callback number.
const CALLBACK_KEYING_SECS: u32 = 10;

/// `/inbound/callback`: the number to call back, for the skill in the query.
fn callback_ask(config: &Config, request: &TwilioRequest) -> Result<Response<Body>, Rejection> {
    let skill = callback_skill(config, request)?;
    let try_no = callback_try(request)?;
    Ok(http::twiml(callback_question(
        config,
        request,
        &skill,
        try_no,
        Twiml::new(),
    )))
}

/// The skill of a callback: one of the line's (the general box has no
/// workers to call back from).
fn callback_skill(config: &Config, request: &TwilioRequest) -> Result<String, Rejection> {
    match request.query("skill") {
        Some(skill) if config.has_skill(skill) => Ok(skill.to_string()),
        other => Err(Rejection::BadRequest(format!(
            "callback for unknown skill {other:?}"
        ))),
    }
}

fn callback_try(request: &TwilioRequest) -> Result<u32, Rejection> {
    match request.query("try") {
        None => Ok(1),
        Some(n) => n
            .parse()
            .map_err(|_| Rejection::BadRequest(format!("try={n:?} is not a number"))),
    }
}

/// The caller's number on file, when the business line may call it back.
fn number_on_file(config: &Config, request: &TwilioRequest) -> Option<String> {
    decide::callback_on_file(request.param("From"), &config.callback_caller_id)
}

/// After `twiml`, the question about the number to call back (try
/// `try_no`), keyed until `#` or silence; with nothing keyed Twilio falls
/// through to the `<Redirect>`, which the key step reads as a refusal.
fn callback_question(
    config: &Config,
    request: &TwilioRequest,
    skill: &str,
    try_no: u32,
    twiml: Twiml,
) -> String {
    let try_no = try_no.to_string();
    let url = config.url(&format!(
        "{}?{}",
        paths::INBOUND_CALLBACK_KEY,
        query(&[("skill", skill), ("try", &try_no)])
    ));
    let on_file = number_on_file(config, request);
    twiml
        .gather(
            Gather::new()
                .input("dtmf")
                .finish_on_key("#")
                .timeout(CALLBACK_KEYING_SECS)
                .action(&url)
                .say(decide::callback_question(on_file.as_deref())),
        )
        .redirect(url)
        .to_xml()
}

/// `/inbound/callback-key`: 1 or a keyed number. A callable one books the
/// callback and says goodbye; else it is refused and asked once more, then
/// the caller is offered voicemail.
async fn callback_key<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let config = &app.config;
    let skill = callback_skill(config, request)?;
    let try_no = callback_try(request)?;
    let call_sid = request.require("CallSid")?;
    let on_file = number_on_file(config, request);
    let chosen = decide::callback_number(
        request.param("Digits"),
        on_file.as_deref(),
        &config.callback_caller_id,
    );
    let xml = match chosen {
        Ok(number) => {
            let booking = service::callback::CallbackRequest {
                call_sid,
                skill: &skill,
                number: &number,
            };
            let booked =
                service::callback::request(app, booking, now_secs(), Deadline::after(BUDGET)).await;
            tracing::info!(call_sid, skill, ?booked, "callback booked");
            Twiml::new()
                .say(decide::callback_booked(&number))
                .hangup()
                .to_xml()
        }
        Err(refused) if try_no < decide::CALLBACK_NUMBER_TRIES => {
            tracing::info!(call_sid, %refused, try_no, "callback number refused");
            let opening = Twiml::new().say(decide::CALLBACK_REFUSED);
            callback_question(config, request, &skill, try_no + 1, opening)
        }
        Err(refused) => {
            tracing::info!(call_sid, %refused, "callback number refused again: voicemail");
            let opening = Twiml::new().say(decide::CALLBACK_REFUSED);
            voicemail(config, request, &skill, opening)
        }
    };
    Ok(http::twiml(xml))
}

/// The skill in the query, checked against the configuration; none is the
/// general box.
fn mailbox(config: &Config, request: &TwilioRequest) -> Result<String, Rejection> {
    match request.query("skill") {
        None => Ok(GENERAL_MAILBOX.to_string()),
        Some(skill) if config.has_skill(skill) || skill == GENERAL_MAILBOX => Ok(skill.to_string()),
        Some(skill) => Err(Rejection::BadRequest(format!("unknown skill {skill:?}"))),
    }
}

/// Voicemail for `mailbox` after `twiml`, or the business's own TwiML.
fn voicemail(config: &Config, request: &TwilioRequest, mailbox: &str, twiml: Twiml) -> String {
    let apology = decide::voicemail_apology(mailbox);
    voicemail_after(config, request, mailbox, &apology, twiml)
}

/// [`voicemail`] with its own apology before the beep.
fn voicemail_after(
    config: &Config,
    request: &TwilioRequest,
    mailbox: &str,
    apology: &str,
    twiml: Twiml,
) -> String {
    if let Some(url) = &config.no_answer_twiml_url {
        return twiml.redirect(url.as_str()).to_xml();
    }
    // The recording callbacks do not carry the caller: send it along.
    let caller = request.param("From").unwrap_or("unknown");
    let context = query(&[("skill", mailbox), ("caller", caller)]);
    let status_url = config.url(&format!("{}?{context}", paths::INBOUND_RECORDING_STATUS));
    let transcript_url = config.url(&format!("{}?{context}", paths::INBOUND_TRANSCRIPTION));
    let max_length = u32::try_from(config.voicemail_max_length.as_secs()).unwrap_or(u32::MAX);
    twiml
        .say(apology)
        .record(
            Record::new()
                .action(&config.url("/inbound/recorded"))
                .max_length(max_length)
                .play_beep(true)
                .recording_status_callback(&status_url)
                // Twilio transcribes recordings of 2 to 120 s (docs/twilio.md).
                .transcribe(true)
                .transcribe_callback(&transcript_url),
        )
        // Reached only when nothing was recorded.
        .say("We did not receive a message. Goodbye.")
        .hangup()
        .to_xml()
}

fn recorded(request: &TwilioRequest) -> String {
    if request.param("Digits") == Some("hangup") {
        return Twiml::new().to_xml();
    }
    Twiml::new()
        .say("Thank you. Your message has been recorded. Goodbye.")
        .hangup()
        .to_xml()
}

/// Stores a completed recording once and announces it once per recipient.
/// A repeated callback finds the voicemail stored and every announcement
/// claimed; an announcement that failed gave its claim back, so a
/// redelivery sends it.
async fn recording_status<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let deadline = Deadline::after(BUDGET);
    let skill = mailbox(&app.config, request)?;
    let recording_status = request.require("RecordingStatus")?;
    if recording_status != "completed" {
        tracing::info!(
            recording_sid = request.param("RecordingSid"),
            recording_status,
            "recording not completed; nothing to store"
        );
        return Ok(acknowledged());
    }
    let voicemail = new_voicemail(request, skill)?;
    let span = tracing::info_span!(
        "voicemail",
        recording_sid = %voicemail.recording_sid,
        call_sid = %voicemail.call_sid
    );
    Ok(store_and_announce(app, &voicemail, deadline)
        .instrument(span)
        .await)
}

/// Stores the voicemail (a repeat finds it stored), then opens its
/// follow-up and announces it to every recipient not yet told.
async fn store_and_announce<S: Store>(
    app: &App<S>,
    voicemail: &Voicemail,
    deadline: Deadline,
) -> Response<Body> {
    match app.store.put_voicemail(voicemail).await {
        Ok(write) if write.applied() => {
            tracing::info!(skill = %voicemail.skill, "voicemail stored")
        }
        Ok(_) => tracing::info!("voicemail already stored"),
        Err(error) => {
            tracing::error!(%error, "voicemail not stored");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    let steps = [Step::Voicemail];
    call_record::note(
        app,
        &voicemail.call_sid,
        voicemail.received_at,
        &steps,
        deadline,
    )
    .await;
    let new = follow_up::new(
        &voicemail.call_sid,
        &voicemail.caller,
        &voicemail.skill,
        FollowUpReason::Voicemail,
        Some(voicemail.recording_url.clone()),
    );
    answer_opened(follow_up::open(app, &new, deadline).await)
}

/// A callback's answer once it opened a follow-up: an error when anything
/// failed, as Twilio may deliver the callback again and the claims make that
/// safe.
fn answer_opened(opened: Result<follow_up::Opened, StoreError>) -> Response<Body> {
    match opened {
        Ok(opened) if opened.failed == 0 => acknowledged(),
        Ok(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
        Err(error) => {
            tracing::error!(%error, "follow-up not opened");
            status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Adds a completed transcript to the voicemail's follow-up. The
/// announcement never waits for it; when the transcript comes first, it
/// opens the follow-up itself (and the announcement quotes it).
async fn transcription<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
) -> Result<Response<Body>, Rejection> {
    let deadline = Deadline::after(BUDGET);
    let skill = mailbox(&app.config, request)?;
    let call_sid = request.require("CallSid")?;
    let transcription_status = request.require("TranscriptionStatus")?;
    if transcription_status != "completed" {
        tracing::info!(call_sid, transcription_status, "no transcript");
        return Ok(acknowledged());
    }
    let text = request.param("TranscriptionText").unwrap_or_default();
    let caller = request.query("caller").unwrap_or("unknown");
    let recording_url = request.param("RecordingUrl").map(str::to_string);
    let mut new = follow_up::new(
        call_sid,
        caller,
        &skill,
        FollowUpReason::Voicemail,
        recording_url,
    );
    new.transcript = Some(text.to_string());
    let opened = match follow_up::open(app, &new, deadline).await {
        Ok(opened) => opened,
        Err(error) => {
            tracing::error!(call_sid, %error, "transcript's follow-up not opened");
            return Ok(status(StatusCode::INTERNAL_SERVER_ERROR));
        }
    };
    let event = FollowUpEvent::Transcribed { text };
    match follow_up::apply(&app.store, &opened.follow_up.call_sid, &event).await {
        Ok(_) => {
            tracing::info!(call_sid, "transcript stored");
            Ok(acknowledged())
        }
        Err(error) => {
            tracing::error!(call_sid, %error, "transcript not stored");
            Ok(status(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

fn new_voicemail(request: &TwilioRequest, skill: String) -> Result<Voicemail, Rejection> {
    Ok(Voicemail {
        recording_sid: request.require("RecordingSid")?.to_string(),
        call_sid: request.require("CallSid")?.to_string(),
        caller: request.query("caller").unwrap_or("unknown").to_string(),
        skill,
        recording_url: request.require("RecordingUrl")?.to_string(),
        // Twilio sends -1 when the length is unknown.
        duration_secs: request
            .param("RecordingDuration")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
        received_at: now_secs(),
    })
}

/// `a=b&c=d`, values form-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// A status callback's answer: Twilio ignores the body; an empty document
/// keeps every inbound answer TwiML.
fn acknowledged() -> Response<Body> {
    http::twiml(Twiml::new().to_xml())
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = code;
    response
}
