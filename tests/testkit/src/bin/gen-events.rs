//! Writes the events/ fixtures (signed for the test token and
//! `testkit::PUBLIC_BASE_URL`): `cargo run -p testkit --bin gen-events [DIR]`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events"));
    std::fs::create_dir_all(&dir)?;
    for fixture in testkit::fixtures::all() {
        let path = dir.join(format!("{}.json", fixture.name));
        std::fs::write(&path, testkit::fixtures::render(&fixture))?;
        println!("{}", path.display());
    }
    let path = dir.join(format!("{}.json", testkit::fixtures::SCHEDULER_TICK));
    std::fs::write(&path, testkit::fixtures::render_scheduler_tick())?;
    println!("{}", path.display());
    Ok(())
}
