//! The waiting caller. A caller nobody will take is sent to voicemail twice
//! over, so no single failure strands them: first the store learns it (the
//! wait URL's heartbeat reads that and answers `<Leave/>`), then the call is
//! redirected over REST, once per task. A redirect that fails inside the
//! budget is not left to a redelivery (Twilio documents none; docs/twilio.md,
//! "Event redelivery"): the next heartbeat repairs it. A caller who leaves
//! (pressed 2, or the last offer at `MAX_WAIT_SECS`) is marked the same way,
//! and [`has_left`] keeps the assignment callback from ringing a worker for
//! them while their task still routes.

use std::time::Duration;

use crate::app::App;
use crate::deadline::Deadline;
use crate::domain::inbound::{self, WaitOption, WaitStep};
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

/// Whether the caller of `call_sid` has left the queue or is leaving it
/// (pressed 2, had the last offer, or nobody will take them): no worker may
/// be rung for them. A store that cannot say reads as not leaving: ringing a
/// worker for a caller who left ends at the bridge, which fails (14215), while
/// refusing a caller who waits would strand them.
pub async fn has_left<S: Store>(app: &App<S>, call_sid: &str) -> bool {
    match (Marker::CallerLeaves { call_sid })
        .is_claimed(&app.store)
        .await
    {
        Ok(left) => left,
        Err(error) => {
            tracing::warn!(%error, call_sid, "state store unreadable; the caller counts as waiting");
            false
        }
    }
}

/// The caller of `call_sid` is out of the wait by `MAX_WAIT_SECS`: marked
/// before the last offer is answered, so no worker is rung for them once the
/// offer's `<Leave/>` has taken them out.
pub async fn last_offer<S: Store>(app: &App<S>, call_sid: &str) {
    if let Err(error) = (Marker::CallerLeaves { call_sid }).claim(&app.store).await {
        tracing::warn!(%error, call_sid, "last offer not marked; a worker may still be offered the caller");
    }
}

/// Whether the caller of `call_sid` pressed 1 while waiting (a store that
/// cannot say reads as no: the caller is offered voicemail instead).
pub async fn chose_callback<S: Store>(app: &App<S>, call_sid: &str) -> bool {
    (Marker::CallbackChosen { call_sid })
        .is_claimed(&app.store)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, call_sid, "state store unreadable; voicemail instead of the callback question");
            false
        })
}

/// How the caller who pressed a way out left the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitExit {
    /// Redirected over REST to the voicemail URL: the key's own answer no
    /// longer runs the call, whatever Twilio does with it.
    Redirected,
    /// The redirect failed: the key's answer must take them out (`<Leave/>`).
    Leave,
}

/// The caller of `call_sid` chose a way out of the wait for `mailbox`
/// (its skill): voicemail, or the callback question. First the marker (no
/// worker is rung for them from now on, and the nobody queue's later
/// redirect does not restart the message; for 1 also `CallbackChosen`, so
/// the Enqueue action asks the same question), then a REST redirect of the
/// call, once: Twilio does not document whether a wait `<Gather>`'s action
/// answers inside the queue, and a redirect takes the caller out either way
/// (docs/twilio.md, "Queue TwiML").
pub async fn choose<S: Store>(
    app: &App<S>,
    call_sid: &str,
    option: WaitOption,
    mailbox: &str,
    deadline: Deadline,
) -> WaitExit {
    if let Err(error) = (Marker::CallerLeaves { call_sid }).claim(&app.store).await {
        tracing::warn!(%error, call_sid, ?option, "way out not marked; a later redirect may restart it");
    }
    let url = match option {
        WaitOption::Voicemail => super::voicemail_url(&app.config, mailbox),
        WaitOption::Callback => {
            if let Err(error) = (Marker::CallbackChosen { call_sid })
                .claim(&app.store)
                .await
            {
                tracing::warn!(%error, call_sid, "callback choice not marked; the Enqueue action offers voicemail");
            }
            super::callback_url(&app.config, mailbox)
        }
    };
    let redirect = CallUpdate::Redirect(url);
    let marker = Marker::CallerRedirected { call_sid };
    let redirect_now = || async {
        app.twilio
            .update_call(call_sid, &redirect, bounded(deadline))
            .await
    };
    // Given back on a retryable failure only, so a second press may try again.
    let give_back =
        |error: &RedirectError| matches!(error, RedirectError::Twilio(e) if e.is_retryable());
    let redirected = at_most_once(&app.store, &marker, give_back, async {
        redirect_now().await.map_err(RedirectError::Twilio)
    })
    .await;
    let redirected = match redirected {
        Ok(Some(settled)) => Ok(settled),
        // A repeat of the same key: the first one redirected the call.
        Ok(None) => return WaitExit::Redirected,
        // Without the marker a redirect is still better than none: the caller
        // asked to leave, and a repeat is unlikely.
        Err(RedirectError::Store(error)) => {
            tracing::warn!(%error, call_sid, "redirect not marked; redirecting all the same");
            redirect_now().await
        }
        Err(RedirectError::Twilio(error)) => Err(error),
    };
    match redirected {
        Ok(settled) => {
            tracing::info!(
                call_sid,
                ?settled,
                ?option,
                mailbox,
                "caller left the wait: redirected"
            );
            WaitExit::Redirected
        }
        Err(error) => {
            tracing::warn!(%error, call_sid, ?option, "redirect failed; <Leave/> takes the caller out");
            WaitExit::Leave
        }
    }
}

/// At most [`REDIRECT_BUDGET`] of `deadline`.
fn bounded(deadline: Deadline) -> Deadline {
    Deadline::at(
        deadline
            .instant()
            .min(tokio::time::Instant::now() + REDIRECT_BUDGET),
    )
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
    let redirect_deadline = bounded(deadline);
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
