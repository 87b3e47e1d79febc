//! The committed schema files equal what the language tables generate, and
//! the JSON Schema accepts every TOML example.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_sync(file: &str, generated: &str) {
    let path = root().join("schema").join(file);
    if std::env::var_os("MESHC_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/{file} is stale: run `MESHC_UPDATE_SCHEMA=1 cargo test` and commit it"
    );
}

#[test]
fn json_schema_is_in_sync() {
    in_sync("topology.schema.json", &meshc::schema::json_schema());
}

#[test]
fn kdl_reference_is_in_sync() {
    in_sync("topology-kdl.md", &meshc::schema::kdl_reference());
}

#[test]
fn json_schema_accepts_every_toml_topology_and_rejects_a_typo() {
    let schema: serde_json::Value = serde_json::from_str(&meshc::schema::json_schema()).expect("valid JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let mut files = crate::fixtures::topology_files(&root().join("examples"));
    files.extend(crate::fixtures::topology_files(&root().join("tests/ok")));
    let tomls: Vec<_> = files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(!tomls.is_empty());
    for path in &tomls {
        let text = std::fs::read_to_string(path).expect("readable");
        let value: serde_json::Value = toml::from_str(&text).expect("valid TOML");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let typo = serde_json::json!({ "mesh": { "name": "m", "istio": "1.24", "trust-domian": "x" } });
    assert!(
        !validator.is_valid(&typo),
        "a misspelt setting must fail the schema"
    );
}
