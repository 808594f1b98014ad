//! TwiML as the stand-in executes it: the verbs Homeline uses, parsed from
//! the XML a function answers with. Unknown verbs are kept as such so a
//! scenario can see that Twilio would have refused the document.

use roxmltree::{Document, Node};

/// One verb of a TwiML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    Say(String),
    Play {
        url: String,
        loops: u32,
    },
    Pause(u32),
    Gather(Gather),
    Enqueue(Enqueue),
    /// `<Dial><Queue reservationSid>`.
    DialQueue(DialQueue),
    /// `<Dial><Number>`: a new call to a phone number.
    DialNumber(DialNumber),
    Record(Record),
    Redirect(String),
    Hangup,
    Leave,
    Reject,
    /// `<Message>` in an SMS reply.
    Message(String),
    /// A verb the stand-in does not model (Twilio would run it; Homeline must not use it here).
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    pub action: Option<String>,
    pub num_digits: Option<u32>,
    /// Seconds to wait for the first digit after the prompts finish (Twilio's default 5).
    pub timeout: u32,
    /// Say / Play / Pause nested in the Gather.
    pub prompts: Vec<Verb>,
    /// `actionOnEmptyResult="true"`: the action is requested even without digits.
    pub action_on_empty_result: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    pub workflow_sid: Option<String>,
    pub action: Option<String>,
    pub wait_url: Option<String>,
    /// The `<Task>` JSON text.
    pub task: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DialQueue {
    pub reservation_sid: Option<String>,
    pub post_work_activity_sid: Option<String>,
    pub action: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DialNumber {
    pub number: String,
    /// `callerId`: what the dialled phone shows (Twilio's default: the parent call's `From`).
    pub caller_id: Option<String>,
    pub action: Option<String>,
    /// Seconds to let the number ring (Twilio's default 30).
    pub timeout: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub action: Option<String>,
    pub max_length: u32,
    pub recording_status_callback: Option<String>,
    /// `transcribe="true"`.
    pub transcribe: bool,
    pub transcribe_callback: Option<String>,
}

/// Parses a `<Response>` document. Errors name what Twilio would reject.
pub fn parse(xml: &str) -> Result<Vec<Verb>, String> {
    let doc = Document::parse(xml).map_err(|e| format!("TwiML is not XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Response" {
        return Err(format!(
            "TwiML root is <{}>, not <Response>",
            root.tag_name().name()
        ));
    }
    Ok(root.children().filter(Node::is_element).map(verb).collect())
}

fn text(node: Node) -> String {
    node.text().unwrap_or_default().trim().to_string()
}

fn attr(node: Node, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_string)
}

fn number_attr(node: Node, name: &str) -> Option<u32> {
    node.attribute(name).and_then(|v| v.trim().parse().ok())
}

fn verb(node: Node) -> Verb {
    match node.tag_name().name() {
        "Say" => Verb::Say(text(node)),
        "Play" => Verb::Play {
            url: text(node),
            loops: number_attr(node, "loop").unwrap_or(1),
        },
        "Pause" => Verb::Pause(number_attr(node, "length").unwrap_or(1)),
        "Gather" => Verb::Gather(Gather {
            action: attr(node, "action"),
            num_digits: number_attr(node, "numDigits"),
            timeout: number_attr(node, "timeout").unwrap_or(5),
            prompts: node.children().filter(Node::is_element).map(verb).collect(),
            action_on_empty_result: node.attribute("actionOnEmptyResult") == Some("true"),
        }),
        "Enqueue" => Verb::Enqueue(Enqueue {
            workflow_sid: attr(node, "workflowSid"),
            action: attr(node, "action"),
            wait_url: attr(node, "waitUrl"),
            task: node.children().find(|c| c.has_tag_name("Task")).map(text),
        }),
        "Dial" => {
            let noun = |name| node.children().find(|c| c.has_tag_name(name));
            match (noun("Queue"), noun("Number")) {
                (Some(queue), _) => Verb::DialQueue(DialQueue {
                    reservation_sid: attr(queue, "reservationSid"),
                    post_work_activity_sid: attr(queue, "postWorkActivitySid"),
                    action: attr(node, "action"),
                }),
                (None, Some(number)) => Verb::DialNumber(DialNumber {
                    number: text(number),
                    caller_id: attr(node, "callerId"),
                    action: attr(node, "action"),
                    timeout: number_attr(node, "timeout").unwrap_or(30),
                }),
                (None, None) => Verb::Unsupported("Dial without Queue or Number".into()),
            }
        }
        "Record" => Verb::Record(Record {
            action: attr(node, "action"),
            max_length: number_attr(node, "maxLength").unwrap_or(3600),
            recording_status_callback: attr(node, "recordingStatusCallback"),
            transcribe: node.attribute("transcribe") == Some("true"),
            transcribe_callback: attr(node, "transcribeCallback"),
        }),
        "Redirect" => Verb::Redirect(text(node)),
        "Hangup" => Verb::Hangup,
        "Leave" => Verb::Leave,
        "Reject" => Verb::Reject,
        "Message" => Verb::Message(text(node)),
        other => Verb::Unsupported(other.to_string()),
    }
}

/// How long media whose length the stand-in could not learn plays: the
/// length of Twilio's default hold music is not documented.
pub const UNKNOWN_MEDIA_MS: u64 = 30_000;

/// Media lengths the stand-in learnt, by URL.
pub type Media = std::collections::HashMap<String, u64>;

/// How long a verb keeps the line busy, in simulated milliseconds: speech at
/// 2.5 words per second (at least one second), media for its length in
/// `media` (else [`UNKNOWN_MEDIA_MS`]) times its loops.
pub fn duration_ms(verb: &Verb, media: &Media) -> u64 {
    match verb {
        Verb::Say(text) => (text.split_whitespace().count() as u64 * 400).max(1000),
        Verb::Play { url, loops } => {
            media.get(url).copied().unwrap_or(UNKNOWN_MEDIA_MS) * u64::from((*loops).clamp(1, 10))
        }
        Verb::Pause(secs) => u64::from(*secs) * 1000,
        Verb::Gather(g) => g.prompts.iter().map(|v| duration_ms(v, media)).sum(),
        _ => 0,
    }
}

/// The length of a PCM WAV file in milliseconds, from its header (the
/// `data` chunk's size over the byte rate), as a player knows it.
pub fn wav_duration_ms(file: &[u8]) -> Option<u64> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(file.get(at..at + 4)?.try_into().ok()?))
    };
    if file.get(0..4)? != b"RIFF" || file.get(8..12)? != b"WAVE" {
        return None;
    }
    let bytes_per_second = u32_at(28).filter(|b| *b > 0)?;
    let mut at = 12;
    while at + 8 <= file.len() {
        let len = u32_at(at + 4)?;
        if file.get(at..at + 4)? == b"data" {
            let present = u32::try_from(file.len() - at - 8).ok()?;
            return Some(u64::from(len.min(present)) * 1000 / u64::from(bytes_per_second));
        }
        at += 8 + len as usize;
    }
    None
}

/// Whether the verb makes a sound the listener hears at once.
pub fn is_audible(verb: &Verb) -> bool {
    match verb {
        Verb::Say(_) | Verb::Play { .. } => true,
        Verb::Gather(g) => g.prompts.first().is_some_and(is_audible),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_verbs_homeline_uses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><Response>
            <Gather action="/inbound/menu" numDigits="1" timeout="4" actionOnEmptyResult="true"><Say>For sales press 1</Say></Gather>
            <Enqueue workflowSid="WW1" action="/inbound/after" waitUrl="/inbound/wait"><Task>{"skill":"sales"}</Task></Enqueue>
            <Dial action="/amd-result/after"><Queue reservationSid="WR1" postWorkActivitySid="WA1"/></Dial>
            <Record action="/inbound/recorded" maxLength="120" recordingStatusCallback="/inbound/recording" transcribe="true" transcribeCallback="/inbound/transcription"/>
            <Pause length="2"/><Redirect>/x</Redirect><Hangup/><Conference>x</Conference>
            <Dial callerId="+15005550100" action="/intake/callback/dialed" timeout="20"><Number>+15557770001</Number></Dial></Response>"#;
        let verbs = parse(xml).unwrap();
        assert_eq!(verbs.len(), 9);
        let Verb::Gather(g) = &verbs[0] else { panic!() };
        assert_eq!(
            (g.num_digits, g.timeout, g.action_on_empty_result),
            (Some(1), 4, true)
        );
        assert_eq!(g.prompts, vec![Verb::Say("For sales press 1".into())]);
        let Verb::Enqueue(e) = &verbs[1] else {
            panic!()
        };
        assert_eq!(e.task.as_deref(), Some(r#"{"skill":"sales"}"#));
        assert_eq!(e.wait_url.as_deref(), Some("/inbound/wait"));
        let Verb::DialQueue(d) = &verbs[2] else {
            panic!()
        };
        assert_eq!(d.reservation_sid.as_deref(), Some("WR1"));
        assert_eq!(d.action.as_deref(), Some("/amd-result/after"));
        let Verb::Record(r) = &verbs[3] else { panic!() };
        assert_eq!(r.max_length, 120);
        assert!(r.transcribe);
        assert_eq!(
            r.transcribe_callback.as_deref(),
            Some("/inbound/transcription")
        );
        assert_eq!(verbs[4], Verb::Pause(2));
        assert_eq!(verbs[5], Verb::Redirect("/x".into()));
        assert_eq!(verbs[7], Verb::Unsupported("Conference".into()));
        assert_eq!(
            verbs[8],
            Verb::DialNumber(DialNumber {
                number: "+15557770001".into(),
                caller_id: Some("+15005550100".into()),
                action: Some("/intake/callback/dialed".into()),
                timeout: 20,
            })
        );
    }

    #[test]
    fn a_wav_s_length_is_read_from_its_header() {
        // 8 kHz 16-bit mono: 16,000 bytes a second; 40,000 bytes = 2.5 s.
        let mut file = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        file.extend_from_slice(&16u32.to_le_bytes());
        file.extend_from_slice(&[1, 0, 1, 0]);
        file.extend_from_slice(&8000u32.to_le_bytes());
        file.extend_from_slice(&16000u32.to_le_bytes());
        file.extend_from_slice(&[2, 0, 16, 0]);
        file.extend_from_slice(b"data");
        file.extend_from_slice(&40000u32.to_le_bytes());
        file.resize(file.len() + 40000, 0);
        assert_eq!(wav_duration_ms(&file), Some(2500));
        // A truncated file plays what it has.
        assert_eq!(wav_duration_ms(&file[..44 + 16000]), Some(1000));
        assert_eq!(wav_duration_ms(b"ID3 an mp3"), None);
        assert_eq!(wav_duration_ms(&file[..30]), None);
    }

    #[test]
    fn refuses_what_twilio_refuses() {
        assert!(parse("not xml").is_err());
        assert!(parse("<Foo/>").is_err());
    }

    #[test]
    fn durations() {
        let media = Media::from([("https://x/clip.wav".to_string(), 20_000)]);
        assert_eq!(
            duration_ms(&Verb::Say("one two three four five".into()), &media),
            2000
        );
        assert_eq!(duration_ms(&Verb::Say("hi".into()), &media), 1000);
        assert_eq!(duration_ms(&Verb::Pause(3), &media), 3000);
        let play = |url: &str, loops| Verb::Play {
            url: url.into(),
            loops,
        };
        assert_eq!(duration_ms(&play("https://x/clip.wav", 2), &media), 40_000);
        assert_eq!(
            duration_ms(&play("https://elsewhere/song.mp3", 1), &media),
            UNKNOWN_MEDIA_MS
        );
        assert!(is_audible(&Verb::Gather(Gather {
            action: None,
            num_digits: None,
            timeout: 5,
            prompts: vec![Verb::Say("x".into())],
            action_on_empty_result: false,
        })));
    }
}
