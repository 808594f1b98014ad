//! The waiting caller. A caller nobody will take is sent to voicemail twice
//! over, so no single failure strands them: first the store learns it (the
//! wait URL's heartbeat reads that and answers `<Leave/>`), then the call is
//! redirected over REST, once per task. A redirect that fails inside the
//! budget is not left to a redelivery (Twilio documents none; docs/twilio.md,
//! "Event redelivery"): the next heartbeat repairs it.

use std::time::Duration;

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::inbound::{self, WaitStep};
use crate::store::{Marker, Store, StoreError, at_most_once};
use crate::twilio::{CallUpdate, TwilioError};

/// At most this much of a callback's budget goes to the redirect, so what
/// follows it (the task's cancel) still has time when Twilio is slow.
const REDIRECT_BUDGET: Duration = Duration::from_secs(5);

/// What the wait URL answers for the caller of `call_sid`, who has waited
/// `queue_time` (Twilio's `QueueTime`) of `MAX_WAIT_SECS`.
pub async fn wait_step<S: Store>(
    app: &App<S>,
    call_sid: Option<&str>,
    queue_time: Option<&str>,
) -> WaitStep {
    let max_wait = app.config.max_wait.as_secs();
    let Some(call_sid) = call_sid else {
        return inbound::wait_step(None, queue_time, max_wait);
    };
    let known = match (Marker::CallerLeaves { call_sid })
        .is_claimed(&app.store)
        .await
    {
        Ok(leaves) => Some(leaves),
        Err(error) => {
            tracing::warn!(%error, call_sid, "state store unreadable; the caller holds on");
            None
        }
    };
    inbound::wait_step(known, queue_time, max_wait)
}

/// The caller of `call_sid` chose voicemail while waiting: the marker that
/// keeps [`send_to_voicemail`] from redirecting them once their task stops
/// routing. A store failure is logged; the caller leaves all the same.
pub async fn choose_voicemail<S: Store>(app: &App<S>, call_sid: &str) {
    if let Err(error) = (Marker::CallerLeaves { call_sid }).claim(&app.store).await {
        tracing::warn!(%error, call_sid, "choice of voicemail not marked; a later redirect may restart it");
    }
}

/// Why the redirect part of [`send_to_voicemail`] did not happen.
#[derive(Debug, thiserror::Error)]
enum RedirectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twilio(TwilioError),
}

/// Sends the caller of `task_sid` (call `call_sid`) to `mailbox`'s voicemail:
/// the heartbeat's marker, then the redirect, each once. `Ok` once the marker
/// is written, whatever became of the redirect.
pub async fn send_to_voicemail<S: Store>(
    app: &App<S>,
    task_sid: &str,
    call_sid: &str,
    mailbox: &str,
    deadline: Deadline,
) -> Result<(), StoreError> {
    // Lost: marked before (a repeated event, the other way to voicemail, or
    // the caller pressed 2 and is there already): a redirect now could
    // restart a voicemail under way, and the heartbeat repairs a caller the
    // first marker's redirect missed.
    let marked = (Marker::CallerLeaves { call_sid })
        .claim(&app.store)
        .await?;
    if !marked.applied() {
        tracing::info!(task_sid, call_sid, "caller already on the way to voicemail");
        return Ok(());
    }
    let redirect = CallUpdate::Redirect(super::voicemail_url(&app.config, mailbox));
    let marker = Marker::NobodyRedirected { task_sid };
    let redirect_deadline = Deadline::at(
        deadline
            .instant()
            .min(tokio::time::Instant::now() + REDIRECT_BUDGET),
    );
    // Never given back: a second redirect could restart a voicemail already
    // under way; a caller this redirect missed leaves at the next heartbeat.
    let redirected = at_most_once(&app.store, &marker, |_| false, async {
        app.twilio
            .update_call(call_sid, &redirect, redirect_deadline)
            .await
            .map_err(RedirectError::Twilio)
    })
    .await;
    match redirected {
        Ok(Some(settled)) => {
            tracing::info!(
                task_sid,
                call_sid,
                ?settled,
                mailbox,
                "caller sent to voicemail"
            );
        }
        Ok(None) => tracing::debug!(task_sid, call_sid, "caller already sent to voicemail"),
        Err(RedirectError::Store(error)) => return Err(error),
        Err(RedirectError::Twilio(error)) => tracing::warn!(
            %error,
            task_sid,
            call_sid,
            "redirect to voicemail failed; the wait URL's next fetch lets the caller leave"
        ),
    }
    Ok(())
}
