//! Per-request cost of the webhook front door: signature verification and
//! form parsing of a typical 20-parameter call status callback.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use homeline_core::http::{TwilioRequest, verified};
use homeline_core::signature;
use homeline_core::twiml::{Dial, Queue, Response};
use testkit::events::{Webhook, form_request, pairs};
use testkit::{AUTH_TOKEN, test_config};

const PATH: &str = "/dial-status";

/// The parameters of a call status callback, as Twilio sends them.
fn status_callback() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA00000000000000000000000000000007"),
        ("CallStatus", "completed"),
        ("CallDuration", "42"),
        ("Called", "+15551234567"),
        ("CalledCity", ""),
        ("CalledCountry", "US"),
        ("CalledState", "CA"),
        ("CalledZip", ""),
        ("Caller", "+15005550006"),
        ("CallerCity", "SAN FRANCISCO"),
        ("CallerCountry", "US"),
        ("CallerState", "CA"),
        ("CallerZip", "94105"),
        ("Direction", "outbound-api"),
        ("From", "+15005550006"),
        ("SequenceNumber", "3"),
        ("Timestamp", "Wed, 25 Nov 2026 14:00:00 +0000"),
        ("To", "+15551234567"),
    ]
}

fn bench(c: &mut Criterion) {
    let query = [("reservation", "WR00000000000000000000000000000009")];
    let webhook = Webhook::form(PATH, &status_callback()).query(&query);
    let url = webhook.url();
    let signature = webhook.signature().unwrap_or_default();
    let params = pairs(&status_callback());
    let request = form_request(PATH, &query, &status_callback());
    let config = test_config(&[]);

    c.bench_function("signature::is_valid, 20 params", |b| {
        b.iter(|| {
            signature::is_valid(
                AUTH_TOKEN,
                black_box(&url),
                black_box(&params),
                black_box(&signature),
            )
        })
    });
    c.bench_function("TwilioRequest::parse, 20-param form", |b| {
        b.iter(|| TwilioRequest::parse(black_box(&request)))
    });
    c.bench_function("http::verified, 20-param form", |b| {
        b.iter(|| verified(black_box(&request), black_box(&config)))
    });
    // The biggest document a webhook renders: the worker's whisper and bridge.
    c.bench_function("twiml: whisper + Dial/Queue bridge", |b| {
        b.iter(|| {
            Response::new()
                .say(black_box("Homeline call for sales."))
                .dial(
                    Dial::new()
                        .action("https://homeline.example.com/amd-result/after-bridge?TaskSid=WT00000000000000000000000000000003&ReservationSid=WR00000000000000000000000000000004")
                        .queue(
                            Queue::new("")
                                .reservation_sid("WR00000000000000000000000000000004")
                                .post_work_activity_sid("WA0000000000000000000000000000000a"),
                        ),
                )
                .say("The caller has already hung up. Thank you.")
                .to_xml()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
