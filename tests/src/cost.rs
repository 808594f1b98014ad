//! What a simulated day would cost, per 1,000 calls, at list prices: Lambda
//! from the functions' measured in-process durations, DynamoDB from the
//! request units the metered store counted, Twilio from the stand-in's own
//! records of every leg and message.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use homeline_core::store::capacity::Consumed;

use crate::sim::World;

/// List prices in US dollars, looked up on 2026-12-06 (USD, us-east-1, US numbers):
/// - Lambda, Arm, first tier: <https://aws.amazon.com/lambda/pricing/>
/// - DynamoDB on-demand: <https://aws.amazon.com/dynamodb/pricing/on-demand/>
/// - Twilio Voice US (outbound, inbound local, AMD): <https://www.twilio.com/en-us/voice/pricing/us>
/// - Twilio SMS US, per segment either way: <https://www.twilio.com/en-us/sms/pricing/us>
pub struct Prices {
    pub lambda_gb_second: f64,
    pub lambda_request: f64,
    pub dynamo_read_unit: f64,
    pub dynamo_write_unit: f64,
    pub outbound_minute: f64,
    pub inbound_minute: f64,
    pub machine_detection: f64,
    pub sms_segment: f64,
}

pub const PRICES: Prices = Prices {
    lambda_gb_second: 0.000_013_333_4,
    lambda_request: 0.20 / 1e6,
    dynamo_read_unit: 0.125 / 1e6,
    dynamo_write_unit: 0.625 / 1e6,
    outbound_minute: 0.0140,
    inbound_minute: 0.0085,
    machine_detection: 0.0075,
    sms_segment: 0.0083,
};

/// Every function's memory in `template.yaml`'s terms: 128 MB.
const GB: f64 = 128.0 / 1024.0;

/// Invocations of each function and their billed milliseconds (Lambda
/// rounds each invocation's duration up to the next millisecond).
#[derive(Debug, Default)]
pub struct Invocations(Mutex<BTreeMap<&'static str, (u64, u64)>>);

impl Invocations {
    pub fn record(&self, function: &'static str, took: Duration) {
        let billed = u64::try_from(took.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let mut all = self.0.lock().expect("invocations");
        let (requests, ms) = all.entry(function).or_default();
        *requests += 1;
        *ms += billed;
    }

    /// Each function's requests and billed milliseconds, by name.
    pub fn by_function(&self) -> BTreeMap<&'static str, (u64, u64)> {
        self.0.lock().expect("invocations").clone()
    }
}

/// SMS segments of `body`: GSM-7 fits 160 characters in one segment and 153
/// per segment when split; anything outside GSM-7 is sent as UCS-2, 70 and
/// 67 (counted in UTF-16 code units).
pub fn sms_segments(body: &str) -> u64 {
    const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    // The extension table: each costs an escape and a character.
    const GSM_EXTENDED: &str = "^{}\\[~]|€\x0c";
    let gsm: Option<u64> = body
        .chars()
        .map(|c| {
            if GSM.contains(c) {
                Some(1)
            } else if GSM_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, single, part) = match gsm {
        Some(septets) => (septets, 160, 153),
        None => (body.encode_utf16().count() as u64, 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part)
    }
}

/// Twilio's billable units, from the stand-in's records.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TwilioUnits {
    /// Callers' legs, from answer to hang-up, each rounded up to a minute
    /// (a `<Reject>`ed call is not billed).
    pub inbound_minutes: u64,
    /// Legs that rang a worker and were answered (by a person or a machine).
    pub worker_leg_minutes: u64,
    /// Other answered outbound legs (customers called back).
    pub other_outbound_minutes: u64,
    /// Answered legs that ran answering-machine detection.
    pub machine_detections: u64,
    pub sms_segments_sent: u64,
    pub sms_segments_received: u64,
}

impl TwilioUnits {
    pub fn of(world: &World) -> Self {
        let mut units = Self::default();
        for call in world.calls.values() {
            let (Some(answered), Some(ended)) = (call.answered, call.ended) else {
                continue;
            };
            let minutes = (ended.saturating_sub(answered)).div_ceil(60_000).max(1);
            if call.inbound {
                if !call.rejected {
                    units.inbound_minutes += minutes;
                }
            } else if world.workers.contains_key(&call.to) {
                units.worker_leg_minutes += minutes;
            } else {
                units.other_outbound_minutes += minutes;
            }
            if call.outbound.as_ref().is_some_and(|o| o.machine_detection) {
                units.machine_detections += 1;
            }
        }
        units.sms_segments_sent = world.messages.iter().map(|m| sms_segments(&m.body)).sum();
        units.sms_segments_received = world
            .delivered
            .iter()
            .filter(|d| d.path.ends_with("/intake/sms"))
            .map(|d| sms_segments(d.param("Body").unwrap_or_default()))
            .sum();
        units
    }
}

/// A day's usage and what it costs per 1,000 calls.
pub struct Cost {
    pub calls: usize,
    pub invocations: BTreeMap<&'static str, (u64, u64)>,
    pub dynamo: Consumed,
    pub twilio: TwilioUnits,
}

impl Cost {
    /// `(line, units per 1,000 calls, unit, dollars per 1,000 calls)`.
    pub fn lines(&self) -> Vec<(String, f64, &'static str, f64)> {
        let per = 1000.0 / self.calls.max(1) as f64;
        let p = &PRICES;
        let mut lines = Vec::new();
        let mut line = |name: String, units: f64, unit, price: f64| {
            lines.push((name, units * per, unit, units * per * price));
        };
        for (function, (requests, ms)) in &self.invocations {
            let gb_seconds = *ms as f64 / 1000.0 * GB;
            line(
                format!("Lambda {function} duration"),
                gb_seconds,
                "GB-s",
                p.lambda_gb_second,
            );
            line(
                format!("Lambda {function} requests"),
                *requests as f64,
                "requests",
                p.lambda_request,
            );
        }
        line(
            "DynamoDB reads".into(),
            self.dynamo.read_units,
            "RRU",
            p.dynamo_read_unit,
        );
        line(
            "DynamoDB writes".into(),
            self.dynamo.write_units,
            "WRU",
            p.dynamo_write_unit,
        );
        let t = &self.twilio;
        for (name, units, unit, price) in [
            ("Twilio inbound", t.inbound_minutes, "min", p.inbound_minute),
            (
                "Twilio worker legs",
                t.worker_leg_minutes,
                "min",
                p.outbound_minute,
            ),
            (
                "Twilio call backs",
                t.other_outbound_minutes,
                "min",
                p.outbound_minute,
            ),
            (
                "Twilio AMD",
                t.machine_detections,
                "calls",
                p.machine_detection,
            ),
            (
                "Twilio SMS sent",
                t.sms_segments_sent,
                "segments",
                p.sms_segment,
            ),
            (
                "Twilio SMS received",
                t.sms_segments_received,
                "segments",
                p.sms_segment,
            ),
        ] {
            line(name.into(), units as f64, unit, price);
        }
        lines
    }

    pub fn table(&self) -> String {
        let lines = self.lines();
        let mut out = format!(
            "cost per 1,000 calls at list prices of 2026-12-06 ({} calls; Lambda at 128 MB arm64 \
             from in-process durations on this machine):\n",
            self.calls
        );
        let _ = writeln!(
            out,
            "  {:<36} {:>14} {:<9} {:>10}",
            "line", "units", "", "USD"
        );
        for (name, units, unit, dollars) in &lines {
            let _ = writeln!(out, "  {name:<36} {units:>14.3} {unit:<9} {dollars:>10.6}");
        }
        let total = |prefix: &str| -> f64 {
            lines
                .iter()
                .filter(|l| l.0.starts_with(prefix))
                .map(|l| l.3)
                .sum()
        };
        let _ = writeln!(
            out,
            "  {:<61} {:>10.6}\n  {:<61} {:>10.6}\n  {:<61} {:>10.6}\n  {:<61} {:>10.6}",
            "Lambda",
            total("Lambda"),
            "DynamoDB",
            total("DynamoDB"),
            "Twilio",
            total("Twilio"),
            "total",
            total(""),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_7_fits_160_then_153_a_segment() {
        assert_eq!(sms_segments(""), 1);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        // An extension character takes two septets.
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
    }

    #[test]
    fn one_character_outside_gsm_7_makes_it_ucs_2() {
        assert_eq!(sms_segments(&format!("{}’", "a".repeat(69))), 1);
        assert_eq!(sms_segments(&format!("{}’", "a".repeat(70))), 2);
        assert_eq!(sms_segments(&format!("{}’", "a".repeat(133))), 2);
        assert_eq!(sms_segments(&format!("{}’", "a".repeat(134))), 3);
        // An emoji is two UTF-16 code units.
        assert_eq!(sms_segments(&"😀".repeat(35)), 1);
        assert_eq!(sms_segments(&"😀".repeat(36)), 2);
    }

    #[test]
    fn lambda_bills_each_invocation_rounded_up_to_the_millisecond() {
        let invocations = Invocations::default();
        invocations.record("inbound", Duration::from_micros(1_001));
        invocations.record("inbound", Duration::from_micros(3_000));
        assert_eq!(invocations.by_function()["inbound"], (2, 5));
    }

    #[test]
    fn figures_are_per_thousand_calls_at_the_table_s_prices() {
        let cost = Cost {
            calls: 500,
            invocations: BTreeMap::from([("inbound", (2, 8_000))]),
            dynamo: Consumed {
                read_units: 10.0,
                write_units: 4.0,
                failed_writes: 0,
            },
            twilio: TwilioUnits {
                worker_leg_minutes: 3,
                ..TwilioUnits::default()
            },
        };
        let lines = cost.lines();
        let find = |name: &str| lines.iter().find(|l| l.0 == name).expect(name).clone();
        // 8 s at 0.125 GB, doubled to 1,000 calls.
        let duration = find("Lambda inbound duration");
        assert!((duration.1 - 2.0).abs() < 1e-9);
        assert!((duration.3 - 2.0 * PRICES.lambda_gb_second).abs() < 1e-12);
        assert_eq!(find("Lambda inbound requests").1, 4.0);
        assert_eq!(find("DynamoDB writes").1, 8.0);
        let legs = find("Twilio worker legs");
        assert_eq!(legs.1, 6.0);
        assert!((legs.3 - 6.0 * PRICES.outbound_minute).abs() < 1e-12);
    }
}
