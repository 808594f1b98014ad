//! The REST side of the stand-in: the Twilio endpoints Homeline calls,
//! served on 127.0.0.1, applied to the [`World`] at the current simulated
//! instant, and each forwarded to Prism (Twilio's OpenAPI spec) so a request
//! that breaks the spec is a recorded violation.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use testkit::spec::SpecCheck;
use testkit::twilio_http::{RestRequest, Server, error};
use tokio::task::JoinHandle;

use crate::sim::{Outbound, RestCall, World};
use crate::taskrouter::{Effects, RestError};

pub struct Shared {
    pub world: Mutex<World>,
    prism: Option<SpecCheck>,
    checks: Mutex<Vec<JoinHandle<Option<String>>>>,
}

impl Shared {
    pub fn new(world: World, prism: Option<SpecCheck>) -> Self {
        Self {
            world: Mutex::new(world),
            prism,
            checks: Mutex::new(Vec::new()),
        }
    }

    /// Waits for every spec check; returns the violations.
    pub async fn violations(&self) -> Vec<String> {
        let checks: Vec<_> = self.checks.lock().expect("lock").drain(..).collect();
        let mut out = Vec::new();
        for check in checks {
            match check.await {
                Ok(Some(v)) => out.push(v),
                Ok(None) => {}
                Err(e) => out.push(format!("spec check failed to run: {e}")),
            }
        }
        out
    }

    /// How many requests were checked against the spec.
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("world lock")
    }
}

/// Serves the endpoints on 127.0.0.1:0 until the server is dropped.
pub async fn serve(shared: Arc<Shared>) -> Server {
    Server::start(move |request| handle(shared.clone(), request)).await
}

fn rest_error(e: RestError) -> Response {
    error(e.status, e.code, &e.message)
}

fn ok(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn handle(shared: Arc<Shared>, request: RestRequest) -> Response {
    let path = request.path().to_string();
    let mut params = request.form();
    params.extend(request.query());
    let method = request.method.clone();
    let authorized = request.headers.contains_key(header::AUTHORIZATION);
    check_with_prism(&shared, request);
    let mut world = shared.world();
    let response = if !authorized {
        error(401, 20003, "Authenticate")
    } else if let Some(status) = world.faults.pop_front() {
        let code = if status == 429 { 20429 } else { 20500 };
        error(status, code, "stand-in fault")
    } else if world
        .failing_paths
        .iter()
        .any(|p| path.contains(p.as_str()))
    {
        error(500, 20500, "stand-in outage")
    } else {
        route(&mut world, &method, &path, &params)
    };
    let at = world.now;
    world.rest.push(RestCall {
        at,
        method: method.to_string(),
        path,
        params,
        status: response.status().as_u16(),
    });
    response
}

fn check_with_prism(shared: &Arc<Shared>, request: RestRequest) {
    let Some(prism) = shared.prism.clone() else {
        return;
    };
    let check = tokio::spawn(async move {
        let violation = request.spec_verdict(&prism).await.violation()?;
        Some(format!(
            "{} {} ({}): {violation}",
            request.method,
            request.path(),
            String::from_utf8_lossy(&request.body)
        ))
    });
    shared.checks.lock().expect("lock").push(check);
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn route(world: &mut World, method: &Method, path: &str, params: &[(String, String)]) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let account = world.account_sid.clone();
    let workspace = world.tr.settings.workspace_sid.clone();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["2010-04-01", "Accounts", ac, "Calls.json"]) if *ac == account => {
            create_call(world, params)
        }
        ("POST", ["2010-04-01", "Accounts", ac, "Calls", call]) if *ac == account => {
            let sid = call.trim_end_matches(".json");
            match world.update_call(sid, param(params, "Status"), param(params, "Url")) {
                Ok(()) => ok(StatusCode::OK, call_json(world, sid)),
                Err((status, code, message)) => error(status, code, &message),
            }
        }
        ("POST", ["2010-04-01", "Accounts", ac, "Messages.json"]) if *ac == account => {
            let (Some(to), Some(body)) = (param(params, "To"), param(params, "Body")) else {
                return error(400, 21604, "A 'To' phone number and a 'Body' are required.");
            };
            let from = param(params, "From").unwrap_or_default().to_string();
            if world.opted_out.iter().any(|p| p == to) {
                return error(400, 21610, "Attempt to send to unsubscribed recipient");
            }
            world.message_sent(to, body);
            let sid = world.sid("SM");
            ok(
                StatusCode::CREATED,
                json!({"sid": sid, "account_sid": account, "to": to, "from": from, "body": body,
                       "status": "queued", "direction": "outbound-api", "num_segments": "1",
                       "api_version": "2010-04-01", "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json")}),
            )
        }
        (_, ["v1", "Workspaces", ws, rest @ ..]) if *ws == workspace => {
            taskrouter(world, method, rest, params)
        }
        _ => error(
            404,
            20404,
            &format!("The requested resource {path} was not found"),
        ),
    }
}

fn create_call(world: &mut World, params: &[(String, String)]) -> Response {
    let (Some(to), Some(from), Some(url)) = (
        param(params, "To"),
        param(params, "From"),
        param(params, "Url"),
    ) else {
        return error(400, 21205, "To, From and Url are required");
    };
    if !world.may_present(from, param(params, "CallToken")) {
        return error(
            400,
            21210,
            &format!(
                "The source phone number provided, {from}, is not yet verified for your account."
            ),
        );
    }
    let secs = |name: &str, default: u64| {
        param(params, name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
            * 1000
    };
    let amd =
        param(params, "MachineDetection").is_some_and(|m| m == "Enable" || m == "DetectMessageEnd");
    let async_amd = param(params, "AsyncAmd") == Some("true");
    let out = Outbound {
        url: url.to_string(),
        status_callback: param(params, "StatusCallback").map(str::to_string),
        status_events: params
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .map(|(_, v)| v.clone())
            .collect(),
        timeout_ms: secs("Timeout", 60),
        machine_detection: amd,
        amd_timeout_ms: secs("MachineDetectionTimeout", 30),
        async_amd_callback: if async_amd && amd {
            param(params, "AsyncAmdStatusCallback").map(str::to_string)
        } else {
            None
        },
    };
    let call = world.create_call(to, from, out);
    ok(StatusCode::CREATED, call_json(world, &call.sid))
}

fn call_json(world: &World, sid: &str) -> Value {
    let Some(call) = world.calls.get(sid) else {
        return json!({});
    };
    let account = &world.account_sid;
    json!({
        "sid": call.sid, "account_sid": account, "to": call.to, "from": call.from,
        "status": call.status.as_str(),
        "direction": if call.inbound { "inbound" } else { "outbound-api" },
        "api_version": "2010-04-01",
        "answered_by": call.answered_by,
        "uri": format!("/2010-04-01/Accounts/{account}/Calls/{sid}.json"),
    })
}

fn taskrouter(
    world: &mut World,
    method: &Method,
    rest: &[&str],
    params: &[(String, String)],
) -> Response {
    let now = world.now;
    let mut fx = Effects::default();
    let response = match (method.as_str(), rest) {
        ("POST", ["Workers"]) => {
            let Some(name) = param(params, "FriendlyName") else {
                return error(400, 20001, "Missing required parameter FriendlyName");
            };
            let attributes = match param(params, "Attributes").map(serde_json::from_str::<Value>) {
                None => json!({}),
                Some(Ok(v)) => v,
                Some(Err(_)) => return error(400, 20001, "Attributes is not valid JSON"),
            };
            match world.tr.create_worker(
                name,
                attributes,
                param(params, "ActivitySid"),
                now,
                &mut fx,
            ) {
                Ok(sid) => ok(
                    StatusCode::CREATED,
                    world.tr.worker_json(&world.tr.workers[&sid]),
                ),
                Err(e) => rest_error(e),
            }
        }
        ("GET", ["Workers"]) => {
            let name = param(params, "FriendlyName");
            let workers: Vec<Value> = world
                .tr
                .workers
                .values()
                .filter(|w| name.is_none_or(|n| w.friendly_name.eq_ignore_ascii_case(n)))
                .map(|w| world.tr.worker_json(w))
                .collect();
            ok(
                StatusCode::OK,
                json!({"workers": workers, "meta": meta("workers")}),
            )
        }
        ("GET", ["Workers", sid]) => match world.tr.workers.get(*sid) {
            Some(w) => ok(StatusCode::OK, world.tr.worker_json(w)),
            None => error(404, 20404, "Worker not found"),
        },
        ("POST", ["Workers", sid]) => {
            let attributes = match param(params, "Attributes").map(serde_json::from_str::<Value>) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return error(400, 20001, "Attributes is not valid JSON"),
            };
            let reject = param(params, "RejectPendingReservations") == Some("true");
            match world.tr.update_worker(
                sid,
                param(params, "ActivitySid"),
                attributes,
                reject,
                now,
                &mut fx,
            ) {
                Ok(()) => ok(
                    StatusCode::OK,
                    world.tr.worker_json(&world.tr.workers[*sid]),
                ),
                Err(e) => rest_error(e),
            }
        }
        // A REST create (callbacks): pessimistic, a `VirtualStartTime` in
        // the future is refused ("can't be in the future", Twilio's spec).
        ("POST", ["Tasks"]) => {
            let attributes = match param(params, "Attributes").map(serde_json::from_str::<Value>) {
                None => json!({}),
                Some(Ok(v)) => v,
                Some(Err(_)) => return error(400, 20001, "Attributes is not valid JSON"),
            };
            let start =
                match param(params, "VirtualStartTime").map(chrono::DateTime::parse_from_rfc3339) {
                    None => now,
                    Some(Ok(at)) => {
                        let secs = at.timestamp().saturating_sub(world.epoch_secs);
                        let ms = u64::try_from(secs).unwrap_or(0).saturating_mul(1000);
                        if ms > now {
                            return error(400, 20001, "VirtualStartTime cannot be in the future");
                        }
                        ms
                    }
                    Some(Err(_)) => return error(400, 20001, "VirtualStartTime is not a date"),
                };
            let sid = world
                .tr
                .create_task_started(attributes, start, now, &mut fx);
            ok(StatusCode::CREATED, task_json(world, &sid))
        }
        ("POST", ["Tasks", task]) => match param(params, "AssignmentStatus") {
            Some("canceled") => {
                let reason = param(params, "Reason").unwrap_or("canceled");
                match world.tr.cancel_task(task, reason, now, &mut fx) {
                    Ok(()) => ok(StatusCode::OK, task_json(world, task)),
                    Err(e) => rest_error(e),
                }
            }
            Some("completed") => match world.tr.complete_task(task, now, &mut fx) {
                Ok(()) => ok(StatusCode::OK, task_json(world, task)),
                Err(e) => rest_error(e),
            },
            _ => error(
                400,
                20001,
                "Only AssignmentStatus=canceled or completed is modelled",
            ),
        },
        // Pessimistic: only the one filter Homeline sends (`attr == "value"`);
        // any other expression is refused rather than guessed at.
        ("GET", ["Tasks"]) => {
            let filter = param(params, "EvaluateTaskAttributes").map(|f| {
                f.split_once(" == ")
                    .and_then(|(k, v)| Some((k, v.strip_prefix('"')?.strip_suffix('"')?)))
            });
            match filter {
                Some(None) => error(400, 20001, "Only attr == \"value\" is modelled"),
                filter => {
                    let tasks: Vec<Value> = world
                        .tr
                        .tasks
                        .values()
                        .filter(|t| {
                            filter
                                .flatten()
                                .is_none_or(|(k, v)| t.attributes[k].as_str() == Some(v))
                        })
                        .map(|t| task_json(world, &t.sid))
                        .collect();
                    ok(
                        StatusCode::OK,
                        json!({"tasks": tasks, "meta": meta("tasks")}),
                    )
                }
            }
        }
        ("GET", ["Tasks", _task, "Reservations", res]) => match world.tr.reservations.get(*res) {
            Some(_) => ok(StatusCode::OK, reservation_json(world, res)),
            None => error(404, 20404, "Reservation not found"),
        },
        ("POST", ["Tasks", _task, "Reservations", res]) => match param(params, "ReservationStatus")
        {
            Some("rejected") => {
                match world
                    .tr
                    .reject(res, param(params, "WorkerActivitySid"), now, &mut fx)
                {
                    Ok(()) => ok(StatusCode::OK, reservation_json(world, res)),
                    Err(e) => rest_error(e),
                }
            }
            // A callback's worker leg accepts before dialing the customer.
            Some("accepted") => match world.tr.accept(res, now, &mut fx) {
                Some(_) => ok(StatusCode::OK, reservation_json(world, res)),
                None if world.tr.reservations.contains_key(*res) => error(
                    400,
                    20001,
                    "Reservation is not currently in a Pending state",
                ),
                None => error(404, 20404, "Reservation not found"),
            },
            other => {
                world.anomalies.push(format!(
                    "reservation {res} updated over REST with {other:?}"
                ));
                error(
                    400,
                    20001,
                    "Only ReservationStatus=rejected or accepted is modelled",
                )
            }
        },
        ("GET", ["Activities"]) => {
            let s = &world.tr.settings;
            let activities: Vec<Value> = s
                .activities
                .iter()
                .map(|(sid, name, available)| {
                    json!({"sid": sid, "friendly_name": name, "available": available,
                           "account_sid": s.account_sid, "workspace_sid": s.workspace_sid})
                })
                .collect();
            ok(
                StatusCode::OK,
                json!({"activities": activities, "meta": meta("activities")}),
            )
        }
        _ => error(404, 20404, "The requested resource was not found"),
    };
    world.apply(fx);
    response
}

fn meta(key: &str) -> Value {
    json!({"page": 0, "page_size": 50, "first_page_url": "", "previous_page_url": null,
           "next_page_url": null, "url": "", "key": key})
}

fn task_json(world: &World, sid: &str) -> Value {
    match world.tr.tasks.get(sid) {
        Some(t) => {
            let created = world.epoch_secs + i64::try_from(t.created / 1000).unwrap_or(i64::MAX);
            let date_created = chrono::DateTime::from_timestamp(created, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            json!({"sid": t.sid, "assignment_status": t.status.as_str(),
                   "attributes": t.attributes.to_string(), "task_queue_sid": t.queue_sid,
                   "workspace_sid": world.tr.settings.workspace_sid, "reason": t.canceled_reason,
                   "date_created": date_created})
        }
        None => json!({}),
    }
}

fn reservation_json(world: &World, sid: &str) -> Value {
    match world.tr.reservations.get(sid) {
        Some(r) => {
            json!({"sid": r.sid, "reservation_status": format!("{:?}", r.status).to_lowercase(),
                          "task_sid": r.task_sid, "worker_sid": r.worker_sid,
                          "workspace_sid": world.tr.settings.workspace_sid})
        }
        None => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls create refuses a `From` the world may not present, as Twilio
    /// does (400/21210), and places one it may.
    #[test]
    fn calls_create_refuses_a_number_the_account_may_not_present() {
        let mut world = crate::sim::tests::world();
        let path = format!("/2010-04-01/Accounts/{}/Calls.json", testkit::ACCOUNT_SID);
        let mut create = |from: &str| {
            let params: Vec<(String, String)> = [
                ("To", "+15550001001"),
                ("From", from),
                ("Url", "https://homeline.example.com/amd-result"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            route(&mut world, &Method::POST, &path, &params).status()
        };
        assert_eq!(create("+15557770001"), StatusCode::BAD_REQUEST);
        assert_eq!(create(testkit::CALLER_ID), StatusCode::CREATED);
    }
}
