//! The HTTP layer under every Twilio stand-in (the functions' fake in
//! [`crate::twilio_fake`], the simulator's REST world, the provisioning
//! stand-in of the CLI's tests): a server on 127.0.0.1:0, each request read
//! into a [`RestRequest`] (path, query and form pairs, Basic credentials),
//! Twilio's JSON error body, and the copy of a request for Prism. What a
//! stand-in keeps, records and answers stays its own.

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::spec::{SpecCheck, SpecVerdict};

/// One REST request as a stand-in received it.
#[derive(Debug, Clone)]
pub struct RestRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RestRequest {
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The query pairs in the order sent.
    pub fn query(&self) -> Vec<(String, String)> {
        pairs(self.uri.query().unwrap_or(""))
    }

    /// The form pairs in the order sent (repeated keys kept).
    pub fn form(&self) -> Vec<(String, String)> {
        pairs(&String::from_utf8_lossy(&self.body))
    }

    /// The HTTP Basic user name and password, when the request has them.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let decoded = self
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    /// Prism's verdict on a copy of this request.
    pub async fn spec_verdict(&self, prism: &SpecCheck) -> SpecVerdict {
        prism
            .verdict(&self.method, &self.uri, &self.headers, &self.body)
            .await
    }
}

fn pairs(encoded: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(encoded).unwrap_or_default()
}

/// Twilio's JSON error body.
pub fn error_body(status: u16, code: u32, message: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

/// An error answer as Twilio gives it: `status` with its JSON error body.
pub fn error(status: u16, code: u32, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(error_body(status, code, message)),
    )
        .into_response()
}

/// A running stand-in server; it stops when dropped.
pub struct Server {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves every request with `answer` on a free 127.0.0.1 port.
    pub async fn start<F, Fut>(answer: F) -> Self
    where
        F: Fn(RestRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("Twilio stand-in cannot bind 127.0.0.1: {e}"),
        };
        let url = match listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(e) => panic!("Twilio stand-in has no local address: {e}"),
        };
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                answer(RestRequest {
                    method,
                    uri,
                    headers,
                    body,
                })
            },
        );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("Twilio stand-in stopped: {e}");
            }
        });
        Self { url, task }
    }

    /// The base URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(header::HeaderName, &str)], body: &str) -> RestRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, value.parse().expect("header value"));
        }
        RestRequest {
            method: Method::POST,
            uri: uri.parse().expect("uri"),
            headers: map,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn form_query_and_credentials_are_read_as_sent() {
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("AC1:12345")
        );
        let r = request(
            "/v1/Workspaces/WS1/Workers?FriendlyName=%2B1555&Page=0",
            &[(header::AUTHORIZATION, &auth)],
            "StatusCallbackEvent=answered&StatusCallbackEvent=completed&To=%2B1555",
        );
        assert_eq!(r.path(), "/v1/Workspaces/WS1/Workers");
        assert_eq!(
            r.query(),
            vec![
                ("FriendlyName".to_string(), "+1555".to_string()),
                ("Page".to_string(), "0".to_string())
            ]
        );
        assert_eq!(r.form().len(), 3);
        assert_eq!(r.form()[2], ("To".to_string(), "+1555".to_string()));
        assert_eq!(
            r.basic_auth(),
            Some(("AC1".to_string(), "12345".to_string()))
        );
        assert_eq!(request("/", &[], "").basic_auth(), None);
    }

    #[test]
    fn errors_have_twilios_body() {
        assert_eq!(
            error_body(404, 20404, "Not found"),
            json!({"code": 20404, "message": "Not found", "status": 404,
                   "more_info": "https://www.twilio.com/docs/errors/20404"})
        );
        assert_eq!(error(429, 20429, "Too Many Requests").status(), 429);
    }
}
