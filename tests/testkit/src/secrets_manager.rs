//! AWS Secrets Manager at the HTTP boundary: a local server answering
//! `GetSecretValue` (AWS JSON 1.1, `X-Amz-Target: secretsmanager.GetSecretValue`)
//! for the secrets it was given, `ResourceNotFoundException` for any other.
//! Point the SDK at it with its endpoint override
//! (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, or `endpoint_url` on a client config).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Default)]
struct Secrets {
    /// ARN -> SecretString.
    values: HashMap<String, String>,
    /// The ARNs asked for, in order.
    requested: Vec<String>,
}

pub struct SecretsManagerStandIn {
    addr: SocketAddr,
    state: Arc<Mutex<Secrets>>,
}

impl SecretsManagerStandIn {
    /// Serves `secrets` (`(ARN, SecretString)`) on 127.0.0.1.
    pub async fn start(secrets: &[(&str, &str)]) -> Self {
        let state = Arc::new(Mutex::new(Secrets {
            values: secrets
                .iter()
                .map(|(arn, text)| (arn.to_string(), text.to_string()))
                .collect(),
            requested: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The SecretIds asked for, in order.
    pub fn requested(&self) -> Vec<String> {
        self.state.lock().expect("state").requested.clone()
    }

    /// A client for this stand-in with fake credentials.
    pub fn client(&self) -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "local", "local", None, None, "testkit",
            ))
            .endpoint_url(self.url())
            .http_client(homeline_core::https::sdk_http_client())
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}

async fn answer(
    State(state): State<Arc<Mutex<Secrets>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "secretsmanager.GetSecretValue" {
        return error(StatusCode::BAD_REQUEST, "UnknownOperationException", target);
    }
    let id = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("SecretId")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(id) = id else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            "SecretId is required",
        );
    };
    let mut state = state.lock().expect("state");
    state.requested.push(id.clone());
    match state.values.get(&id) {
        Some(text) => (
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            json!({
                "ARN": id,
                "Name": id.rsplit(':').next().unwrap_or_default(),
                "SecretString": text,
                "VersionId": "00000000-0000-0000-0000-000000000001",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1_700_000_000.0,
            })
            .to_string(),
        )
            .into_response(),
        None => error(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        ),
    }
}

/// An AWS JSON 1.1 error: the type in `__type` and `X-Amzn-ErrorType`.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                "application/x-amz-json-1.1".to_string(),
            ),
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                kind.to_string(),
            ),
        ],
        json!({"__type": kind, "Message": message}).to_string(),
    )
        .into_response()
}
