//! `X-Twilio-Signature`: HMAC-SHA1 of the URL Twilio requested plus the
//! sorted POST parameters, keyed by the account's primary Auth Token.
//! docs/twilio.md, "Request signatures", has the rules and the official vectors.
//!
//! URLs are handled as strings, never re-serialized by a URL library: any
//! normalisation (percent-encoding, case) would change the bytes Twilio signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The query parameter Twilio adds to requests that carry a JSON body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// The signature Twilio would send for a form POST to `url` with `params`
/// (for a GET, pass no params). Used by tests and fixtures to sign requests.
///
/// The URL is signed as given, port included; only `user:pass@` and the
/// `#fragment` are removed, as Twilio does.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let url = match SplitUrl::parse(url) {
        Some(split) => split.without_credentials_and_fragment(),
        None => strip_fragment(url).to_string(),
    };
    BASE64.encode(mac(auth_token, &url, params).finalize().into_bytes())
}

/// True when `signature` matches a form POST (or GET) to `url`, trying the
/// URL with the port removed and with the default port added.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    let Some(split) = SplitUrl::parse(url) else {
        return false;
    };
    // Both candidates are always checked so the time taken does not reveal
    // which one matched.
    let without_port = verifies(auth_token, &split.without_port(), params, &expected);
    let with_port = verifies(auth_token, &split.with_port(), params, &expected);
    without_port | with_port
}

/// True when `signature` matches a JSON-body request: the URL (carrying
/// `bodySHA256`) with no params, and the body's SHA-256 equals `bodySHA256`.
pub fn is_valid_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(claimed) = body_sha256_param(url) else {
        return false;
    };
    let actual = body_sha256(body);
    let body_matches = constant_time_eq(claimed.as_bytes(), actual.as_bytes());
    let signature_matches = is_valid(auth_token, url, &[], signature);
    body_matches & signature_matches
}

/// Lowercase hex SHA-256 of `body`, the value Twilio puts in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    hex_lower(&Sha256::digest(body))
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    // Sorted by (name, value) bytewise; a repeated identical pair counts once
    // (twilio-python/node sign the distinct values of a repeated key).
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

fn verifies(auth_token: &str, url: &str, params: &[(String, String)], expected: &[u8]) -> bool {
    // `verify_slice` compares in constant time.
    mac(auth_token, url, params).verify_slice(expected).is_ok()
}

fn body_sha256_param(url: &str) -> Option<String> {
    let without_fragment = strip_fragment(url);
    let (_, query) = without_fragment.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == BODY_SHA256_PARAM)
        .map(|(_, value)| value)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

/// An absolute URL cut into the parts the port variants need.
#[derive(Debug, PartialEq, Eq)]
struct SplitUrl<'a> {
    /// `https`, without `://`.
    scheme: &'a str,
    /// Host, brackets kept for IPv6.
    host: &'a str,
    /// The text after the host's `:`, when there is one.
    port: Option<&'a str>,
    /// Path and query (everything after the authority, fragment removed).
    rest: &'a str,
}

impl<'a> SplitUrl<'a> {
    /// `None` when there is no `scheme://`: such a URL cannot be one Twilio called.
    fn parse(url: &'a str) -> Option<Self> {
        let url = strip_fragment(url);
        let (scheme, after_scheme) = url.split_once("://")?;
        if scheme.is_empty() {
            return None;
        }
        let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
        let (authority, rest) = after_scheme.split_at(authority_end);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        // The port's `:` is the last one outside an IPv6 literal's brackets.
        let host_end = host_port.rfind(']').map_or(0, |i| i + 1);
        let (host, port) = match host_port[host_end..].rfind(':') {
            Some(i) => (
                &host_port[..host_end + i],
                Some(&host_port[host_end + i + 1..]),
            ),
            None => (host_port, None),
        };
        Some(Self {
            scheme,
            host,
            port,
            rest,
        })
    }

    fn without_credentials_and_fragment(&self) -> String {
        self.assemble(self.port)
    }

    fn without_port(&self) -> String {
        self.assemble(None)
    }

    /// The URL with its own port, or the scheme's default port when it has none.
    fn with_port(&self) -> String {
        let default = if self.scheme.eq_ignore_ascii_case("https") {
            "443"
        } else {
            "80"
        };
        self.assemble(Some(self.port.unwrap_or(default)))
    }

    fn assemble(&self, port: Option<&str>) -> String {
        match port {
            Some(port) => format!("{}://{}:{}{}", self.scheme, self.host, port, self.rest),
            None => format!("{}://{}{}", self.scheme, self.host, self.rest),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    fn repeated_params() -> Vec<(String, String)> {
        pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ])
    }

    fn json_url() -> String {
        format!("{URL}&bodySHA256={BODY_HASH}")
    }

    // Official vectors (twilio-python tests/unit/test_request_validator.py).

    #[test]
    fn vector_computes_signature() {
        assert_eq!(compute(TOKEN, URL, &params()), EXPECTED);
        assert!(is_valid(TOKEN, URL, &params(), EXPECTED));
    }

    #[test]
    fn vector_removes_port_on_https() {
        let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(is_valid(TOKEN, url, &params(), EXPECTED));
    }

    #[test]
    fn vector_adds_port_on_https() {
        let signature = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        let with_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(compute(TOKEN, with_443, &params()), signature);
        assert!(is_valid(TOKEN, URL, &params(), signature));
        assert!(is_valid(TOKEN, with_443, &params(), signature));
    }

    #[test]
    fn vector_adds_port_on_http() {
        let signature = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
        let with_80 = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert_eq!(compute(TOKEN, with_80, &params()), signature);
        assert!(is_valid(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params(),
            signature
        ));
    }

    #[test]
    fn vector_keeps_other_port_on_http() {
        let signature = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
        let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(compute(TOKEN, url, &params()), signature);
        assert!(is_valid(TOKEN, url, &params(), signature));
    }

    #[test]
    fn vector_repeated_keys() {
        let signature = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
        assert_eq!(compute(TOKEN, URL, &repeated_params()), signature);
        assert!(is_valid(TOKEN, URL, &repeated_params(), signature));
    }

    #[test]
    fn vector_json_body() {
        assert_eq!(body_sha256(BODY.as_bytes()), BODY_HASH);
        assert_eq!(compute(TOKEN, &json_url(), &[]), JSON_SIGNATURE);
        assert!(is_valid_json(
            TOKEN,
            &json_url(),
            BODY.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    // Rules of docs/twilio.md, "Request signatures", beyond the vectors.

    #[test]
    fn param_order_does_not_matter() {
        let mut reversed = params();
        reversed.reverse();
        assert!(is_valid(TOKEN, URL, &reversed, EXPECTED));
    }

    #[test]
    fn repeated_key_order_does_not_matter() {
        let mut shuffled = repeated_params();
        shuffled.rotate_left(2);
        assert!(is_valid(
            TOKEN,
            URL,
            &shuffled,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn empty_values_are_signed() {
        let mut with_empty = params();
        with_empty.push(("Body".to_string(), String::new()));
        let signature = compute(TOKEN, URL, &with_empty);
        assert_ne!(signature, EXPECTED, "an empty param still adds its name");
        assert!(is_valid(TOKEN, URL, &with_empty, &signature));
        assert!(!is_valid(TOKEN, URL, &params(), &signature));
    }

    #[test]
    fn credentials_and_fragment_are_stripped() {
        let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2#rc=2&rp=all";
        assert_eq!(compute(TOKEN, url, &params()), EXPECTED);
        assert!(is_valid(TOKEN, url, &params(), EXPECTED));
        let with_port = "https://user:pass@mycompany.com:1234/myapp.php?foo=1&bar=2#rc=2";
        assert!(is_valid(TOKEN, with_port, &params(), EXPECTED));
    }

    #[test]
    fn url_without_path_gets_port_before_query() {
        let split = SplitUrl::parse("https://h.example?x=1").expect("absolute url");
        assert_eq!(split.with_port(), "https://h.example:443?x=1");
        assert_eq!(split.without_port(), "https://h.example?x=1");
    }

    #[test]
    fn ipv6_host_keeps_its_colons() {
        let split = SplitUrl::parse("http://[::1]:8080/cb").expect("absolute url");
        assert_eq!(split.without_port(), "http://[::1]/cb");
        assert_eq!(split.with_port(), "http://[::1]:8080/cb");
        let bare = SplitUrl::parse("http://[::1]/cb").expect("absolute url");
        assert_eq!(bare.with_port(), "http://[::1]:80/cb");
    }

    #[test]
    fn form_post_without_params_is_a_get() {
        let signature = compute(TOKEN, URL, &[]);
        assert!(is_valid(TOKEN, URL, &[], &signature));
        assert!(!is_valid(TOKEN, URL, &params(), &signature));
    }

    // Negative cases: one changed byte anywhere fails.

    #[test]
    fn changed_byte_in_url_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert!(!is_valid(TOKEN, url, &params(), EXPECTED));
        let host = "https://mycompanx.com/myapp.php?foo=1&bar=2";
        assert!(!is_valid(TOKEN, host, &params(), EXPECTED));
    }

    #[test]
    fn changed_scheme_fails() {
        let url = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(!is_valid(TOKEN, url, &params(), EXPECTED));
    }

    #[test]
    fn changed_byte_in_param_value_fails() {
        let mut tampered = params();
        tampered[2].1 = "1235".to_string();
        assert!(!is_valid(TOKEN, URL, &tampered, EXPECTED));
    }

    #[test]
    fn changed_byte_in_param_name_fails() {
        let mut tampered = params();
        tampered[2].0 = "Digitz".to_string();
        assert!(!is_valid(TOKEN, URL, &tampered, EXPECTED));
    }

    #[test]
    fn missing_or_extra_param_fails() {
        let mut missing = params();
        missing.pop();
        assert!(!is_valid(TOKEN, URL, &missing, EXPECTED));
        let mut extra = params();
        extra.push(("Extra".to_string(), "1".to_string()));
        assert!(!is_valid(TOKEN, URL, &extra, EXPECTED));
    }

    #[test]
    fn query_params_are_not_form_params() {
        let mut moved = params();
        moved.push(("foo".to_string(), "1".to_string()));
        moved.push(("bar".to_string(), "2".to_string()));
        let bare = "https://mycompany.com/myapp.php";
        assert!(!is_valid(TOKEN, bare, &moved, EXPECTED));
    }

    #[test]
    fn changed_byte_in_token_fails() {
        assert!(!is_valid("12346", URL, &params(), EXPECTED));
        assert!(!is_valid("", URL, &params(), EXPECTED));
    }

    #[test]
    fn changed_byte_in_signature_fails() {
        assert!(!is_valid(
            TOKEN,
            URL,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        ));
    }

    #[test]
    fn missing_or_garbage_signature_fails() {
        for signature in [
            "",
            "   ",
            "not base64!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "AAAA",
            "é",
        ] {
            assert!(!is_valid(TOKEN, URL, &params(), signature), "{signature:?}");
            assert!(
                !is_valid_json(TOKEN, &json_url(), BODY.as_bytes(), signature),
                "{signature:?}"
            );
        }
    }

    #[test]
    fn json_body_hash_mismatch_fails() {
        let tampered = BODY.replace("true", "fals");
        assert!(!is_valid_json(
            TOKEN,
            &json_url(),
            tampered.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn json_hash_is_compared_exactly() {
        let upper = format!("{URL}&bodySHA256={}", BODY_HASH.to_uppercase());
        let signature = compute(TOKEN, &upper, &[]);
        assert!(!is_valid_json(TOKEN, &upper, BODY.as_bytes(), &signature));
    }

    #[test]
    fn json_without_body_hash_param_fails() {
        let signature = compute(TOKEN, URL, &[]);
        assert!(!is_valid_json(TOKEN, URL, BODY.as_bytes(), &signature));
    }

    #[test]
    fn json_with_correct_hash_but_wrong_url_fails() {
        let other = json_url().replace("foo=1", "foo=2");
        assert!(!is_valid_json(
            TOKEN,
            &other,
            BODY.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn json_signature_over_params_is_not_accepted_for_form() {
        // The JSON vector signs the URL alone: adding params breaks it.
        assert!(!is_valid(TOKEN, &json_url(), &params(), JSON_SIGNATURE));
    }

    #[test]
    fn odd_urls_do_not_panic() {
        let odd = [
            "",
            "mycompany.com/myapp.php",
            "://x",
            "https://",
            "https://:",
            "https://[",
            "https://]:",
            "https://@",
            "https://a@b@c:1:2/x",
            "https://é.example:é/ü?ä=ö#ß",
            "#",
            "?",
            "https://x?bodySHA256=%zz",
        ];
        for url in odd {
            let signature = compute(TOKEN, url, &params());
            let _ = is_valid(TOKEN, url, &params(), &signature);
            let _ = is_valid_json(TOKEN, url, b"{}", &signature);
        }
    }

    #[test]
    fn url_without_scheme_is_never_valid() {
        let url = "mycompany.com/myapp.php?foo=1&bar=2";
        let signature = compute(TOKEN, url, &params());
        assert!(!is_valid(TOKEN, url, &params(), &signature));
    }

    #[test]
    fn non_ascii_params_sort_bytewise() {
        // 'Z' (0x5A) < 'a' (0x61) < 'é' (0xC3 0xA9): bytewise, as Python's code-point order.
        let list = pairs(&[("é", "1"), ("a", "2"), ("Z", "3")]);
        let mut mac = HmacSha1::new_from_slice(TOKEN.as_bytes()).expect("any key length");
        mac.update(format!("{URL}Z3a2é1").as_bytes());
        let expected = BASE64.encode(mac.finalize().into_bytes());
        assert_eq!(compute(TOKEN, URL, &list), expected);
    }
}
