//! The one writer of follow-ups: [`open`] stores a new one and announces it;
//! [`apply`] reads one, lets [`follow_up::decide`] choose, and writes the
//! result with a conditional write (retried on contention); [`command`]
//! carries out a worker's `claim`, `done` and `missed`; [`ring_claimer`]
//! calls the claimer's phone from the business number.

use chrono::TimeZone as _;

use crate::app::App;
use crate::config::{AdminNotify, Config};
use crate::deadline::Deadline;
use crate::domain::follow_up::{
    self, Decision, FollowUpCommand, FollowUpEvent, Outcome, announce_to, texts,
};
use crate::domain::inbound::GENERAL_MAILBOX;
use crate::domain::zone::Zone;
use crate::model::{Activity, FollowUp, FollowUpReason, FollowUpState, WorkerProfile};
use crate::phone;
use crate::routes::paths;
use crate::service::worker::{self as workers, Texted};
use crate::store::{
    FollowUpStore, Marker, Round, Store, StoreError, at_most_once, now_secs, read_modify_write,
};
use crate::twilio::{NewCall, TwilioError};

/// Most follow-ups `missed` lists.
pub const LIST_MAX: usize = 5;

/// A new, open follow-up of the customer's call `call_sid` (the store gives
/// it its number).
pub fn new(
    call_sid: &str,
    caller: &str,
    skill: &str,
    reason: FollowUpReason,
    recording_url: Option<String>,
) -> FollowUp {
    FollowUp {
        call_sid: call_sid.to_string(),
        number: 0,
        caller: caller.to_string(),
        skill: skill.to_string(),
        reason,
        created_at: now_secs(),
        recording_url,
        transcript: None,
        state: FollowUpState::Open,
        owner: None,
        claims: 0,
        failed_calls: 0,
        version: 0,
    }
}

/// What [`open`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub follow_up: FollowUp,
    /// Announcements that failed (their claims were given back, so another
    /// try sends them and nothing else).
    pub failed: usize,
}

/// Stores the follow-up (a repeat finds the one stored), announces it once
/// per recipient while it is open, and texts the caller back when
/// `CALLER_TEXT_BACK` is set.
pub async fn open<S: Store>(
    app: &App<S>,
    new: &FollowUp,
    deadline: Deadline,
) -> Result<Opened, StoreError> {
    let follow_up = store(app, new).await?;
    // Claimed or done: somebody has it, and an announcement would only
    // draw claims that fail.
    let failed = if follow_up.state == FollowUpState::Open {
        announce(app, &follow_up, deadline).await
    } else {
        0
    };
    text_back(app, &follow_up, deadline).await;
    Ok(Opened { follow_up, failed })
}

/// [`open`] without the announcement, for a caller who hung up in voicemail
/// with no message: the message's callback may still be on its way, and it
/// would make this follow-up a voicemail. The scheduler's [`announce_late`]
/// announces it if it stays a missed call.
pub async fn open_quietly<S: Store>(
    app: &App<S>,
    new: &FollowUp,
    deadline: Deadline,
) -> Result<FollowUp, StoreError> {
    let follow_up = store(app, new).await?;
    text_back(app, &follow_up, deadline).await;
    Ok(follow_up)
}

/// Stores `new`, or finds the call's follow-up stored. A voicemail whose
/// call already has one without a message (the call's end was reported
/// first) attaches its recording to it.
async fn store<S: Store>(app: &App<S>, new: &FollowUp) -> Result<FollowUp, StoreError> {
    let stored = app.store.open_follow_up(new).await?;
    let follow_up = match &new.recording_url {
        Some(recording_url) if stored.recording_url.is_none() => {
            let event = FollowUpEvent::MessageLeft { recording_url };
            apply(&app.store, &stored.call_sid, &event)
                .await?
                .map_or(stored, |(follow_up, _)| follow_up)
        }
        _ => stored,
    };
    tracing::info!(
        call_sid = %follow_up.call_sid,
        number = follow_up.number,
        reason = follow_up.reason.as_str(),
        skill = %follow_up.skill,
        "follow-up open"
    );
    Ok(follow_up)
}

/// What one run of [`announce_late`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LateAnnouncements {
    /// Missed calls in their announcement window.
    pub due: usize,
    /// Announcements that failed; their claims were given back for the next run.
    pub failed: usize,
}

/// Announces the missed calls [`open_quietly`] stored, once the window of
/// [`follow_up::due_for_late_announcement`] says no message is coming; the
/// per-recipient claims make a repeated or overlapping run send nothing twice.
pub async fn announce_late<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<LateAnnouncements, StoreError> {
    let open = app.store.list_follow_ups().await?;
    let due = follow_up::due_for_late_announcement(&open, now);
    let mut run = LateAnnouncements {
        due: due.len(),
        ..LateAnnouncements::default()
    };
    for follow_up in due {
        run.failed += announce(app, follow_up, deadline).await;
    }
    Ok(run)
}

/// Who hears of `follow_up`: see [`announce_to`]. On duty is any activity
/// but offline.
pub fn recipients(config: &Config, follow_up: &FollowUp, workers: &[WorkerProfile]) -> Vec<String> {
    let workers: Vec<(&str, &[String], bool)> = workers
        .iter()
        .map(|w| {
            let on_duty = w.activity.is_some_and(|a| a != Activity::Offline);
            (w.phone.as_str(), w.skills.as_slice(), on_duty)
        })
        .collect();
    announce_to(
        &follow_up.skill,
        &workers,
        &config.admin_numbers,
        config.admin_notify == AdminNotify::All,
        GENERAL_MAILBOX,
    )
}

/// Announces `follow_up` to each recipient not told yet; the count that failed.
async fn announce<S: Store>(app: &App<S>, follow_up: &FollowUp, deadline: Deadline) -> usize {
    let workers = match app.store.list_workers().await {
        Ok(workers) => workers,
        Err(error) => {
            tracing::error!(%error, "workers not listed; announcing to the admins only");
            Vec::new()
        }
    };
    let text = texts::announcement(follow_up, &local_time(&app.config, follow_up.created_at));
    let mut failed = 0;
    for to in recipients(&app.config, follow_up, &workers) {
        let marker = Marker::FollowUpAnnounced {
            call_sid: &follow_up.call_sid,
            reason: follow_up.reason,
            to: &to,
        };
        let send = async {
            workers::text(app, &to, &text, deadline)
                .await
                .map_err(SendError::Twilio)
        };
        match at_most_once(&app.store, &marker, |_| true, send).await {
            Ok(Some(Texted::Sent(message_sid))) => {
                tracing::info!(to, message_sid, "follow-up announced");
            }
            Ok(Some(Texted::Blocked)) => tracing::info!(to, "follow-up not announced: SMS blocked"),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, to, "follow-up announcement failed");
                failed += 1;
            }
        }
    }
    failed
}

/// `CALLER_TEXT_BACK` to the caller, once per local day. A failure (a
/// landline, say) is logged and not tried again that day.
async fn text_back<S: Store>(app: &App<S>, follow_up: &FollowUp, deadline: Deadline) {
    let Some(body) = &app.config.caller_text_back else {
        return;
    };
    // A withheld or malformed caller ID has nobody to text.
    let Ok(caller) = phone::normalize(&follow_up.caller) else {
        return;
    };
    let day = local(&app.config, follow_up.created_at)
        .format("%Y-%m-%d")
        .to_string();
    let marker = Marker::TextedBack {
        caller: &caller,
        day: &day,
    };
    let send = async {
        app.twilio
            .send_sms(&app.config.twilio.caller_id, &caller, body, deadline)
            .await
            .map_err(SendError::Twilio)
    };
    match at_most_once(&app.store, &marker, |_| false, send).await {
        Ok(Some(message_sid)) => tracing::info!(message_sid, "caller texted back"),
        Ok(None) => tracing::info!("caller texted back already today"),
        Err(error) => tracing::warn!(%error, "caller not texted back"),
    }
}

/// Why a once-guarded SMS was not sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("once-marker not claimed or released: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(TwilioError),
}

/// Applies `event` to the follow-up of `call_sid`. `Ok(None)`: there is none.
pub async fn apply<S: FollowUpStore>(
    store: &S,
    call_sid: &str,
    event: &FollowUpEvent<'_>,
) -> Result<Option<(FollowUp, Decision)>, StoreError> {
    read_modify_write("follow-up", || async {
        let Some(current) = store.get_follow_up(call_sid).await? else {
            return Ok(Round::Done(None));
        };
        let decision = follow_up::decide(&current, event);
        let Some(next) = &decision.next else {
            return Ok(Round::Done(Some((current, decision))));
        };
        if store.put_follow_up(next).await?.applied() {
            let mut written = next.clone();
            written.version += 1;
            Ok(Round::Done(Some((written, decision))))
        } else {
            Ok(Round::Lost)
        }
    })
    .await
}

/// Carries out a worker's follow-up command; the reply.
pub async fn command<S: Store>(
    app: &App<S>,
    worker: &WorkerProfile,
    command: FollowUpCommand,
    deadline: Deadline,
) -> Result<String, StoreError> {
    let number = match command {
        FollowUpCommand::List => return list(app).await,
        FollowUpCommand::Claim(n) | FollowUpCommand::Done(n) => n,
    };
    let Some(found) = app.store.follow_up_numbered(number).await? else {
        return Ok(texts::unknown(number));
    };
    let by = worker.phone.as_str();
    let event = match command {
        FollowUpCommand::Claim(_) => FollowUpEvent::Claim { by },
        _ => FollowUpEvent::Close { by },
    };
    let Some((follow_up, decision)) = apply(&app.store, &found.call_sid, &event).await? else {
        return Ok(texts::unknown(number));
    };
    tracing::info!(call_sid = %follow_up.call_sid, number, by, outcome = ?decision.outcome, "follow-up command");
    Ok(match decision.outcome {
        Outcome::Claimed => match ring_claimer(app, &follow_up, deadline).await {
            Ok(call_sid) => {
                tracing::info!(call_sid, "claimer's phone called");
                texts::claimed(&follow_up)
            }
            Err(error) => {
                tracing::error!(%error, call_sid = %follow_up.call_sid, "claimer's phone not called");
                let missed = FollowUpEvent::ClaimerMissed {
                    claim: follow_up.claims,
                };
                apply(&app.store, &follow_up.call_sid, &missed).await?;
                texts::not_rung(number)
            }
        },
        Outcome::HeldBy(owner) => {
            let name = match app.store.get_worker(&owner).await? {
                Some(profile) => profile.name,
                None => owner,
            };
            texts::held_by(number, &name)
        }
        Outcome::AlreadyDone => texts::already_done(number),
        Outcome::Closed => texts::closed(number),
        // Claimed again by the claimer: their phone is ringing already.
        _ => texts::ringing_you(number),
    })
}

/// The keypad's call back: claims the follow-up of `call_sid` for `by` and
/// connects them at once (they are on the line already: no ring). The
/// follow-up to dial, or the outcome that kept it from them (someone else
/// holds it, it is done).
pub async fn take<S: FollowUpStore>(
    store: &S,
    call_sid: &str,
    by: &str,
) -> Result<Result<FollowUp, Outcome>, StoreError> {
    let Some((claimed, decision)) = apply(store, call_sid, &FollowUpEvent::Claim { by }).await?
    else {
        return Ok(Err(Outcome::Stale));
    };
    if decision.outcome != Outcome::Claimed {
        return Ok(Err(decision.outcome));
    }
    let connect = FollowUpEvent::Connect {
        claim: claimed.claims,
    };
    Ok(match apply(store, call_sid, &connect).await? {
        Some((calling, decision)) if decision.outcome == Outcome::Connecting => Ok(calling),
        Some((_, decision)) => Err(decision.outcome),
        None => Err(Outcome::Stale),
    })
}

/// The oldest open follow-up: what the keypad's call back offers.
pub async fn oldest_open<S: FollowUpStore>(store: &S) -> Result<Option<FollowUp>, StoreError> {
    Ok(store
        .list_follow_ups()
        .await?
        .into_iter()
        .find(|f| f.state == FollowUpState::Open))
}

/// The newest open follow-up with a recording: what the keypad plays.
pub async fn newest_voicemail<S: FollowUpStore>(store: &S) -> Result<Option<FollowUp>, StoreError> {
    Ok(store
        .list_follow_ups()
        .await?
        .into_iter()
        .rev()
        .find(|f| f.state == FollowUpState::Open && f.recording_url.is_some()))
}

/// `missed`: the open follow-ups, oldest first.
async fn list<S: Store>(app: &App<S>) -> Result<String, StoreError> {
    let open: Vec<(FollowUp, String)> = app
        .store
        .list_follow_ups()
        .await?
        .into_iter()
        .map(|f| {
            let at = local(&app.config, f.created_at)
                .format("%a %H:%M")
                .to_string();
            (f, at)
        })
        .collect();
    Ok(texts::list(&open, LIST_MAX))
}

/// Calls the claimer (the follow-up's owner) from the business number; the
/// answer URL whispers who to call back. Returns the call SID.
pub async fn ring_claimer<S: Store>(
    app: &App<S>,
    follow_up: &FollowUp,
    deadline: Deadline,
) -> Result<String, TwilioError> {
    let config = &app.config;
    let to = follow_up.owner.clone().unwrap_or_default();
    let call = NewCall {
        to,
        from: config.twilio.caller_id.clone(),
        url: config.url(&call_back_path(paths::CALL_BACK, follow_up)),
        status_callback: config.url(&call_back_path(paths::CALL_BACK_STATUS, follow_up)),
        status_callback_events: vec!["completed"],
        timeout_secs: u32::try_from(config.ring_timeout.as_secs()).unwrap_or(20),
        machine_detection: None,
        call_token: None,
    };
    app.twilio.create_call(&call, deadline).await
}

/// `path` with the follow-up's call SID and claim ordinal: every step of
/// one call back carries them, so a late step of an earlier ring is stale.
pub fn call_back_path(path: &str, follow_up: &FollowUp) -> String {
    let query = serde_urlencoded::to_string([
        ("call", follow_up.call_sid.as_str()),
        ("claim", &follow_up.claims.to_string()),
    ])
    .unwrap_or_default();
    format!("{path}?{query}")
}

/// `at` (Unix seconds) in the business's time zone.
fn local(config: &Config, at: i64) -> chrono::DateTime<Zone> {
    config.time_zone.from_utc_datetime(
        &chrono::DateTime::from_timestamp(at, 0)
            .unwrap_or_default()
            .naive_utc(),
    )
}

/// `14:05`, in the business's time zone.
pub fn local_time(config: &Config, at: i64) -> String {
    local(config, at).format("%H:%M").to_string()
}

/// What one escalation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Escalation {
    /// Follow-ups past `FOLLOW_UP_ESCALATE_MINS` with nobody on them.
    pub due: usize,
    /// SMS sent in this run (an earlier run's are not sent again).
    pub sent: usize,
    /// SMS that failed; their claims were given back for the next run.
    pub failed: usize,
    /// Stopped before the deadline with follow-ups left for the next run.
    pub cut_short: bool,
}

/// Time an escalation SMS may need; a run stops when less is left.
pub(crate) const SMS_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Escalates every follow-up nobody claimed within `FOLLOW_UP_ESCALATE_MINS`
/// of `now` (Unix seconds) to each admin, once per follow-up and admin: a
/// run that overlaps or repeats another sends nothing twice.
pub async fn escalate<S: Store>(
    app: &App<S>,
    now: i64,
    deadline: Deadline,
) -> Result<Escalation, StoreError> {
    let config = &app.config;
    let open = app.store.list_follow_ups().await?;
    let after = i64::try_from(config.escalate_after.as_secs()).unwrap_or(i64::MAX);
    let due = follow_up::due_for_escalation(&open, now, after);
    let mut run = Escalation {
        due: due.len(),
        ..Escalation::default()
    };
    if !due.is_empty() && config.admin_numbers.is_empty() {
        tracing::warn!(
            due = due.len(),
            "follow-ups unclaimed and no ADMIN_NUMBERS to escalate to"
        );
        return Ok(run);
    }
    for follow_up in due {
        let minutes = (now - follow_up.created_at) / 60;
        let text = texts::escalation(
            follow_up,
            &local_time(config, follow_up.created_at),
            minutes,
        );
        for to in &config.admin_numbers {
            if deadline.remaining() < SMS_TIME {
                run.cut_short = true;
                return Ok(run);
            }
            let marker = Marker::FollowUpEscalated {
                call_sid: &follow_up.call_sid,
                to,
            };
            let send = async {
                workers::text(app, to, &text, deadline)
                    .await
                    .map_err(SendError::Twilio)
            };
            match at_most_once(&app.store, &marker, |_| true, send).await {
                Ok(Some(_)) => {
                    tracing::info!(call_sid = %follow_up.call_sid, to, "follow-up escalated");
                    run.sent += 1;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(call_sid = %follow_up.call_sid, to, %error, "escalation failed");
                    run.failed += 1;
                }
            }
        }
    }
    Ok(run)
}
