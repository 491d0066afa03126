//! docs/conformance.md stays complete: it lists every scenario id.

#[test]
fn the_guide_lists_every_scenario() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/conformance.md");
    let guide = std::fs::read_to_string(path).unwrap();
    let missing: Vec<&str> = brain_ws_conformance::catalogue()
        .iter()
        .map(|s| s.id)
        .filter(|id| !guide.contains(&format!("| `{id}` |")))
        .collect();
    assert_eq!(missing, Vec::<&str>::new(), "scenarios missing from {path}");
}
