//! Provisioning as a CloudFormation custom resource: the stack's provisioner
//! function answers `Create`, `Update` and `Delete` requests.
//!
//! The protocol, as CloudFormation defines it: every request is answered by
//! one PUT of a JSON document to the request's pre-signed `ResponseURL`,
//! `SUCCESS` (with `Data`, read by `!GetAtt`) or `FAILED` (with a `Reason`
//! the stack events show). An unanswered request leaves the stack waiting
//! for an hour, so every failure, including a setup error and the deadline,
//! is answered `FAILED`. CloudFormation may deliver a request more than once:
//! provisioning is idempotent, and the numbers' previous webhooks are
//! recorded once ([`crate::takeover`]). The physical resource ID never
//! changes after `Create`, so an `Update` is never a replacement (whose
//! clean-up `Delete` would give the numbers back).
//!
//! - `Create`, `Update`: record each number's webhooks unless they are
//!   Homeline's already, provision, then give back the recorded numbers the
//!   properties no longer name. `Data` holds the SIDs.
//! - `Delete`: give every recorded number its webhooks back, forget them.
//!   The workspace, its queues, workflow, workers and history stay in Twilio.

use std::time::Duration;

use homeline_core::config::{
    MAX_WAIT_SECS_DEFAULT, MAX_WAIT_SECS_RANGE, STICKY_DAYS_DEFAULT, STICKY_DAYS_RANGE,
    STICKY_SECS_DEFAULT, STICKY_SECS_RANGE, TwilioConfig, parse_skills,
};
use homeline_core::deadline::Deadline;
use homeline_core::phone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::takeover::Takeovers;
use crate::{Desired, Provisioner, Sids};

/// Longest `Reason` sent: the whole response must stay under 4 KiB.
const REASON_CHARS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A request from CloudFormation (the fields this resource uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The document PUT to the `ResponseURL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// What the provisioner function holds from init.
#[derive(Debug, Clone)]
pub struct Setup {
    pub credentials: TwilioConfig,
    pub takeovers: Takeovers,
}

/// Answers `request`; `setup` is the function's init, or why it failed.
/// Finishes by `deadline` (a `FAILED` answer when the work could not).
pub async fn answer(
    request: &Request,
    setup: Result<&Setup, &str>,
    deadline: Deadline,
) -> Response {
    let physical_resource_id = request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| format!("{}/{}", request.stack_id, request.logical_resource_id));
    let outcome = match setup {
        Ok(setup) => {
            match tokio::time::timeout(deadline.remaining(), work(request, setup, deadline)).await {
                Ok(outcome) => outcome,
                Err(_) => Err("provisioning did not finish before the function's deadline".into()),
            }
        }
        Err(why) => Err(format!("the provisioner function could not start: {why}")),
    };
    let (status, reason, data) = match outcome {
        Ok(data) => (Status::Success, None, data),
        Err(reason) => {
            tracing::error!(%reason, request_type = ?request.request_type, "custom resource FAILED");
            (
                Status::Failed,
                Some(reason.chars().take(REASON_CHARS).collect()),
                Map::new(),
            )
        }
    };
    Response {
        status,
        reason,
        physical_resource_id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        data,
    }
}

async fn work(
    request: &Request,
    setup: &Setup,
    deadline: Deadline,
) -> Result<Map<String, Value>, String> {
    let provisioner = Provisioner::new(&setup.credentials, false, deadline);
    let takeovers = &setup.takeovers;
    let text = |e: &dyn std::fmt::Display| e.to_string();
    if request.request_type == RequestType::Delete {
        give_back(&provisioner, takeovers, &[]).await?;
        return Ok(Map::new());
    }
    let desired = desired(&request.resource_properties)?;
    for previous in provisioner
        .number_webhooks(&desired)
        .await
        .map_err(|e| text(&e))?
    {
        if !previous.are_homeline_s(&desired.base_url) {
            let recorded = takeovers.record(&previous).await.map_err(|e| text(&e))?;
            tracing::info!(number = %previous.phone_number, recorded, "number taken over");
        }
    }
    let outcome = provisioner.run(&desired).await.map_err(|e| text(&e))?;
    for step in &outcome.steps {
        tracing::info!(%step, "provisioned");
    }
    for warning in &outcome.warnings {
        tracing::warn!(%warning, "provisioning");
    }
    let kept = [
        desired.customer_number.as_str(),
        desired.worker_number.as_str(),
    ];
    give_back(&provisioner, takeovers, &kept).await?;
    let sids = outcome
        .sids
        .ok_or("provisioning did not report every SID")?;
    Ok(data(&sids))
}

/// Gives every recorded number but `kept` its webhooks back, then forgets it.
async fn give_back(
    provisioner: &Provisioner,
    takeovers: &Takeovers,
    kept: &[&str],
) -> Result<(), String> {
    for previous in takeovers.all().await.map_err(|e| e.to_string())? {
        if kept.contains(&previous.phone_number.as_str()) {
            continue;
        }
        let restored = provisioner
            .restore(&previous)
            .await
            .map_err(|e| format!("giving {} its webhooks back: {e}", previous.phone_number))?;
        tracing::info!(number = %previous.phone_number, restored, "number given back");
        takeovers
            .forget(&previous.phone_number)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `!GetAtt` attributes: the SIDs the functions take as variables.
fn data(sids: &Sids) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "WorkspaceSid": sids.workspace,
        "WorkflowSid": sids.workflow,
        "ActivityAvailableSid": sids.activity_available,
        "ActivityOfflineSid": sids.activity_offline,
        "ActivityUnavailableSid": sids.activity_unavailable,
        "NoWorkerQueueSid": sids.no_worker_queue,
    }) else {
        return Map::new();
    };
    map
}

/// The desired state from the resource's properties (CloudFormation passes
/// every value as a string), or a reason naming the bad property.
fn desired(properties: &Map<String, Value>) -> Result<Desired, String> {
    let get = |name: &str| {
        properties
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let required = |name: &str| get(name).ok_or(format!("property {name} is required"));
    let number =
        |name: &str, value: &str| phone::normalize(value).map_err(|e| format!("{name}: {e}"));
    let seconds = |name: &str, default: u32, range: std::ops::RangeInclusive<u32>| match get(name) {
        None => Ok(default),
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or(format!(
                "{name}: {value:?} is not a whole number from {} to {}",
                range.start(),
                range.end()
            )),
    };
    if get("QueueTimeoutSecs").is_some() {
        // An old template's second knob: refuse it rather than let it be ignored.
        return Err(
            "QueueTimeoutSecs is no longer read: MaxWaitSecs (the functions' \
                    MAX_WAIT_SECS) decides how long a caller waits"
                .into(),
        );
    }
    let customer_number = number("CustomerNumber", required("CustomerNumber")?)?;
    let worker_number = match get("WorkerNumber") {
        Some(worker) => number("WorkerNumber", worker)?,
        None => customer_number.clone(),
    };
    Ok(Desired {
        workspace_name: crate::workspace_name(required("WorkspaceName")?)
            .map_err(|e| format!("WorkspaceName {e}"))?,
        base_url: crate::base_url(required("BaseUrl")?).map_err(|e| format!("BaseUrl: {e}"))?,
        skills: parse_skills(required("Skills")?).map_err(|e| format!("Skills: {e}"))?,
        customer_number,
        worker_number,
        reservation_timeout_secs: Desired::reservation_timeout(
            seconds("RingTimeoutSecs", 20, 5..=60)?,
            seconds("AmdTimeoutSecs", 5, 3..=59)?,
        ),
        max_wait_secs: seconds("MaxWaitSecs", MAX_WAIT_SECS_DEFAULT, MAX_WAIT_SECS_RANGE)?,
        sticky_secs: crate::sticky_secs(
            seconds("StickyDays", STICKY_DAYS_DEFAULT, STICKY_DAYS_RANGE)?,
            seconds("StickySecs", STICKY_SECS_DEFAULT, STICKY_SECS_RANGE)?,
        ),
        fallback_url: get("FallbackUrl")
            .map(|url| crate::base_url(url).map_err(|e| format!("FallbackUrl: {e}")))
            .transpose()?,
        fallback_number: get("FallbackNumber")
            .map(|n| number("FallbackNumber", n))
            .transpose()?,
    })
}

/// PUTs `response` to the pre-signed `url`, a few times if it fails: no
/// Content-Type (the URL is signed without one).
pub async fn send(http: &reqwest::Client, url: &str, response: &Response) -> Result<(), String> {
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    let mut last = String::new();
    for pause in [0, 1, 3] {
        tokio::time::sleep(Duration::from_secs(pause)).await;
        match http.put(url).body(body.clone()).send().await {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => last = format!("HTTP {}", answer.status()),
            Err(error) => last = error.to_string(),
        }
    }
    Err(format!("the response could not be delivered: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }

    #[test]
    fn properties_make_the_desired_state_with_the_cli_s_defaults() {
        let desired = desired(&properties(&[
            ("BaseUrl", "https://h.example.com/"),
            ("Skills", "sales, Support"),
            ("CustomerNumber", "+1 555 000 0001"),
            ("WorkerNumber", ""),
            ("WorkspaceName", "Acme"),
            ("RingTimeoutSecs", ""),
            ("MaxWaitSecs", ""),
        ]))
        .expect("valid");
        assert_eq!(desired.base_url, "https://h.example.com");
        assert_eq!(desired.skills, ["sales", "support"]);
        assert_eq!(desired.worker_number, "+15550000001");
        assert_eq!(
            desired.reservation_timeout_secs,
            Desired::reservation_timeout(20, 5)
        );
        assert_eq!(desired.max_wait_secs, MAX_WAIT_SECS_DEFAULT);
        assert_eq!(desired.sticky_secs, Some(STICKY_SECS_DEFAULT));
    }

    #[test]
    fn sticky_days_zero_leaves_returning_callers_out_of_the_workflow() {
        let base = [
            ("BaseUrl", "https://h.example.com"),
            ("Skills", "sales"),
            ("CustomerNumber", "+15550000001"),
            ("WorkspaceName", "Acme"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let all: Vec<_> = base.iter().chain(extra).copied().collect();
            desired(&properties(&all))
        };
        let off = with(&[("StickyDays", "0"), ("StickySecs", "45")]).expect("valid");
        assert_eq!(off.sticky_secs, None);
        let on = with(&[("StickyDays", "7"), ("StickySecs", "45")]).expect("valid");
        assert_eq!(on.sticky_secs, Some(45));
    }

    #[test]
    fn a_bad_property_is_named() {
        let base = [
            ("BaseUrl", "https://h.example.com"),
            ("Skills", "sales"),
            ("CustomerNumber", "+15550000001"),
            ("WorkspaceName", "Acme"),
        ];
        for (name, value) in [
            ("BaseUrl", "h.example.com"),
            ("Skills", "after-hours"),
            ("CustomerNumber", "call me"),
            ("RingTimeoutSecs", "600"),
            ("MaxWaitSecs", "29"),
            ("QueueTimeoutSecs", "120"),
            ("StickyDays", "366"),
            ("StickySecs", "4"),
            ("StickySecs", "121"),
        ] {
            let mut props = properties(&base);
            props.insert(name.into(), json!(value));
            let reason = desired(&props).expect_err(name);
            assert!(reason.starts_with(name), "{reason}");
        }
        let reason = desired(&properties(&base[1..])).expect_err("no base URL");
        assert_eq!(reason, "property BaseUrl is required");
    }

    #[test]
    fn the_response_follows_cloudformation_s_field_names() {
        let response = Response {
            status: Status::Failed,
            reason: Some("why".into()),
            physical_resource_id: "p".into(),
            stack_id: "s".into(),
            request_id: "r".into(),
            logical_resource_id: "l".into(),
            data: Map::new(),
        };
        assert_eq!(
            serde_json::to_value(&response).expect("JSON"),
            json!({"Status": "FAILED", "Reason": "why", "PhysicalResourceId": "p",
                   "StackId": "s", "RequestId": "r", "LogicalResourceId": "l"})
        );
    }
}
