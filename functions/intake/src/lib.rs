//! `intake`: the worker line's SMS and voice webhooks. An enrolled worker
//! texts `on sales` / `off` / `status` / `menu`, or calls and uses a key
//! menu; Homeline finds or creates their TaskRouter worker, sets its activity
//! and attributes, keeps the profile in the table and confirms. `on sales
//! until 5pm` and `off until 1pm` (times in `TIME_ZONE`) keep the change
//! to come on the profile, for the `scheduler` to make; the reply says when.
//!
//! Twilio answers its carrier keywords (STOP, START, HELP and synonyms)
//! itself and passes them on: they get an empty answer. STOP takes the
//! worker off duty and marks them SMS blocked; START lifts the block. A
//! blocked worker's commands are carried out without a reply.
//!
//! Blocklist: an admin (`ADMIN_NUMBERS`) texts `block +15551234567`,
//! `unblock +15551234567` or `blocked`; an enrolled worker who is not an
//! admin is told only admins may, a stranger gets the roster's refusal.
//!
//! Admins (`ADMIN_NUMBERS`) may text `stats` (today's calls so far) and
//! `who` (who is on duty now); anyone else is refused.
//!
//! Follow-ups: `claim 7` rings the worker's phone for a call back from the
//! business line (`call_back`), `done 7` closes one, `missed` lists them.
//!
//! Routes: `POST /intake/sms`, `POST /intake/voice`, `POST /intake/voice/menu`,
//! `POST /intake/voice/skill` (the last two carry a signed `attempt` query),
//! and the call back's `POST /intake/callback[/key|/dialed|/status]`.

mod call_back;
mod keypad;
mod roster;

use std::time::Duration;

use homeline_core::App;
use homeline_core::domain::hours::Clock;
use homeline_core::domain::intake::{
    self as domain, SmsPlan, VoiceAction, VoiceStep, prompts, replies,
};
use homeline_core::domain::screening;
use homeline_core::http::{self, Rejection, TwilioRequest};
use homeline_core::model::WorkerProfile;
use homeline_core::service::{self, follow_up, report};
use homeline_core::store::{Store, now_secs};
use homeline_core::twiml::{self, Gather};
use homeline_core::{Deadline, phone};
use lambda_http::{Body, Request, Response};

pub use roster::IntakeError;

/// Twilio gives a webhook 15 s in all; Twilio calls get 10 s of it, leaving
/// room for the table and the answer.
const TWILIO_BUDGET: Duration = Duration::from_secs(10);
/// Seconds the voice menu waits for a key.
const GATHER_TIMEOUT_SECS: u32 = 6;

pub async fn handle<S: Store>(app: App<S>, event: Request) -> Response<Body> {
    // The signature first: a forged request gets nothing read or written.
    let request = match http::verified(&event, &app.config) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let deadline = Deadline::after(TWILIO_BUDGET);
    let result = if request.path.trim_end_matches('/') == "/intake/sms" {
        sms(&app, &request, deadline).await
    } else if let Some(step) = VoiceStep::from_path(&request.path) {
        voice(&app, &request, step, deadline).await
    } else if let Some(step) = keypad::Step::from_path(&request.path) {
        keypad::handle(&app, &request, step, deadline).await
    } else if let Some(step) = call_back::Step::from_path(&request.path) {
        call_back::handle(&app, &request, step, deadline).await
    } else {
        Err(Rejection::BadRequest(format!(
            "intake does not serve {}",
            request.path
        )))
    };
    result.unwrap_or_else(Rejection::into_response)
}

/// Twilio's `From`, in E.164 when it is a phone number. Withheld or
/// alphanumeric senders are `None` and treated as strangers.
fn caller(request: &TwilioRequest) -> Result<Option<String>, Rejection> {
    let from = request.require("From")?;
    Ok(phone::normalize(from).ok())
}

/// The profile of an enrolled caller, `None` for a stranger.
async fn enrolled<S: Store>(
    app: &App<S>,
    phone: Option<&str>,
) -> Result<Option<WorkerProfile>, IntakeError> {
    match phone {
        Some(phone) => Ok(app.store.get_worker(phone).await?),
        None => Ok(None),
    }
}

async fn sms<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    deadline: Deadline,
) -> Result<Response<Body>, Rejection> {
    let phone = caller(request)?;
    // An empty body (a picture, say) is a message: it gets the help text.
    let body = request
        .param("Body")
        .ok_or_else(|| Rejection::BadRequest("missing parameter Body".into()))?;
    let message_sid = request.param("MessageSid").unwrap_or_default();
    let command = domain::parse_sms(body, request.param("OptOutType"));
    let silent = matches!(command, domain::SmsCommand::Carrier(_));
    let reply = match sms_reply(app, phone.as_deref(), &command, deadline).await {
        Ok(reply) => reply,
        Err(error) => {
            tracing::error!(message_sid, %error, "intake SMS could not be applied");
            (!silent).then(replies::try_again)
        }
    };
    tracing::info!(message_sid, command = ?command, replied = reply.is_some(), "intake SMS answered");
    let answer = match reply {
        Some(text) => twiml::Response::new().message(text),
        None => twiml::Response::new(),
    };
    Ok(http::twiml(answer.to_xml()))
}

/// The reply to a worker's SMS; `None`: no reply at all (a carrier keyword,
/// or a worker who is SMS blocked).
async fn sms_reply<S: Store>(
    app: &App<S>,
    phone: Option<&str>,
    command: &domain::SmsCommand,
    deadline: Deadline,
) -> Result<Option<String>, IntakeError> {
    if let Some(report) = admin_report(app, phone, command).await? {
        return Ok(Some(report));
    }
    let profile = match enrolled(app, phone).await? {
        Some(profile) => Some(profile),
        None => admin_acting_on_follow_ups(app, phone, command),
    };
    let clock = Clock::new(app.config.time_zone, now_secs());
    let plan = domain::decide_sms(command, profile.as_ref(), &app.config.skills, &clock);
    let blocked = profile.as_ref().is_some_and(|p| p.sms_blocked);
    let reply = match (plan, profile) {
        (SmsPlan::Reply(text), _) => Some(text),
        (SmsPlan::Silent, _) => None,
        (SmsPlan::GoOnline(skills), Some(profile)) => {
            Some(go_online(app, &profile, &skills, None, deadline).await?)
        }
        (SmsPlan::GoOnlineUntil { skills, at }, Some(profile)) => {
            let until = clock.label(at);
            Some(go_online(app, &profile, &skills, Some((at, &until)), deadline).await?)
        }
        (SmsPlan::GoOffline, Some(profile)) => {
            roster::go_offline(app, &profile, None, deadline).await?;
            Some(replies::offline())
        }
        (SmsPlan::GoOfflineUntil { at }, Some(profile)) => {
            roster::go_offline(app, &profile, Some(at), deadline).await?;
            Some(replies::offline_until(&clock.label(at), &profile.skills))
        }
        (SmsPlan::OptOut, Some(profile)) => {
            roster::opt_out(app, &profile, deadline).await?;
            None
        }
        (SmsPlan::OptIn, Some(profile)) => {
            roster::opt_in(app, &profile).await?;
            None
        }
        (SmsPlan::FollowUp(command), Some(profile)) => {
            Some(follow_up::command(app, &profile, command, deadline).await?)
        }
        (SmsPlan::SetPin(pin), Some(profile)) => {
            if !service::worker::set_pin(&app.store, &profile.phone, &pin).await? {
                return Err(IntakeError::Removed(profile.phone));
            }
            tracing::info!(phone = %profile.phone, "keypad PIN set");
            Some(replies::pin_set())
        }
        (SmsPlan::Blocklist(command), Some(profile)) => {
            let plan = screening::decide(&command, is_admin(app, &profile.phone));
            Some(service::blocklist::command(&app.store, &plan, &profile.phone).await?)
        }
        // `decide_sms` plans no change for a stranger; refuse all the same.
        (_, None) => Some(replies::stranger()),
    };
    // Twilio would refuse a reply to a number that opted out (21610).
    Ok(reply.filter(|_| !blocked))
}

/// `on` by SMS, until `until` (its time and label) when the worker said
/// so; the confirmation.
async fn go_online<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    skills: &[String],
    until: Option<(i64, &str)>,
    deadline: Deadline,
) -> Result<String, IntakeError> {
    let first = domain::is_first_online(profile);
    let at = until.map(|(at, _)| at);
    roster::go_online(app, profile, skills, at, deadline).await?;
    let save_number = first.then_some(app.config.twilio.caller_id.as_str());
    Ok(replies::online(
        skills,
        save_number,
        until.map(|(_, label)| label),
    ))
}

/// `stats` and `who` from an `ADMIN_NUMBERS` number; `None` for any other
/// command or sender (`decide_sms` refuses them).
async fn admin_report<S: Store>(
    app: &App<S>,
    phone: Option<&str>,
    command: &domain::SmsCommand,
) -> Result<Option<String>, IntakeError> {
    let admin = phone.is_some_and(|p| app.config.admin_numbers.iter().any(|a| a == p));
    Ok(match command {
        domain::SmsCommand::Stats if admin => Some(report::stats(app, now_secs()).await?),
        domain::SmsCommand::Who if admin => Some(report::who(app).await?),
        _ => None,
    })
}

/// An admin who is not enrolled may still claim, close and list follow-ups
/// (their announcements ask them to) and manage the blocklist: for those
/// commands alone they act under a profile that is never stored. Anything
/// else from them is a stranger's.
fn admin_acting_on_follow_ups<S: Store>(
    app: &App<S>,
    phone: Option<&str>,
    command: &domain::SmsCommand,
) -> Option<WorkerProfile> {
    let phone = phone.filter(|p| is_admin(app, p))?;
    matches!(
        command,
        domain::SmsCommand::FollowUp(_)
            | domain::SmsCommand::FollowUpUnclear
            | domain::SmsCommand::Blocklist(_)
    )
    .then(|| WorkerProfile::new(phone, "an admin", Vec::new()))
}

fn is_admin<S: Store>(app: &App<S>, phone: &str) -> bool {
    app.config.admin_numbers.iter().any(|a| a == phone)
}

async fn voice<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    step: VoiceStep,
    deadline: Deadline,
) -> Result<Response<Body>, Rejection> {
    let phone = caller(request)?;
    let call_sid = request.param("CallSid").unwrap_or_default();
    let attempt = domain::parse_attempt(request.query("attempt"));
    let digits = request.param("Digits");
    let answer = match voice_answer(app, phone.as_deref(), step, digits, attempt, deadline).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(call_sid, %error, "intake call could not be applied");
            twiml::Response::new().say(prompts::try_again()).hangup()
        }
    };
    tracing::info!(call_sid, ?step, attempt, "intake call answered");
    Ok(http::twiml(answer.to_xml()))
}

async fn voice_answer<S: Store>(
    app: &App<S>,
    phone: Option<&str>,
    step: VoiceStep,
    digits: Option<&str>,
    attempt: u32,
    deadline: Deadline,
) -> Result<twiml::Response, IntakeError> {
    let profile = enrolled(app, phone).await?;
    let action = domain::decide_voice(step, profile.as_ref(), digits, attempt, &app.config.skills);
    let skills = &app.config.skills;
    // `decide_voice` refuses a stranger; without a profile there is nothing else to say.
    let Some(profile) = profile else {
        return Ok(refusal());
    };
    Ok(match action {
        VoiceAction::Refuse => refusal(),
        VoiceAction::Menu { attempt, reprompt } => {
            let opening = if step == VoiceStep::Greet {
                prompts::greeting(&profile)
            } else if reprompt {
                prompts::not_understood()
            } else {
                String::new()
            };
            ask(app, VoiceStep::Menu, attempt, &opening, &prompts::menu())
        }
        VoiceAction::AskSkill { attempt, reprompt } => {
            let opening = if reprompt {
                prompts::not_understood()
            } else {
                String::new()
            };
            ask(
                app,
                VoiceStep::Skill,
                attempt,
                &opening,
                &prompts::skill_menu(skills),
            )
        }
        VoiceAction::Status => ask(
            app,
            VoiceStep::Menu,
            1,
            &prompts::status(&profile),
            &prompts::menu(),
        ),
        VoiceAction::GoOnline(chosen) => {
            roster::go_online(app, &profile, &chosen, None, deadline).await?;
            tell_of_duty_change(app, &profile, Some(&chosen), deadline).await;
            twiml::Response::new()
                .say(prompts::online(&chosen))
                .hangup()
        }
        VoiceAction::GoOffline => {
            roster::go_offline(app, &profile, None, deadline).await?;
            tell_of_duty_change(app, &profile, None, deadline).await;
            twiml::Response::new().say(prompts::offline()).hangup()
        }
        VoiceAction::AskPin(then) => keypad::ask_pin(app, then, 1, ""),
        VoiceAction::NoPin => twiml::Response::new().say(prompts::no_pin()).hangup(),
        VoiceAction::Goodbye => twiml::Response::new().say(prompts::goodbye()).hangup(),
    })
}

/// Texts the worker of a duty change made by phone, so one made by a
/// spoofed caller ID is noticed. A failed SMS is logged; the change stands.
async fn tell_of_duty_change<S: Store>(
    app: &App<S>,
    profile: &WorkerProfile,
    online_for: Option<&[String]>,
    deadline: Deadline,
) {
    let text = replies::duty_changed_by_phone(online_for);
    if let Err(error) = service::worker::text(app, &profile.phone, &text, deadline).await {
        tracing::error!(phone = %profile.phone, %error, "duty change by phone not texted");
    }
}

/// Not enrolled: a short refusal, then hang up.
fn refusal() -> twiml::Response {
    twiml::Response::new().say(prompts::refusal()).hangup()
}

/// A one-key `<Gather>` for `step`; with no key Twilio falls through to the
/// `<Redirect>`, which comes back to the same step without `Digits`. URLs
/// are absolute (Twilio resolves relative ones against the API Gateway host,
/// which would break the signature) and carry the attempt.
fn ask<S: Store>(
    app: &App<S>,
    step: VoiceStep,
    attempt: u32,
    opening: &str,
    question: &str,
) -> twiml::Response {
    let url = app
        .config
        .url(&format!("{}?attempt={attempt}", step.path()));
    let mut gather = Gather::new()
        .input("dtmf")
        .num_digits(1)
        .timeout(GATHER_TIMEOUT_SECS)
        .action(&url)
        .method("POST");
    if !opening.is_empty() {
        gather = gather.say(opening);
    }
    twiml::Response::new()
        .gather(gather.say(question))
        .redirect_with_method(url, "POST")
}
