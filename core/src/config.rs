//! Typed configuration, read once at init from the environment.
//!
//! A missing or malformed variable fails start-up with an error naming it, so
//! a bad deploy shows up in the first cold start's log, not in a caller's ear.

use std::time::Duration;

use crate::domain::hours::BusinessHours;
use crate::domain::screening::AnonymousCallers;
use crate::domain::zone::Zone;
use crate::model::{AnswerMode, WorkerCallerId};
use crate::phone;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
    /// The secret `TWILIO_SECRET_ARN` names could not be used.
    #[error("secret {arn} (TWILIO_SECRET_ARN) could not be read: {reason}")]
    Secret { arn: String, reason: String },
}

/// `Debug` shows SIDs and URLs; the token and the key secret print as `[redacted]`.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Checks `X-Twilio-Signature`; also the REST password when no API key is set.
    pub auth_token: Secret,
    /// `(key SID, secret)` for REST, recommended over the auth token.
    pub api_key: Option<(String, Secret)>,
    pub api_url: String,
    pub taskrouter_url: String,
    pub workspace_sid: String,
    pub workflow_sid: String,
    /// The Twilio number that rings workers and sends their SMS.
    pub caller_id: String,
}

impl TwilioConfig {
    /// HTTP Basic credentials for the REST API.
    pub fn rest_credentials(&self) -> (&str, &Secret) {
        match &self.api_key {
            Some((key, secret)) => (key, secret),
            None => (&self.account_sid, &self.auth_token),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Activities {
    pub available: String,
    pub offline: String,
    pub unavailable: String,
}

/// Which announcements `ADMIN_NUMBERS` get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminNotify {
    /// Every announcement the workers get, and every escalation.
    All,
    /// Only escalations (and the digest).
    Escalations,
}

/// `MAX_WAIT_SECS` unset: the functions and `homeline provision` (the
/// workflow's backstop) read the same default.
pub const MAX_WAIT_SECS_DEFAULT: u32 = 180;
/// `MAX_WAIT_SECS`'s allowed range, for the same readers.
pub const MAX_WAIT_SECS_RANGE: std::ops::RangeInclusive<u32> = 30..=3600;

/// `STICKY_DAYS` unset: a caller who spoke with a worker in the last 30
/// days is offered to that worker first. 0 turns returning callers off.
pub const STICKY_DAYS_DEFAULT: u32 = 30;
/// `STICKY_DAYS`'s allowed range, for the functions and `homeline provision`.
pub const STICKY_DAYS_RANGE: std::ops::RangeInclusive<u32> = 0..=365;
/// `STICKY_SECS` unset: how long the workflow offers a returning caller to
/// their last worker before everyone (read by `homeline provision` only).
pub const STICKY_SECS_DEFAULT: u32 = 20;
/// `STICKY_SECS`'s allowed range.
pub const STICKY_SECS_RANGE: std::ops::RangeInclusive<u32> = 5..=120;

#[derive(Debug, Clone)]
pub struct Config {
    pub twilio: TwilioConfig,
    pub activities: Activities,
    pub no_worker_queue_sid: String,
    /// Skills in menu order (digit 1 is the first).
    pub skills: Vec<String>,
    pub table_name: String,
    /// Base of every signed URL, no trailing slash.
    pub public_base_url: String,

    pub ring_timeout: Duration,
    pub amd_timeout: Duration,
    pub answer_mode: AnswerMode,
    /// How long the whisper's `<Gather>` waits for the worker's key.
    pub press1_timeout: Duration,
    /// `COVERAGE_ALERT_MINS`: during business hours a skill nobody covers is
    /// texted to `ADMIN_NUMBERS` once per this many minutes; 0: never.
    pub coverage_alert_mins: u32,
    /// `CALLBACK_RETRY_MINS`: a caller the first callback did not reach is
    /// tried once more this long after.
    pub callback_retry: Duration,
    /// `MISS_COOLDOWN_SECS`: how long a first miss keeps a worker out of
    /// rotation; each further consecutive miss doubles it.
    pub miss_cooldown: Duration,
    /// `MISSES_BEFORE_OFFLINE`: consecutive misses that take a worker off
    /// duty until they text `on`.
    pub misses_before_offline: u32,

    pub business_name: String,
    pub greeting: String,
    pub hold_music_url: String,
    pub voicemail_max_length: Duration,
    /// `ADMIN_NUMBERS`: the business's owners and managers, texted about
    /// voicemails and follow-ups (and, later, escalations and the digest).
    pub admin_numbers: Vec<String>,
    /// `ADMIN_NOTIFY`: whether admins get every announcement or only escalations.
    pub admin_notify: AdminNotify,
    /// `ABANDON_SECS`: a caller who hangs up after waiting this long in the
    /// queue is owed a call back (a follow-up).
    pub abandon_after: Duration,
    /// `MAX_WAIT_SECS`: how long a caller waits in the queue before they are
    /// offered voicemail once more and then taken there; the one setting of
    /// the wait (`homeline provision` sizes the workflow's timeout from it).
    pub max_wait: Duration,
    /// `STICKY_DAYS`: a caller whose call a worker answered this many days
    /// ago or less is offered to that worker first; 0: never.
    pub sticky_days: u32,
    /// `FOLLOW_UP_ESCALATE_MINS`: a follow-up nobody claimed this long after
    /// it opened is escalated to `ADMIN_NUMBERS`, once.
    pub escalate_after: Duration,
    /// `CALLER_TEXT_BACK`: texted once a day to a caller who left a voicemail
    /// or hung up in the queue; `None`: off.
    pub caller_text_back: Option<String>,
    /// `TIME_ZONE`: the business's, for business hours and the times in texts.
    pub time_zone: Zone,
    /// `CALLBACK_CALLER_ID`: the number a customer sees when a worker calls
    /// them back (defaults to `TWILIO_CALLER_ID`; it may be the business's
    /// main number once verified in Twilio as an outgoing caller ID).
    pub callback_caller_id: String,
    /// Replaces Homeline's voicemail with the business's own TwiML.
    pub no_answer_twiml_url: Option<String>,
    pub business_hours: Option<BusinessHours>,
    /// `OFF_AT_CLOSE`: with `BUSINESS_HOURS`, the scheduler takes everyone
    /// still on duty off at closing time (and puts nobody back on while
    /// the line is closed).
    pub off_at_close: bool,
    /// `ANONYMOUS_CALLERS`: what a call with a withheld caller ID gets.
    pub anonymous_callers: AnonymousCallers,
    /// `WORKER_CALLER_ID`: whether a worker's phone shows the business's
    /// number or the customer's.
    pub worker_caller_id: WorkerCallerId,
    /// `DIGEST_TIME`: when the daily digest goes to `ADMIN_NUMBERS`
    /// (minutes after local midnight); `None`: when business hours end.
    pub digest_time: Option<u32>,
}

pub const DEFAULT_API_URL: &str = "https://api.twilio.com";
pub const DEFAULT_TASKROUTER_URL: &str = "https://taskrouter.twilio.com";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&get);
        let account_sid = vars.sid("TWILIO_ACCOUNT_SID", "AC")?;
        let api_key = match (
            vars.optional("TWILIO_API_KEY"),
            vars.optional("TWILIO_API_SECRET"),
        ) {
            (Some(key), Some(secret)) => {
                check_sid("TWILIO_API_KEY", &key, "SK")?;
                Some((key, Secret::new(secret)))
            }
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("TWILIO_API_SECRET")),
            (None, Some(_)) => return Err(ConfigError::Missing("TWILIO_API_KEY")),
        };
        let twilio = TwilioConfig {
            account_sid,
            auth_token: Secret::new(vars.required("TWILIO_AUTH_TOKEN")?),
            api_key,
            api_url: vars.url("TWILIO_API_URL", DEFAULT_API_URL)?,
            taskrouter_url: vars.url("TWILIO_TASKROUTER_URL", DEFAULT_TASKROUTER_URL)?,
            workspace_sid: vars.sid("TWILIO_WORKSPACE_SID", "WS")?,
            workflow_sid: vars.sid("TWILIO_WORKFLOW_SID", "WW")?,
            caller_id: vars.phone("TWILIO_CALLER_ID")?,
        };
        let activities = Activities {
            available: vars.sid("TWILIO_ACTIVITY_AVAILABLE_SID", "WA")?,
            offline: vars.sid("TWILIO_ACTIVITY_OFFLINE_SID", "WA")?,
            unavailable: vars.sid("TWILIO_ACTIVITY_UNAVAILABLE_SID", "WA")?,
        };
        let skills =
            parse_skills(&vars.required("SKILLS")?).map_err(|reason| ConfigError::Invalid {
                var: "SKILLS",
                reason,
            })?;
        let public_base_url = vars.url("PUBLIC_BASE_URL", "")?;
        if public_base_url.is_empty() {
            return Err(ConfigError::Missing("PUBLIC_BASE_URL"));
        }
        let answer_mode = match vars.optional("ANSWER_MODE").as_deref() {
            None | Some("hybrid") => AnswerMode::Hybrid,
            Some("sync") => AnswerMode::Sync,
            Some("screen") => AnswerMode::Screen,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "ANSWER_MODE",
                    reason: format!("{other:?} is not one of hybrid, sync, screen"),
                });
            }
        };
        let admin_numbers = match vars.optional("ADMIN_NUMBERS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    phone::normalize(n).map_err(|e| ConfigError::Invalid {
                        var: "ADMIN_NUMBERS",
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        // The stack's own clip unless the business has its own: its length
        // bounds the wait URL's heartbeat (hold_music.rs).
        let hold_music_url = vars.url(
            "HOLD_MUSIC_URL",
            &format!("{public_base_url}{}", crate::routes::paths::HOLD_MUSIC),
        )?;
        let zone = vars.optional("TIME_ZONE").unwrap_or_else(|| "UTC".into());
        let time_zone = zone.parse().map_err(|_| ConfigError::Invalid {
            var: "TIME_ZONE",
            reason: format!("{zone:?} is not an IANA time zone"),
        })?;
        let business_hours =
            match vars.optional("BUSINESS_HOURS") {
                None => None,
                Some(spec) => Some(BusinessHours::parse(&spec, &zone).map_err(|reason| {
                    ConfigError::Invalid {
                        var: "BUSINESS_HOURS",
                        reason,
                    }
                })?),
            };
        Ok(Self {
            twilio,
            activities,
            no_worker_queue_sid: vars.sid("NO_WORKER_QUEUE_SID", "WQ")?,
            skills,
            table_name: vars.required("TABLE_NAME")?,
            public_base_url,
            ring_timeout: vars.seconds("RING_TIMEOUT_SECS", 20, 5..=60)?,
            amd_timeout: vars.seconds("AMD_TIMEOUT_SECS", 5, 3..=59)?,
            answer_mode,
            press1_timeout: vars.seconds("PRESS1_TIMEOUT_SECS", 8, 2..=20)?,
            miss_cooldown: vars.seconds("MISS_COOLDOWN_SECS", 120, 1..=3600)?,
            coverage_alert_mins: match vars.number("COVERAGE_ALERT_MINS", 30, 0..=1440)? {
                // Under five minutes an owner would be texted all day long.
                1..5 => {
                    return Err(ConfigError::Invalid {
                        var: "COVERAGE_ALERT_MINS",
                        reason: "must be 0 (off) or 5-1440".into(),
                    });
                }
                mins => mins,
            },
            callback_retry: Duration::from_secs(
                60 * u64::from(vars.number("CALLBACK_RETRY_MINS", 10, 1..=1440)?),
            ),
            misses_before_offline: misses_before_offline(&vars)?,
            business_name: vars
                .optional("BUSINESS_NAME")
                .unwrap_or_else(|| "Homeline".into()),
            greeting: vars
                .optional("GREETING")
                .unwrap_or_else(|| "Thank you for calling.".into()),
            hold_music_url,
            voicemail_max_length: vars.seconds("VOICEMAIL_MAX_SECS", 120, 10..=3600)?,
            admin_numbers,
            admin_notify: match vars.optional("ADMIN_NOTIFY").as_deref() {
                None | Some("all") => AdminNotify::All,
                Some("escalations") => AdminNotify::Escalations,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        var: "ADMIN_NOTIFY",
                        reason: format!("{other:?} is not one of all, escalations"),
                    });
                }
            },
            callback_caller_id: match vars.optional("CALLBACK_CALLER_ID") {
                Some(_) => vars.phone("CALLBACK_CALLER_ID")?,
                None => vars.phone("TWILIO_CALLER_ID")?,
            },
            abandon_after: vars.seconds("ABANDON_SECS", 10, 0..=600)?,
            max_wait: vars.seconds("MAX_WAIT_SECS", MAX_WAIT_SECS_DEFAULT, MAX_WAIT_SECS_RANGE)?,
            sticky_days: vars.number("STICKY_DAYS", STICKY_DAYS_DEFAULT, STICKY_DAYS_RANGE)?,
            escalate_after: vars
                .number("FOLLOW_UP_ESCALATE_MINS", 30, 1..=1440)
                .map(|m| Duration::from_secs(60 * u64::from(m)))?,
            caller_text_back: vars.optional("CALLER_TEXT_BACK"),
            time_zone,
            no_answer_twiml_url: match vars.optional("NO_ANSWER_TWIML_URL") {
                Some(_) => Some(vars.url("NO_ANSWER_TWIML_URL", "")?),
                None => None,
            },
            business_hours,
            off_at_close: vars.flag("OFF_AT_CLOSE", true)?,
            anonymous_callers: vars.parsed(
                "ANONYMOUS_CALLERS",
                AnonymousCallers::DEFAULT,
                AnonymousCallers::parse,
            )?,
            worker_caller_id: vars.parsed(
                "WORKER_CALLER_ID",
                WorkerCallerId::default(),
                WorkerCallerId::parse,
            )?,
            digest_time: match vars.optional("DIGEST_TIME") {
                None => None,
                Some(at) => Some(crate::domain::hours::parse_time_of_day(&at).map_err(
                    |reason| ConfigError::Invalid {
                        var: "DIGEST_TIME",
                        reason: format!("{reason}, local to TIME_ZONE"),
                    },
                )?),
            },
        })
    }

    /// `PUBLIC_BASE_URL` + `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.public_base_url, path_and_query)
    }

    /// The skill a menu digit selects (`1` is the first skill).
    pub fn skill_for_digit(&self, digit: &str) -> Option<&str> {
        let n: usize = digit.trim().parse().ok()?;
        self.skills.get(n.checked_sub(1)?).map(String::as_str)
    }

    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s == skill)
    }
}

/// Skills are lower-case words (`[a-z0-9_]`), unique, at least one. No
/// hyphens: TaskRouter expressions such as `skills HAS 'x-y'` mis-handle them.
pub fn parse_skills(list: &str) -> Result<Vec<String>, String> {
    let mut skills: Vec<String> = Vec::new();
    for raw in list.split(',') {
        let skill = raw.trim().to_ascii_lowercase();
        if skill.is_empty() {
            continue;
        }
        if !skill.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "skill {skill:?} may only use letters, digits and _"
            ));
        }
        if skills.contains(&skill) {
            return Err(format!("skill {skill:?} is listed twice"));
        }
        skills.push(skill);
    }
    if skills.is_empty() {
        return Err("at least one skill is needed, e.g. sales,support".into());
    }
    Ok(skills)
}

fn check_sid(var: &'static str, value: &str, prefix: &str) -> Result<(), ConfigError> {
    let ok = value.len() == 34
        && value.starts_with(prefix)
        && value[2..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var,
            reason: format!("expected a {prefix}... SID of 34 characters"),
        })
    }
}

/// `MISSES_BEFORE_OFFLINE`, or the deprecated `MISSES_BEFORE_UNAVAILABLE` it
/// replaced (its "out until `on`" is what Offline is now), or 3.
fn misses_before_offline(vars: &Vars<'_>) -> Result<u32, ConfigError> {
    const RANGE: std::ops::RangeInclusive<u32> = 1..=100;
    if vars.optional("MISSES_BEFORE_OFFLINE").is_none()
        && vars.optional("MISSES_BEFORE_UNAVAILABLE").is_some()
    {
        return vars.number("MISSES_BEFORE_UNAVAILABLE", 3, RANGE);
    }
    vars.number("MISSES_BEFORE_OFFLINE", 3, RANGE)
}

struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn sid(&self, name: &'static str, prefix: &str) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        check_sid(name, &value, prefix)?;
        Ok(value)
    }

    /// A value `parse` reads (its error is the reason); `default` when unset.
    fn parsed<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => {
                parse(&value).map_err(|reason| ConfigError::Invalid { var: name, reason })
            }
        }
    }

    fn phone(&self, name: &'static str) -> Result<String, ConfigError> {
        phone::normalize(&self.required(name)?).map_err(|e| ConfigError::Invalid {
            var: name,
            reason: e.to_string(),
        })
    }

    /// An http(s) URL without a trailing slash; `default` when unset.
    fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default.to_string());
        };
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                var: name,
                reason: "must start with https:// or http://".into(),
            });
        }
        Ok(value.trim_end_matches('/').to_string())
    }

    fn number(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        match value.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::Invalid {
                var: name,
                reason: format!(
                    "{value:?} is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            }),
        }
    }

    /// `true` or `false` (any case); `default` when unset.
    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                var: name,
                reason: format!("{other:?} is not true or false"),
            }),
        }
    }

    fn seconds(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, range)
            .map(|s| Duration::from_secs(u64::from(s)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A complete, valid environment with fake SIDs and the test token.
    pub fn test_env() -> HashMap<&'static str, String> {
        let sid = |p: &str, n: u8| format!("{p}{}", format!("{n:x}").repeat(32));
        HashMap::from([
            ("TWILIO_ACCOUNT_SID", sid("AC", 1)),
            ("TWILIO_AUTH_TOKEN", "12345".to_string()),
            ("TWILIO_WORKSPACE_SID", sid("WS", 2)),
            ("TWILIO_WORKFLOW_SID", sid("WW", 3)),
            ("TWILIO_ACTIVITY_AVAILABLE_SID", sid("WA", 4)),
            ("TWILIO_ACTIVITY_OFFLINE_SID", sid("WA", 5)),
            ("TWILIO_ACTIVITY_UNAVAILABLE_SID", sid("WA", 6)),
            ("NO_WORKER_QUEUE_SID", sid("WQ", 7)),
            ("TWILIO_CALLER_ID", "+15005550006".to_string()),
            ("SKILLS", "sales, Support".to_string()),
            ("TABLE_NAME", "homeline".to_string()),
            (
                "PUBLIC_BASE_URL",
                "https://example.execute-api.us-east-1.amazonaws.com/".to_string(),
            ),
        ])
    }

    fn load(env: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn valid_environment_parses_with_defaults() {
        let config = load(&test_env()).expect("valid");
        assert_eq!(config.skills, vec!["sales", "support"]);
        assert_eq!(
            config.public_base_url,
            "https://example.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(config.ring_timeout, Duration::from_secs(20));
        assert_eq!(config.answer_mode, AnswerMode::Hybrid);
        assert_eq!(config.twilio.api_url, DEFAULT_API_URL);
        assert_eq!(config.twilio.rest_credentials().1.expose(), "12345");
        assert_eq!(config.skill_for_digit("2"), Some("support"));
        assert_eq!(config.skill_for_digit("0"), None);
        assert_eq!(config.skill_for_digit("3"), None);
    }

    #[test]
    fn missing_variable_is_named() {
        for var in [
            "TWILIO_AUTH_TOKEN",
            "SKILLS",
            "TABLE_NAME",
            "PUBLIC_BASE_URL",
            "NO_WORKER_QUEUE_SID",
        ] {
            let mut env = test_env();
            env.remove(var);
            let err = load(&env).expect_err(var);
            assert_eq!(err, ConfigError::Missing(var));
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn malformed_variables_are_named() {
        let cases = [
            ("TWILIO_WORKSPACE_SID", "WS123"),
            (
                "TWILIO_ACTIVITY_OFFLINE_SID",
                "WQ44444444444444444444444444444444",
            ),
            ("RING_TIMEOUT_SECS", "600"),
            ("ANSWER_MODE", "loud"),
            ("TWILIO_CALLER_ID", "call me"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("SKILLS", "sales,sales"),
            ("SKILLS", "after-hours"),
            ("ABANDON_SECS", "ten"),
            ("MAX_WAIT_SECS", "29"),
            ("MAX_WAIT_SECS", "3601"),
            ("FOLLOW_UP_ESCALATE_MINS", "0"),
            ("TIME_ZONE", "Mars/Olympus"),
            ("ADMIN_NUMBERS", "+15550000001,owner"),
            ("ADMIN_NOTIFY", "never"),
            ("CALLBACK_CALLER_ID", "main line"),
            ("ANONYMOUS_CALLERS", "block"),
            ("WORKER_CALLER_ID", "customer"),
            ("COVERAGE_ALERT_MINS", "4"),
            ("COVERAGE_ALERT_MINS", "1441"),
            ("CALLBACK_RETRY_MINS", "0"),
            ("CALLBACK_RETRY_MINS", "1441"),
            ("CALLBACK_RETRY_MINS", "soon"),
            ("MISS_COOLDOWN_SECS", "0"),
            ("MISS_COOLDOWN_SECS", "3601"),
            ("MISSES_BEFORE_OFFLINE", "0"),
            ("MISSES_BEFORE_UNAVAILABLE", "many"),
            ("STICKY_DAYS", "366"),
            ("STICKY_DAYS", "-1"),
        ];
        for (var, value) in cases {
            let mut env = test_env();
            env.insert(var, value.to_string());
            match load(&env) {
                Err(ConfigError::Invalid { var: named, .. }) => assert_eq!(named, var),
                other => panic!("{var}={value}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_missed_callback_is_tried_again_after_ten_minutes() {
        let mut env = test_env();
        assert_eq!(
            load(&env).expect("valid").callback_retry,
            Duration::from_secs(600)
        );
        env.insert("CALLBACK_RETRY_MINS", "3".into());
        assert_eq!(
            load(&env).expect("valid").callback_retry,
            Duration::from_secs(180)
        );
    }

    #[test]
    fn misses_cool_down_for_two_minutes_and_the_third_takes_the_worker_off() {
        let mut env = test_env();
        let config = load(&env).expect("valid");
        assert_eq!(config.miss_cooldown, Duration::from_secs(120));
        assert_eq!(config.coverage_alert_mins, 30);
        assert_eq!(config.misses_before_offline, 3);
        // The deprecated name still counts, unless the new one is set.
        env.insert("MISSES_BEFORE_UNAVAILABLE", "2".into());
        assert_eq!(load(&env).expect("valid").misses_before_offline, 2);
        env.insert("MISSES_BEFORE_OFFLINE", "5".into());
        env.insert("MISS_COOLDOWN_SECS", "60".into());
        let config = load(&env).expect("valid");
        assert_eq!(config.misses_before_offline, 5);
        assert_eq!(config.miss_cooldown, Duration::from_secs(60));
    }

    #[test]
    fn returning_callers_are_remembered_for_thirty_days_unless_sticky_days_is_zero() {
        let mut env = test_env();
        assert_eq!(load(&env).expect("valid").sticky_days, 30);
        env.insert("STICKY_DAYS", "0".into());
        assert_eq!(load(&env).expect("valid").sticky_days, 0);
        env.insert("STICKY_DAYS", "365".into());
        assert_eq!(load(&env).expect("valid").sticky_days, 365);
        env.insert("STICKY_DAYS", "400".into());
        let error = load(&env).expect_err("out of range").to_string();
        assert!(
            error.contains("STICKY_DAYS") && error.contains("from 0 to 365"),
            "{error}"
        );
    }

    #[test]
    fn off_at_close_defaults_to_true_and_reads_true_or_false() {
        let mut env = test_env();
        assert!(load(&env).expect("valid").off_at_close);
        env.insert("OFF_AT_CLOSE", "False".into());
        assert!(!load(&env).expect("valid").off_at_close);
        env.insert("OFF_AT_CLOSE", "true".into());
        assert!(load(&env).expect("valid").off_at_close);
        env.insert("OFF_AT_CLOSE", "no".into());
        let error = load(&env).expect_err("not a flag").to_string();
        assert!(
            error.contains("OFF_AT_CLOSE") && error.contains("true or false"),
            "{error}"
        );
    }

    #[test]
    fn anonymous_callers_default_to_voicemail() {
        let mut env = test_env();
        let config = load(&env).expect("valid");
        assert_eq!(config.anonymous_callers, AnonymousCallers::Voicemail);
        env.insert("ANONYMOUS_CALLERS", "reject".into());
        let config = load(&env).expect("valid");
        assert_eq!(config.anonymous_callers, AnonymousCallers::Reject);
        env.insert("ANONYMOUS_CALLERS", "maybe".into());
        let error = load(&env).expect_err("invalid").to_string();
        assert!(
            error.contains("ANONYMOUS_CALLERS") && error.contains("allow, voicemail, reject"),
            "{error}"
        );
    }

    #[test]
    fn workers_see_the_business_unless_worker_caller_id_is_caller() {
        // A value it cannot read is in `malformed_variables_are_named`.
        let mut env = test_env();
        let shown = |env: &HashMap<_, _>| load(env).expect("valid").worker_caller_id;
        assert_eq!(shown(&env), WorkerCallerId::Business);
        env.insert("WORKER_CALLER_ID", " Caller ".into());
        assert_eq!(shown(&env), WorkerCallerId::Caller);
    }

    #[test]
    fn callback_caller_id_defaults_to_the_twilio_number() {
        let mut env = test_env();
        let config = load(&env).expect("valid");
        assert_eq!(config.callback_caller_id, config.twilio.caller_id);
        assert_eq!(config.admin_notify, AdminNotify::All);
        env.insert("CALLBACK_CALLER_ID", "+1 (555) 000-0009".into());
        env.insert("ADMIN_NUMBERS", "+15550000001, +15550000002".into());
        env.insert("ADMIN_NOTIFY", "escalations".into());
        let config = load(&env).expect("valid");
        assert_eq!(config.callback_caller_id, "+15550000009");
        assert_eq!(config.admin_numbers, ["+15550000001", "+15550000002"]);
        assert_eq!(config.admin_notify, AdminNotify::Escalations);
    }

    #[test]
    fn follow_up_settings_default_to_ten_seconds_no_text_back_and_utc() {
        let mut env = test_env();
        let config = load(&env).expect("valid");
        assert_eq!(config.abandon_after, Duration::from_secs(10));
        assert_eq!(config.max_wait, Duration::from_secs(180));
        assert_eq!(config.escalate_after, Duration::from_secs(30 * 60));
        assert_eq!(config.caller_text_back, None);
        assert_eq!(config.time_zone, Zone::UTC);
        env.insert("ABANDON_SECS", "25".into());
        env.insert("MAX_WAIT_SECS", "300".into());
        env.insert("FOLLOW_UP_ESCALATE_MINS", "45".into());
        env.insert(
            "CALLER_TEXT_BACK",
            "Sorry we missed you; we will call you back.".into(),
        );
        env.insert("TIME_ZONE", "America/Chicago".into());
        let config = load(&env).expect("valid");
        assert_eq!(config.abandon_after, Duration::from_secs(25));
        assert_eq!(config.max_wait, Duration::from_secs(300));
        assert_eq!(config.escalate_after, Duration::from_secs(45 * 60));
        assert_eq!(
            config.caller_text_back.as_deref(),
            Some("Sorry we missed you; we will call you back.")
        );
        assert_eq!(config.time_zone.name(), "America/Chicago");
    }

    #[test]
    fn digest_time_is_a_local_time_of_day_or_the_end_of_business_hours() {
        let mut env = test_env();
        assert_eq!(load(&env).expect("valid").digest_time, None);
        env.insert("DIGEST_TIME", "18:30".into());
        assert_eq!(load(&env).expect("valid").digest_time, Some(18 * 60 + 30));
        for bad in ["24:00", "6pm", "18:75"] {
            env.insert("DIGEST_TIME", bad.into());
            let error = load(&env).expect_err(bad).to_string();
            assert!(
                error.contains("DIGEST_TIME") && error.contains("like 18:30"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn api_key_needs_its_secret() {
        let mut env = test_env();
        env.insert("TWILIO_API_KEY", format!("SK{}", "a".repeat(32)));
        assert_eq!(
            load(&env).unwrap_err(),
            ConfigError::Missing("TWILIO_API_SECRET")
        );
        env.insert("TWILIO_API_SECRET", "shh".into());
        let config = load(&env).expect("valid");
        assert_eq!(config.twilio.rest_credentials().1.expose(), "shh");
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut env = test_env();
        env.insert("TWILIO_AUTH_TOKEN", "tok-9f3e2d1c-distinct".into());
        env.insert("TWILIO_API_KEY", format!("SK{}", "a".repeat(32)));
        env.insert("TWILIO_API_SECRET", "sec-7b6a5c4d-distinct".into());
        let config = load(&env).expect("valid");
        let config_shown = format!("{config:?}");
        // The App holds the config and the Twilio client with its credentials.
        let app = crate::App::new(config, crate::store::MemoryStore::new());
        for shown in [&config_shown, &format!("{app:?}")] {
            for secret in ["tok-9f3e2d1c-distinct", "sec-7b6a5c4d-distinct"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
        assert!(
            config_shown.contains("SKaaaa") && config_shown.contains("[redacted]"),
            "the key SID is shown, its secret redacted: {config_shown}"
        );
    }
}
