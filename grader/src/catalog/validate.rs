//! Consistency rules a lab must satisfy beyond its types. Errors are (field path, message);
//! the caller maps the path back to a line.

use super::objectives::{is_slug, ObjectiveKind};
use super::{Lab, Objectives, Text};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

type Invalid = (String, String);

pub fn validate(lab: &Lab, objectives: &Objectives) -> Result<(), Invalid> {
    if !is_slug(&lab.id) {
        return Err((
            "id".into(),
            format!(
                "{:?} is not a slug (lowercase letters, digits, '-')",
                lab.id
            ),
        ));
    }
    for (i, o) in lab.objectives.iter().enumerate() {
        if objectives.get(o).is_none() {
            return Err((
                format!("objectives[{i}]"),
                format!("unknown objective {o:?} (see labs/objectives.toml)"),
            ));
        }
    }
    let (net, prefix) = parse_cidr(&lab.lan).map_err(|m| ("lan".to_string(), m))?;
    let gateway = first_host(net, prefix);
    if lab.hosts.is_empty() {
        return Err(("hosts".into(), "a lab needs at least one host".into()));
    }
    let mut names = BTreeSet::new();
    let mut addrs = BTreeSet::new();
    for (i, h) in lab.hosts.iter().enumerate() {
        let f = |s: &str| format!("hosts[{i}].{s}");
        if !is_slug(&h.name) || h.name.len() > 12 {
            return Err((
                f("name"),
                format!("{:?} must be a slug of at most 12 characters", h.name),
            ));
        }
        if !names.insert(h.name.as_str()) {
            return Err((f("name"), format!("host {:?} is declared twice", h.name)));
        }
        let (a, p) = parse_cidr(&h.address).map_err(|m| (f("address"), m))?;
        if p != prefix || mask(a, p) != net {
            return Err((
                f("address"),
                format!("{} is not inside the lab LAN {}", h.address, lab.lan),
            ));
        }
        if a == gateway {
            return Err((f("address"), format!("{a} is the LAN bridge's own address")));
        }
        if !addrs.insert(a) {
            return Err((f("address"), format!("address {a} is used twice")));
        }
        for (j, img) in h.images.iter().enumerate() {
            let ok = !img.is_empty()
                && img
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
            if !ok || img.starts_with('.') {
                return Err((
                    f(&format!("images[{j}]")),
                    format!("{img:?} is not a fixture image name (a file name in target/fixtures/images, without .tar)"),
                ));
            }
        }
        for (j, s) in h.services.iter().enumerate() {
            for (k, c) in s.ready.iter().enumerate() {
                check_refs(lab, c, &format!("hosts[{i}].services[{j}].ready[{k}]"))?;
            }
        }
    }
    let mut quiz_ids = BTreeSet::new();
    for (i, q) in lab.quiz.iter().enumerate() {
        let f = |s: &str| format!("quiz[{i}].{s}");
        if !quiz_ids.insert(q.id.as_str()) {
            return Err((f("id"), format!("quiz item {:?} is declared twice", q.id)));
        }
        if !lab.objectives.contains(&q.objective) {
            return Err((
                f("objective"),
                format!("{:?} is not one of this lab's objectives", q.objective),
            ));
        }
        if q.choices.len() < 2 {
            return Err((
                f("choices"),
                "a quiz item needs at least two choices".into(),
            ));
        }
        let Some(right) = q.answer_index() else {
            return Err((
                f("answer"),
                format!("{:?} is not one of the choice letters a..", q.answer),
            ));
        };
        if strictly_longest(&q.choices, right, |t| &t.zh)
            && strictly_longest(&q.choices, right, |t| &t.en)
        {
            return Err((
                f("answer"),
                "the right answer is the longest choice in both languages: make the choices \
                 of similar length so length gives nothing away"
                    .into(),
            ));
        }
        if q.explanation.zh.trim().is_empty() || q.explanation.en.trim().is_empty() {
            return Err((
                f("explanation"),
                "a quiz item needs an explanation in both languages (shown after the answer)"
                    .into(),
            ));
        }
    }
    for (i, o) in lab.objectives.iter().enumerate() {
        let explain = objectives
            .get(o)
            .map(|o| o.kind == ObjectiveKind::Explain)
            .unwrap_or(false);
        if explain && !lab.quiz.iter().any(|q| &q.objective == o) {
            return Err((
                format!("objectives[{i}]"),
                format!("{o:?} is an explain objective but no quiz item proves it"),
            ));
        }
    }
    let mut step_ids = BTreeSet::new();
    let mut quizzed = BTreeSet::new();
    for (i, s) in lab.steps.iter().enumerate() {
        let f = |x: &str| format!("steps[{i}].{x}");
        if !is_slug(&s.id) {
            return Err((f("id"), format!("{:?} is not a slug", s.id)));
        }
        if !step_ids.insert(s.id.as_str()) {
            return Err((f("id"), format!("step {:?} is declared twice", s.id)));
        }
        host_ref(lab, &s.host, &f("host"))?;
        for (j, o) in s.objectives.iter().enumerate() {
            if !lab.objectives.contains(o) {
                return Err((
                    f(&format!("objectives[{j}]")),
                    format!("{o:?} is not one of this lab's objectives"),
                ));
            }
        }
        for (j, a) in s.solution.iter().enumerate() {
            host_ref(lab, &a.host, &f(&format!("solution[{j}].host")))?;
        }
        answers_ref(lab, &s.answers, &f("answers"))?;
        if s.checks.is_empty() {
            return Err((f("checks"), "every step needs at least one check".into()));
        }
        for (j, c) in s.checks.iter().enumerate() {
            check_refs(lab, c, &f(&format!("checks[{j}]")))?;
            quizzed.extend(c.quiz_items());
        }
        if s.broken.is_empty() {
            return Err((
                f("broken"),
                "every step needs at least one broken variant its checks reject".into(),
            ));
        }
        let mut broken_names = BTreeSet::new();
        for (j, b) in s.broken.iter().enumerate() {
            if !broken_names.insert(b.name.as_str()) {
                return Err((
                    f(&format!("broken[{j}].name")),
                    format!("broken variant {:?} is declared twice", b.name),
                ));
            }
            for (k, a) in b.run.iter().enumerate() {
                host_ref(lab, &a.host, &f(&format!("broken[{j}].run[{k}].host")))?;
            }
            answers_ref(lab, &b.answers, &f(&format!("broken[{j}].answers")))?;
        }
        if !(s.timeout_secs > 0.0 && s.timeout_secs <= 600.0) {
            return Err((f("timeout_secs"), "must be in (0, 600]".into()));
        }
    }
    if lab.steps.is_empty() {
        return Err(("steps".into(), "a lab needs at least one step".into()));
    }
    for (i, q) in lab.quiz.iter().enumerate() {
        if !quizzed.contains(q.id.as_str()) {
            return Err((
                format!("quiz[{i}].id"),
                format!("quiz item {:?} is not checked by any step", q.id),
            ));
        }
    }
    Ok(())
}

/// Whether choice `right` is longer (in chars) than every other choice in one language.
fn strictly_longest(choices: &[Text], right: usize, lang: fn(&Text) -> &String) -> bool {
    let len = |t: &Text| lang(t).chars().count();
    let r = len(&choices[right]);
    choices
        .iter()
        .enumerate()
        .all(|(i, c)| i == right || len(c) < r)
}

fn host_ref(lab: &Lab, host: &str, field: &str) -> Result<(), Invalid> {
    if lab.host(host).is_none() {
        let known: Vec<&str> = lab.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err((
            field.into(),
            format!("unknown host {host:?} (hosts: {})", known.join(", ")),
        ));
    }
    Ok(())
}

fn check_refs(lab: &Lab, c: &crate::checks::CheckSpec, field: &str) -> Result<(), Invalid> {
    for (sub, host) in c.host_refs() {
        host_ref(lab, &host, &format!("{field}.{sub}"))?;
    }
    for item in c.quiz_items() {
        if lab.quiz_item(&item).is_none() {
            return Err((
                format!("{field}.item"),
                format!("unknown quiz item {item:?}"),
            ));
        }
    }
    c.validate()
        .map_err(|(sub, m)| (format!("{field}.{sub}"), m))
}

fn answers_ref(
    lab: &Lab,
    answers: &std::collections::BTreeMap<String, String>,
    field: &str,
) -> Result<(), Invalid> {
    for (id, letter) in answers {
        let Some(q) = lab.quiz_item(id) else {
            return Err((format!("{field}.{id}"), format!("unknown quiz item {id:?}")));
        };
        if !q.letters().any(|l| &l == letter) {
            return Err((
                format!("{field}.{id}"),
                format!("{letter:?} is not a choice of {id:?}"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not an address/prefix like 10.1.1.11/24"))?;
    let a: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
    let p: u8 = p
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(|| format!("prefix /{p} must be 8..30"))?;
    Ok((a, p))
}

pub(crate) fn mask(a: Ipv4Addr, p: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) & (u32::MAX << (32 - p)))
}

/// The first usable address of a network: the LAN bridge takes it.
pub(crate) fn first_host(net: Ipv4Addr, p: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(mask(net, p)) + 1)
}

/// Appends the implicit hub host (unless `hub = false`): named `hub` and at the LAN's `.10`
/// unless `[hub]` says otherwise; its name and address must be free.
pub fn add_hub(lab: &mut Lab) -> Result<(), Invalid> {
    let spec = match &lab.hub {
        super::lab::Hub::Enabled(false) => return Ok(()),
        super::lab::Hub::Enabled(true) => super::lab::HubSpec::default(),
        super::lab::Hub::Spec(s) => s.clone(),
    };
    let (net, prefix) = parse_cidr(&lab.lan).map_err(|m| ("lan".to_string(), m))?;
    let name = spec.name.unwrap_or_else(|| "hub".into());
    let address = spec
        .address
        .unwrap_or_else(|| format!("{}/{prefix}", Ipv4Addr::from(u32::from(net) + 10)));
    let (a, _) = parse_cidr(&address).map_err(|m| ("hub.address".to_string(), m))?;
    for (i, h) in lab.hosts.iter().enumerate() {
        if h.name == name {
            return Err((
                format!("hosts[{i}].name"),
                format!("{name:?} is the lab hub's name (rename the host, or set [hub] name, or hub = false)"),
            ));
        }
        if parse_cidr(&h.address).map(|(b, _)| b == a).unwrap_or(false) {
            return Err((
                format!("hosts[{i}].address"),
                format!("{a} is the lab hub's address (use another, or set [hub] address, or hub = false)"),
            ));
        }
    }
    let ip = a.to_string();
    lab.hosts.push(crate::catalog::HostSpec {
        services: vec![
            crate::hosts::hub::service(&name, &ip),
            crate::hosts::hub::packages_service(&name, &ip),
        ],
        name,
        address,
        hostname: None,
        role: Some(format!(
            "the lab hub: a registry holding every fixture image, every host's registry mirror; Debian packages at http://{ip}/debian"
        )),
        images: vec![],
        is_hub: true,
    });
    Ok(())
}
