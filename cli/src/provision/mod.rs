//! `homeline provision`: creates or updates, idempotently, the TaskRouter
//! workspace, activities, queues and workflow and the numbers' webhooks, then
//! prints the SIDs for `sam deploy --parameter-overrides`.
//!
//! The provisioning itself is the `homeline-provision` crate, which the
//! stack's provisioner function runs too; no webhook function links it.

use std::io::Write;
use std::time::Duration;

use homeline_core::config::{
    MAX_WAIT_SECS_DEFAULT, MAX_WAIT_SECS_RANGE, STICKY_DAYS_DEFAULT, STICKY_DAYS_RANGE,
    STICKY_SECS_DEFAULT, STICKY_SECS_RANGE, parse_skills,
};
use homeline_core::deadline::Deadline;
use homeline_core::phone;
use homeline_provision::{Desired, ProvisionError, Provisioner};

use crate::{CliError, Env, twilio_credentials};

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
    /// Seconds a caller waits before voicemail (as MAX_WAIT_SECS of the
    /// stack): the workflow's skill-queue timeout is a backstop past it
    #[arg(long, env = "MAX_WAIT_SECS", default_value_t = MAX_WAIT_SECS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(
              i64::from(*MAX_WAIT_SECS_RANGE.start())..=i64::from(*MAX_WAIT_SECS_RANGE.end())))]
    max_wait: u32,
    /// Days a caller is offered first to the worker who last answered them
    /// (as STICKY_DAYS of the stack; 0: off)
    #[arg(long, env = "STICKY_DAYS", default_value_t = STICKY_DAYS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(
              i64::from(*STICKY_DAYS_RANGE.start())..=i64::from(*STICKY_DAYS_RANGE.end())))]
    sticky_days: u32,
    /// Seconds a returning caller is offered to their last worker before everyone
    #[arg(long, env = "STICKY_SECS", default_value_t = STICKY_SECS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(
              i64::from(*STICKY_SECS_RANGE.start())..=i64::from(*STICKY_SECS_RANGE.end())))]
    sticky_secs: u32,
    /// Gone: MAX_WAIT_SECS decides the wait (kept to say so, not to be used)
    #[arg(long, hide = true)]
    queue_timeout: Option<String>,
    /// The stack's static fallback answers (stack output FallbackBaseUrl):
    /// Twilio turns to them when Homeline's functions or table fail
    #[arg(long, env = "FALLBACK_URL")]
    fallback_url: Option<String>,
    /// Where the voice fallback forwards callers first (E.164; deploy the
    /// stack with the same FallbackNumber)
    #[arg(long, env = "FALLBACK_NUMBER", requires = "fallback_url")]
    fallback_number: Option<String>,
    /// Print what would be created or updated; only read from Twilio
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: Args, env: Env<'_>, out: &mut dyn Write) -> Result<(), CliError> {
    let credentials = twilio_credentials(env, WHY)?;
    let desired = desired(&args)?;
    let provisioner = Provisioner::new(&credentials, args.dry_run, Deadline::after(BUDGET));
    let outcome = provisioner
        .run(&desired)
        .await
        .map_err(|error| match error {
            ProvisionError::Twilio(e) => CliError::from(e),
            other => CliError::Invalid(other.to_string()),
        })?;
    if args.dry_run {
        writeln!(out, "Dry run: nothing was changed. Plan:")?;
    }
    for step in &outcome.steps {
        writeln!(out, "{step}")?;
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    if desired.fallback_url.is_none() {
        eprintln!(
            "warning: no --fallback-url: when Homeline fails, callers hear Twilio's error \
             instead of the stack's fallback answers"
        );
    }
    match &outcome.sids {
        Some(sids) => {
            writeln!(out, "Parameters for `sam deploy --parameter-overrides`:")?;
            let fallback = desired
                .fallback_number
                .as_ref()
                .map(|number| format!(" FallbackNumber={number}"))
                .unwrap_or_default();
            writeln!(
                out,
                "{}{fallback}",
                sids.parameter_overrides(&desired.skills)
            )?;
        }
        None => writeln!(
            out,
            "The SIDs are known once the resources exist: run without --dry-run."
        )?,
    }
    Ok(())
}

const WHY: &str = "provision creates the TaskRouter resources and sets the numbers' webhooks";

/// The desired state from the command line, or a message naming what is wrong.
fn desired(args: &Args) -> Result<Desired, CliError> {
    let number = |flag: &str, value: &str| {
        phone::normalize(value).map_err(|e| CliError::Invalid(format!("--{flag}: {e}")))
    };
    if args.queue_timeout.is_some() {
        return Err(CliError::Invalid(
            "--queue-timeout is gone: MAX_WAIT_SECS (or --max-wait) decides how long a caller \
             waits, and the workflow's timeout follows it"
                .into(),
        ));
    }
    let customer_number = number("customer-number", &args.customer_number)?;
    let worker_number = match &args.worker_number {
        Some(worker) => number("worker-number", worker)?,
        None => customer_number.clone(),
    };
    let workspace_name = homeline_provision::workspace_name(&args.workspace_name)
        .map_err(|e| CliError::Invalid(format!("--workspace-name {e}")))?;
    Ok(Desired {
        workspace_name,
        base_url: homeline_provision::base_url(&args.base_url)
            .map_err(|e| CliError::Invalid(format!("--base-url: {e}")))?,
        skills: parse_skills(&args.skills)
            .map_err(|e| CliError::Invalid(format!("--skills: {e}")))?,
        customer_number,
        worker_number,
        reservation_timeout_secs: Desired::reservation_timeout(args.ring_timeout, args.amd_timeout),
        max_wait_secs: args.max_wait,
        sticky_secs: homeline_provision::sticky_secs(args.sticky_days, args.sticky_secs),
        fallback_url: args
            .fallback_url
            .as_deref()
            .map(|url| {
                homeline_provision::base_url(url)
                    .map_err(|e| CliError::Invalid(format!("--fallback-url: {e}")))
            })
            .transpose()?,
        fallback_number: args
            .fallback_number
            .as_deref()
            .map(|n| number("fallback-number", n))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use clap::Parser;
    use homeline_core::routes::Function;

    use crate::{Cli, Command as CliCommand};

    /// `homeline provision` with its required flags and `extra`, parsed.
    fn parse(extra: &[&str]) -> Result<Cli, clap::Error> {
        let base = [
            "homeline",
            "provision",
            "--base-url",
            "https://h.example.com",
        ];
        let rest = ["--skills", "sales", "--customer-number", "+15550000001"];
        Cli::try_parse_from(base.iter().chain(&rest).chain(extra))
    }

    fn args(extra: &[&str]) -> super::Args {
        match parse(extra).expect("parses").command {
            CliCommand::Provision(args) => args,
            _ => unreachable!("provision"),
        }
    }

    #[test]
    fn the_wait_is_max_wait_secs_and_queue_timeout_is_refused() {
        let desired = super::desired(&args(&["--max-wait", "300"])).expect("valid");
        assert_eq!(desired.max_wait_secs, 300);
        let error = super::desired(&args(&["--queue-timeout", "120"])).expect_err("refused");
        assert!(error.to_string().contains("MAX_WAIT_SECS"), "{error}");
    }

    #[test]
    fn returning_callers_are_on_for_twenty_seconds_unless_sticky_days_is_zero() {
        let desired = |extra: &[&str]| super::desired(&args(extra)).expect("valid");
        assert_eq!(desired(&[]).sticky_secs, Some(20));
        assert_eq!(desired(&["--sticky-secs", "45"]).sticky_secs, Some(45));
        assert_eq!(desired(&["--sticky-days", "0"]).sticky_secs, None);
        let line = |flag: &str, value: &str| parse(&[flag, value]).map(|_| ());
        assert!(line("--sticky-days", "366").is_err());
        assert!(line("--sticky-secs", "4").is_err());
        assert!(line("--sticky-secs", "121").is_err());
    }

    /// Each function with the workspace's own crates (path dependencies) in
    /// its normal dependency graph, as `(package, directory)`.
    fn local_crates_linked() -> Vec<(Function, Vec<(String, PathBuf)>)> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut tree = Command::new(cargo);
        tree.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["tree", "--frozen", "-e", "normal", "--prefix", "none"])
            .args(["--format", "{p}"]);
        for function in Function::ALL {
            tree.args(["-p", function.binary()]);
        }
        let output = tree.output().expect("cargo tree runs");
        assert!(
            output.status.success(),
            "cargo tree: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // One tree per package, a blank line apart, each starting with its
        // root; a line is `name v0.1.0 (/path/to/crate)`, ` (*)` after a repeat.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let trees: Vec<Vec<&str>> = stdout
            .split("\n\n")
            .map(|tree| tree.lines().collect())
            .collect();
        Function::ALL
            .into_iter()
            .map(|function| {
                let tree = trees
                    .iter()
                    .find(|t| {
                        t.first().and_then(|l| l.split(' ').next()) == Some(function.binary())
                    })
                    .unwrap_or_else(|| panic!("no tree for {}: {stdout}", function.binary()));
                let local = tree
                    .iter()
                    .filter_map(|line| {
                        let (name, rest) = line.split_once(' ')?;
                        let dir = rest.split_once(" (/")?.1.split_once(')')?.0;
                        Some((name.to_string(), PathBuf::from(format!("/{dir}"))))
                    })
                    .collect();
                (function, local)
            })
            .collect()
    }

    /// Source files or directories under `dir` named for provisioning, and
    /// `mod provision...` declarations.
    fn provisioning_in(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if name.starts_with("provision") {
                found.push(path.display().to_string());
            }
            if path.is_dir() {
                found.extend(provisioning_in(&path));
            } else if name.ends_with(".rs") {
                let source = std::fs::read_to_string(&path).unwrap_or_default();
                found.extend(
                    source
                        .lines()
                        .map(str::trim)
                        .filter(|l| {
                            l.trim_start_matches("pub ")
                                .trim_start_matches("pub(crate) ")
                                .starts_with("mod provision")
                        })
                        .map(|l| format!("{}: {l}", path.display())),
                );
            }
        }
        found
    }

    /// Provisioning is for the operator and the provisioner function only:
    /// no webhook function may link this crate, the provisioning crate, nor
    /// any crate of the workspace with a provision module.
    #[test]
    fn no_lambda_function_links_provisioning() {
        for (function, linked) in local_crates_linked() {
            assert!(
                linked.iter().any(|(name, _)| name == "homeline-core"),
                "{}: the graph was not read: {linked:?}",
                function.binary()
            );
            for (name, dir) in &linked {
                assert_ne!(
                    name,
                    env!("CARGO_PKG_NAME"),
                    "{} links the operator's tool",
                    function.binary()
                );
                assert_ne!(
                    name,
                    "homeline-provision",
                    "{} links the provisioning crate",
                    function.binary()
                );
                let found = provisioning_in(&dir.join("src"));
                assert!(
                    found.is_empty(),
                    "{} links {name}, which holds provisioning: {found:?}",
                    function.binary()
                );
            }
        }
    }
}
