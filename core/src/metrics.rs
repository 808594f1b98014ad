//! CloudWatch metrics in Embedded Metric Format: one JSON line per
//! observation on stdout, which CloudWatch Logs turns into metrics of the
//! `Homeline` namespace (no PutMetricData call, no extra permission, nothing
//! in a webhook's latency). The template's dashboard and alarms read them.
//!
//! Call sites emit with one line, `metrics::emit(Metric::...)`. The line goes
//! out as a `tracing` event of target [`TARGET`]; [`EmfLayer`] prints it
//! raw (EMF needs its object at the top of the log line), and the JSON log
//! layer leaves it out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

pub const NAMESPACE: &str = "Homeline";
/// The `tracing` target of metric lines.
pub const TARGET: &str = "emf";

/// Why a caller was sent to voicemail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoicemailReason {
    /// Outside `BUSINESS_HOURS`.
    AfterHours,
    /// During hours, no worker of the skill was on duty (the no-worker queue).
    NobodyOnDuty,
    /// Workers were on duty; nobody took the call in time.
    NoAnswer,
    /// Kept from the workers: a withheld caller ID or a failed STIR/SHAKEN check.
    Screened,
}

impl VoicemailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            VoicemailReason::AfterHours => "after_hours",
            VoicemailReason::NobodyOnDuty => "nobody_on_duty",
            VoicemailReason::NoAnswer => "no_answer",
            VoicemailReason::Screened => "screened",
        }
    }
}

/// One observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric<'a> {
    /// A customer's call reached the line.
    CallArrived,
    /// A worker took the call after the caller waited `waited` in the queue.
    CallAnswered {
        waited: Option<Duration>,
    },
    Voicemail(VoicemailReason),
    /// The caller hung up while waiting.
    CallAbandoned,
    /// A worker missed an offered call (`busy`, `no-answer`, `machine_start`, ...).
    Miss {
        reason: &'a str,
    },
    /// Twilio answered an error (HTTP `status`, Twilio's `code`, 0 when none).
    TwilioError {
        status: u16,
        code: u32,
    },
    /// The state store failed an operation (after the SDK's retries).
    StoreError {
        operation: &'a str,
    },
}

/// Writes `metric` as one EMF line (see the module doc).
pub fn emit(metric: Metric<'_>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let line = line(&metric, u64::try_from(now).unwrap_or(u64::MAX));
    tracing::info!(target: TARGET, emf = %line);
}

/// The metrics of a caller leaving the queue with Twilio's `QueueResult`
/// and `QueueTime` (seconds waited), as the `<Enqueue>` action reports them.
pub fn emit_queue_left(queue_result: &str, queue_time: Option<&str>) {
    match queue_result {
        "bridged" => emit(Metric::CallAnswered {
            waited: queue_time
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        }),
        "hangup" => emit(Metric::CallAbandoned),
        // Redirects are counted where they are decided (the no-worker queue).
        "redirected" | "redirected-from-bridged" | "bridging-in-process" => {}
        _ => emit(Metric::Voicemail(VoicemailReason::NoAnswer)),
    }
}

/// The EMF document of `metric` at `timestamp_ms`.
pub fn line(metric: &Metric<'_>, timestamp_ms: u64) -> String {
    let (name, unit, value, dimensions): (&str, &str, f64, Vec<(&str, String)>) = match metric {
        Metric::CallArrived => ("CallsArrived", "Count", 1.0, vec![]),
        Metric::CallAnswered { .. } => ("CallsAnswered", "Count", 1.0, vec![]),
        Metric::Voicemail(reason) => (
            "Voicemails",
            "Count",
            1.0,
            vec![("Reason", reason.as_str().to_string())],
        ),
        Metric::CallAbandoned => ("CallsAbandoned", "Count", 1.0, vec![]),
        Metric::Miss { reason } => ("Misses", "Count", 1.0, vec![("Reason", reason.to_string())]),
        Metric::TwilioError { status, code } => (
            "TwilioErrors",
            "Count",
            1.0,
            vec![
                ("Code", code.to_string()),
                ("StatusClass", format!("{}xx", status / 100)),
            ],
        ),
        Metric::StoreError { operation } => (
            "StoreErrors",
            "Count",
            1.0,
            vec![("Operation", operation.to_string())],
        ),
    };
    let mut metrics = vec![json!({"Name": name, "Unit": unit})];
    let mut root = Map::new();
    root.insert(name.into(), json!(value));
    if let Metric::CallAnswered {
        waited: Some(waited),
    } = metric
    {
        metrics.push(json!({"Name": "TimeToAnswer", "Unit": "Seconds"}));
        root.insert("TimeToAnswer".into(), json!(waited.as_secs_f64()));
    }
    // Each dimension alone: by code, and by status class for the 5xx alarm.
    let sets: Vec<Vec<&str>> = if dimensions.is_empty() {
        vec![vec![]]
    } else {
        dimensions.iter().map(|(d, _)| vec![*d]).collect()
    };
    for (dimension, value) in dimensions {
        root.insert(dimension.into(), Value::String(value));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root).to_string()
}

/// Hands each metric line (the `emf` field of a [`TARGET`] event) to `sink`:
/// stdout in the functions, a buffer in tests.
pub struct EmfLayer<F>(pub F);

impl<S, F> tracing_subscriber::Layer<S> for EmfLayer<F>
where
    S: tracing::Subscriber,
    F: Fn(&str) + 'static,
{
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        struct Line(Option<String>);
        impl Visit for Line {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "emf" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut line = Line(None);
        event.record(&mut line);
        if let Some(line) = line.0 {
            (self.0)(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(metric: Metric<'_>) -> Value {
        serde_json::from_str(&line(&metric, 1_700_000_000_000)).expect("JSON")
    }

    #[test]
    fn a_count_without_dimensions_has_one_empty_dimension_set() {
        let doc = parsed(Metric::CallArrived);
        assert_eq!(doc["CallsArrived"], 1.0);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "CallsArrived", "Unit": "Count"}])
        );
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }

    #[test]
    fn twilio_errors_are_by_code_and_by_status_class() {
        let doc = parsed(Metric::TwilioError {
            status: 503,
            code: 20503,
        });
        assert_eq!(doc["Code"], "20503");
        assert_eq!(doc["StatusClass"], "5xx");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Code"], ["StatusClass"]])
        );
    }

    #[test]
    fn an_answer_carries_the_time_to_answer() {
        let doc = parsed(Metric::CallAnswered {
            waited: Some(Duration::from_secs(12)),
        });
        assert_eq!(doc["CallsAnswered"], 1.0);
        assert_eq!(doc["TimeToAnswer"], 12.0);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert_eq!(names, ["CallsAnswered", "TimeToAnswer"]);
    }
}
