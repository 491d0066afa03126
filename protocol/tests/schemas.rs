//! The committed documents in `schemas/` are exactly what the types generate.
//! Regenerate with `UPDATE_SCHEMAS=1 cargo test -p brain-ws-protocol --test schemas`.

use std::path::PathBuf;

#[test]
fn committed_schemas_match_the_types() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for doc in brain_ws_protocol::schema::documents() {
        let path = root.join(doc.path);
        let text = serde_json::to_string_pretty(&doc.document).expect("serializable") + "\n";
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            if update {
                std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
                std::fs::write(&path, text).expect("write schema");
            } else {
                stale.push(doc.path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is stale for {stale:?}; run UPDATE_SCHEMAS=1 cargo test -p brain-ws-protocol --test schemas"
    );
}
