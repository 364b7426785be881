//! `--change` instructions of `docker import` / `docker commit` (`BuildFromConfig`): the
//! Dockerfile instructions that only touch the config.

use super::config::ContainerConfig;
use crate::error::{Result, StorageError};
use std::collections::BTreeMap;

const VALID: &[&str] = &["cmd", "entrypoint", "healthcheck", "env", "expose", "label", "onbuild", "user", "volume", "workdir"];

fn bad(msg: String) -> StorageError {
    StorageError::InvalidChange(msg)
}

/// JSON form (`["a","b"]`) or None for shell form.
fn json_args(rest: &str) -> Option<Vec<String>> {
    let t = rest.trim();
    if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t).ok()
    } else {
        None
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\''))) {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Split `a=b "c=d e"` into words, honouring double quotes.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inq = false;
    let mut any = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                inq = !inq;
                any = true;
            }
            c if c.is_whitespace() && !inq => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn key_values(instr: &str, rest: &str) -> Result<Vec<(String, String)>> {
    let ws = words(rest);
    if ws.is_empty() {
        return Err(bad(format!("{} requires at least one argument", instr.to_uppercase())));
    }
    if !ws[0].contains('=') {
        // legacy `ENV key value with spaces`
        let (k, v) = rest.trim().split_once(char::is_whitespace).ok_or_else(|| bad(format!("{} must have two arguments", instr.to_uppercase())))?;
        return Ok(vec![(k.to_string(), unquote(v))]);
    }
    ws.into_iter()
        .map(|w| {
            let (k, v) = w.split_once('=').ok_or_else(|| bad(format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value")))?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Apply `changes` (one instruction each) to `cfg`.
pub fn apply(cfg: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for line in changes {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let instr = instr.to_lowercase();
        if !VALID.contains(&instr.as_str()) {
            return Err(bad(format!("{instr} is not a valid change command")));
        }
        let rest = rest.trim();
        match instr.as_str() {
            "cmd" | "entrypoint" => {
                let v = json_args(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()]);
                if instr == "cmd" {
                    cfg.cmd = Some(v);
                } else {
                    cfg.entrypoint = Some(v);
                    // Docker: ENTRYPOINT resets a CMD inherited from the base.
                }
            }
            "env" => {
                let env = cfg.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(&instr, rest)? {
                    let kv = format!("{k}={v}");
                    match env.iter_mut().find(|e| e.split('=').next() == Some(k.as_str())) {
                        Some(e) => *e = kv,
                        None => env.push(kv),
                    }
                }
            }
            "label" => {
                let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(&instr, rest)? {
                    labels.insert(unquote(&k), v);
                }
            }
            "expose" => {
                let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in rest.split_whitespace() {
                    let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                    ports.insert(p, serde_json::json!({}));
                }
            }
            "volume" => {
                let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
                let list = json_args(rest).unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
                if list.is_empty() {
                    return Err(bad("VOLUME requires at least one argument".into()));
                }
                for v in list {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            "user" => cfg.user = unquote(rest),
            "workdir" => cfg.working_dir = unquote(rest),
            "onbuild" => cfg.on_build.get_or_insert_with(Vec::new).push(rest.to_string()),
            "healthcheck" => {
                if rest.eq_ignore_ascii_case("none") {
                    cfg.healthcheck = Some(serde_json::json!({"Test": ["NONE"]}));
                } else {
                    let cmd = rest.trim_start_matches("CMD").trim_start_matches("cmd").trim();
                    let test = match json_args(cmd) {
                        Some(mut v) => {
                            v.insert(0, "CMD".into());
                            v
                        }
                        None => vec!["CMD-SHELL".into(), cmd.to_string()],
                    };
                    cfg.healthcheck = Some(serde_json::json!({ "Test": test }));
                }
            }
            _ => unreachable!(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply() {
        let mut c = ContainerConfig::default();
        apply(
            &mut c,
            &[
                r#"CMD ["sh"]"#.into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV A 3".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /srv".into(),
                "LABEL k=v".into(),
                "entrypoint echo hi".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.env, Some(vec!["A=3".to_string(), "B=two words".to_string()]));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("80/tcp"));
        assert!(c.exposed_ports.as_ref().unwrap().contains_key("53/udp"));
        assert_eq!(c.working_dir, "/srv");
        assert_eq!(c.entrypoint, Some(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()]));
        let e = apply(&mut c, &["RUN echo".into()]).unwrap_err();
        assert_eq!(e.to_string(), "run is not a valid change command");
    }
}
