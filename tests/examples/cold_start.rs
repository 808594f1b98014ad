//! `make bench` (cold start): each release binary started as Lambda starts
//! it (testkit's Runtime API stand-in, the fixtures' environment on DynamoDB
//! Local and the Twilio stand-in), with one signed events/ fixture already
//! waiting, as on a cold invocation. Two figures per start, from spawning
//! the process:
//!   - start-up: until its first poll for an event (init done);
//!   - first response: until it posts the fixture's answer (checked against
//!     the catalogue's declared status and body);
//!
//! each as time on the clock and as the CPU time the process used by then
//! (Linux; steadier on a busy machine, and blind to the time spent waiting
//! for DynamoDB Local and the stand-in).
//!
//! Runs are interleaved (one start of each binary per round), each on a fresh
//! table and Twilio stand-in holding the fixtures' world, so every start does
//! the same work. `scripts/bench.sh` runs it without the stand-in's Prism
//! check (the `HOMELINE_TEST_PRISM_*` variables unset): that check, tens of
//! milliseconds a request on a shared machine, is the tests' business and
//! would hide the functions' own time. Prints medians and the ratio to the minimal `lambda_http`
//! binary (`core/examples/lambda_hello.rs`), whose first response is its own
//! "hello" to the same event. A `node...` name is a reference command timed
//! to its exit (`node -e "require('twilio')"`).
//!
//! usage: cold_start RUNS NAME=COMMAND [NAME=COMMAND ...]
//! A NAME may end in `@label` (`intake@before=...`): two builds of one
//! function timed side by side.
//! (run under `scripts/local-stack.sh run --`; `scripts/bench.sh` does)

use std::time::{Duration, Instant};

use testkit::fixtures::{self, Fixture};
use testkit::runtime_api::{Outcome, RunningFunction, function_env};
use testkit::twilio_fake::TwilioFake;
use tokio::process::Command;

/// The minimal binary's name: the baseline of the ratios.
const HELLO: &str = "lambda_hello";

/// The fixture each binary answers first. Those of the worker's leg need the
/// fixtures' world (the enrolled worker, the open attempts); the others
/// would answer the same on an empty table.
fn first_fixture(name: &str) -> Option<&'static str> {
    Some(match name {
        // Not a Homeline function: any event gets its "hello".
        HELLO => "inbound-call",
        "intake" => "intake-sms-stranger",
        "inbound" => "inbound-call",
        "assignment" => "assignment",
        "amd-result" => "amd-result-verdict-machine",
        "dial-status" => "dial-status-busy",
        "taskrouter-events" => "taskrouter-events-no-worker-queue",
        _ => return None,
    })
}

struct Subject {
    name: String,
    /// The name without its label: the function, or [`HELLO`].
    function: String,
    argv: Vec<String>,
    fixture: Option<Fixture>,
    /// Start-up and first response, on the clock and in CPU time.
    figures: [Vec<Duration>; 4],
}

impl Subject {
    fn parse(spec: &str, catalogue: &[Fixture]) -> Self {
        let (name, command) = spec
            .split_once('=')
            .unwrap_or_else(|| panic!("{spec:?} is not NAME=COMMAND"));
        let function = name.split('@').next().unwrap_or(name);
        let fixture = first_fixture(function).map(|wanted| {
            catalogue
                .iter()
                .find(|f| f.name == wanted)
                .unwrap_or_else(|| panic!("no fixture {wanted}"))
                .clone()
        });
        assert!(
            fixture.is_some() || name.starts_with("node"),
            "{name}: no first fixture chosen for it"
        );
        Self {
            name: name.to_string(),
            function: function.to_string(),
            argv: command.split_whitespace().map(String::from).collect(),
            fixture,
            figures: Default::default(),
        }
    }

    /// One cold start of a Lambda binary: start-up and first response.
    async fn lambda_run(&mut self, fixture: &Fixture) {
        let twilio = TwilioFake::start().await;
        let store = testkit::dynamo::fresh_store().await;
        fixtures::seed_world(&store, &twilio).await;
        let env = function_env(&twilio, &store);
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]);
        let mut function = RunningFunction::start(command, &self.function, &env).await;
        let outcome = function.invoke(fixture.webhook.event()).await;
        let answered = Instant::now();
        let answered_cpu = function.cpu_time();
        let spawned = function.spawned_at();
        let polled = function
            .first_poll()
            .unwrap_or_else(|| panic!("{}: answered without polling", self.name));
        let figures = [
            Some(polled - spawned),
            Some(answered - spawned),
            function.first_poll_cpu(),
            answered_cpu,
        ];
        match outcome {
            Outcome::Response(response) if self.function == HELLO => {
                let (status, body) = testkit::events::decode_response(&response);
                assert_eq!((status, body.as_str()), (200, "hello"), "{HELLO}");
            }
            Outcome::Response(response) => {
                let (status, body) = testkit::events::decode_response(&response);
                fixture.assert_answer(&format!("from {}", self.argv[0]), status, &body);
            }
            Outcome::Error(error) => panic!("{}: the function failed: {error}", self.name),
        }
        for (samples, figure) in self.figures.iter_mut().zip(figures) {
            samples.extend(figure);
        }
    }

    /// One run of a reference command, timed to its exit.
    async fn exit_run(&mut self) {
        let started = Instant::now();
        let status = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .unwrap_or_else(|e| panic!("{}: does not start ({e})", self.name));
        assert!(status.success(), "{}: {status}", self.name);
        self.figures[0].push(started.elapsed());
    }
}

fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// `median ms` and `x hello` columns.
fn columns(samples: &[Duration], baseline: Option<Duration>) -> String {
    match median(samples) {
        None => format!("{:>9} {:>8}", "-", "-"),
        Some(m) => {
            let ratio = baseline.map_or("-".to_string(), |b| {
                format!("{:.2}", m.as_secs_f64() / b.as_secs_f64())
            });
            format!("{:>9.1} {ratio:>8}", m.as_secs_f64() * 1000.0)
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .and_then(|runs| runs.parse().ok())
        .expect("usage: cold_start RUNS NAME=COMMAND [NAME=COMMAND ...]");
    let catalogue = fixtures::all();
    let mut subjects: Vec<Subject> = args.map(|spec| Subject::parse(&spec, &catalogue)).collect();
    for _ in 0..runs {
        for subject in &mut subjects {
            match subject.fixture.clone() {
                Some(fixture) => subject.lambda_run(&fixture).await,
                None => subject.exit_run().await,
            }
        }
    }

    let hello = subjects.iter().find(|s| s.name == HELLO);
    let baselines: Vec<Option<Duration>> = (0..4)
        .map(|i| hello.and_then(|s| median(&s.figures[i])))
        .collect();
    println!(
        "cold start, median of {runs} interleaved runs (ms from process start; x hello = ratio to {HELLO})"
    );
    println!(
        "  {:<20} {:>9} {:>8} {:>9} {:>8} {:>9} {:>8} {:>9} {:>8}  first event",
        "binary",
        "start-up",
        "x hello",
        "1st resp",
        "x hello",
        "CPU s-up",
        "x hello",
        "CPU 1st",
        "x hello"
    );
    for subject in &subjects {
        let fixture = match &subject.fixture {
            Some(_) if subject.function == HELLO => "its own \"hello\"".to_string(),
            Some(fixture) => format!("{} ({})", fixture.name, fixture.status),
            None => "(to exit)".to_string(),
        };
        let columns: Vec<String> = subject
            .figures
            .iter()
            .zip(&baselines)
            .map(|(samples, baseline)| columns(samples, *baseline))
            .collect();
        println!("  {:<20} {}  {fixture}", subject.name, columns.join(" "));
    }
}
