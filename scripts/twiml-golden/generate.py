#!/usr/bin/env python3
"""Golden TwiML fixtures, produced by Twilio's official Python library.

`core/tests/twiml_golden.rs` builds the same documents with our builder
(`homeline_core::twiml`) and compares them canonically with these files (element
names, attribute maps, text). Each case below has a twin of the same name in
that test; the test fails when a fixture has no case or a case no fixture.

Regenerate (from the repository root):

    python3 -m venv /tmp/twiml-venv
    /tmp/twiml-venv/bin/pip install 'twilio>=9,<10'
    /tmp/twiml-venv/bin/python scripts/twiml-golden/generate.py
    git diff core/tests/fixtures/twiml/   # review, then commit

The fixtures were last generated with twilio 9.13.0 (the version is also
written into README.md next to them). Values are fakes: SIDs are a prefix +
32 hex digits, phone numbers are Twilio's magic test numbers.
"""

import json
import sys
from pathlib import Path

import twilio
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

OUT = Path(__file__).resolve().parents[2] / "core" / "tests" / "fixtures" / "twiml"

BASE = "https://example.execute-api.us-east-1.amazonaws.com"
WORKFLOW = "WW" + "3" * 32
RESERVATION = "WR" + "7" * 32
ACTIVITY = "WA" + "4" * 32
CALLER_ID = "+15005550006"


def task_json(attributes):
    # serde_json's compact form with sorted keys and raw UTF-8, which is what
    # `Enqueue::task` writes, so the texts can be compared exactly.
    return json.dumps(attributes, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def response_empty():
    return VoiceResponse()


def say():
    r = VoiceResponse()
    r.say("Thank you for calling.")
    r.say("Bonjour.", voice="Polly.Celine", language="fr-FR", loop=2)
    return r


def play():
    r = VoiceResponse()
    r.play(BASE + "/hold.mp3")
    r.play("http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3", loop=0)
    return r


def pause():
    r = VoiceResponse()
    r.pause(length=2)
    return r


def gather():
    r = VoiceResponse()
    g = Gather(
        action="/inbound/menu",
        method="POST",
        input="dtmf",
        num_digits=1,
        timeout=5,
        finish_on_key="#",
        action_on_empty_result=True,
    )
    g.say("For sales press 1.", voice="Polly.Joanna")
    g.play(BASE + "/menu.mp3")
    g.pause(length=1)
    g.say("For support press 2.")
    r.append(g)
    r.append(Gather(input="dtmf speech", action_on_empty_result=False))
    r.say("We did not get your choice. Goodbye.")
    return r


def dial_queue():
    r = VoiceResponse()
    d = Dial(
        action="/dial-status?reservation=" + RESERVATION,
        timeout=20,
        caller_id=CALLER_ID,
        answer_on_bridge=True,
        time_limit=3600,
    )
    # An empty queue name: with reservationSid, Twilio bridges the task's caller.
    d.queue("", reservation_sid=RESERVATION, post_work_activity_sid=ACTIVITY)
    r.append(d)
    return r


def dial_number():
    r = VoiceResponse()
    d = Dial(caller_id=CALLER_ID, answer_on_bridge=False, timeout=15)
    d.number("+15005550006")
    r.append(d)
    return r


def call_back():
    """A follow-up's call back: the whisper's Gather, then the Dial to the customer."""
    r = VoiceResponse()
    g = Gather(
        input="dtmf",
        num_digits=1,
        timeout=8,
        action="/intake/callback/key?call=CA" + "1" * 32 + "&claim=2",
        action_on_empty_result=True,
    )
    g.say("Homeline call back number 7, for sales. The caller, 1 5 0 0 5 5 5 0 0 0 6, left a voicemail. Press 1 to call them now.")
    r.append(g)
    d = Dial(
        caller_id=CALLER_ID,
        action="/intake/callback/dialed?call=CA" + "1" * 32 + "&claim=2",
        method="POST",
        timeout=20,
    )
    d.number("+15005550006")
    r.append(d)
    return r


def keypad_pin():
    """The worker line's PIN: digits until #, then the same step again on silence."""
    r = VoiceResponse()
    url = "https://homeline.example.com/intake/voice/pin?then=dial&attempt=2"
    g = Gather(input="dtmf", finish_on_key="#", timeout=10, action=url, method="POST")
    g.say("That PIN is not right. 3 tries left before the keypad locks.")
    g.say("Enter your PIN, then press pound.")
    r.append(g)
    r.redirect(url, method="POST")
    return r


def keypad_voicemail():
    """The newest voicemail on the keypad: who, the recording, then 1 to call them back."""
    r = VoiceResponse()
    r.say("Homeline call back number 2, for sales. The caller, 1 5 0 0 5 5 5 0 0 0 6, left a voicemail.")
    r.play("https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "1" * 32)
    g = Gather(
        input="dtmf",
        num_digits=1,
        timeout=6,
        action="https://homeline.example.com/intake/voice/call-back?call=CA" + "2" * 32 + "&follow_up=CA" + "1" * 32,
        method="POST",
    )
    g.say("Press 1 to call them back now.")
    r.append(g)
    r.say("Goodbye.")
    r.hangup()
    return r


def keypad_dial_out():
    """A number keyed on the worker line, dialled from the business caller ID."""
    r = VoiceResponse()
    r.say("Calling 1 5 0 0 5 5 5 0 0 0 6 from the business line.")
    d = Dial(caller_id=CALLER_ID, timeout=20)
    d.number("+15005550006")
    r.append(d)
    return r


def callback_question():
    """The waiting caller's 1: the number to call back, confirmed or keyed."""
    r = VoiceResponse()
    g = Gather(
        input="dtmf",
        finish_on_key="#",
        timeout=10,
        action="/inbound/callback-key?skill=sales&try=1",
    )
    g.say(
        "We will call you back at 5 0 0, 5 5 5, 0 0 0 6. Press 1 to confirm, "
        "or enter another number, then press pound."
    )
    r.append(g)
    r.redirect("/inbound/callback-key?skill=sales&try=1")
    return r


def callback_booked():
    r = VoiceResponse()
    r.say("Thank you. We will call you back at 5 0 0, 5 5 5, 0 0 0 6 when it is your turn. Goodbye.")
    r.hangup()
    return r


def callback_dial():
    """A callback task's bridge: the worker pressed 1, the customer is dialled."""
    r = VoiceResponse()
    r.say("Callback for sales, caller waited 4 minutes.")
    d = Dial(
        action=f"/amd-result/after-bridge?TaskSid=WT{'1' * 32}&ReservationSid={RESERVATION}",
        caller_id=CALLER_ID,
        timeout=20,
    )
    d.number("+15005550006")
    r.append(d)
    return r


def enqueue_task():
    r = VoiceResponse()
    e = Enqueue(
        workflow_sid=WORKFLOW,
        action="/inbound/after-queue",
        wait_url="/inbound/hold",
        wait_url_method="POST",
    )
    e.task(task_json({"skill": "sales", "caller": "+15005550006", "call_sid": "CA" + "1" * 32}))
    r.append(e)
    return r


def enqueue_task_priority():
    r = VoiceResponse()
    e = Enqueue(workflow_sid=WORKFLOW, action="/inbound/after-queue", method="POST")
    e.task(task_json({"skill": "support"}), priority=10, timeout=600)
    r.append(e)
    return r


def record():
    r = VoiceResponse()
    r.say("Please leave a message after the beep.")
    r.record(
        action="/inbound/voicemail",
        method="POST",
        max_length=120,
        play_beep=True,
        timeout=5,
        trim="trim-silence",
        finish_on_key="#",
        recording_status_callback="/inbound/recording",
        recording_status_callback_event="completed absent",
        transcribe=True,
        transcribe_callback="/inbound/transcription?skill=sales",
    )
    r.record(play_beep=False, trim="do-not-trim")
    return r


def redirect():
    r = VoiceResponse()
    r.redirect("/inbound/menu")
    r.redirect("/inbound/menu?retry=1&skill=sales", method="GET")
    return r


def hangup():
    r = VoiceResponse()
    r.hangup()
    return r


def wait_hold():
    """The wait URL: position and the way out over one play of hold music, a key interrupting it."""
    r = VoiceResponse()
    g = Gather(input="dtmf", num_digits=1, action="https://homeline.example.com/inbound/wait-key", timeout=1)
    g.say("You are caller number 2.")
    g.say("Press 2 to leave a message.")
    g.play("https://homeline.example.com/inbound/hold-music", loop=1)
    r.append(g)
    return r


def wait_hold_estimate():
    """The caller's first wait document: the estimated wait said after the position."""
    r = VoiceResponse()
    g = Gather(input="dtmf", num_digits=1, action="https://homeline.example.com/inbound/wait-key?skill=sales", timeout=1)
    g.say("You are caller number 2.")
    g.say("Your wait is about 2 minutes.")
    g.say("Press 1 for a callback, 2 for voicemail.")
    g.play("https://homeline.example.com/inbound/hold-music", loop=1)
    r.append(g)
    return r


def wait_hold_pause():
    """The last stretch before MAX_WAIT_SECS: silence cut to fit instead of a whole clip."""
    r = VoiceResponse()
    g = Gather(input="dtmf", num_digits=1, action="https://homeline.example.com/inbound/wait-key", timeout=1)
    g.say("Press 2 to leave a message.")
    g.pause(length=10)
    r.append(g)
    return r


def wait_last_offer():
    """MAX_WAIT_SECS is up: the way out once more, then out of the queue to voicemail."""
    r = VoiceResponse()
    g = Gather(input="dtmf", num_digits=1, action="https://homeline.example.com/inbound/wait-key", timeout=5)
    g.say("Sorry, everyone is still busy.")
    g.say("Press 2 to leave a message.")
    r.append(g)
    r.leave()
    return r


def leave():
    r = VoiceResponse()
    r.leave()
    return r


def reject():
    r = VoiceResponse()
    r.reject()
    return r


def message():
    r = MessagingResponse()
    r.message("You are now available for sales.\nText OFF to stop.")
    return r


def escaping():
    """Text and attributes that must be escaped, and non-ASCII."""
    r = VoiceResponse()
    r.say("Tom & Jerry's <shop> says \"hi\" — café ünïcode 日本 🎧")
    r.redirect("/inbound/menu?a=1&b=<2>&c=\"3\"&d='4'&e=é", method="POST")
    r.say("x", voice="a&b<c>d\"e'f\tg\nh")
    e = Enqueue(workflow_sid=WORKFLOW, wait_url="/inbound/hold?x=1&y=2")
    e.task(task_json({"caller": "O'Brien & <Sons>", "note": "\"quoted\" é"}))
    r.append(e)
    return r


def sms_escaping():
    r = MessagingResponse()
    r.message("Status: on <sales> & \"support\" — Zoë's line")
    return r


CASES = [
    response_empty,
    say,
    play,
    pause,
    gather,
    dial_queue,
    dial_number,
    call_back,
    keypad_pin,
    keypad_voicemail,
    keypad_dial_out,
    callback_question,
    callback_booked,
    callback_dial,
    enqueue_task,
    enqueue_task_priority,
    record,
    redirect,
    hangup,
    wait_hold,
    wait_hold_estimate,
    wait_hold_pause,
    wait_last_offer,
    leave,
    reject,
    message,
    escaping,
    sms_escaping,
]


# The static fallback documents the stack publishes (template.yaml,
# FallbackApi) for when Lambda or DynamoDB fail: no Homeline code renders
# them, so `core/tests/it/twiml_golden.rs` checks that template.yaml holds
# each of these texts verbatim. URLs are relative (Twilio resolves them
# against the fallback document's own URL); `${FallbackNumber}` is the
# template parameter CloudFormation substitutes.
FALLBACK_OUT = OUT / "fallback"


def fallback_voice():
    r = VoiceResponse()
    r.say("Sorry, we cannot take your call right now. Please leave a message after the tone.")
    r.record(action="recorded", method="POST", max_length=120, play_beep=True, timeout=5)
    r.say("We did not get a message. Goodbye.")
    r.hangup()
    return r


def fallback_voice_forward():
    r = VoiceResponse()
    r.dial("${FallbackNumber}", timeout=25)
    r.say("Sorry, nobody can take your call right now. Please leave a message after the tone.")
    r.record(action="recorded", method="POST", max_length=120, play_beep=True, timeout=5)
    r.say("We did not get a message. Goodbye.")
    r.hangup()
    return r


def fallback_recorded():
    r = VoiceResponse()
    r.say("Thank you. Goodbye.")
    r.hangup()
    return r


def fallback_sms():
    # No reply: the message may be one of Twilio's carrier keywords, which
    # Twilio has answered already (docs/twilio.md, "Carrier keywords").
    return MessagingResponse()


FALLBACK_CASES = [fallback_voice, fallback_voice_forward, fallback_recorded, fallback_sms]


def write_cases(out, cases):
    out.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for case in cases:
        path = out / f"{case.__name__}.xml"
        wanted.add(path.name)
        path.write_text(case().to_xml() + "\n", encoding="utf-8")
    for stale in out.glob("*.xml"):
        if stale.name not in wanted:
            stale.unlink()


def main():
    major = int(twilio.__version__.split(".")[0])
    if major != 9:
        sys.exit(f"expected twilio 9.x, found {twilio.__version__}")
    write_cases(OUT, CASES)
    write_cases(FALLBACK_OUT, FALLBACK_CASES)
    (OUT / "README.md").write_text(
        "Generated by `scripts/twiml-golden/generate.py` with the official "
        f"`twilio` Python library {twilio.__version__}. Do not edit by hand.\n",
        encoding="utf-8",
    )
    print(
        f"wrote {len(CASES)} fixtures to {OUT} and {len(FALLBACK_CASES)} to {FALLBACK_OUT} "
        f"(twilio {twilio.__version__})"
    )


if __name__ == "__main__":
    main()
