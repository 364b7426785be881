//! Recording firewall for unit tests.
use super::{Firewall, Ruleset};
use crate::error::{NetError, Result};
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeFirewall {
    /// The current table (None = absent), as the kernel would hold it.
    pub current: Mutex<Option<Ruleset>>,
    pub applies: Mutex<usize>,
    /// Make the next apply fail (to test rollback).
    pub fail_next: Mutex<bool>,
}

impl Firewall for FakeFirewall {
    fn apply(&self, rules: &Ruleset) -> Result<()> {
        let mut f = self.fail_next.lock().unwrap();
        if *f {
            *f = false;
            return Err(NetError::Firewall("injected failure".into()));
        }
        *self.applies.lock().unwrap() += 1;
        *self.current.lock().unwrap() = Some(rules.clone());
        Ok(())
    }
    fn clear(&self) -> Result<()> {
        *self.current.lock().unwrap() = None;
        Ok(())
    }
}

/// A small iptables for unit tests: `iptables -t T -S` and `iptables-restore --noflush` over
/// in-memory `nat` and `filter` tables, with iptables' errors for the cases berth could get
/// wrong (deleting a rule or chain that is not there, a chain still referenced, a jump to a
/// missing chain). A restore is all or nothing, as in the kernel.
#[derive(Clone, Default)]
pub struct FakeIptables {
    state: std::sync::Arc<Mutex<std::collections::BTreeMap<String, IptTable>>>,
    restores: std::sync::Arc<Mutex<Vec<String>>>,
    pub fail_next_restore: std::sync::Arc<Mutex<bool>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct IptTable {
    user: Vec<String>,
    /// (chain, rule spec) in order.
    rules: Vec<(String, String)>,
}

fn builtins(table: &str) -> &'static [&'static str] {
    match table {
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        _ => &["INPUT", "FORWARD", "OUTPUT"],
    }
}

fn ipt_cmd(table: &str, t: &mut IptTable, line: &str) -> std::result::Result<(), String> {
    let exists = |t: &IptTable, c: &str| builtins(table).contains(&c) || t.user.iter().any(|u| u == c);
    if let Some(rest) = line.strip_prefix(':') {
        // `:CHAIN - [0:0]` under --noflush: create, or flush an existing chain.
        let c = rest.split_whitespace().next().unwrap_or("").to_string();
        if !exists(t, &c) {
            t.user.push(c);
        } else {
            t.rules.retain(|(ch, _)| ch != &c);
        }
        return Ok(());
    }
    let (op, rest) = line.split_once(' ').ok_or(format!("bad line {line}"))?;
    let (chain, spec) = rest.split_once(' ').map(|(c, s)| (c.to_string(), s.to_string())).unwrap_or((rest.to_string(), String::new()));
    let target_ok = |t: &IptTable, spec: &str| match spec.rsplit_once("-j ") {
        Some((_, tg)) if tg.starts_with(super::iptables::PREFIX) || tg.starts_with("DOCKER") => exists(t, tg.split_whitespace().next().unwrap_or("")),
        _ => true,
    };
    match op {
        "-N" => {
            if exists(t, &chain) {
                return Err(format!("iptables: Chain already exists ({chain})"));
            }
            t.user.push(chain);
        }
        "-A" | "-I" => {
            if !exists(t, &chain) {
                return Err(format!("iptables: No chain/target/match by that name ({chain})"));
            }
            let spec = if op == "-I" { spec.split_once(' ').map(|(_, s)| s.to_string()).unwrap_or_default() } else { spec };
            if !target_ok(t, &spec) {
                return Err(format!("iptables: No chain/target/match by that name ({spec})"));
            }
            if op == "-A" {
                t.rules.push((chain, spec));
            } else {
                let pos = t.rules.iter().position(|(c, _)| c == &chain).unwrap_or(t.rules.len());
                t.rules.insert(pos, (chain, spec));
            }
        }
        "-D" => {
            let pos = t.rules.iter().position(|(c, s)| c == &chain && s == &spec).ok_or(format!("iptables: Bad rule (does a matching rule exist in that chain?) ({line})"))?;
            t.rules.remove(pos);
        }
        "-F" => {
            if !exists(t, &chain) {
                return Err(format!("iptables: No chain/target/match by that name ({chain})"));
            }
            t.rules.retain(|(c, _)| c != &chain);
        }
        "-X" => {
            if !t.user.contains(&chain) {
                return Err(format!("iptables: No chain/target/match by that name ({chain})"));
            }
            if t.rules.iter().any(|(c, s)| c == &chain || s.ends_with(&format!("-j {chain}"))) {
                return Err(format!("iptables: Directory not empty / too many links ({chain})"));
            }
            t.user.retain(|u| u != &chain);
        }
        _ => return Err(format!("unsupported {line}")),
    }
    Ok(())
}

impl FakeIptables {
    /// Apply one command to `table` directly (test setup); panics on an iptables error.
    pub fn exec(&self, table: &str, cmd: &str) {
        let mut st = self.state.lock().unwrap();
        ipt_cmd(table, st.entry(table.to_string()).or_default(), cmd).unwrap();
    }
    /// `iptables -t <table> -S`.
    pub fn listing(&self, table: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        let t = st.get(table).cloned().unwrap_or_default();
        let mut out: Vec<String> = builtins(table).iter().map(|b| format!("-P {b} ACCEPT")).collect();
        out.extend(t.user.iter().map(|u| format!("-N {u}")));
        let order: Vec<String> = builtins(table).iter().map(|s| s.to_string()).chain(t.user.iter().cloned()).collect();
        for c in order {
            out.extend(t.rules.iter().filter(|(ch, _)| ch == &c).map(|(ch, s)| format!("-A {ch} {s}")));
        }
        out
    }
    /// Both tables, for before/after comparisons.
    pub fn dump(&self) -> String {
        format!("{}\n--\n{}", self.listing("nat").join("\n"), self.listing("filter").join("\n"))
    }
    /// Every restore script run so far.
    pub fn scripts(&self) -> Vec<String> {
        self.restores.lock().unwrap().clone()
    }

    fn restore(&self, script: &str) -> std::result::Result<(), String> {
        self.restores.lock().unwrap().push(script.to_string());
        if std::mem::take(&mut *self.fail_next_restore.lock().unwrap()) {
            return Err("iptables-restore: injected failure".into());
        }
        let mut st = self.state.lock().unwrap();
        let mut next = st.clone();
        let mut table: Option<String> = None;
        for (i, line) in script.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(t) = line.strip_prefix('*') {
                table = Some(t.to_string());
            } else if line == "COMMIT" {
                table = None;
            } else {
                let t = table.clone().ok_or(format!("line {}: no table", i + 1))?;
                ipt_cmd(&t, next.entry(t.clone()).or_default(), line).map_err(|e| format!("iptables-restore: line {} failed: {e}", i + 1))?;
            }
        }
        *st = next;
        Ok(())
    }
}

impl super::exec::Runner for FakeIptables {
    fn run(&self, prog: &str, args: &[&str], stdin: Option<&str>) -> std::result::Result<String, String> {
        match (prog, args) {
            ("iptables", ["-w", "-t", table, "-S"]) => Ok(self.listing(table).join("\n") + "\n"),
            ("iptables-restore", ["-w", "--noflush"]) => self.restore(stdin.unwrap_or("")).map(|_| String::new()),
            _ => Err(format!("fake iptables: unexpected {prog} {args:?}")),
        }
    }
}
