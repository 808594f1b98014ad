//! The process's one HTTPS set-up, shared by the Twilio REST client and the
//! AWS SDK clients (DynamoDB, Secrets Manager): one rustls configuration with
//! `ring` and Mozilla's root certificates compiled in (`webpki-roots`, as
//! trust anchors already parsed), and reqwest as the SDK's HTTP client too.
//!
//! Before, reqwest's platform verifier and the SDK's own hyper client each
//! read and parsed the system's certificate files at init, and the SDK parsed
//! them again on its first request; with aws-lc (their crypto) and that
//! second client each binary was 1.5 MB larger (README, "Cold start").
//! Building this configuration reads and parses nothing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

static TLS: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    // The provider of every TLS client in the process: with it installed,
    // `ClientConfig::builder` and reqwest's own defaults need no other.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
});

/// A reqwest client builder on the shared TLS configuration.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(TLS.clone())
}

/// A reqwest client on the shared TLS configuration, with reqwest's defaults
/// otherwise.
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap_or_else(|error| {
        // Only a broken TLS set-up gets here; reqwest then reads the
        // system's roots itself, with the provider installed above.
        tracing::error!(%error, "HTTPS client set-up failed; using reqwest's defaults");
        reqwest::Client::new()
    })
}

/// The AWS SDK's HTTP client: each request through reqwest on the shared TLS
/// configuration, with the connect and read timeouts the SDK asks for.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(SdkHttpClient::default())
}

/// Timeouts an SDK client asks for: connect, read.
type Timeouts = (Option<Duration>, Option<Duration>);

/// One reqwest client per set of timeouts (a process has one or two), kept:
/// the SDK asks for a connector on every attempt.
#[derive(Debug, Default)]
struct SdkHttpClient {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(SdkConnector::new(timeouts)))
            .clone()
    }
}

#[derive(Debug)]
struct SdkConnector(reqwest::Client);

impl SdkConnector {
    fn new((connect, read): Timeouts) -> Self {
        let mut builder = client_builder();
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        Self(builder.build().unwrap_or_else(|error| {
            tracing::error!(%error, "AWS HTTP client set-up failed; using the default timeouts");
            client()
        }))
    }
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|error| ConnectorError::user(error.into()))?;
            let (parts, body) = request.into_parts();
            // The SDK's DynamoDB and Secrets Manager requests are JSON in memory.
            let body = body
                .bytes()
                .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?
                .to_vec();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(failure)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(failure)?;
            let mut answer = lambda_http::http::Response::new(SdkBody::from(body));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            HttpResponse::try_from(answer)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// A reqwest failure as the SDK's retry strategy reads it: timeouts and
/// failures on the wire (connecting, sending, reading the body) are
/// transient, as the SDK's own client reports them.
fn failure(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    use aws_sdk_dynamodb::error::SdkError;
    use aws_smithy_runtime_api::client::result::DispatchFailure;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::store::dynamo::local_client;

    /// A server on 127.0.0.1 that reads one request, hands its text back
    /// through the join handle, and answers `answer` (nothing when `None`,
    /// holding the connection open).
    async fn one_request_server(
        answer: Option<&'static str>,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("a connection");
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // Headers, then the body their Content-Length announces.
            while !complete(&request) {
                let read = socket.read(&mut buffer).await.expect("readable");
                assert!(read > 0, "the request ended early");
                request.extend_from_slice(&buffer[..read]);
            }
            match answer {
                Some(answer) => socket.write_all(answer.as_bytes()).await.expect("written"),
                None => tokio::time::sleep(Duration::from_secs(30)).await,
            }
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, served)
    }

    fn complete(request: &[u8]) -> bool {
        let text = String::from_utf8_lossy(request).to_ascii_lowercase();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        body.len() >= length
    }

    #[tokio::test]
    async fn the_sdk_sends_its_signed_request_and_reads_the_answer_through_reqwest() {
        let body = r#"{"TableNames":["homeline"]}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, served) = one_request_server(Some(answer)).await;
        let tables = local_client(&url)
            .list_tables()
            .send()
            .await
            .expect("answered");
        assert_eq!(tables.table_names(), ["homeline"]);
        let request = served.await.expect("served").to_ascii_lowercase();
        assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
        for header in [
            "x-amz-target: dynamodb_20120810.listtables",
            "authorization: aws4-hmac-sha256 credential=local/",
            "content-type: application/x-amz-json-1.0",
        ] {
            assert!(request.contains(header), "{header} not in {request}");
        }
        assert!(request.ends_with("\r\n\r\n{}"), "{request}");
    }

    /// A client of `url` that tries once, with a short read timeout (and no
    /// stalled-stream protection, which would end a silent exchange too).
    fn impatient_client(url: &str) -> aws_sdk_dynamodb::Client {
        let config = local_client(url)
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .read_timeout(Duration::from_millis(200))
                    .build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// How a request of [`impatient_client`] to `url` fails: it must not
    /// reach an answer.
    async fn dispatch_failure(url: &str) -> DispatchFailure {
        match impatient_client(url).list_tables().send().await {
            Err(SdkError::DispatchFailure(failure)) => failure,
            other => panic!("not a dispatch failure: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transient_io_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        drop(listener);
        let failure = dispatch_failure(&url).await;
        assert!(failure.is_io(), "{failure:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout_of_the_read() {
        let (url, _served) = one_request_server(None).await;
        let failure = dispatch_failure(&url).await;
        assert!(failure.is_timeout(), "{failure:?}");
    }
}
