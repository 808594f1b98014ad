//! The provisioner function over the CloudFormation custom-resource
//! protocol: requests in, provisioning against the Twilio stand-in (every
//! request checked against Twilio's spec), the takeover records on DynamoDB
//! Local, the answer PUT to a local server standing in for the pre-signed URL.
//! Run under `scripts/local-stack.sh run -- cargo test -p provisioner`.

use std::time::Duration;

use axum::http::Method;
use homeline_core::Deadline;
use homeline_provision::custom_resource::Setup;
use homeline_provision::takeover::Takeovers;
use serde_json::{Value, json};
use testkit::provisioning::{
    BUSINESS_FALLBACK, BUSINESS_STATUS_CALLBACK, CUSTOMER, ProvisioningStandIn, WORKER,
};
use testkit::response_url::{self, ResponseUrl};

const BASE: &str = "https://abc.execute-api.us-east-1.amazonaws.com";
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/homeline/00000000-0000-0000-0000-000000000001";
const DEMO_VOICE: &str = "https://demo.twilio.com/welcome/voice/";
const DEMO_SMS: &str = "https://demo.twilio.com/welcome/sms/reply";

struct World {
    twilio: ProvisioningStandIn,
    responses: ResponseUrl,
    setup: Setup,
    http: reqwest::Client,
}

impl World {
    async fn start() -> Self {
        let twilio = ProvisioningStandIn::start().await;
        let url = twilio.url.clone();
        let credentials = homeline_provision::credentials(&|name| match name {
            "TWILIO_ACCOUNT_SID" => Some(testkit::ACCOUNT_SID.into()),
            "TWILIO_AUTH_TOKEN" => Some(testkit::AUTH_TOKEN.into()),
            "TWILIO_API_URL" | "TWILIO_TASKROUTER_URL" => Some(url.clone()),
            _ => None,
        })
        .expect("credentials");
        let store = testkit::dynamo::fresh_store().await;
        let takeovers = Takeovers::new(store.client().clone(), store.table());
        Self {
            twilio,
            responses: ResponseUrl::start().await,
            setup: Setup {
                credentials,
                takeovers,
            },
            http: homeline_core::https::client(),
        }
    }

    fn request(&self, request_type: &str, skills: &str, id: &str) -> Value {
        let mut request = json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:homeline-provisioner",
            "ResponseURL": self.responses.url,
            "StackId": STACK_ID,
            "RequestId": id,
            "LogicalResourceId": "Provisioning",
            "ResourceType": "Custom::TwilioProvisioning",
            "ResourceProperties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:homeline-provisioner",
                "BaseUrl": BASE,
                "Skills": skills,
                "CustomerNumber": CUSTOMER,
                "WorkerNumber": WORKER,
                "WorkspaceName": "Homeline",
                "RingTimeoutSecs": "",
                "AmdTimeoutSecs": "",
                "MaxWaitSecs": "",
                "StickyDays": "",
                "StickySecs": "",
            },
        });
        if request_type != "Create" {
            request["PhysicalResourceId"] = json!(format!("{STACK_ID}/Provisioning"));
        }
        request
    }

    /// Delivers `request` as Lambda would; returns the answer PUT for it.
    async fn deliver(&self, request: Value) -> Value {
        self.deliver_with(request, Ok(&self.setup)).await
    }

    async fn deliver_with(&self, request: Value, setup: Result<&Setup, &str>) -> Value {
        let before = self.responses.puts().len();
        provisioner::handle(
            request,
            setup,
            Deadline::after(Duration::from_secs(30)),
            &self.http,
        )
        .await
        .expect("answered");
        let puts = self.responses.puts();
        assert_eq!(puts.len(), before + 1, "one answer per request: {puts:#?}");
        let put = puts[before].clone();
        assert_eq!(put.method, Method::PUT);
        assert_eq!(put.path, response_url::PATH);
        assert_eq!(
            put.content_type, None,
            "the URL is signed without a Content-Type"
        );
        put.body
    }

    fn voice_url(&self, number: &str) -> String {
        self.twilio.number(number)["voice_url"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn assert_answers(answer: &Value, request_id: &str) {
    assert_eq!(answer["StackId"], STACK_ID);
    assert_eq!(answer["RequestId"], request_id);
    assert_eq!(answer["LogicalResourceId"], "Provisioning");
    assert_eq!(
        answer["PhysicalResourceId"],
        format!("{STACK_ID}/Provisioning")
    );
}

#[tokio::test]
async fn create_provisions_records_the_numbers_and_returns_the_sids() {
    let world = World::start().await;
    let answer = world
        .deliver(world.request("Create", "sales,support", "r1"))
        .await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_answers(&answer, "r1");
    let workspace = world.twilio.named("/v1/Workspaces", "Homeline");
    assert_eq!(answer["Data"]["WorkspaceSid"], workspace["sid"]);
    for (key, prefix) in [
        ("WorkflowSid", "WW"),
        ("ActivityAvailableSid", "WA"),
        ("ActivityOfflineSid", "WA"),
        ("ActivityUnavailableSid", "WA"),
        ("NoWorkerQueueSid", "WQ"),
    ] {
        let sid = answer["Data"][key].as_str().unwrap_or_default();
        assert!(sid.starts_with(prefix) && sid.len() == 34, "{key}: {sid}");
    }
    assert_eq!(world.voice_url(CUSTOMER), format!("{BASE}/inbound"));
    assert_eq!(world.voice_url(WORKER), format!("{BASE}/intake/voice"));
    let recorded = world.setup.takeovers.all().await.expect("records");
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded
            .iter()
            .all(|r| r.voice_url == DEMO_VOICE && r.sms_url == DEMO_SMS)
    );
    world.twilio.assert_spec_valid();
}

#[tokio::test]
async fn the_same_request_twice_changes_nothing_the_second_time() {
    let world = World::start().await;
    let first = world
        .deliver(world.request("Create", "sales,support", "r1"))
        .await;
    world.twilio.clear_requests();
    let second = world
        .deliver(world.request("Create", "sales,support", "r1"))
        .await;
    assert_eq!(second, first, "the same answer");
    assert!(
        world.twilio.writes().is_empty(),
        "{:#?}",
        world.twilio.writes()
    );
    // The record is still the business's own webhooks, not Homeline's.
    let recorded = world.setup.takeovers.all().await.expect("records");
    assert!(
        recorded.iter().all(|r| r.voice_url == DEMO_VOICE),
        "{recorded:?}"
    );
    world.twilio.assert_spec_valid();
}

#[tokio::test]
async fn update_with_another_skill_adds_its_queue_and_keeps_the_workspace() {
    let world = World::start().await;
    let created = world
        .deliver(world.request("Create", "sales,support", "r1"))
        .await;
    let updated = world
        .deliver(world.request("Update", "sales,support,billing", "r2"))
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_answers(&updated, "r2");
    assert_eq!(
        updated["Data"]["WorkspaceSid"],
        created["Data"]["WorkspaceSid"]
    );
    assert_eq!(
        updated["Data"]["WorkflowSid"],
        created["Data"]["WorkflowSid"]
    );
    assert_eq!(
        world.twilio.creates_under("/TaskQueues").len(),
        4,
        "sales, support, nobody, billing"
    );
    let workflow = world.twilio.named("/Workflows", "Homeline");
    let configuration = workflow["configuration"].as_str().unwrap_or_default();
    assert!(
        configuration.contains("skill == 'billing'"),
        "{configuration}"
    );
    world.twilio.assert_spec_valid();
}

#[tokio::test]
async fn delete_gives_the_numbers_their_webhooks_back_once() {
    let world = World::start().await;
    let mut create = world.request("Create", "sales", "r1");
    create["ResourceProperties"]["FallbackUrl"] =
        json!("https://fb.execute-api.us-east-1.amazonaws.com/fallback");
    world.deliver(create).await;
    let deleted = world.deliver(world.request("Delete", "sales", "r2")).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_answers(&deleted, "r2");
    for number in [CUSTOMER, WORKER] {
        let resource = world.twilio.number(number);
        assert_eq!(resource["voice_url"], DEMO_VOICE, "{number}");
        assert_eq!(resource["sms_url"], DEMO_SMS, "{number}");
        // The fallbacks pointed at the stack's API, deleted with it.
        assert_eq!(
            resource["voice_fallback_url"], BUSINESS_FALLBACK,
            "{number}"
        );
        assert_eq!(resource["sms_fallback_url"], "", "{number}");
        assert_eq!(
            (
                &resource["status_callback"],
                &resource["status_callback_method"]
            ),
            (&json!(BUSINESS_STATUS_CALLBACK), &json!("GET")),
            "{number}"
        );
    }
    assert!(
        world
            .setup
            .takeovers
            .all()
            .await
            .expect("records")
            .is_empty()
    );
    // Delivered again: nothing left to give back, still SUCCESS.
    world.twilio.clear_requests();
    let again = world.deliver(world.request("Delete", "sales", "r2")).await;
    assert_eq!(again["Status"], "SUCCESS");
    assert!(world.twilio.writes().is_empty());
    world.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_twilio_error_is_failed_with_its_message() {
    let world = World::start().await;
    world
        .twilio
        .fail_next(400, 20001, "Workspace FriendlyName is already in use");
    let answer = world.deliver(world.request("Create", "sales", "r1")).await;
    assert_eq!(answer["Status"], "FAILED");
    assert_answers(&answer, "r1");
    let reason = answer["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Workspace FriendlyName is already in use") && reason.contains("20001"),
        "{reason}"
    );
    assert!(!reason.contains(testkit::AUTH_TOKEN), "{reason}");
    assert!(answer.get("Data").is_none());
}

#[tokio::test]
async fn a_bad_property_or_a_failed_setup_is_failed_with_the_reason() {
    let world = World::start().await;
    let mut request = world.request("Create", "after-hours", "r1");
    let answer = world.deliver(request.clone()).await;
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Skills:"),
        "{answer}"
    );

    request["ResourceProperties"]["Skills"] = json!("sales");
    let answer = world
        .deliver_with(request, Err("TWILIO_ACCOUNT_SID is not set"))
        .await;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["Reason"],
        "the provisioner function could not start: TWILIO_ACCOUNT_SID is not set"
    );
    assert!(world.twilio.writes().is_empty());
}

/// The property names template.yaml gives the `Provisioning` resource.
fn template_properties() -> Vec<String> {
    let template = include_str!("../../../../../template.yaml");
    let block = template
        .split("\n  Provisioning:\n    Type: Custom::TwilioProvisioning\n    Properties:\n")
        .nth(1)
        .expect("the Provisioning resource");
    block
        .lines()
        .take_while(|line| line.starts_with("      "))
        .filter(|line| !line.starts_with("       "))
        .filter_map(|line| {
            line.trim()
                .split_once(':')
                .map(|(name, _)| name.to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_stack_s_create_points_every_fallback_at_the_fallback_api() {
    let world = World::start().await;
    let fallback = "https://fb.execute-api.us-east-1.amazonaws.com/fallback";
    let mut request = world.request("Create", "sales", "r1");
    // As the template passes them: the fallback API's URL, no forward number.
    request["ResourceProperties"]["FallbackUrl"] = json!(fallback);
    request["ResourceProperties"]["FallbackNumber"] = json!("");
    let mut sent: Vec<String> = request["ResourceProperties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    let mut template = template_properties();
    sent.sort();
    template.sort();
    assert_eq!(sent, template, "this request is the template's");

    let answer = world.deliver(request).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    for number in [CUSTOMER, WORKER] {
        let resource = world.twilio.number(number);
        assert_eq!(resource["voice_fallback_url"], format!("{fallback}/voice"));
        assert_eq!(resource["voice_fallback_method"], "POST");
    }
    assert_eq!(
        world.twilio.number(WORKER)["sms_fallback_url"],
        format!("{fallback}/sms")
    );
    assert_eq!(
        world.twilio.named("/Workflows", "Homeline")["fallback_assignment_callback_url"],
        format!("{fallback}/assignment")
    );
    world.twilio.assert_spec_valid();
}
