//! A local server standing in for the pre-signed URL a CloudFormation
//! custom resource answers at: it records every request's method, path,
//! Content-Type and JSON body, and answers 200 as S3 does.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

/// One request to the URL.
#[derive(Debug, Clone)]
pub struct Put {
    pub method: Method,
    pub path: String,
    pub content_type: Option<String>,
    pub body: Value,
}

pub struct ResponseUrl {
    /// The URL to put in a request's `ResponseURL`, on 127.0.0.1.
    pub url: String,
    puts: Arc<Mutex<Vec<Put>>>,
}

/// The path of [`ResponseUrl::url`].
pub const PATH: &str = "/cloudformation-response";

impl ResponseUrl {
    pub async fn start() -> Self {
        let puts = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new().fallback(record).with_state(Arc::clone(&puts));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}{PATH}?X-Amz-Signature=test"),
            puts,
        }
    }

    /// Every request so far, in order.
    pub fn puts(&self) -> Vec<Put> {
        self.puts.lock().expect("puts").clone()
    }
}

async fn record(
    State(puts): State<Arc<Mutex<Vec<Put>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    puts.lock().expect("puts").push(Put {
        method,
        path: uri.path().to_string(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    StatusCode::OK
}
