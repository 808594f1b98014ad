//! The worker line's guarded keys: 4 offers the oldest open follow-up, 6
//! plays the newest voicemail, and 1 then calls them back; 5 dials a number
//! keyed in; each from `CALLBACK_CALLER_ID`. A follow-up is taken only
//! with the 1 whose answer is the `<Dial>`, so a worker who hangs up on the
//! introduction leaves it open for others. Caller ID proves nothing
//! (it is easily spoofed, and whoever is on the call hears what the menu
//! says), so each asks for the worker's PIN first (`domain::pin`): wrong
//! ones count towards the lock-out across calls.
//!
//! A right PIN grants the rest of that one call: the steps after it carry
//! `call=` the call's SID, signed with the URL, and are refused on any other
//! call.

use homeline_core::domain::follow_up::{Outcome, texts};
use homeline_core::domain::intake::{self as domain, Guarded, prompts};
use homeline_core::http::{Rejection, TwilioRequest};
use homeline_core::model::{FollowUp, WorkerProfile};
use homeline_core::routes::paths;
use homeline_core::service::worker::PinVerdict;
use homeline_core::service::{follow_up, worker};
use homeline_core::store::{Store, StoreError, now_secs};
use homeline_core::twiml::{self, Dial, Gather};
use homeline_core::{App, Deadline, phone};
use lambda_http::{Body, Response};

use crate::call_back::{dial_customer, no_longer_needed};
use crate::{GATHER_TIMEOUT_SECS, caller, enrolled, refusal};

/// Seconds of silence that end the keying of a PIN or a number.
const KEYING_TIMEOUT_SECS: u32 = 10;

/// A step after a guarded key, by the path Twilio requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The PIN, keyed for `then`.
    Pin,
    /// The number to dial out to.
    Dial,
    /// The key after a follow-up's introduction: 1 calls them back.
    CallBack,
}

impl Step {
    pub fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            paths::INTAKE_VOICE_PIN => Some(Step::Pin),
            paths::INTAKE_VOICE_DIAL => Some(Step::Dial),
            paths::INTAKE_VOICE_CALL_BACK => Some(Step::CallBack),
            _ => None,
        }
    }
}

pub async fn handle<S: Store>(
    app: &App<S>,
    request: &TwilioRequest,
    step: Step,
    deadline: Deadline,
) -> Result<Response<Body>, Rejection> {
    let phone = caller(request)?;
    let call_sid = request.require("CallSid")?;
    let attempt = domain::parse_attempt(request.query("attempt"));
    // `#` alone may come as `Digits=#`: nothing keyed, not a wrong PIN.
    let digits = request
        .param("Digits")
        .map(|d| d.trim().trim_end_matches('#'))
        .unwrap_or_default();
    let then = match step {
        Step::Pin => Some(
            request
                .query("then")
                .and_then(Guarded::parse)
                .ok_or_else(|| Rejection::BadRequest("then= names no guarded key".into()))?,
        ),
        Step::Dial | Step::CallBack => None,
    };
    let answer = async {
        let Some(profile) = enrolled(app, phone.as_deref()).await? else {
            return Ok(refusal());
        };
        let keyed = Keyed {
            app,
            profile: &profile,
            call_sid,
            attempt,
            digits,
        };
        // The steps after the PIN are for the call it was right on.
        let granted = request.query("call") == Some(call_sid);
        Ok::<_, crate::IntakeError>(match (step, then) {
            (Step::Pin, Some(then)) => keyed.pin(then, deadline).await?,
            (Step::Dial, _) if granted => keyed.dial(),
            (Step::CallBack, _) if granted => {
                keyed
                    .call_back(request.query("follow_up").unwrap_or_default())
                    .await?
            }
            _ => {
                tracing::warn!(call_sid, ?step, "guarded step without a PIN on this call");
                refusal()
            }
        })
    };
    let answer = answer.await.unwrap_or_else(|error| {
        tracing::error!(call_sid, ?step, %error, "keypad step failed");
        twiml::Response::new().say(prompts::try_again()).hangup()
    });
    tracing::info!(call_sid, ?step, attempt, "keypad step answered");
    Ok(homeline_core::http::twiml(answer.to_xml()))
}

/// One keyed step of one worker's call.
struct Keyed<'a, S> {
    app: &'a App<S>,
    profile: &'a WorkerProfile,
    call_sid: &'a str,
    attempt: u32,
    digits: &'a str,
}

impl<S: Store> Keyed<'_, S> {
    async fn pin(&self, then: Guarded, deadline: Deadline) -> Result<twiml::Response, StoreError> {
        if self.digits.is_empty() {
            return Ok(self.again(
                |opening| ask_pin(self.app, then, self.attempt + 1, opening),
                "",
            ));
        }
        let verdict =
            worker::check_pin(self.app, self.profile, self.digits, now_secs(), deadline).await?;
        tracing::info!(call_sid = self.call_sid, ?verdict, ?then, "keypad PIN");
        Ok(match verdict {
            PinVerdict::Right => self.granted(then).await?,
            PinVerdict::Wrong { left } => self.again(
                |opening| ask_pin(self.app, then, self.attempt + 1, opening),
                &prompts::wrong_pin(left),
            ),
            PinVerdict::Locked | PinVerdict::LockedNow => say_and_hang_up(prompts::locked()),
            PinVerdict::NotSet => say_and_hang_up(prompts::no_pin()),
        })
    }

    /// The next try of the same question, after `opening`, while tries are
    /// left; else `opening` and goodbye.
    fn again(&self, next: impl FnOnce(&str) -> twiml::Response, opening: &str) -> twiml::Response {
        if self.attempt >= domain::MAX_ATTEMPTS {
            return say_and_hang_up(
                format!("{opening} {}", prompts::goodbye())
                    .trim()
                    .to_string(),
            );
        }
        next(opening)
    }

    async fn granted(&self, then: Guarded) -> Result<twiml::Response, StoreError> {
        let app = self.app;
        Ok(match then {
            Guarded::CallBack => match follow_up::oldest_open(&app.store).await? {
                Some(oldest) => self.offer(&oldest, None),
                None => say_and_hang_up(prompts::nobody_waiting()),
            },
            Guarded::Dial => ask_number(app, self.call_sid, 1, ""),
            Guarded::Voicemail => match follow_up::newest_voicemail(&app.store).await? {
                Some(voicemail) => self.offer(&voicemail, voicemail.recording_url.as_deref()),
                None => say_and_hang_up(prompts::no_voicemail()),
            },
        })
    }

    /// Who called and why (and their `recording`), then 1 to call them back.
    fn offer(&self, follow_up: &FollowUp, recording: Option<&str>) -> twiml::Response {
        // SIDs are letters and digits: nothing to escape.
        let action = self.app.config.url(&format!(
            "{}?call={}&follow_up={}",
            paths::INTAKE_VOICE_CALL_BACK,
            self.call_sid,
            follow_up.call_sid
        ));
        let mut answer = twiml::Response::new().say(texts::introduce(follow_up));
        if let Some(url) = recording {
            answer = answer.play(url);
        }
        answer
            .gather(
                Gather::new()
                    .input("dtmf")
                    .num_digits(1)
                    .timeout(GATHER_TIMEOUT_SECS)
                    .action(&action)
                    .method("POST")
                    .say(prompts::offer_call_back()),
            )
            .say(prompts::goodbye())
            .hangup()
    }

    /// 1 after the introduction: the follow-up is taken and the caller
    /// dialled in the same answer, unless someone else took them meanwhile.
    async fn call_back(&self, follow_up_sid: &str) -> Result<twiml::Response, StoreError> {
        if self.digits != "1" || follow_up_sid.is_empty() {
            return Ok(say_and_hang_up(prompts::goodbye()));
        }
        Ok(
            match follow_up::take(&self.app.store, follow_up_sid, &self.profile.phone).await? {
                Ok(taken) => {
                    tracing::info!(call_sid = self.call_sid, follow_up = %taken.call_sid,
                        number = taken.number, "calling back from the keypad");
                    dial_customer(self.app, &taken, twiml::Response::new()).await?
                }
                Err(Outcome::HeldBy(_)) => say_and_hang_up(prompts::taken_by_someone_else()),
                Err(_) => no_longer_needed(),
            },
        )
    }

    /// The keyed number, dialled from `CALLBACK_CALLER_ID` if the business
    /// line may call it.
    fn dial(&self) -> twiml::Response {
        let config = &self.app.config;
        match phone::dial_out(self.digits, &config.callback_caller_id) {
            Ok(number) => {
                tracing::info!(call_sid = self.call_sid, "dialling out from the keypad");
                let timeout = u32::try_from(config.ring_timeout.as_secs()).unwrap_or(20);
                twiml::Response::new().say(prompts::calling(&number)).dial(
                    Dial::new()
                        .caller_id(&config.callback_caller_id)
                        .timeout(timeout)
                        .number(number),
                )
            }
            Err(refused) => {
                tracing::info!(call_sid = self.call_sid, %refused, "keyed number refused");
                self.again(
                    |opening| ask_number(self.app, self.call_sid, self.attempt + 1, opening),
                    &prompts::number_refused(),
                )
            }
        }
    }
}

/// The PIN's `<Gather>`: digits until `#`.
pub fn ask_pin<S>(app: &App<S>, then: Guarded, attempt: u32, opening: &str) -> twiml::Response {
    let path = format!(
        "{}?then={}&attempt={attempt}",
        paths::INTAKE_VOICE_PIN,
        then.as_str()
    );
    keying(app, &path, opening, &prompts::ask_pin())
}

fn ask_number<S>(app: &App<S>, call_sid: &str, attempt: u32, opening: &str) -> twiml::Response {
    let path = format!(
        "{}?call={call_sid}&attempt={attempt}",
        paths::INTAKE_VOICE_DIAL
    );
    keying(app, &path, opening, &prompts::ask_number())
}

/// Digits until `#` or silence, after `opening` (if any); with nothing
/// keyed Twilio falls through to the `<Redirect>`, without `Digits`.
fn keying<S>(app: &App<S>, path_and_query: &str, opening: &str, question: &str) -> twiml::Response {
    let url = app.config.url(path_and_query);
    let mut gather = Gather::new()
        .input("dtmf")
        .finish_on_key("#")
        .timeout(KEYING_TIMEOUT_SECS)
        .action(&url)
        .method("POST");
    if !opening.is_empty() {
        gather = gather.say(opening);
    }
    twiml::Response::new()
        .gather(gather.say(question))
        .redirect_with_method(url, "POST")
}

fn say_and_hang_up(text: String) -> twiml::Response {
    twiml::Response::new().say(text).hangup()
}
