//! `provisioner`: the stack's custom resource (template.yaml `Provisioning`),
//! which creates or updates Homeline's Twilio side in the deploy and gives
//! the numbers back on stack deletion. The protocol and the work are
//! [`homeline_provision::custom_resource`]; this is its Lambda wiring.
//!
//! Init never fails: a setup error (a missing variable, an unreadable
//! secret) is kept and every request is answered `FAILED` with it, since an
//! unanswered request leaves the stack waiting for an hour.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use homeline_core::Deadline;
use homeline_core::aws::AwsEnv;
use homeline_core::secrets::{self, SECRET_ARN_VAR, TwilioSecret};
use homeline_provision::custom_resource::{self, Request, Setup};
use homeline_provision::takeover::Takeovers;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// Time kept back from the function's own deadline to PUT the answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(10);

/// The Lambda loop: logging, setup from the environment, then each request
/// answered at its `ResponseURL`.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    homeline_core::telemetry::init();
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let setup = setup(&env).await;
    if let Err(why) = &setup {
        tracing::error!(%why, "provisioner set-up failed; every request is answered FAILED");
    }
    let http = homeline_core::https::client();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (setup, http) = (&setup, &http);
        async move {
            let deadline = deadline_before(event.context.deadline);
            handle(
                event.payload,
                setup.as_ref().map_err(String::as_str),
                deadline,
                http,
            )
            .await
        }
    }))
    .await
}

/// Setup from `env`: the Twilio credentials (the secret named by
/// `TWILIO_SECRET_ARN` for the token and API secret) and the table of
/// taken-over numbers (`TABLE_NAME`).
pub async fn setup(env: &dyn Fn(&str) -> Option<String>) -> Result<Setup, String> {
    let table = env("TABLE_NAME").ok_or("TABLE_NAME is not set")?;
    let credentials = match env(SECRET_ARN_VAR) {
        Some(arn) => {
            let secret =
                TwilioSecret::read(&secrets::client_from_env(AwsEnv::Standard).await, &arn)
                    .await
                    .map_err(|e| e.to_string())?;
            let lookup = secret.over(env);
            homeline_provision::credentials(&|name| lookup(name).filter(|v| !v.is_empty()))
        }
        None => homeline_provision::credentials(env),
    }
    .map_err(|var| format!("{var} is not set"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(homeline_core::https::sdk_http_client())
        .load()
        .await;
    Ok(Setup {
        credentials,
        takeovers: Takeovers::new(aws_sdk_dynamodb::Client::new(&sdk), table),
    })
}

/// Answers one CloudFormation request and PUTs the answer; an event that is
/// not a request (no `ResponseURL` to answer at) is an error of the invocation.
pub async fn handle(
    event: Value,
    setup: Result<&Setup, &str>,
    deadline: Deadline,
    http: &reqwest::Client,
) -> Result<(), lambda_runtime::Error> {
    let request: Request = serde_json::from_value(event)
        .map_err(|e| format!("not a CloudFormation custom resource request: {e}"))?;
    tracing::info!(request_type = ?request.request_type, request_id = %request.request_id, "custom resource request");
    let response = custom_resource::answer(&request, setup, deadline).await;
    custom_resource::send(http, &request.response_url, &response).await?;
    tracing::info!(status = ?response.status, "custom resource answered");
    Ok(())
}

/// `ANSWER_MARGIN` before the invocation's deadline (milliseconds since the epoch).
fn deadline_before(deadline_ms: u64) -> Deadline {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Deadline::after(left.saturating_sub(ANSWER_MARGIN))
}
