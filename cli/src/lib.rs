//! `homeline`: the operator's tool. Manages the roster of workers (only
//! enrolled phones may go online) and the blocklist in the same DynamoDB
//! table the functions use, lists the voicemails callers left there,
//! reports the calls of the last days from their records, and creates that
//! table.
//!
//! It reads only what it needs from the environment: `TABLE_NAME` and the
//! standard AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB` for
//! DynamoDB Local); `workers remove` also needs Twilio's, to set the
//! TaskRouter worker Offline. `provision` (module [`provision`]) creates or
//! updates the Twilio side and needs only Twilio's credentials.

pub mod provision;

use std::io::Write;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use homeline_core::Deadline;
use homeline_core::config::{TwilioConfig, parse_skills};
use homeline_core::domain::report::{self, DaySummary};
use homeline_core::domain::worker::OFF_DUTY;
use homeline_core::domain::zone::Zone;
use homeline_core::model::Activity;
use homeline_core::model::WorkerProfile;
use homeline_core::model::{Duty, DutyUntil};
use homeline_core::phone;
use homeline_core::service::call_record;
use homeline_core::service::{self, worker_update};
use homeline_core::store::{
    BlocklistStore, CallRecordStore, FollowUpStore, StoreError, VoicemailStore, WorkerStore,
};
use homeline_core::twilio::{TwilioClient, TwilioError};

#[derive(Debug, Parser)]
#[command(
    name = "homeline",
    version,
    about = "Homeline operator tool: the workers who take calls from home, voicemails, TaskRouter set-up",
    long_about = "Homeline operator tool: manage the roster of workers who may take the \
                  business's calls on their own phones, list the voicemails callers left, \
                  and set up the Twilio side.\n\n\
                  Environment: TABLE_NAME (the DynamoDB table), the standard AWS variables \
                  (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local), \
                  SKILLS (optional: skills are checked against it), TIME_ZONE (optional: \
                  `voicemails` and `blocked` show times and `report` days in it, else UTC), and for `workers remove` \
                  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN (or TWILIO_API_KEY + TWILIO_API_SECRET), \
                  TWILIO_WORKSPACE_SID, TWILIO_ACTIVITY_OFFLINE_SID. `provision` sets up the \
                  Twilio side and needs only the Twilio credentials (see `homeline provision --help`)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll, remove and list workers.
    #[command(subcommand)]
    Workers(WorkersCommand),
    /// List the voicemails callers left, newest first (Twilio's recording URL
    /// plays with the account's credentials).
    Voicemails(VoicemailsArgs),
    #[command(flatten)]
    Blocklist(BlocklistCommand),
    /// Calls per day and per worker over the last days (times in TIME_ZONE, else UTC).
    Report(ReportArgs),
    /// Manage the DynamoDB table.
    #[command(subcommand)]
    Table(TableCommand),
    /// Create or update the TaskRouter workspace, queues, workflow and number webhooks.
    Provision(provision::Args),
}

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// Enroll a worker: their phone may then text `on <skill>` or call in to go online.
    Add(AddArgs),
    /// Remove a worker from the roster; their TaskRouter worker is set Offline first.
    Remove {
        /// The worker's phone, e.g. +15551234567 (spaces, dashes and parentheses are fine).
        phone: String,
    },
    /// List enrolled workers: name, phone, skills, activity, TaskRouter worker SID, call counts.
    List,
}

/// The blocklist: calls from a blocked number get `<Reject>` and never ring
/// a worker. Admins manage the same list by SMS (`block`, `unblock`, `blocked`).
#[derive(Debug, Subcommand)]
pub enum BlocklistCommand {
    /// Block a number: its calls are rejected unanswered.
    Block {
        /// The number, e.g. +15551234567 (spaces, dashes and parentheses are fine).
        number: String,
    },
    /// Unblock a number: its calls ring through again.
    Unblock {
        /// The number, e.g. +15551234567.
        number: String,
    },
    /// List the blocked numbers, who blocked each and when.
    Blocked,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The worker's phone, e.g. +15551234567 (spaces, dashes and parentheses are fine).
    pub phone: String,
    /// The name the voice menu greets them with.
    #[arg(long)]
    pub name: String,
    /// Skills they take calls for, comma-separated, e.g. sales,support (checked against SKILLS when set).
    #[arg(long)]
    pub skills: String,
}

#[derive(Debug, Args)]
pub struct VoicemailsArgs {
    /// How many to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How far back, in days ending today: `7d` is today and the six days before (call records are kept 90 days).
    #[arg(long, default_value = "7d", value_parser = parse_since)]
    pub since: u32,
}

/// `7d` → 7; one to 90 days.
fn parse_since(input: &str) -> Result<u32, String> {
    input
        .strip_suffix('d')
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=90).contains(n))
        .ok_or_else(|| format!("{input:?} is not a number of days from 1d to 90d, e.g. 7d"))
}

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create the table named by TABLE_NAME (keys pk/sk, on-demand, TTL on expires_at). Safe to repeat.
    Create,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// A required environment variable is not set.
    MissingVar {
        var: &'static str,
        why: &'static str,
    },
    /// Bad input on the command line or in the environment.
    Invalid(String),
    Store(String),
    Twilio(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::MissingVar { var, why } => {
                write!(f, "environment variable {var} is not set: {why}")
            }
            CliError::Invalid(message) => f.write_str(message),
            CliError::Store(message) => write!(f, "DynamoDB: {message}"),
            CliError::Twilio(message) => write!(f, "Twilio: {message}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e.to_string())
    }
}

impl From<TwilioError> for CliError {
    fn from(e: TwilioError) -> Self {
        CliError::Twilio(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Invalid(format!("cannot write the output: {e}"))
    }
}

/// Where the tool reads its environment from (tests pass a map).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn required(env: Env<'_>, name: &'static str, why: &'static str) -> Result<String, CliError> {
    var(env, name).ok_or(CliError::MissingVar { var: name, why })
}

/// `TABLE_NAME`, the table every command works on.
pub fn table_name(env: Env<'_>) -> Result<String, CliError> {
    required(
        env,
        "TABLE_NAME",
        "name the DynamoDB table Homeline uses, e.g. TABLE_NAME=homeline",
    )
}

/// What `workers remove` needs to set a TaskRouter worker Offline.
struct TaskRouterAccess {
    client: TwilioClient,
    offline_activity_sid: String,
}

fn taskrouter_access(env: Env<'_>) -> Result<TaskRouterAccess, CliError> {
    const WHY: &str = "workers remove sets the worker's TaskRouter worker Offline and needs \
                       Twilio credentials";
    let credentials = twilio_credentials(env, WHY)?;
    let config = TwilioConfig {
        workspace_sid: required(env, "TWILIO_WORKSPACE_SID", WHY)?,
        ..credentials
    };
    Ok(TaskRouterAccess {
        client: TwilioClient::new(&config),
        offline_activity_sid: required(env, "TWILIO_ACTIVITY_OFFLINE_SID", WHY)?,
    })
}

/// Twilio's account, REST credentials and base URLs from the environment;
/// `why` says which command needs them. Workspace, workflow and caller ID are
/// left empty for the caller to fill in if it uses them.
fn twilio_credentials(env: Env<'_>, why: &'static str) -> Result<TwilioConfig, CliError> {
    homeline_provision::credentials(&|name| var(env, name))
        .map_err(|var| CliError::MissingVar { var, why })
}

/// How long `workers remove` waits for Twilio (retries included).
const TWILIO_BUDGET: Duration = Duration::from_secs(20);

/// Runs a `workers` command against `store`, writing its report to `out`.
pub async fn run_workers<S: WorkerStore>(
    command: WorkersCommand,
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        WorkersCommand::Add(args) => add(args, store, env, out).await,
        WorkersCommand::Remove { phone } => remove(&phone, store, env, out).await,
        WorkersCommand::List => list(store, env, out).await,
    }
}

fn normalize(input: &str) -> Result<String, CliError> {
    phone::normalize(input).map_err(|e| CliError::Invalid(e.to_string()))
}

/// The skills asked for, checked against `SKILLS` when it is set (the
/// functions only route those), else only for their form.
fn enrolled_skills(asked: &str, env: Env<'_>) -> Result<Vec<String>, CliError> {
    let skills = parse_skills(asked).map_err(|e| CliError::Invalid(format!("--skills: {e}")))?;
    if let Some(configured) = var(env, "SKILLS") {
        let configured = parse_skills(&configured)
            .map_err(|e| CliError::Invalid(format!("environment variable SKILLS: {e}")))?;
        let unknown: Vec<&str> = skills
            .iter()
            .filter(|s| !configured.contains(s))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(CliError::Invalid(format!(
                "--skills: {} not in SKILLS ({})",
                unknown.join(", "),
                configured.join(",")
            )));
        }
    }
    Ok(skills)
}

async fn add<S: WorkerStore>(
    args: AddArgs,
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let phone = normalize(&args.phone)?;
    let name = args.name.trim();
    if name.is_empty() {
        return Err(CliError::Invalid("--name must not be empty".into()));
    }
    let skills = enrolled_skills(&args.skills, env)?;
    let profile = WorkerProfile::new(&phone, name, skills);
    if !service::worker::enroll(store, &profile).await?.applied() {
        return Err(CliError::Invalid(format!(
            "{phone} is already enrolled; `homeline workers remove {phone}` first to re-enroll"
        )));
    }
    writeln!(
        out,
        "Enrolled {name} ({phone}) for {}. They can now text `on` to the Homeline number.",
        profile.skills.join(", ")
    )?;
    Ok(())
}

async fn remove<S: WorkerStore>(
    input: &str,
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let phone = normalize(input)?;
    let Some(profile) = store.get_worker(&phone).await? else {
        return Err(CliError::Invalid(format!("{phone} is not enrolled")));
    };
    // TaskRouter first: if Twilio fails, the roster entry stays and the
    // command can be repeated, instead of leaving an Available worker behind.
    if let Some(worker_sid) = &profile.worker_sid {
        let access = taskrouter_access(env)?;
        let update = worker_update(OFF_DUTY, &access.offline_activity_sid);
        match access
            .client
            .update_worker(worker_sid, &update, Deadline::after(TWILIO_BUDGET))
            .await
        {
            Ok(_) => writeln!(out, "TaskRouter worker {worker_sid} set Offline.")?,
            Err(e) if e.status() == Some(404) => {
                writeln!(out, "TaskRouter worker {worker_sid} no longer exists.")?
            }
            Err(e) => return Err(e.into()),
        }
    }
    store.remove_worker(&phone).await?;
    writeln!(out, "Removed {} ({phone}) from the roster.", profile.name)?;
    Ok(())
}

async fn list<S: WorkerStore>(
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let zone = time_zone(env)?;
    let workers = store.list_workers().await?;
    if workers.is_empty() {
        writeln!(
            out,
            "No workers enrolled. Add one with `homeline workers add`."
        )?;
        return Ok(());
    }
    let header = [
        "NAME",
        "PHONE",
        "SKILLS",
        "ACTIVITY",
        "COOLDOWN",
        "UNTIL",
        "WORKER SID",
        "ANSWERED",
        "MISSED",
        "PIN",
        "SMS",
    ];
    let now = homeline_core::store::now_secs();
    let rows: Vec<[String; 11]> = workers
        .iter()
        .map(|w| {
            [
                w.name.clone(),
                w.phone.clone(),
                w.skills.join(","),
                w.activity.map_or("-", Activity::as_str).to_string(),
                // Out of rotation after a miss until then; the scheduler ends it.
                match w.cooldown_until {
                    Some(until) if now < until => format!("until {}", clock(until, zone, "%H:%M")),
                    _ => "-".to_string(),
                },
                // What the worker asked for by SMS (`on … until`, `off until`);
                // the scheduler carries it out.
                match w.duty_until {
                    Some(DutyUntil { at, then }) => {
                        let what = match then {
                            Duty::On => "on",
                            Duty::Off => "off",
                        };
                        format!("{what} {}", clock(at, zone, "%a %H:%M"))
                    }
                    None => "-".to_string(),
                },
                w.worker_sid.clone().unwrap_or_else(|| "-".into()),
                w.answered_total.to_string(),
                w.missed_total.to_string(),
                // Locked: five wrong PINs on the keypad; a new PIN by SMS lifts it.
                match (&w.pin, w.pin_locked_until) {
                    (_, Some(until)) if now < until => "locked",
                    (Some(_), _) => "set",
                    (None, _) => "-",
                }
                .to_string(),
                // Texted STOP: Twilio delivers nothing until START.
                if w.sms_blocked { "blocked" } else { "ok" }.to_string(),
            ]
        })
        .collect();
    write_table(out, &header, &rows)
}

/// Columns padded to their widest cell, two spaces apart.
fn write_table<const N: usize>(
    out: &mut dyn Write,
    header: &[&str; N],
    rows: &[[String; N]],
) -> Result<(), CliError> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.map(String::from);
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

/// Runs `voicemails`: the newest `limit` voicemails, times in `TIME_ZONE`
/// (the business's, as for its hours) or UTC.
pub async fn run_voicemails<S: VoicemailStore>(
    args: VoicemailsArgs,
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let zone = time_zone(env)?;
    let voicemails = store.list_voicemails(usize::from(args.limit)).await?;
    if voicemails.is_empty() {
        writeln!(out, "No voicemails.")?;
        return Ok(());
    }
    let header = ["RECEIVED", "FROM", "SKILL", "LENGTH", "RECORDING"];
    let rows: Vec<[String; 5]> = voicemails
        .iter()
        .map(|v| {
            [
                local_time(v.received_at, zone),
                v.caller.clone(),
                v.skill.clone(),
                format!("{}:{:02}", v.duration_secs / 60, v.duration_secs % 60),
                v.recording_url.clone(),
            ]
        })
        .collect();
    write_table(out, &header, &rows)
}

/// `TIME_ZONE` (the business's, as for its hours), else UTC.
fn time_zone(env: Env<'_>) -> Result<Zone, CliError> {
    match var(env, "TIME_ZONE") {
        None => Ok(Zone::UTC),
        Some(name) => name.parse().map_err(|_| {
            CliError::Invalid(format!(
                "environment variable TIME_ZONE: {name:?} is not a time zone (e.g. America/New_York)"
            ))
        }),
    }
}

/// Runs `report`: a row per local day up to the day of `now` (Unix
/// seconds), then a row per worker over those days, named from the roster.
pub async fn run_report<S: CallRecordStore + FollowUpStore + WorkerStore>(
    args: ReportArgs,
    store: &S,
    env: Env<'_>,
    now: i64,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let zone = time_zone(env)?;
    let mut days: Vec<(String, DaySummary)> = Vec::new();
    for day in call_record::days_until(zone, now, args.since) {
        let summary = call_record::summary(store, &day).await?;
        days.push((day, summary));
    }
    let header = [
        "DAY",
        "CALLS",
        "ANSWERED",
        "VOICEMAIL",
        "ABANDONED",
        "AFTER HOURS",
        "MEDIAN ANSWER",
        "P95 ANSWER",
    ];
    let rows: Vec<[String; 8]> = days
        .iter()
        .map(|(day, s)| {
            [
                day.clone(),
                s.calls.to_string(),
                s.answered.to_string(),
                s.voicemails.to_string(),
                s.abandoned.to_string(),
                s.after_hours.to_string(),
                report::duration(s.median_answer_secs),
                report::duration(s.p95_answer_secs),
            ]
        })
        .collect();
    write_table(out, &header, &rows)?;

    let summaries: Vec<DaySummary> = days.into_iter().map(|(_, s)| s).collect();
    let workers = report::workers_over(&summaries);
    writeln!(out)?;
    if workers.is_empty() {
        writeln!(out, "No worker answered, missed or called back a call.")?;
        return Ok(());
    }
    let roster = store.list_workers().await?;
    let name = |phone: &str| {
        roster
            .iter()
            .find(|w| w.phone == phone)
            .map_or_else(|| "-".to_string(), |w| w.name.clone())
    };
    let header = ["WORKER", "PHONE", "ANSWERED", "MISSED", "CALLBACKS"];
    let rows: Vec<[String; 5]> = workers
        .iter()
        .map(|w| {
            [
                name(&w.phone),
                w.phone.clone(),
                w.answered.to_string(),
                w.missed.to_string(),
                w.callbacks.to_string(),
            ]
        })
        .collect();
    write_table(out, &header, &rows)
}

/// Unix seconds as `2026-12-03 09:15 EST` in `zone`.
fn local_time(secs: i64, zone: Zone) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |at| {
            at.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

/// Unix seconds in `zone` as `format` gives it (`%H:%M` for a cooldown,
/// which ends within the hour; `%a %H:%M` for an until, maybe tomorrow's).
fn clock(secs: i64, zone: Zone, format: &str) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |at| at.with_timezone(&zone).format(format).to_string(),
    )
}

/// Who the blocklist names for numbers the operator blocked.
const OPERATOR: &str = "cli";

/// Runs `block`, `unblock` or `blocked` against `store`.
pub async fn run_blocklist<S: BlocklistStore>(
    command: BlocklistCommand,
    store: &S,
    env: Env<'_>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match command {
        BlocklistCommand::Block { number } => {
            let number = normalize(&number)?;
            if service::blocklist::block(store, &number, OPERATOR)
                .await?
                .applied()
            {
                writeln!(out, "Blocked {number}: its calls are rejected unanswered.")?;
            } else {
                writeln!(out, "{number} was already blocked.")?;
            }
        }
        BlocklistCommand::Unblock { number } => {
            let number = normalize(&number)?;
            if service::blocklist::unblock(store, &number).await? {
                writeln!(out, "Unblocked {number}: its calls ring through again.")?;
            } else {
                writeln!(out, "{number} was not blocked.")?;
            }
        }
        BlocklistCommand::Blocked => {
            let zone = time_zone(env)?;
            let blocked = store.list_blocked().await?;
            if blocked.is_empty() {
                writeln!(out, "No numbers are blocked.")?;
                return Ok(());
            }
            let rows: Vec<[String; 3]> = blocked
                .iter()
                .map(|b| {
                    [
                        b.number.clone(),
                        b.blocked_by.clone(),
                        local_time(b.blocked_at, zone),
                    ]
                })
                .collect();
            write_table(out, &["NUMBER", "BLOCKED BY", "SINCE"], &rows)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
