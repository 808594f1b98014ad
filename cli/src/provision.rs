//! `homeline provision`: creates or updates, idempotently, the TaskRouter
//! workspace, activities, queues and workflow and the numbers' webhooks, then
//! prints the SIDs for `sam deploy --parameter-overrides`.

use std::process::ExitCode;
use std::time::Duration;

use shared::config::{DEFAULT_API_URL, DEFAULT_TASKROUTER_URL, TwilioConfig, parse_skills};
use shared::deadline::Deadline;
use shared::phone;
use shared::twilio::provision::{Desired, Provisioner};

/// The whole run, retries included; a handful of requests take seconds.
const BUDGET: Duration = Duration::from_secs(120);

/// Create or update the Twilio side of Homeline (run after `sam deploy`, and
/// again whenever the base URL or the skills change; a second run changes
/// nothing).
///
/// Credentials come from the environment only, so they never sit in shell
/// history: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with
/// TWILIO_API_KEY and TWILIO_API_SECRET (recommended). TWILIO_API_URL and
/// TWILIO_TASKROUTER_URL override Twilio's addresses (tests).
///
/// With one number for customers and workers, its voice webhook goes to
/// /inbound (customers) and its SMS webhook to /intake/sms: workers then
/// switch on and off by text only. A separate worker number also gets the
/// voice menu at /intake/voice.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The deployed API's base URL (stack output), e.g. https://abc.execute-api.us-east-1.amazonaws.com
    #[arg(long, env = "PUBLIC_BASE_URL")]
    base_url: String,
    /// Skills in menu order, e.g. sales,support (one task queue each)
    #[arg(long, env = "SKILLS")]
    skills: String,
    /// The Twilio number customers call (the business line forwards to it)
    #[arg(long)]
    customer_number: String,
    /// The Twilio number workers text "on"/"off" (default: the customer number)
    #[arg(long)]
    worker_number: Option<String>,
    /// FriendlyName of the TaskRouter workspace and its workflow
    #[arg(long, default_value = "Homeline")]
    workspace_name: String,
    /// Seconds a worker's phone rings (as RING_TIMEOUT_SECS of the stack)
    #[arg(long, env = "RING_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(5..=60))]
    ring_timeout: u32,
    /// Seconds of answering machine detection (as AMD_TIMEOUT_SECS of the stack)
    #[arg(long, env = "AMD_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..=59))]
    amd_timeout: u32,
    /// Seconds a caller waits for a worker of the chosen skill before voicemail
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(10..=3600))]
    queue_timeout: u32,
    /// Print what would be created or updated; only read from Twilio
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: Args) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (credentials, desired) = match prepare(env, &args) {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("homeline provision: {message}");
            return ExitCode::from(2);
        }
    };
    let provisioner = Provisioner::new(&credentials, args.dry_run, Deadline::after(BUDGET));
    let outcome = match provisioner.run(&desired).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("homeline provision: {error}");
            return ExitCode::FAILURE;
        }
    };
    if args.dry_run {
        println!("Dry run: nothing was changed. Plan:");
    }
    for step in &outcome.steps {
        println!("{step}");
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    match &outcome.sids {
        Some(sids) => {
            println!("Parameters for `sam deploy --parameter-overrides`:");
            println!("{}", sids.parameter_overrides(&desired.skills));
        }
        None => println!("The SIDs are known once the resources exist: run without --dry-run."),
    }
    ExitCode::SUCCESS
}

/// Credentials and the desired state, or a message naming what is wrong.
fn prepare(
    env: impl Fn(&str) -> Option<String>,
    args: &Args,
) -> Result<(TwilioConfig, Desired), String> {
    let required = |name: &str| env(name).ok_or_else(|| format!("{name} is not set"));
    let account_sid = required("TWILIO_ACCOUNT_SID")?;
    if !account_sid.starts_with("AC") || account_sid.len() != 34 {
        return Err("TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits".into());
    }
    let api_key = match (env("TWILIO_API_KEY"), env("TWILIO_API_SECRET")) {
        (Some(key), Some(secret)) => Some((key, secret)),
        (None, None) => None,
        (Some(_), None) => return Err("TWILIO_API_SECRET is not set (TWILIO_API_KEY is)".into()),
        (None, Some(_)) => return Err("TWILIO_API_KEY is not set (TWILIO_API_SECRET is)".into()),
    };
    let auth_token = match (&api_key, env("TWILIO_AUTH_TOKEN")) {
        (_, Some(token)) => token,
        (Some(_), None) => String::new(),
        (None, None) => {
            return Err(
                "TWILIO_AUTH_TOKEN is not set (or set TWILIO_API_KEY and TWILIO_API_SECRET)".into(),
            );
        }
    };
    let base_url = |name: &str, default: &str| -> Result<String, String> {
        base(&env(name).unwrap_or_else(|| default.to_string()), name)
    };
    let credentials = TwilioConfig {
        account_sid,
        auth_token,
        api_key,
        api_url: base_url("TWILIO_API_URL", DEFAULT_API_URL)?,
        taskrouter_url: base_url("TWILIO_TASKROUTER_URL", DEFAULT_TASKROUTER_URL)?,
        // Provisioning creates these; it does not read them.
        workspace_sid: String::new(),
        workflow_sid: String::new(),
        caller_id: String::new(),
    };
    let number =
        |flag: &str, value: &str| phone::normalize(value).map_err(|e| format!("--{flag}: {e}"));
    let customer_number = number("customer-number", &args.customer_number)?;
    let worker_number = match &args.worker_number {
        Some(worker) => number("worker-number", worker)?,
        None => customer_number.clone(),
    };
    let desired = Desired {
        workspace_name: args.workspace_name.trim().to_string(),
        base_url: base(&args.base_url, "--base-url")?,
        skills: parse_skills(&args.skills).map_err(|e| format!("--skills: {e}"))?,
        customer_number,
        worker_number,
        reservation_timeout_secs: Desired::reservation_timeout(args.ring_timeout, args.amd_timeout),
        queue_timeout_secs: args.queue_timeout,
    };
    if desired.workspace_name.is_empty() || desired.workspace_name.chars().count() > 64 {
        return Err("--workspace-name must have 1 to 64 characters".into());
    }
    Ok((credentials, desired))
}

/// An http(s) base URL without a trailing slash.
fn base(url: &str, what: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(url.to_string()),
        _ => Err(format!(
            "{what}: {url:?} is not an http(s) URL such as https://abc.execute-api.us-east-1.amazonaws.com"
        )),
    }
}
