//! `.env.example` at the repository root is a working configuration: its
//! required part loads, each commented optional example is valid, and it
//! names every variable `config.rs` reads.

use std::collections::{BTreeMap, BTreeSet};

use homeline_core::config::Config;

const ENV_EXAMPLE: &str = include_str!("../../../.env.example");
const CONFIG_RS: &str = include_str!("../../src/config.rs");

/// Examples that cannot load yet, with the reason.
const NOT_YET_VALID: &[(&str, &str)] = &[(
    "BUSINESS_HOURS",
    "BusinessHours::parse is not implemented yet (core/src/domain/hours.rs)",
)];

/// `KEY=value` lines; `commented` selects the `# KEY=value` examples instead.
fn assignments(commented: bool) -> BTreeMap<String, String> {
    ENV_EXAMPLE
        .lines()
        .filter_map(|line| {
            let line = if commented {
                line.strip_prefix("# ")?
            } else {
                line
            };
            let (key, value) = line.split_once('=')?;
            let is_name = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

fn load(env: &BTreeMap<String, String>) -> Result<Config, homeline_core::config::ConfigError> {
    Config::from_lookup(|name| env.get(name).cloned())
}

/// The names `config.rs` passes to its `vars.<kind>("NAME", ..)` readers.
fn variables_config_reads() -> BTreeSet<String> {
    CONFIG_RS
        .match_indices("vars")
        .filter_map(|(at, _)| {
            let rest = CONFIG_RS[at + 4..].trim_start().strip_prefix('.')?;
            let (_, args) = rest.split_once('(')?;
            let name = args.trim_start().strip_prefix('"')?.split('"').next()?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn required_part_loads_with_fake_values() {
    let config = load(&assignments(false)).expect(".env.example loads");
    assert_eq!(config.twilio.auth_token.expose(), "12345");
    assert_eq!(config.skills, ["sales", "support"]);
    assert!(config.twilio.api_key.is_none());
}

#[test]
fn each_commented_example_is_valid() {
    let base = assignments(false);
    for (key, value) in assignments(true) {
        if NOT_YET_VALID.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let mut env = base.clone();
        env.insert(key.clone(), value.clone());
        if key == "TWILIO_API_KEY" || key == "TWILIO_API_SECRET" {
            env.extend(
                assignments(true)
                    .into_iter()
                    .filter(|(k, _)| k.starts_with("TWILIO_API_")),
            );
        }
        if let Err(e) = load(&env) {
            panic!("{key}={value}: {e}");
        }
    }
}

#[test]
fn names_every_variable_config_reads() {
    let read = variables_config_reads();
    assert!(
        read.contains("TWILIO_AUTH_TOKEN") && read.len() > 20,
        "{read:?}"
    );
    let mut named: BTreeSet<String> = assignments(false).into_keys().collect();
    named.extend(assignments(true).into_keys());
    let missing: Vec<_> = read.difference(&named).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn holds_no_secret_but_the_test_token() {
    let all = assignments(false).into_iter().chain(assignments(true));
    for (key, value) in all {
        if key.contains("TOKEN") {
            assert_eq!(value, "12345", "{key}");
        }
        if key.contains("SECRET") && !key.starts_with("AWS_") {
            assert!(value.starts_with("fake"), "{key}");
        }
    }
}
