//! Golden tests: our TwiML builder against Twilio's official Python library.
//!
//! Every fixture in `tests/fixtures/twiml/` was written by
//! `scripts/twiml-golden/generate.py` (see its header to regenerate). Each
//! case here builds the same document with `homeline_core::twiml`; both are parsed
//! and compared canonically: element names, attribute maps (order free, as
//! Python sorts them), text. The XML declaration, the space before `/>` and
//! the choice of escapes may differ; what a parser reads may not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use homeline_core::twiml::{Dial, Enqueue, Gather, Play, Queue, Record, Response, Say};
use serde_json::json;

const BASE: &str = "https://example.execute-api.us-east-1.amazonaws.com";
const WORKFLOW: &str = "WW33333333333333333333333333333333";
const RESERVATION: &str = "WR77777777777777777777777777777777";
const ACTIVITY: &str = "WA44444444444444444444444444444444";
const CALLER_ID: &str = "+15005550006";

/// The wait URL's `<Gather>`, listening `timeout` seconds after its prompts.
fn wait_gather(timeout: u32) -> Gather {
    Gather::new()
        .input("dtmf")
        .num_digits(1)
        .action("https://homeline.example.com/inbound/wait-key")
        .timeout(timeout)
}

/// The same cases, by the same names, as the generator's `CASES`.
fn cases() -> Vec<(&'static str, Response)> {
    vec![
        ("response_empty", Response::new()),
        (
            "say",
            Response::new().say("Thank you for calling.").say_with(
                Say::new("Bonjour.")
                    .voice("Polly.Celine")
                    .language("fr-FR")
                    .loop_count(2),
            ),
        ),
        (
            "play",
            Response::new().play(format!("{BASE}/hold.mp3")).play_with(
                Play::new("http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3")
                    .loop_count(0),
            ),
        ),
        ("pause", Response::new().pause(2)),
        (
            "gather",
            Response::new()
                .gather(
                    Gather::new()
                        .action("/inbound/menu")
                        .method("POST")
                        .input("dtmf")
                        .num_digits(1)
                        .timeout(5)
                        .finish_on_key("#")
                        .action_on_empty_result(true)
                        .say_with(Say::new("For sales press 1.").voice("Polly.Joanna"))
                        .play(format!("{BASE}/menu.mp3"))
                        .pause(1)
                        .say("For support press 2."),
                )
                .gather(
                    Gather::new()
                        .input("dtmf speech")
                        .action_on_empty_result(false),
                )
                .say("We did not get your choice. Goodbye."),
        ),
        (
            "dial_queue",
            Response::new().dial(
                Dial::new()
                    .action(&format!("/dial-status?reservation={RESERVATION}"))
                    .timeout(20)
                    .caller_id(CALLER_ID)
                    .answer_on_bridge(true)
                    .time_limit(3600)
                    .queue(
                        Queue::new("")
                            .reservation_sid(RESERVATION)
                            .post_work_activity_sid(ACTIVITY),
                    ),
            ),
        ),
        (
            "dial_number",
            Response::new().dial(
                Dial::new()
                    .caller_id(CALLER_ID)
                    .answer_on_bridge(false)
                    .timeout(15)
                    .number("+15005550006"),
            ),
        ),
        (
            "call_back",
            Response::new()
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .num_digits(1)
                        .timeout(8)
                        .action(&format!("/intake/callback/key?call=CA{}&claim=2", "1".repeat(32)))
                        .action_on_empty_result(true)
                        .say("Homeline call back number 7, for sales. The caller, 1 5 0 0 5 5 5 0 0 0 6, left a voicemail. Press 1 to call them now."),
                )
                .dial(
                    Dial::new()
                        .caller_id(CALLER_ID)
                        .action(&format!("/intake/callback/dialed?call=CA{}&claim=2", "1".repeat(32)))
                        .method("POST")
                        .timeout(20)
                        .number("+15005550006"),
                ),
        ),
        (
            "keypad_pin",
            Response::new()
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .finish_on_key("#")
                        .timeout(10)
                        .action("https://homeline.example.com/intake/voice/pin?then=dial&attempt=2")
                        .method("POST")
                        .say("That PIN is not right. 3 tries left before the keypad locks.")
                        .say("Enter your PIN, then press pound."),
                )
                .redirect_with_method(
                    "https://homeline.example.com/intake/voice/pin?then=dial&attempt=2",
                    "POST",
                ),
        ),
        (
            "keypad_voicemail",
            Response::new()
                .say("Homeline call back number 2, for sales. The caller, 1 5 0 0 5 5 5 0 0 0 6, left a voicemail.")
                .play(format!(
                    "https://api.twilio.com/2010-04-01/Accounts/AC{}/Recordings/RE{}",
                    "0".repeat(32),
                    "1".repeat(32)
                ))
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .num_digits(1)
                        .timeout(6)
                        .action(&format!(
                            "https://homeline.example.com/intake/voice/call-back?call=CA{}&follow_up=CA{}",
                            "2".repeat(32),
                            "1".repeat(32)
                        ))
                        .method("POST")
                        .say("Press 1 to call them back now."),
                )
                .say("Goodbye.")
                .hangup(),
        ),
        (
            "keypad_dial_out",
            Response::new()
                .say("Calling 1 5 0 0 5 5 5 0 0 0 6 from the business line.")
                .dial(
                    Dial::new()
                        .caller_id(CALLER_ID)
                        .timeout(20)
                        .number("+15005550006"),
                ),
        ),
        (
            "callback_question",
            Response::new()
                .gather(
                    Gather::new()
                        .input("dtmf")
                        .finish_on_key("#")
                        .timeout(10)
                        .action("/inbound/callback-key?skill=sales&try=1")
                        .say("We will call you back at 5 0 0, 5 5 5, 0 0 0 6. Press 1 to confirm, or enter another number, then press pound."),
                )
                .redirect("/inbound/callback-key?skill=sales&try=1"),
        ),
        (
            "callback_booked",
            Response::new()
                .say("Thank you. We will call you back at 5 0 0, 5 5 5, 0 0 0 6 when it is your turn. Goodbye.")
                .hangup(),
        ),
        (
            "callback_dial",
            Response::new()
                .say("Callback for sales, caller waited 4 minutes.")
                .dial(
                    Dial::new()
                        .action(&format!(
                            "/amd-result/after-bridge?TaskSid=WT{}&ReservationSid={RESERVATION}",
                            "1".repeat(32)
                        ))
                        .caller_id(CALLER_ID)
                        .timeout(20)
                        .number("+15005550006"),
                ),
        ),
        (
            "enqueue_task",
            Response::new().enqueue(
                Enqueue::workflow(WORKFLOW)
                    .action("/inbound/after-queue")
                    .wait_url("/inbound/hold")
                    .wait_url_method("POST")
                    .task(&json!({
                        "skill": "sales",
                        "caller": "+15005550006",
                        "call_sid": "CA11111111111111111111111111111111",
                    })),
            ),
        ),
        (
            "enqueue_task_priority",
            Response::new().enqueue(
                Enqueue::workflow(WORKFLOW)
                    .action("/inbound/after-queue")
                    .method("POST")
                    .task_with(&json!({"skill": "support"}), Some(10), Some(600)),
            ),
        ),
        (
            "record",
            Response::new()
                .say("Please leave a message after the beep.")
                .record(
                    Record::new()
                        .action("/inbound/voicemail")
                        .method("POST")
                        .max_length(120)
                        .play_beep(true)
                        .timeout(5)
                        .trim("trim-silence")
                        .finish_on_key("#")
                        .recording_status_callback("/inbound/recording")
                        .recording_status_callback_event("completed absent")
                        .transcribe(true)
                        .transcribe_callback("/inbound/transcription?skill=sales"),
                )
                .record(Record::new().play_beep(false).trim("do-not-trim")),
        ),
        (
            "redirect",
            Response::new()
                .redirect("/inbound/menu")
                .redirect_with_method("/inbound/menu?retry=1&skill=sales", "GET"),
        ),
        ("hangup", Response::new().hangup()),
        (
            "wait_hold",
            Response::new().gather(
                wait_gather(1)
                    .say("You are caller number 2.")
                    .say("Press 2 to leave a message.")
                    .play_with(
                        Play::new("https://homeline.example.com/inbound/hold-music").loop_count(1),
                    ),
            ),
        ),
        (
            "wait_hold_estimate",
            Response::new().gather(
                Gather::new()
                    .input("dtmf")
                    .num_digits(1)
                    .action("https://homeline.example.com/inbound/wait-key?skill=sales")
                    .timeout(1)
                    .say("You are caller number 2.")
                    .say("Your wait is about 2 minutes.")
                    .say("Press 1 for a callback, 2 for voicemail.")
                    .play_with(
                        Play::new("https://homeline.example.com/inbound/hold-music").loop_count(1),
                    ),
            ),
        ),
        (
            "wait_hold_pause",
            Response::new().gather(wait_gather(1).say("Press 2 to leave a message.").pause(10)),
        ),
        (
            "wait_last_offer",
            Response::new()
                .gather(
                    wait_gather(5)
                        .say("Sorry, everyone is still busy.")
                        .say("Press 2 to leave a message."),
                )
                .leave(),
        ),
        ("leave", Response::new().leave()),
        ("reject", Response::new().reject()),
        (
            "message",
            Response::new().message("You are now available for sales.\nText OFF to stop."),
        ),
        (
            "escaping",
            Response::new()
                .say("Tom & Jerry's <shop> says \"hi\" — café ünïcode 日本 🎧")
                .redirect_with_method("/inbound/menu?a=1&b=<2>&c=\"3\"&d='4'&e=é", "POST")
                .say_with(Say::new("x").voice("a&b<c>d\"e'f\tg\nh"))
                .enqueue(
                    Enqueue::workflow(WORKFLOW)
                        .wait_url("/inbound/hold?x=1&y=2")
                        .task(&json!({"caller": "O'Brien & <Sons>", "note": "\"quoted\" é"})),
                ),
        ),
        (
            "sms_escaping",
            Response::new().message("Status: on <sales> & \"support\" — Zoë's line"),
        ),
    ]
}

/// A parsed element, reduced to what a TwiML interpreter reads.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Element {
        name: String,
        attrs: BTreeMap<String, String>,
        children: Vec<Node>,
    },
    Text(String),
}

fn canonical(xml: &str) -> Result<Node, roxmltree::Error> {
    Ok(reduce(roxmltree::Document::parse(xml)?.root_element()))
}

fn reduce(element: roxmltree::Node) -> Node {
    let mut children: Vec<Node> = Vec::new();
    for child in element.children() {
        if child.is_element() {
            children.push(reduce(child));
        } else if let Some(text) = child.text().filter(|_| child.is_text()) {
            // Adjacent text nodes (split by entities or CDATA) read as one.
            match children.last_mut() {
                Some(Node::Text(previous)) => previous.push_str(text),
                _ => children.push(Node::Text(text.to_string())),
            }
        }
    }
    Node::Element {
        name: element.tag_name().name().to_string(),
        attrs: element
            .attributes()
            .map(|a| (a.name().to_string(), a.value().to_string()))
            .collect(),
        children,
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/twiml")
}

#[test]
fn builder_matches_twilio_python_library_for_every_verb() {
    let mut failures = Vec::new();
    for (name, response) in cases() {
        let path = fixtures_dir().join(format!("{name}.xml"));
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/twiml-golden/generate.py)",
                path.display()
            )
        });
        let ours = response.to_xml();
        assert!(
            ours.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response"#),
            "{name}: declaration or root missing: {ours}"
        );
        let expected_tree = canonical(&expected).unwrap_or_else(|e| panic!("{name} fixture: {e}"));
        match canonical(&ours) {
            Ok(tree) if tree == expected_tree => {}
            Ok(tree) => failures.push(format!(
                "{name}:\n  twilio: {expected}\n  ours:   {ours}\n  twilio tree: {expected_tree:?}\n  our tree:    {tree:?}"
            )),
            Err(e) => failures.push(format!("{name}: our XML does not parse ({e}): {ours}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_has_a_case_and_every_case_a_fixture() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".xml").map(str::to_string)
        })
        .collect();
    let built: BTreeSet<String> = cases().iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, built);
}

#[test]
fn canonical_comparison_sees_a_changed_attribute_text_or_element() {
    // The comparison itself must be able to fail, or the golden test proves nothing.
    let base = canonical(r#"<Response><Say voice="a">x</Say></Response>"#).expect("parses");
    for changed in [
        r#"<Response><Say voice="b">x</Say></Response>"#,
        r#"<Response><Say Voice="a">x</Say></Response>"#,
        r#"<Response><Say voice="a">y</Say></Response>"#,
        r#"<Response><Say voice="a" loop="1">x</Say></Response>"#,
        r#"<Response><Play voice="a">x</Play></Response>"#,
        r#"<Response><Say voice="a">x</Say><Hangup/></Response>"#,
    ] {
        assert_ne!(canonical(changed).expect("parses"), base, "{changed}");
    }
    // What may differ: declaration, attribute order, `/>` spacing, escape spelling.
    let same = canonical(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response ><Say voice="&#97;">&#x78;</Say></Response>"#,
    )
    .expect("parses");
    assert_eq!(same, base);
}

/// The static fallback answers the stack publishes (template.yaml,
/// `FallbackApi`) are the official library's output, verbatim: no Homeline
/// code renders them, so the template must hold each fixture's text, and
/// every answer it publishes must be a fixture (or the assignment reject).
#[test]
fn the_templates_fallback_answers_are_twilios_own_twiml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml");
    let dir = fixtures_dir().join("fallback");
    let mut fixtures: Vec<String> = std::fs::read_dir(&dir)
        .expect("fallback fixtures")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "xml").then(|| std::fs::read_to_string(path).ok())?
        })
        .collect();
    fixtures.sort();
    assert_eq!(fixtures.len(), 4, "{}", dir.display());
    for fixture in &fixtures {
        let xml = fixture.trim_end();
        canonical(xml).unwrap_or_else(|e| panic!("fixture does not parse ({e}): {xml}"));
        // Single-quoted YAML: an apostrophe would be doubled.
        assert!(
            !xml.contains('\'') && template.contains(&format!("'{xml}'")),
            "template.yaml lacks the fallback answer {xml}"
        );
    }
    let published: Vec<&str> = template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("text/xml: "))
        .map(|value| value.trim_start_matches("!Sub ").trim_matches('\''))
        .collect();
    assert_eq!(published.len(), fixtures.len(), "{published:?}");
    for document in published {
        assert!(
            fixtures.iter().any(|f| f.trim_end() == document),
            "not a golden fixture: {document}"
        );
    }
    // TaskRouter's fallback gets a reject with the unavailable activity
    // (docs/twilio.md, "Fallback URLs"). The SID is the one the Provisioning
    // resource made, passed as the stage variable `unavailable` (so that
    // Provisioning can take the fallback API's URL without a cycle).
    let lines: Vec<&str> = template.lines().map(str::trim).collect();
    assert!(
        lines.windows(2).any(|w| w[0] == "Variables:"
            && w[1] == "unavailable: !GetAtt Provisioning.ActivityUnavailableSid"),
        "the fallback stage's variable `unavailable`"
    );
    let reject = lines
        .iter()
        .filter(|line| line.contains("instruction"))
        .find_map(|line| line.strip_prefix("application/json: '"))
        .and_then(|value| value.strip_suffix('\''))
        .expect("the assignment fallback");
    let reject: serde_json::Value =
        serde_json::from_str(&reject.replace("$stageVariables.unavailable", ACTIVITY))
            .expect("JSON");
    assert_eq!(
        reject,
        json!({"instruction": "reject", "activity_sid": ACTIVITY})
    );
}
