//! Every URL Twilio calls, in one table: its path, the function that serves
//! it, what Twilio calls it as, and the time budget of that kind of callback.
//!
//! Everything else reads this table or is checked against it: the functions
//! build their URLs from [`paths`], the simulator dispatches with
//! [`Function::serving`], `homeline provision` points Twilio at [`paths`],
//! and a test holds the cargo-lambda router in `Cargo.toml` (which
//! `scripts/check-template.py` holds `template.yaml` to) to
//! [`gateway_routes`].

use std::time::Duration;

use crate::deadline::Deadline;

/// One Lambda function: one binary of a crate under `functions/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Intake,
    Inbound,
    Assignment,
    AmdResult,
    DialStatus,
    TaskrouterEvents,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Intake,
        Function::Inbound,
        Function::Assignment,
        Function::AmdResult,
        Function::DialStatus,
        Function::TaskrouterEvents,
    ];

    /// The binary's (and its crate's) name.
    pub fn binary(self) -> &'static str {
        match self {
            Function::Intake => "intake",
            Function::Inbound => "inbound",
            Function::Assignment => "assignment",
            Function::AmdResult => "amd-result",
            Function::DialStatus => "dial-status",
            Function::TaskrouterEvents => "taskrouter-events",
        }
    }

    /// The function that serves `path` (a query is ignored), if any.
    pub fn serving(path: &str) -> Option<Function> {
        let path = path.split('?').next().unwrap_or_default();
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        ROUTES.iter().find(|r| r.path == path).map(|r| r.function)
    }
}

/// What a kind of callback may spend: Twilio's limit for an answer, less a
/// margin for a cold start and the reply's way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// TaskRouter's assignment callback: Twilio waits 5 s.
    Assignment,
    /// A voice or messaging webhook: Twilio waits 15 s.
    Webhook,
    /// A TaskRouter event callback: Twilio waits 15 s.
    Event,
}

impl Budget {
    /// How long Twilio waits for the answer.
    pub const fn twilio_limit(self) -> Duration {
        match self {
            Budget::Assignment => Duration::from_secs(5),
            Budget::Webhook | Budget::Event => Duration::from_secs(15),
        }
    }

    /// How long the handler may work, retries included.
    pub const fn ours(self) -> Duration {
        match self {
            Budget::Assignment => Duration::from_millis(3500),
            Budget::Webhook | Budget::Event => Duration::from_secs(10),
        }
    }

    /// The connection overrides (a URL fragment) Homeline appends where it
    /// sets this kind of URL at Twilio. Event callbacks are never redelivered
    /// after an error answer, so a connection that fails is retried: a 2 s
    /// connect timeout leaves room for three retries inside Twilio's 15 s
    /// (docs/twilio.md, "Event callbacks"). Webhooks and the assignment
    /// callback have fallback URLs instead, which retries would only delay.
    pub const fn connection_overrides(self) -> &'static str {
        match self {
            Budget::Event => "#ct=2000&rc=3",
            Budget::Assignment | Budget::Webhook => "",
        }
    }

    /// The deadline of a callback arriving now.
    pub fn deadline(self) -> Deadline {
        Deadline::after(self.ours())
    }
}

/// How Twilio asks for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A signed webhook: every route but media.
    Post,
    /// Media for `<Play>`: unsigned, it reads and writes nothing.
    Get,
}

/// One URL Twilio calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    pub function: Function,
    /// Where it is set in Twilio, in Twilio's words.
    pub called_as: &'static str,
    pub budget: Budget,
    pub method: Method,
}

/// Every path, by the name the code uses.
pub mod paths {
    pub const INTAKE_SMS: &str = "/intake/sms";
    pub const INTAKE_VOICE: &str = "/intake/voice";
    pub const INTAKE_VOICE_MENU: &str = "/intake/voice/menu";
    pub const INTAKE_VOICE_SKILL: &str = "/intake/voice/skill";
    /// The PIN asked before a guarded key (`then=call-back|dial|voicemail`).
    pub const INTAKE_VOICE_PIN: &str = "/intake/voice/pin";
    /// The number keyed to dial out (`call=` the call the PIN was right on).
    pub const INTAKE_VOICE_DIAL: &str = "/intake/voice/dial";
    /// After a follow-up is introduced (and its voicemail played): 1 calls
    /// them back (`call=`, `follow_up=`).
    pub const INTAKE_VOICE_CALL_BACK: &str = "/intake/voice/call-back";
    /// A claimed follow-up's call to the claimer: the whisper and press 1.
    pub const CALL_BACK: &str = "/intake/callback";
    /// The whisper's `<Gather>` action: 1 dials the customer.
    pub const CALL_BACK_KEY: &str = "/intake/callback/key";
    /// The `<Dial action>` of the call to the customer: reached or not.
    pub const CALL_BACK_DIALED: &str = "/intake/callback/dialed";
    /// The claimer's call's status callback: not answered, or ended.
    pub const CALL_BACK_STATUS: &str = "/intake/callback/status";

    pub const INBOUND: &str = "/inbound";
    pub const INBOUND_MENU: &str = "/inbound/menu";
    pub const INBOUND_WAIT: &str = "/inbound/wait";
    /// The wait document's `<Gather>` action: 2 leaves for voicemail.
    pub const INBOUND_WAIT_KEY: &str = "/inbound/wait-key";
    /// Where 1 in the wait redirects: the number to call back (`skill=`, `try=`).
    pub const INBOUND_CALLBACK: &str = "/inbound/callback";
    /// That question's `<Gather>` action: 1 or a keyed number.
    pub const INBOUND_CALLBACK_KEY: &str = "/inbound/callback-key";
    pub const INBOUND_AFTER_QUEUE: &str = "/inbound/after-queue";
    pub const INBOUND_VOICEMAIL: &str = "/inbound/voicemail";
    pub const INBOUND_RECORDED: &str = "/inbound/recorded";
    pub const INBOUND_RECORDING_STATUS: &str = "/inbound/recording-status";
    /// The voicemail's transcript, when Twilio has it.
    pub const INBOUND_TRANSCRIPTION: &str = "/inbound/transcription";
    /// The customer number's status callback: the call ended.
    pub const INBOUND_CALL_ENDED: &str = "/inbound/call-ended";
    /// The stack's own hold music (`hold_music::clip`), the default `HOLD_MUSIC_URL`.
    pub const HOLD_MUSIC: &str = "/inbound/hold-music";

    pub const ASSIGNMENT: &str = "/assignment";

    /// The worker leg's answer URL.
    pub const LEG_ANSWER: &str = "/amd-result";
    /// Async AMD verdicts (`AsyncAmdStatusCallback`).
    pub const LEG_VERDICT: &str = "/amd-result/verdict";
    /// The press-1 `<Gather>` action, and where the prompt falls through to on timeout.
    pub const LEG_KEY: &str = "/amd-result/key";
    /// Where a `human` verdict redirects the leg: the bridge TwiML.
    pub const LEG_BRIDGE: &str = "/amd-result/bridge";
    /// The bridge's `<Dial action>`: the bridge ended or failed.
    pub const LEG_AFTER_BRIDGE: &str = "/amd-result/after-bridge";
    /// The worker leg's status callback.
    pub const LEG_STATUS: &str = "/dial-status";

    pub const TASKROUTER_EVENTS: &str = "/taskrouter-events";
}

const fn route(
    path: &'static str,
    function: Function,
    called_as: &'static str,
    budget: Budget,
) -> Route {
    Route {
        path,
        function,
        called_as,
        budget,
        method: Method::Post,
    }
}

/// A media file Twilio fetches with GET.
const fn media(path: &'static str, function: Function, called_as: &'static str) -> Route {
    Route {
        method: Method::Get,
        ..route(path, function, called_as, Budget::Webhook)
    }
}

use Budget::{Assignment, Event, Webhook};
use Function::{AmdResult, DialStatus, Inbound, Intake, TaskrouterEvents};

pub const ROUTES: &[Route] = &[
    route(paths::INTAKE_SMS, Intake, "worker number: SmsUrl", Webhook),
    route(
        paths::INTAKE_VOICE,
        Intake,
        "worker number: VoiceUrl",
        Webhook,
    ),
    route(paths::INTAKE_VOICE_MENU, Intake, "<Gather action>", Webhook),
    route(
        paths::INTAKE_VOICE_SKILL,
        Intake,
        "<Gather action>",
        Webhook,
    ),
    route(paths::INTAKE_VOICE_PIN, Intake, "<Gather action>", Webhook),
    route(paths::INTAKE_VOICE_DIAL, Intake, "<Gather action>", Webhook),
    route(
        paths::INTAKE_VOICE_CALL_BACK,
        Intake,
        "<Gather action>",
        Webhook,
    ),
    route(paths::CALL_BACK, Intake, "Calls create Url", Webhook),
    route(paths::CALL_BACK_KEY, Intake, "<Gather action>", Webhook),
    route(paths::CALL_BACK_DIALED, Intake, "<Dial action>", Webhook),
    route(
        paths::CALL_BACK_STATUS,
        Intake,
        "Calls create StatusCallback",
        Webhook,
    ),
    route(
        paths::INBOUND,
        Inbound,
        "customer number: VoiceUrl",
        Webhook,
    ),
    route(paths::INBOUND_MENU, Inbound, "<Gather action>", Webhook),
    route(paths::INBOUND_WAIT, Inbound, "<Enqueue waitUrl>", Webhook),
    route(
        paths::INBOUND_WAIT_KEY,
        Inbound,
        "<Gather action> in the <Enqueue waitUrl>",
        Webhook,
    ),
    route(
        paths::INBOUND_CALLBACK,
        Inbound,
        "Calls update Url",
        Webhook,
    ),
    route(
        paths::INBOUND_CALLBACK_KEY,
        Inbound,
        "<Gather action>",
        Webhook,
    ),
    route(
        paths::INBOUND_AFTER_QUEUE,
        Inbound,
        "<Enqueue action>",
        Webhook,
    ),
    route(
        paths::INBOUND_VOICEMAIL,
        Inbound,
        "Calls update Url",
        Webhook,
    ),
    route(paths::INBOUND_RECORDED, Inbound, "<Record action>", Webhook),
    route(
        paths::INBOUND_RECORDING_STATUS,
        Inbound,
        "<Record recordingStatusCallback>",
        Webhook,
    ),
    route(
        paths::INBOUND_TRANSCRIPTION,
        Inbound,
        "<Record transcribeCallback>",
        Webhook,
    ),
    route(
        paths::INBOUND_CALL_ENDED,
        Inbound,
        "customer number: StatusCallback",
        Webhook,
    ),
    media(
        paths::HOLD_MUSIC,
        Inbound,
        "<Play> in the <Enqueue waitUrl>",
    ),
    route(
        paths::ASSIGNMENT,
        Function::Assignment,
        "workflow: AssignmentCallbackUrl",
        Assignment,
    ),
    route(paths::LEG_ANSWER, AmdResult, "Calls create Url", Webhook),
    route(
        paths::LEG_VERDICT,
        AmdResult,
        "Calls create AsyncAmdStatusCallback",
        Webhook,
    ),
    route(paths::LEG_KEY, AmdResult, "<Gather action>", Webhook),
    route(paths::LEG_BRIDGE, AmdResult, "Calls update Url", Webhook),
    route(paths::LEG_AFTER_BRIDGE, AmdResult, "<Dial action>", Webhook),
    route(
        paths::LEG_STATUS,
        DialStatus,
        "Calls create StatusCallback",
        Webhook,
    ),
    route(
        paths::TASKROUTER_EVENTS,
        TaskrouterEvents,
        "workspace: EventCallbackUrl",
        Event,
    ),
];

/// The routes the HTTP API (and `make dev`'s router) must have, in
/// cargo-lambda's spelling: every path whose parent is not a route, plus
/// `{parent}/{*step}` for each path that has routes below it.
pub fn gateway_routes() -> Vec<(String, Function)> {
    let is_route = |path: &str| ROUTES.iter().any(|r| r.path == path);
    let mut out: Vec<(String, Function)> = ROUTES
        .iter()
        .filter(|r| {
            !r.path
                .rsplit_once('/')
                .is_some_and(|(parent, _)| is_route(parent))
        })
        .map(|r| (r.path.to_string(), r.function))
        .collect();
    for parent in ROUTES {
        let below = format!("{}/", parent.path);
        if ROUTES.iter().any(|r| r.path.starts_with(&below)) {
            out.push((format!("{below}{{*step}}"), parent.function));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_each_belongs_to_the_function_it_starts_with() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[..i].iter().all(|other| other.path != r.path),
                "{} twice",
                r.path
            );
            let first = r.path.trim_start_matches('/').split('/').next();
            assert_eq!(first, Some(r.function.binary()), "{}", r.path);
        }
        for f in Function::ALL {
            assert!(
                ROUTES.iter().any(|r| r.function == f),
                "{f:?} serves nothing"
            );
        }
    }

    #[test]
    fn serving_finds_the_function_and_ignores_query_and_trailing_slash() {
        assert_eq!(
            Function::serving("/amd-result/key?TaskSid=WT1"),
            Some(Function::AmdResult)
        );
        assert_eq!(Function::serving("/intake/voice/"), Some(Function::Intake));
        assert_eq!(Function::serving("/inbound/nothing"), None);
        assert_eq!(Function::serving("/"), None);
    }

    #[test]
    fn budgets_leave_a_margin_inside_twilio_s_limit() {
        for b in [Budget::Assignment, Budget::Webhook, Budget::Event] {
            assert!(
                b.ours() + Duration::from_millis(1500) <= b.twilio_limit(),
                "{b:?}"
            );
        }
    }

    /// The media routes are the ones `scripts/check-template.py` expects as
    /// `GET` routes in template.yaml (every other route is `POST`).
    #[test]
    fn get_routes_in_cargo_toml_are_the_media_routes() {
        let manifest = include_str!("../../Cargo.toml");
        let line = manifest
            .lines()
            .find_map(|l| l.strip_prefix("get_routes = "))
            .expect("Cargo.toml lists the GET routes");
        let listed: Vec<&str> = line
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|p| p.trim().trim_matches('"'))
            .filter(|p| !p.is_empty())
            .collect();
        let media: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.method == Method::Get)
            .map(|r| r.path)
            .collect();
        assert_eq!(listed, media);
    }

    /// `make dev` serves exactly these routes; `scripts/check-template.py`
    /// holds template.yaml to the same router.
    #[test]
    fn cargo_lambda_router_in_cargo_toml_is_this_table() {
        let manifest = include_str!("../../Cargo.toml");
        let section = manifest
            .split("[workspace.metadata.lambda.watch.router]")
            .nth(1)
            .expect("Cargo.toml has the cargo-lambda router");
        let mut router: Vec<(String, String)> = section
            .lines()
            .take_while(|l| !l.trim_start().starts_with('['))
            .filter_map(|l| {
                let (path, binary) = l.split_once('=')?;
                let unquote = |s: &str| s.trim().trim_matches('"').to_string();
                Some((unquote(path), unquote(binary)))
            })
            .collect();
        router.sort();
        let expected: Vec<(String, String)> = gateway_routes()
            .into_iter()
            .map(|(p, f)| (p, f.binary().to_string()))
            .collect();
        assert_eq!(router, expected);
    }
}
