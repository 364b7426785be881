use super::*;

const RUNC_SPEC: &str = include_str!("testdata/runc-spec.json");

#[test]
fn parses_runc_spec_output() {
    let spec = Spec::from_json(RUNC_SPEC).unwrap();
    assert_eq!(spec.process().args, vec!["sh"]);
    assert_eq!(spec.hostname.as_deref(), Some("runc"));
    assert_eq!(spec.mounts.len(), 7);
    assert!(spec.root.as_ref().unwrap().readonly);
    let linux = spec.linux();
    assert_eq!(linux.namespaces.len(), 5);
    assert_eq!(linux.namespaces[1].typ, NamespaceType::Network);
    assert_eq!(linux.masked_paths.len(), 10);
    assert_eq!(spec.process().capabilities.as_ref().unwrap().ambient.len(), 3);
}

fn with_namespace_type(t: &str) -> String {
    RUNC_SPEC.replace(r#""type": "ipc""#, &format!(r#""type": "{t}""#))
}

#[test]
fn unknown_namespace_type_names_the_field() {
    let err = Spec::from_json(&with_namespace_type("foo")).unwrap_err().to_string();
    assert_eq!(err, r#"config.json: linux.namespaces[2].type: unknown namespace type "foo""#);
}

#[test]
fn malformed_json_is_one_line() {
    let err = Spec::from_json("{\"ociVersion\": ").unwrap_err().to_string();
    assert!(err.starts_with("config.json: "), "{err}");
    assert!(!err.contains('\n'));
}

#[test]
fn wrong_field_type_names_the_field() {
    let bad = RUNC_SPEC.replace(r#""uid": 0"#, r#""uid": "root""#);
    let err = Spec::from_json(&bad).unwrap_err().to_string();
    assert!(err.starts_with("config.json: process.user.uid: invalid type"), "{err}");
}

#[test]
fn unknown_capability_and_rlimit_rejected() {
    let bad = RUNC_SPEC.replacen("CAP_KILL", "CAP_FLY", 1);
    let err = Spec::from_json(&bad).unwrap_err().to_string();
    assert_eq!(err, r#"config.json: process.capabilities.bounding[1]: unknown capability "CAP_FLY""#);
    let bad = RUNC_SPEC.replace("RLIMIT_NOFILE", "RLIMIT_BOGUS");
    let err = Spec::from_json(&bad).unwrap_err().to_string();
    assert_eq!(err, r#"config.json: process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS""#);
}

#[test]
fn missing_process_args_and_duplicate_namespace() {
    let bad = RUNC_SPEC.replace(r#""sh""#, "");
    let err = Spec::from_json(&bad).unwrap_err().to_string();
    assert!(err.contains("process.args"), "{err}");
    let err = Spec::from_json(&with_namespace_type("pid")).unwrap_err().to_string();
    assert_eq!(err, r#"config.json: linux.namespaces[2].type: duplicate namespace type "pid""#);
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = Spec::load(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("open {}/config.json: ", dir.path().display())), "{err}");
}

#[test]
fn id_mappings_use_the_spec_field_names() {
    let with_user = RUNC_SPEC.replace(
        r#""namespaces": ["#,
        r#""uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
           "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10}],
           "namespaces": [{"type": "user"},"#,
    );
    let linux = Spec::from_json(&with_user).unwrap().linux();
    assert_eq!(linux.uid_mappings, vec![IdMapping { container_id: 0, host_id: 100000, size: 65536 }]);
    assert_eq!(linux.gid_mappings[0].host_id, 200000);
    let missing = with_user.replace(r#""hostID": 100000, "#, "");
    let err = Spec::from_json(&missing).unwrap_err().to_string();
    assert!(err.starts_with("config.json: linux.uidMappings[0]: missing field `hostID`"), "{err}");
}
