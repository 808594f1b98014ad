//! The http glue against API Gateway HTTP API (payload 2.0) events, parsed by
//! lambda_http exactly as in Lambda: raw path and raw query survive, base64
//! bodies are decoded, signed events verify and tampered ones are refused.

use homeline_core::http::{Rejection, TwilioRequest, verified};
use homeline_core::signature;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use testkit::events::{
    self, API_GATEWAY_HOST, Signing, Webhook, badly_signed_form_request, body_text, form_event,
    form_request, json_request, pairs, unsigned_form_request,
};
use testkit::{AUTH_TOKEN, PUBLIC_BASE_URL, test_config};

const MENU: &str = "/intake/voice/menu";

fn call_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CallSid", "CA00000000000000000000000000000001"),
        ("From", "+15551234567"),
        ("To", "+15005550006"),
        ("Digits", "1"),
        ("SpeechResult", ""),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
    ]
}

/// An event written the way API Gateway documents payload 2.0, independent
/// of testkit's builder.
fn literal_event(raw_query: &str, body: &str, is_base64: bool) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /intake/voice/menu",
        "rawPath": "/intake/voice/menu",
        "rawQueryString": raw_query,
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "x-twilio-signature": "c2lnbmF0dXJl",
            "i-twilio-idempotency-token": "7b2c0e0f-retry"
        },
        "queryStringParameters": { "to": "+15551234567" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/intake/voice/menu",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "TwilioProxy/1.1"
            },
            "requestId": "id",
            "routeKey": "POST /intake/voice/menu",
            "stage": "$default",
            "time": "25/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1795615200000u64
        },
        "body": body,
        "isBase64Encoded": is_base64
    })
}

#[test]
fn raw_query_string_reaches_the_parser_verbatim() {
    // Encodings a re-serializer would change: `%2B`, `+`, `%7E`, lowercase
    // escapes, a repeated key, an empty value.
    let raw = "to=%2B15551234567&msg=a+b%20c&tilde=%7E&lower=%2b&k=1&k=2&empty=";
    let event = events::request(&literal_event(raw, "", false));
    let parsed = TwilioRequest::parse(&event).expect("parses");
    assert_eq!(parsed.raw_query.as_deref(), Some(raw));
    assert_eq!(parsed.path, "/intake/voice/menu");
    assert_eq!(
        parsed.query,
        pairs(&[
            ("to", "+15551234567"),
            ("msg", "a b c"),
            ("tilde", "~"),
            ("lower", "+"),
            ("k", "1"),
            ("k", "2"),
            ("empty", ""),
        ])
    );
    assert_eq!(
        parsed.signed_url(PUBLIC_BASE_URL),
        format!("{PUBLIC_BASE_URL}/intake/voice/menu?{raw}")
    );
}

#[test]
fn empty_raw_query_string_means_no_query() {
    let parsed =
        TwilioRequest::parse(&events::request(&literal_event("", "", false))).expect("parses");
    assert_eq!(parsed.raw_query, None);
    assert_eq!(
        parsed.signed_url(PUBLIC_BASE_URL),
        format!("{PUBLIC_BASE_URL}/intake/voice/menu")
    );
}

#[test]
fn base64_body_is_decoded_before_parsing() {
    // "Digits=1&Body=&From=%2B15551234567"
    let encoded = "RGlnaXRzPTEmQm9keT0mRnJvbT0lMkIxNTU1MTIzNDU2Nw==";
    let parsed =
        TwilioRequest::parse(&events::request(&literal_event("", encoded, true))).expect("parses");
    assert_eq!(parsed.body, b"Digits=1&Body=&From=%2B15551234567");
    assert_eq!(
        parsed.form,
        pairs(&[("Digits", "1"), ("Body", ""), ("From", "+15551234567")])
    );
    assert_eq!(parsed.signature.as_deref(), Some("c2lnbmF0dXJl"));
    assert_eq!(parsed.idempotency_token.as_deref(), Some("7b2c0e0f-retry"));
}

#[test]
fn plain_text_body_is_parsed_as_is() {
    let parsed = TwilioRequest::parse(&events::request(&literal_event("", "Digits=2", false)))
        .expect("parses");
    assert_eq!(parsed.form, pairs(&[("Digits", "2")]));
}

#[test]
fn built_form_event_has_the_api_gateway_shape() {
    let event = form_event(MENU, &[("skill", "sales")], &call_params());
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], MENU);
    assert_eq!(event["rawQueryString"], "skill=sales");
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(event["headers"]["host"], API_GATEWAY_HOST);
    assert_eq!(
        event["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let url = format!("{PUBLIC_BASE_URL}{MENU}?skill=sales");
    let expected = signature::compute(AUTH_TOKEN, &url, &pairs(&call_params()));
    assert_eq!(event["headers"]["x-twilio-signature"], expected.as_str());
}

#[test]
fn signed_form_event_verifies_with_every_pair_in_order() {
    let config = test_config(&[]);
    let request = verified(
        &form_request(MENU, &[("skill", "sales")], &call_params()),
        &config,
    )
    .expect("a validly signed event verifies");
    assert_eq!(request.path, MENU);
    assert_eq!(request.raw_query.as_deref(), Some("skill=sales"));
    assert_eq!(request.query("skill"), Some("sales"));
    assert_eq!(request.form, pairs(&call_params()));
    assert_eq!(request.param("SpeechResult"), Some(""));
    assert_eq!(request.idempotency_token, None);
}

#[test]
fn signed_url_uses_the_public_base_not_the_api_gateway_host() {
    let request = form_request(MENU, &[], &call_params());
    assert_eq!(request.uri().host(), Some(API_GATEWAY_HOST));
    let parsed = TwilioRequest::parse(&request).expect("parses");
    assert_eq!(
        parsed.signed_url(PUBLIC_BASE_URL),
        format!("{PUBLIC_BASE_URL}{MENU}")
    );
}

#[test]
fn retry_carries_the_idempotency_token() {
    let event = Webhook::form(MENU, &call_params())
        .idempotency_token("retry-token-1")
        .request();
    let request = verified(&event, &test_config(&[])).expect("verifies");
    assert_eq!(request.idempotency_token.as_deref(), Some("retry-token-1"));
}

#[test]
fn badly_signed_or_unsigned_events_are_forbidden() {
    let config = test_config(&[]);
    let bad = badly_signed_form_request(MENU, &[("skill", "sales")], &call_params());
    assert_eq!(verified(&bad, &config), Err(Rejection::Forbidden));
    let unsigned = unsigned_form_request(MENU, &[("skill", "sales")], &call_params());
    assert_eq!(verified(&unsigned, &config), Err(Rejection::Forbidden));
}

#[test]
fn event_tampered_after_signing_is_forbidden() {
    let config = test_config(&[]);
    let signed = form_event(MENU, &[("skill", "sales")], &call_params());

    let mut other_query = signed.clone();
    other_query["rawQueryString"] = json!("skill=support");
    assert_eq!(
        verified(&events::request(&other_query), &config),
        Err(Rejection::Forbidden)
    );

    let mut other_path = signed.clone();
    other_path["rawPath"] = json!("/intake/voice/menv");
    assert_eq!(
        verified(&events::request(&other_path), &config),
        Err(Rejection::Forbidden)
    );

    let mut other_body = signed.clone();
    let forged = Webhook::form(MENU, &[("Digits", "2")]).event();
    other_body["body"] = forged["body"].clone();
    assert_eq!(
        verified(&events::request(&other_body), &config),
        Err(Rejection::Forbidden)
    );

    // The untouched event still verifies: the failures above are the tampering.
    assert!(verified(&events::request(&signed), &config).is_ok());
}

#[test]
fn another_public_base_or_token_is_forbidden() {
    let event = form_request(MENU, &[], &call_params());
    let moved = test_config(&[("PUBLIC_BASE_URL", "https://other.example.com")]);
    assert_eq!(verified(&event, &moved), Err(Rejection::Forbidden));
    let rotated = test_config(&[("TWILIO_AUTH_TOKEN", "12346")]);
    assert_eq!(verified(&event, &rotated), Err(Rejection::Forbidden));
}

#[test]
fn signed_json_event_verifies_by_body_hash() {
    let body = json!({"EventType": "reservation.created", "ResourceSid": "WR00000000000000000000000000000001"});
    let request = verified(
        &json_request("/taskrouter-events", &[("v", "1")], &body),
        &test_config(&[]),
    )
    .expect("a validly signed JSON event verifies");
    assert!(request.json);
    assert!(request.form.is_empty());
    assert_eq!(request.query("v"), Some("1"));
    assert_eq!(
        request.query(signature::BODY_SHA256_PARAM),
        Some(signature::body_sha256(&request.body).as_str())
    );
    let parsed: Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(parsed, body);
}

#[test]
fn json_event_with_changed_body_is_forbidden() {
    let signed =
        Webhook::json("/taskrouter-events", &json!({"EventType": "task.canceled"})).event();
    let mut tampered = signed.clone();
    tampered["body"] = json!(r#"{"EventType":"task.created"}"#);
    assert_eq!(
        verified(&events::request(&tampered), &test_config(&[])),
        Err(Rejection::Forbidden)
    );
    let wrong = Webhook::json("/taskrouter-events", &json!({}))
        .signing(Signing::Wrong)
        .request();
    assert_eq!(
        verified(&wrong, &test_config(&[])),
        Err(Rejection::Forbidden)
    );
}

#[test]
fn malformed_json_body_is_a_bad_request() {
    let mut event = Webhook::json("/taskrouter-events", &json!({})).event();
    event["body"] = json!("EventType=task.canceled");
    let rejection = verified(&events::request(&event), &test_config(&[])).expect_err("refused");
    assert_eq!(
        rejection,
        Rejection::BadRequest("body is not JSON".to_string())
    );
    let response = rejection.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_text(&response), "bad request: body is not JSON");
}

#[test]
fn forbidden_response_says_nothing_more() {
    let rejection = verified(
        &unsigned_form_request(MENU, &[], &call_params()),
        &test_config(&[]),
    )
    .expect_err("refused");
    let response = rejection.into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body_text(&response), "forbidden");
}

#[test]
fn body_text_reads_every_response_kind() {
    assert_eq!(
        body_text(&homeline_core::http::twiml("<Response/>")),
        "<Response/>"
    );
    assert_eq!(body_text(&homeline_core::http::json(&json!({}))), "{}");
    assert_eq!(body_text(&homeline_core::http::no_content()), "");
}
