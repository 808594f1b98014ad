//! The house rules of `docs/architecture.md`, checked from the source: what
//! each layer may import, and the one writer of each state machine. Read as
//! text (everything after a file's `#[cfg(test)]` is test code and skipped).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir` (relative to the workspace), with its
/// non-test text.
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    let start = root().join(dir);
    if start.is_file() {
        files.push(start);
    } else {
        walk(&start, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_string();
            let name = path
                .strip_prefix(root())
                .expect("below the root")
                .display()
                .to_string();
            (name, code)
        })
        .collect()
}

/// Lines of `dir`'s non-test code that mention any of `needles`.
fn mentions(dir: &str, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for (file, code) in sources(dir) {
        for (i, line) in code.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("//") {
                continue;
            }
            if needles.iter().any(|n| line.contains(n)) {
                hits.push(format!("{file}:{}: {line}", i + 1));
            }
        }
    }
    hits
}

#[test]
fn the_domain_imports_nothing_but_the_model() {
    let forbidden = [
        "crate::store",
        "crate::twilio",
        "crate::http",
        "crate::config",
        "crate::app",
        "crate::service",
        "crate::twiml",
        "lambda_http",
        "aws_",
        "reqwest",
    ];
    assert_eq!(
        mentions("core/src/domain", &forbidden),
        Vec::<String>::new()
    );
}

#[test]
fn the_model_imports_nothing_of_the_crate() {
    assert_eq!(
        mentions("core/src/model.rs", &["crate::"]),
        Vec::<String>::new()
    );
}

#[test]
fn the_store_depends_on_the_model_not_the_domain_or_services() {
    let forbidden = [
        "crate::domain",
        "crate::service",
        "crate::twilio",
        "crate::app",
    ];
    assert_eq!(mentions("core/src/store", &forbidden), Vec::<String>::new());
}

/// Non-test calls of `call` outside the store's own adapters (integration
/// tests under `tests/` and `tests.rs` modules set up state directly).
fn callers(call: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for dir in ["core/src", "functions", "cli/src"] {
        hits.extend(mentions(dir, &[call]).into_iter().filter(|hit| {
            !hit.starts_with("core/src/store/") && !hit.contains("/tests") && !hit.contains("fn ")
        }));
    }
    hits
}

#[test]
fn one_service_function_changes_attempts() {
    for call in [".transition(", ".create_attempt("] {
        let hits = callers(call);
        assert_eq!(hits.len(), 1, "{call}: {hits:#?}");
        assert!(
            hits[0].starts_with("core/src/service/attempt.rs"),
            "{hits:#?}"
        );
    }
}

/// `service::worker` writes profiles: `apply` every change, `enroll` the
/// first version of an enrolled number's profile.
#[test]
fn only_the_worker_service_writes_worker_profiles() {
    let hits = callers(".put_worker(");
    assert_eq!(hits.len(), 2, "{hits:#?}");
    assert!(
        hits.iter()
            .all(|h| h.starts_with("core/src/service/worker.rs")),
        "{hits:#?}"
    );
}

/// The intake SMS and the CLI change the blocklist through `service::blocklist`.
#[test]
fn only_the_blocklist_service_writes_the_blocklist() {
    for call in [".block(", ".unblock("] {
        let hits = callers(call);
        assert_eq!(hits.len(), 1, "{call}: {hits:#?}");
        assert!(
            hits[0].starts_with("core/src/service/blocklist.rs"),
            "{hits:#?}"
        );
    }
}

#[test]
fn only_the_call_record_service_writes_call_records() {
    let hits = callers(".merge_call_record(");
    assert!(!hits.is_empty(), "call records are written");
    assert!(
        hits.iter()
            .all(|h| h.starts_with("core/src/service/call_record.rs")),
        "{hits:#?}"
    );
}

#[test]
fn the_service_layer_neither_parses_requests_nor_renders_answers() {
    let forbidden = ["lambda_http", "crate::http", "crate::twiml"];
    assert_eq!(
        mentions("core/src/service", &forbidden),
        Vec::<String>::new()
    );
}
