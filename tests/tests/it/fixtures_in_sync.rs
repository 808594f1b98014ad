//! events/ holds exactly what `cargo run -p testkit --bin gen-events` writes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use testkit::fixtures;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[test]
fn every_fixture_file_is_current() {
    for fixture in fixtures::all() {
        let path = events_dir().join(format!("{}.json", fixture.name));
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `cargo run -p testkit --bin gen-events`",
                path.display()
            )
        });
        assert_eq!(
            on_disk,
            fixtures::render(&fixture),
            "{} is stale; run `cargo run -p testkit --bin gen-events`",
            path.display()
        );
    }
    let tick = events_dir().join(format!("{}.json", fixtures::SCHEDULER_TICK));
    assert_eq!(
        std::fs::read_to_string(&tick).unwrap_or_default(),
        fixtures::render_scheduler_tick(),
        "{} is stale; run `cargo run -p testkit --bin gen-events`",
        tick.display()
    );
}

#[test]
fn no_stray_fixture_files() {
    let expected: BTreeSet<String> = fixtures::all()
        .iter()
        .map(|f| f.name)
        .chain([fixtures::SCHEDULER_TICK])
        .map(|name| format!("{name}.json"))
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(on_disk, expected);
}

#[test]
fn fixture_names_are_unique_and_name_their_function() {
    let all = fixtures::all();
    let names: BTreeSet<&str> = all.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), all.len());
    for fixture in &all {
        assert!(
            fixture.name.starts_with(fixture.function),
            "{} should start with its function {}",
            fixture.name,
            fixture.function
        );
    }
}

#[test]
fn signatures_are_valid_except_where_meant_not_to_be() {
    let config = testkit::test_config(&[]);
    for fixture in fixtures::all() {
        let verdict = homeline_core::http::verified(&fixture.webhook.request(), &config);
        if fixture.status == 403 {
            assert!(
                verdict.is_err(),
                "{} should fail the signature check",
                fixture.name
            );
        } else {
            assert!(verdict.is_ok(), "{}: {verdict:?}", fixture.name);
        }
    }
}
