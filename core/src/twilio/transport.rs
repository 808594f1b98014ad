//! One Twilio REST exchange with retries, bounded by the caller's deadline.
//!
//! 429 (never processed, always safe to retry), 5xx and transport failures
//! are retried with jittered exponential backoff while the deadline allows;
//! a sleep that would end past the deadline is not taken. Other 4xx answers
//! are final and become [`TwilioError::Api`].

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::TwilioError;
use crate::deadline::Deadline;
use crate::metrics::{self, Metric};

/// Connection set-up limit: a healthy Twilio edge answers in well under this.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default ceiling of one attempt, so one stuck request cannot eat a long budget.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// First backoff step; doubled per retry up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// A non-JSON error body is quoted up to this many characters.
const RAW_ERROR_QUOTE: usize = 120;

/// Whether a request may be sent twice without a second effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Updates, reads: replaying after any failure is harmless.
    Safe,
    /// Creates (calls, messages, workers): replay only when Twilio cannot
    /// have acted on the first attempt (429, 5xx, connection not made), not
    /// after a timeout once the request was sent, which could place two calls.
    Unsure,
}

/// What to send: method, absolute URL (query included) and form pairs.
pub(super) struct Exchange<'a> {
    pub method: Method,
    pub url: String,
    pub form: &'a [(&'static str, String)],
    pub replay: Replay,
}

/// A failure worth another attempt, kept for the log.
enum Retryable {
    /// 429 or 5xx, with Twilio's `Retry-After` when it sent one.
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Transport(String),
}

impl super::TwilioClient {
    /// Sends `exchange` until a final answer or the deadline; the parsed JSON
    /// body of a 2xx answer (`Value::Null` when empty).
    pub(super) async fn exchange(
        &self,
        exchange: Exchange<'_>,
        deadline: Deadline,
    ) -> Result<Value, TwilioError> {
        let path = path_of(&exchange.url);
        let mut attempt: u32 = 0;
        loop {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(TwilioError::DeadlineExceeded);
            }
            attempt += 1;
            tracing::debug!(method = %exchange.method, path, attempt, "twilio request");
            let failure = match self.attempt(&exchange, remaining).await {
                Ok(body) => return Ok(body),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Retry(failure)) => failure,
                Err(Attempt::TimedOut) if deadline.is_past() => {
                    return Err(TwilioError::DeadlineExceeded);
                }
                Err(Attempt::TimedOut) if exchange.replay == Replay::Unsure => {
                    return Err(TwilioError::Transport(
                        "request timed out after it was sent; not replayed".into(),
                    ));
                }
                Err(Attempt::TimedOut) => Retryable::Transport("request timed out".into()),
            };
            let retry_after = match failure {
                Retryable::Status { retry_after, .. } => retry_after,
                Retryable::Transport(_) => None,
            };
            let pause = backoff(attempt, retry_after);
            if pause >= deadline.remaining() {
                match &failure {
                    Retryable::Status { status, .. } => tracing::warn!(
                        method = %exchange.method, path, attempt, status,
                        "twilio kept failing; no time left to retry"
                    ),
                    Retryable::Transport(error) => tracing::warn!(
                        method = %exchange.method, path, attempt, error,
                        "twilio unreachable; no time left to retry"
                    ),
                }
                return Err(TwilioError::DeadlineExceeded);
            }
            match &failure {
                Retryable::Status { status, .. } => tracing::warn!(
                    method = %exchange.method, path, attempt, status,
                    pause_ms = pause.as_millis() as u64, "twilio answered with a retryable status; retrying"
                ),
                Retryable::Transport(error) => tracing::warn!(
                    method = %exchange.method, path, attempt, error,
                    pause_ms = pause.as_millis() as u64, "twilio request failed; retrying"
                ),
            }
            tokio::time::sleep(pause).await;
        }
    }

    async fn attempt(
        &self,
        exchange: &Exchange<'_>,
        remaining: Duration,
    ) -> Result<Value, Attempt> {
        let mut request = self
            .http
            .request(exchange.method.clone(), &exchange.url)
            .basic_auth(&self.username, Some(self.password.expose()))
            .timeout(remaining.min(self.attempt_timeout));
        if exchange.method == Method::POST {
            request = request.form(exchange.form);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Err(transport_failure(error, exchange.replay)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            // Twilio has answered, so it acted: a create must not be replayed.
            Err(error) => return Err(transport_failure(error, exchange.replay)),
        };
        if status.is_success() {
            if body.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&body)
                .map_err(|e| Attempt::Final(TwilioError::Decode(e.to_string())));
        }
        let error = api_error(status, &body);
        metrics::emit(Metric::TwilioError {
            status: status.as_u16(),
            code: error.code().unwrap_or(0),
        });
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(Attempt::Retry(Retryable::Status {
                status: status.as_u16(),
                retry_after,
            }));
        }
        Err(Attempt::Final(error))
    }
}

enum Attempt {
    Final(TwilioError),
    Retry(Retryable),
    TimedOut,
}

fn transport_failure(error: reqwest::Error, replay: Replay) -> Attempt {
    if error.is_timeout() {
        return Attempt::TimedOut;
    }
    // The URL holds only SIDs; credentials travel in a header and never appear here.
    let message = error.to_string();
    if error.is_connect() || replay == Replay::Safe {
        Attempt::Retry(Retryable::Transport(message))
    } else {
        Attempt::Final(TwilioError::Transport(message))
    }
}

/// Full-jitter exponential backoff (half fixed, half random, so retries of
/// many callbacks spread out), at least Twilio's `Retry-After`.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let half = step / 2;
    let jitter = Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64));
    (half + jitter).max(retry_after.unwrap_or_default())
}

/// Twilio's error body (`{"code","message","more_info","status"}`) as a typed
/// error; anything else as code 0 with a short quote of the body.
pub(super) fn api_error(status: StatusCode, body: &[u8]) -> TwilioError {
    #[derive(serde::Deserialize)]
    struct Body {
        code: Option<u32>,
        message: Option<String>,
    }
    if let Ok(Body { code, message }) = serde_json::from_slice::<Body>(body)
        && (code.is_some() || message.is_some())
    {
        return TwilioError::Api {
            status: status.as_u16(),
            code: code.unwrap_or(0),
            message: message.unwrap_or_default(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let quote: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(RAW_ERROR_QUOTE)
        .collect();
    let reason = status.canonical_reason().unwrap_or("error");
    TwilioError::Api {
        status: status.as_u16(),
        code: 0,
        message: if quote.trim().is_empty() {
            format!("{reason} (no error body)")
        } else {
            format!("{reason}: {}", quote.trim())
        },
    }
}

/// The path of `url` for logs (no scheme, host or query).
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split_once('?').map_or(path, |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_error_body_is_typed() {
        let body = br#"{"code":20404,"message":"The requested resource was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}"#;
        match api_error(StatusCode::NOT_FOUND, body) {
            TwilioError::Api {
                status,
                code,
                message,
            } => {
                assert_eq!((status, code), (404, 20404));
                assert_eq!(message, "The requested resource was not found");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_json_error_body_is_quoted_briefly() {
        let body = format!("<html>{}</html>", "x".repeat(500));
        let error = api_error(StatusCode::BAD_GATEWAY, body.as_bytes());
        assert_eq!(error.status(), Some(502));
        assert_eq!(error.code(), Some(0));
        let TwilioError::Api { message, .. } = error else {
            panic!("not an API error");
        };
        assert!(message.starts_with("Bad Gateway: <html>"), "{message}");
        assert!(message.len() < 160, "{message}");
        let empty = api_error(StatusCode::SERVICE_UNAVAILABLE, b"");
        assert!(empty.to_string().contains("no error body"), "{empty}");
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        for _ in 0..50 {
            let first = backoff(1, None);
            assert!(
                first >= BACKOFF_BASE / 2 && first <= BACKOFF_BASE,
                "{first:?}"
            );
            let late = backoff(30, None);
            assert!(late >= BACKOFF_CAP / 2 && late <= BACKOFF_CAP, "{late:?}");
        }
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn log_path_drops_host_and_query() {
        assert_eq!(
            path_of("http://127.0.0.1:9/v1/Workspaces/WS1/Workers?FriendlyName=a"),
            "/v1/Workspaces/WS1/Workers"
        );
        assert_eq!(path_of("https://api.twilio.com"), "/");
    }
}
