//! `X-Twilio-Signature`: HMAC-SHA1 of the URL Twilio requested plus the
//! sorted POST parameters, keyed by the account's primary Auth Token.
//! See TWILIO.md section 1 for the exact rules and the official vectors.

/// The signature Twilio would send for a form POST to `url` with `params`
/// (for a GET, pass no params). Used by tests and fixtures to sign requests.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let _ = (auth_token, url, params);
    todo!("signature")
}

/// True when `signature` matches a form POST (or GET) to `url`, trying the
/// URL with the port removed and with the default port added.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let _ = (auth_token, url, params, signature);
    todo!("signature")
}

/// True when `signature` matches a JSON-body request: the URL (carrying
/// `bodySHA256`) with no params, and the body's SHA-256 equals `bodySHA256`.
pub fn is_valid_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let _ = (auth_token, url, body, signature);
    todo!("signature")
}
