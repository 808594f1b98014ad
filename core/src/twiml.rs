//! A small TwiML builder. Every text and attribute value is XML-escaped.
//!
//! ```
//! use homeline_core::twiml::{Gather, Response};
//! let xml = Response::new()
//!     .gather(Gather::new().action("/inbound/menu").num_digits(1).say("For sales press 1."))
//!     .say("Goodbye.")
//!     .to_xml();
//! assert!(xml.contains("<Gather action=\"/inbound/menu\" numDigits=\"1\">"));
//! ```

use std::fmt::Write as _;

/// One XML element with attributes in insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    text: Option<String>,
    children: Vec<Element>,
}

impl Element {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            attrs: Vec::new(),
            text: None,
            children: Vec::new(),
        }
    }

    fn text(name: &'static str, text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::new(name)
        }
    }

    fn attr(mut self, name: &'static str, value: impl ToString) -> Self {
        self.attrs.push((name, value.to_string()));
        self
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(self.name);
        for (name, value) in &self.attrs {
            let _ = write!(out, " {name}=\"");
            escape_into(value, Context::Attribute, out);
            out.push('"');
        }
        if self.text.is_none() && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if let Some(text) = &self.text {
            escape_into(text, Context::Text, out);
        }
        for child in &self.children {
            child.write(out);
        }
        let _ = write!(out, "</{}>", self.name);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Text,
    Attribute,
}

/// Escapes for XML 1.0. In attributes, tab and line breaks become character
/// references: a parser would otherwise read them as spaces. Characters XML
/// 1.0 forbids (most control characters) are dropped, since one of them in,
/// say, an echoed SMS would make Twilio reject the whole document.
fn escape_into(s: &str, context: Context, out: &mut String) {
    let attribute = context == Context::Attribute;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            _ => out.push(c),
        }
    }
}

macro_rules! attr_setters {
    ($( $(#[$doc:meta])* $fn:ident => $attr:literal : $ty:ty ),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $fn(mut self, value: $ty) -> Self {
                self.0 = self.0.attr($attr, value);
                self
            }
        )*
    };
}

/// `<Response>`: the document root, for voice and messaging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response(Element);

impl Default for Response {
    fn default() -> Self {
        Self::new()
    }
}

impl Response {
    pub fn new() -> Self {
        Self(Element::new("Response"))
    }

    fn push(mut self, child: Element) -> Self {
        self.0.children.push(child);
        self
    }

    pub fn say(self, text: impl Into<String>) -> Self {
        self.push(Say::new(text).0)
    }

    pub fn say_with(self, say: Say) -> Self {
        self.push(say.0)
    }

    pub fn play(self, url: impl Into<String>) -> Self {
        self.push(Play::new(url).0)
    }

    pub fn play_with(self, play: Play) -> Self {
        self.push(play.0)
    }

    /// `<Pause length=..>`, in seconds.
    pub fn pause(self, seconds: u32) -> Self {
        self.push(Element::new("Pause").attr("length", seconds))
    }

    pub fn gather(self, gather: Gather) -> Self {
        self.push(gather.0)
    }

    pub fn dial(self, dial: Dial) -> Self {
        self.push(dial.0)
    }

    pub fn enqueue(self, enqueue: Enqueue) -> Self {
        self.push(enqueue.0)
    }

    pub fn record(self, record: Record) -> Self {
        self.push(record.0)
    }

    pub fn redirect(self, url: impl Into<String>) -> Self {
        self.push(Element::text("Redirect", url))
    }

    pub fn redirect_with_method(self, url: impl Into<String>, method: &str) -> Self {
        self.push(Element::text("Redirect", url).attr("method", method))
    }

    pub fn hangup(self) -> Self {
        self.push(Element::new("Hangup"))
    }

    /// `<Leave/>`: takes the caller out of the queue (in a wait URL).
    pub fn leave(self) -> Self {
        self.push(Element::new("Leave"))
    }

    /// `<Reject/>`: as the first verb, Twilio does not answer the call (nor
    /// bill it); the caller hears the carrier's not-in-service signal.
    pub fn reject(self) -> Self {
        self.push(Element::new("Reject"))
    }

    /// Messaging `<Message>`: the SMS reply.
    pub fn message(self, body: impl Into<String>) -> Self {
        self.push(Element::text("Message", body))
    }

    /// The document with its XML declaration.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        self.0.write(&mut out);
        out
    }
}

/// `<Say>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say(Element);

impl Say {
    pub fn new(text: impl Into<String>) -> Self {
        Self(Element::text("Say", text))
    }
    attr_setters! {
        voice => "voice": &str,
        language => "language": &str,
        loop_count => "loop": u32,
    }
}

/// `<Play>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play(Element);

impl Play {
    pub fn new(url: impl Into<String>) -> Self {
        Self(Element::text("Play", url))
    }
    attr_setters! {
        /// 0 loops forever.
        loop_count => "loop": u32,
    }
}

/// `<Gather>`; nested Say, Play and Pause are what plays while it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather(Element);

impl Default for Gather {
    fn default() -> Self {
        Self::new()
    }
}

impl Gather {
    pub fn new() -> Self {
        Self(Element::new("Gather"))
    }
    attr_setters! {
        action => "action": &str,
        method => "method": &str,
        input => "input": &str,
        num_digits => "numDigits": u32,
        /// Seconds of silence before giving up.
        timeout => "timeout": u32,
        finish_on_key => "finishOnKey": &str,
        action_on_empty_result => "actionOnEmptyResult": bool,
    }

    pub fn say(mut self, text: impl Into<String>) -> Self {
        self.0.children.push(Say::new(text).0);
        self
    }

    pub fn say_with(mut self, say: Say) -> Self {
        self.0.children.push(say.0);
        self
    }

    pub fn play(mut self, url: impl Into<String>) -> Self {
        self.0.children.push(Play::new(url).0);
        self
    }

    pub fn play_with(mut self, play: Play) -> Self {
        self.0.children.push(play.0);
        self
    }

    pub fn pause(mut self, seconds: u32) -> Self {
        self.0
            .children
            .push(Element::new("Pause").attr("length", seconds));
        self
    }
}

/// `<Dial>` with one noun: a `<Queue>` or a `<Number>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial(Element);

impl Default for Dial {
    fn default() -> Self {
        Self::new()
    }
}

impl Dial {
    pub fn new() -> Self {
        Self(Element::new("Dial"))
    }
    attr_setters! {
        action => "action": &str,
        method => "method": &str,
        timeout => "timeout": u32,
        caller_id => "callerId": &str,
        time_limit => "timeLimit": u32,
        answer_on_bridge => "answerOnBridge": bool,
    }

    pub fn queue(mut self, queue: Queue) -> Self {
        self.0.children.push(queue.0);
        self
    }

    pub fn number(mut self, number: impl Into<String>) -> Self {
        self.0.children.push(Element::text("Number", number));
        self
    }
}

/// `<Queue>` inside `<Dial>`; with `reservationSid` it accepts a TaskRouter
/// reservation and bridges its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue(Element);

impl Queue {
    /// A queue by name (empty for a reservation bridge).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        if name.is_empty() {
            Self(Element::new("Queue"))
        } else {
            Self(Element::text("Queue", name))
        }
    }
    attr_setters! {
        reservation_sid => "reservationSid": &str,
        post_work_activity_sid => "postWorkActivitySid": &str,
        url => "url": &str,
        method => "method": &str,
    }
}

/// `<Enqueue workflowSid=..>` with an optional `<Task>` (attributes as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue(Element);

impl Enqueue {
    /// A TaskRouter enqueue (no queue name).
    pub fn workflow(workflow_sid: &str) -> Self {
        Self(Element::new("Enqueue").attr("workflowSid", workflow_sid))
    }
    attr_setters! {
        action => "action": &str,
        method => "method": &str,
        wait_url => "waitUrl": &str,
        wait_url_method => "waitUrlMethod": &str,
    }

    /// `<Task>` with the task's attributes as JSON.
    pub fn task(mut self, attributes: &serde_json::Value) -> Self {
        self.0
            .children
            .push(Element::text("Task", attributes.to_string()));
        self
    }

    /// `<Task priority=.. timeout=..>`.
    pub fn task_with(
        mut self,
        attributes: &serde_json::Value,
        priority: Option<u32>,
        timeout: Option<u32>,
    ) -> Self {
        let mut task = Element::text("Task", attributes.to_string());
        if let Some(p) = priority {
            task = task.attr("priority", p);
        }
        if let Some(t) = timeout {
            task = task.attr("timeout", t);
        }
        self.0.children.push(task);
        self
    }
}

/// `<Record>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(Element);

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

impl Record {
    pub fn new() -> Self {
        Self(Element::new("Record"))
    }
    attr_setters! {
        action => "action": &str,
        method => "method": &str,
        max_length => "maxLength": u32,
        timeout => "timeout": u32,
        play_beep => "playBeep": bool,
        finish_on_key => "finishOnKey": &str,
        trim => "trim": &str,
        recording_status_callback => "recordingStatusCallback": &str,
        recording_status_callback_event => "recordingStatusCallbackEvent": &str,
        transcribe => "transcribe": bool,
        transcribe_callback => "transcribeCallback": &str,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_forbids_are_dropped_and_the_rest_kept() {
        let xml = Response::new()
            .message("a\u{0}b\u{1b}c\u{ffff}d\te\r\nf")
            .to_xml();
        assert!(
            xml.ends_with("<Message>abcd\te&#13;\nf</Message></Response>"),
            "{xml}"
        );
    }

    #[test]
    fn whitespace_in_attributes_survives_parsing() {
        let xml = Response::new()
            .say_with(Say::new("x").voice("a\tb\nc\rd"))
            .to_xml();
        assert!(xml.contains(r#"voice="a&#9;b&#10;c&#13;d""#), "{xml}");
    }
}
