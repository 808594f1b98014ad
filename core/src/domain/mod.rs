//! Decisions as pure functions: each takes the parsed callback and the
//! current state and returns what to do, as intents of its own. The domain
//! depends only on the model; `service` carries the intents out (a test in
//! this module holds every file to that).

pub mod attempt;
pub mod events;
pub mod hours;
pub mod inbound;
pub mod intake;
pub mod worker;

#[cfg(test)]
mod tests {
    /// No domain module reaches the store, the Twilio client, HTTP, config
    /// or the layers above it.
    #[test]
    fn the_domain_imports_only_the_model() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let forbidden = ["store", "twilio", "config", "http", "app", "service"];
        for entry in std::fs::read_dir(&dir).expect("domain dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("source");
            for line in text.lines().map(str::trim) {
                for module in forbidden {
                    for spelling in [format!("crate::{module}::"), format!("crate::{module};")] {
                        assert!(
                            !line.contains(&spelling) || line.starts_with("//"),
                            "{}: {line}",
                            path.display()
                        );
                    }
                }
            }
        }
    }
}
