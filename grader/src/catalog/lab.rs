//! One lab: `labs/<n>-<slug>/lab.toml`.

use super::{parse_toml, CatalogError, ObjectiveKind, Objectives};
use crate::checks::CheckSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Text in both languages the course is taught in.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub id: String,
    pub title: Text,
    pub intro: Text,
    /// Objective ids from objectives.toml this lab proves.
    pub objectives: Vec<String>,
    /// The LAN every host is plugged into (CIDR); hosts' addresses must lie inside it.
    #[serde(default = "default_lan")]
    pub lan: String,
    pub hosts: Vec<HostSpec>,
    /// The lab hub (on unless `hub = false`): an extra host running the distribution registry
    /// with every fixture image, the other hosts' `registry-mirrors`. Loading appends it to
    /// `hosts` (named `hub`, address `.10` of the LAN unless `[hub]` says otherwise).
    #[serde(default)]
    pub hub: Hub,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub quiz: Vec<QuizItem>,
    /// Where the lab was loaded from (set by the loader).
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_lan() -> String {
    "10.1.1.0/24".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    /// Address on the lab LAN with prefix length, e.g. "10.1.1.11/24".
    pub address: String,
    /// Defaults to `name`.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// Long-running programs the host starts when provisioned (e.g. berthd).
    #[serde(default)]
    pub services: Vec<Service>,
    /// Fixture images (`target/fixtures/images/<name>.tar`) loaded into the host's engine
    /// (`POST /images/load` on /run/berth.sock) once its services are ready.
    #[serde(default)]
    pub images: Vec<String>,
    /// Set on the implicit hub host (never read from lab.toml).
    #[serde(skip)]
    pub is_hub: bool,
}

/// `hub = false` (no hub), or `[hub]` with `name` / `address` (defaults `hub`, LAN `.10`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Hub {
    Enabled(bool),
    Spec(HubSpec),
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::Enabled(true)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HubSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

impl Hub {
    pub fn enabled(&self) -> bool {
        !matches!(self, Hub::Enabled(false))
    }
}

impl HostSpec {
    pub fn hostname(&self) -> &str {
        self.hostname.as_deref().unwrap_or(&self.name)
    }
}

/// A service started inside a host after provisioning: `start` runs detached in the host
/// (its own mount ns sees the host's private /var/lib/berth, /run, /etc/berth), and the host is
/// ready once every `ready` check holds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub start: String,
    #[serde(default)]
    pub ready: Vec<CheckSpec>,
    #[serde(default = "default_service_timeout")]
    pub timeout_secs: f64,
}

fn default_service_timeout() -> f64 {
    30.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    pub title: Text,
    pub instructions: Text,
    /// Objectives this step's checks count toward (default: the lab's "do" objectives).
    #[serde(default)]
    pub objectives: Vec<String>,
    /// The host the student's shell opens on for this step.
    pub host: String,
    /// The reference solution, replayed by `--solve`.
    #[serde(default)]
    pub solution: Vec<Action>,
    /// Quiz answers of the reference solution: quiz item id -> choice letter.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    #[serde(default)]
    pub hints: Vec<Text>,
    pub checks: Vec<CheckSpec>,
    /// Wrong or incomplete solutions the checks must reject.
    #[serde(default)]
    pub broken: Vec<Broken>,
    /// How long checks may take to hold after the solution ran.
    #[serde(default = "default_check_timeout")]
    pub timeout_secs: f64,
}

fn default_check_timeout() -> f64 {
    10.0
}

/// A command run on a named host.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub host: String,
    pub run: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Broken {
    pub name: String,
    /// What is wrong with it (shown when a check unexpectedly accepts it).
    pub why: String,
    #[serde(default)]
    pub run: Vec<Action>,
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// A multiple-choice question proving an "explain" objective.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuizItem {
    pub id: String,
    pub objective: String,
    pub question: Text,
    /// Choices are lettered a, b, c, … in order.
    pub choices: Vec<Text>,
    /// The letter of the right choice.
    pub answer: String,
    /// Why the right answer is right; shown after a right answer. Required, in both languages.
    pub explanation: Text,
}

/// The letter of the `i`th choice: a, b, c…
pub fn letter(i: usize) -> String {
    ((b'a' + i as u8) as char).to_string()
}

impl QuizItem {
    pub fn letters(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.choices.len()).map(letter)
    }

    /// The index of the right choice (None when `answer` is not a choice letter).
    pub fn answer_index(&self) -> Option<usize> {
        self.letters().position(|l| l == self.answer)
    }
}

impl Lab {
    pub fn load(path: &Path, objectives: &Objectives) -> Result<Lab, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(path, &text, objectives)
    }

    pub fn parse(path: &Path, text: &str, objectives: &Objectives) -> Result<Lab, CatalogError> {
        let mut lab: Lab = parse_toml(path, text)?;
        lab.file = path.to_path_buf();
        lab.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let invalid = |field: &str, message: String| CatalogError::Invalid {
            file: path.to_path_buf(),
            line: super::locate::line_of_path(text, field),
            field: field.into(),
            message,
        };
        super::validate::add_hub(&mut lab).map_err(|(f, m)| invalid(&f, m))?;
        super::validate::validate(&lab, objectives).map_err(|(f, m)| invalid(&f, m))?;
        Ok(lab)
    }

    /// The implicit hub host, when the lab has one.
    pub fn hub_host(&self) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.is_hub)
    }

    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn quiz_item(&self, id: &str) -> Option<&QuizItem> {
        self.quiz.iter().find(|q| q.id == id)
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// The objectives a step's non-quiz checks count toward: the step's `objectives`, or by
    /// default the lab's "do" objectives (all of the lab's when it has none).
    pub fn step_objectives<'a>(&'a self, step: &'a Step, objectives: &Objectives) -> Vec<&'a str> {
        if !step.objectives.is_empty() {
            return step.objectives.iter().map(String::as_str).collect();
        }
        let doing: Vec<&str> = self
            .objectives
            .iter()
            .filter(|o| {
                objectives
                    .get(o)
                    .map(|o| o.kind == ObjectiveKind::Do)
                    .unwrap_or(false)
            })
            .map(String::as_str)
            .collect();
        if doing.is_empty() {
            self.objectives.iter().map(String::as_str).collect()
        } else {
            doing
        }
    }

    /// The objectives one check of `step` counts toward: a quiz check its item's objective,
    /// any other check the step's objectives.
    pub fn check_objectives<'a>(
        &'a self,
        step: &'a Step,
        check: &CheckSpec,
        objectives: &Objectives,
    ) -> Vec<&'a str> {
        match check {
            CheckSpec::Quiz(q) => self
                .quiz_item(&q.item)
                .map(|i| vec![i.objective.as_str()])
                .unwrap_or_default(),
            _ => self.step_objectives(step, objectives),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJ: &str = r#"
[[objective]]
id = "explain-x"
kind = "explain"
zh = "甲"
en = "X"
[[objective]]
id = "do-y"
kind = "do"
zh = "乙"
en = "Y"
"#;

    const LAB: &str = r#"id = "t-lab"
title = { zh = "标题", en = "Title" }
intro = { zh = "介绍", en = "Intro" }
objectives = ["explain-x", "do-y"]

[[hosts]]
name = "vm1"
address = "10.1.1.11/24"

[[hosts]]
name = "vm2"
address = "10.1.1.12/24"

[[steps]]
id = "write"
title = { zh = "写", en = "Write" }
instructions = { zh = "写文件", en = "Write a file" }
host = "vm1"
solution = [{ host = "vm1", run = "echo hi > /root/f" }]
answers = { q1 = "a" }

[[steps.checks]]
kind = "file"
host = "vm1"
path = "/root/f"
content = "hi"

[[steps.checks]]
kind = "quiz"
item = "q1"

[[steps.broken]]
name = "empty"
why = "writes nothing"
run = [{ host = "vm1", run = "touch /root/f" }]
answers = { q1 = "b" }

[[quiz]]
id = "q1"
objective = "explain-x"
question = { zh = "问", en = "Q" }
choices = [{ zh = "对", en = "right" }, { zh = "错", en = "wrong" }]
answer = "a"
explanation = { zh = "因为", en = "Because" }
"#;

    fn parse(text: &str) -> Result<Lab, CatalogError> {
        let o = Objectives::parse(Path::new("objectives.toml"), OBJ).unwrap();
        Lab::parse(Path::new("labs/t/lab.toml"), text, &o)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_good_lab_parses() {
        let lab = parse(LAB).unwrap();
        assert_eq!(lab.steps[0].checks.len(), 2);
        assert_eq!(lab.steps[0].checks[0].kind(), "file");
        assert_eq!(lab.host("vm2").unwrap().hostname(), "vm2");
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let bad = LAB.replace("path = \"/root/f\"", "path = \"/root/f\"\ncolour = \"red\"");
        let e = err(&bad);
        assert!(
            e.starts_with("labs/t/lab.toml:26: steps[0].checks[0].colour: unknown field `colour`"),
            "{e}"
        );
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn wrong_type_names_line_and_field() {
        let e = err(&LAB.replace("address = \"10.1.1.12/24\"", "address = 12"));
        assert!(
            e.starts_with("labs/t/lab.toml:12: hosts[1].address:"),
            "{e}"
        );
    }

    #[test]
    fn unknown_host_in_solution() {
        let e = err(&LAB.replace(
            "solution = [{ host = \"vm1\"",
            "solution = [{ host = \"vm7\"",
        ));
        assert!(
            e.starts_with("labs/t/lab.toml:19: steps[0].solution[0].host: unknown host \"vm7\""),
            "{e}"
        );
    }

    #[test]
    fn image_names_are_file_names_in_the_fixtures() {
        let lab = parse(&LAB.replace(
            "name = \"vm2\"",
            "name = \"vm2\"\nimages = [\"busybox\", \"hello-world\"]",
        ))
        .unwrap();
        assert_eq!(lab.host("vm2").unwrap().images, ["busybox", "hello-world"]);
        let e = err(&LAB.replace(
            "name = \"vm2\"",
            "name = \"vm2\"\nimages = [\"../etc/passwd\"]",
        ));
        assert!(
            e.starts_with("labs/t/lab.toml:")
                && e.contains("hosts[1].images[0]: \"../etc/passwd\" is not a fixture image name"),
            "{e}"
        );
    }

    #[test]
    fn every_lab_gets_a_hub_unless_it_says_no() {
        let lab = parse(LAB).unwrap();
        let hub = lab.hub_host().unwrap();
        assert_eq!(
            (hub.name.as_str(), hub.address.as_str()),
            ("hub", "10.1.1.10/24")
        );
        assert!(hub.is_hub && lab.hosts.last().unwrap().is_hub);
        assert_eq!(hub.services[0].name, "registry");
        assert!(!lab.host("vm1").unwrap().is_hub);
        let off = parse(&LAB.replace(
            "[[hosts]]\nname = \"vm1\"",
            "hub = false\n\n[[hosts]]\nname = \"vm1\"",
        ))
        .unwrap();
        assert!(off.hub_host().is_none() && off.hosts.len() == 2);
        let moved = parse(&LAB.replace(
            "[[hosts]]\nname = \"vm1\"",
            "[hub]\naddress = \"10.1.1.20/24\"\n\n[[hosts]]\nname = \"vm1\"",
        ))
        .unwrap();
        assert_eq!(moved.hub_host().unwrap().address, "10.1.1.20/24");
        let e = err(&LAB.replace("10.1.1.12/24", "10.1.1.10/24"));
        assert!(
            e.starts_with(
                "labs/t/lab.toml:12: hosts[1].address: 10.1.1.10 is the lab hub's address"
            ),
            "{e}"
        );
        let e = err(&LAB.replace("name = \"vm2\"", "name = \"hub\""));
        assert!(
            e.contains("hosts[1].name: \"hub\" is the lab hub's name"),
            "{e}"
        );
    }

    #[test]
    fn unknown_objective() {
        let e = err(&LAB.replace("\"do-y\"]", "\"do-z\"]"));
        assert!(
            e.starts_with("labs/t/lab.toml:4: objectives[1]: unknown objective \"do-z\""),
            "{e}"
        );
    }

    #[test]
    fn step_without_broken_variant() {
        let i = LAB.find("[[steps.broken]]").unwrap();
        let j = LAB.find("[[quiz]]").unwrap();
        let bad = format!("{}{}", &LAB[..i], &LAB[j..]);
        let e = err(&bad);
        assert!(
            e.contains("steps[0].broken: every step needs at least one broken variant"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_host_and_address_outside_lan() {
        let e = err(&LAB.replace("name = \"vm2\"", "name = \"vm1\""));
        assert!(
            e.starts_with("labs/t/lab.toml:11: hosts[1].name: host \"vm1\" is declared twice"),
            "{e}"
        );
        let e = err(&LAB.replace("10.1.1.12/24", "10.2.1.12/24"));
        assert!(
            e.contains("hosts[1].address: 10.2.1.12/24 is not inside the lab LAN"),
            "{e}"
        );
    }

    #[test]
    fn explain_objective_needs_quiz_and_answers_must_be_choices() {
        let e = err(&LAB.replace("answers = { q1 = \"b\" }", "answers = { q1 = \"z\" }"));
        assert!(
            e.contains("steps[0].broken[0].answers.q1: \"z\" is not a choice"),
            "{e}"
        );
        let e = err(&LAB.replace("item = \"q1\"", "item = \"q9\""));
        assert!(
            e.contains("steps[0].checks[1].item: unknown quiz item \"q9\""),
            "{e}"
        );
    }

    /// LAB with quiz item q1's choices replaced.
    fn with_choices(right: (&str, &str), wrong: (&str, &str)) -> String {
        LAB.replace(
            r#"choices = [{ zh = "对", en = "right" }, { zh = "错", en = "wrong" }]"#,
            &format!(
                r#"choices = [{{ zh = "{}", en = "{}" }}, {{ zh = "{}", en = "{}" }}]"#,
                right.0, right.1, wrong.0, wrong.1
            ),
        )
    }

    #[test]
    fn a_right_answer_longest_in_both_languages_is_rejected() {
        let e = err(&with_choices(
            ("宿主机的内核", "the host's kernel"),
            ("镜像的", "its own"),
        ));
        assert!(
            e.starts_with("labs/t/lab.toml:43: quiz[0].answer: the right answer is the longest choice in both languages"),
            "{e}"
        );
        // Longest in one language only, or tied for longest: accepted.
        parse(&with_choices(
            ("宿主机的内核", "host"),
            ("镜像的", "its own"),
        ))
        .unwrap();
        parse(&with_choices(
            ("内核", "the host's kernel"),
            ("镜像的内核", "its own"),
        ))
        .unwrap();
        parse(&with_choices(
            ("宿主机", "the host's"),
            ("镜像的", "the image's"),
        ))
        .unwrap();
        // Lengths are counted in characters, not bytes: 内核 (6 bytes) is not longer than abc.
        parse(&with_choices(("内核", "host"), ("abc", "image"))).unwrap();
        let e = err(&with_choices(("内核啊啊", "hosts"), ("abc", "host")));
        assert!(
            e.contains("quiz[0].answer: the right answer is the longest"),
            "{e}"
        );
    }

    #[test]
    fn a_quiz_item_needs_an_explanation() {
        let e = err(&LAB.replace("explanation = { zh = \"因为\", en = \"Because\" }\n", ""));
        assert!(
            e.starts_with("labs/t/lab.toml:")
                && e.contains("quiz[0]")
                && e.contains("missing field `explanation`"),
            "{e}"
        );
        let e = err(&LAB.replace("en = \"Because\"", "en = \" \""));
        assert!(
            e.starts_with(
                "labs/t/lab.toml:44: quiz[0].explanation: a quiz item needs an explanation"
            ),
            "{e}"
        );
    }

    #[test]
    fn explain_objectives_may_be_proven_by_other_checks_but_still_need_a_quiz() {
        let lab = parse(&LAB.replace(
            "host = \"vm1\"\nsolution",
            "host = \"vm1\"\nobjectives = [\"do-y\", \"explain-x\"]\nsolution",
        ))
        .unwrap();
        let o = Objectives::parse(Path::new("objectives.toml"), OBJ).unwrap();
        let s = &lab.steps[0];
        assert_eq!(
            lab.check_objectives(s, &s.checks[0], &o),
            ["do-y", "explain-x"]
        );
        assert_eq!(lab.check_objectives(s, &s.checks[1], &o), ["explain-x"]);
        let plain = parse(LAB).unwrap();
        let s = &plain.steps[0];
        assert_eq!(plain.check_objectives(s, &s.checks[0], &o), ["do-y"]);
        // Without its quiz item the explain objective is not proven, whatever the steps say.
        let i = LAB.find("[[quiz]]").unwrap();
        let no_quiz = LAB[..i]
            .replace(
                "host = \"vm1\"\nsolution",
                "host = \"vm1\"\nobjectives = [\"explain-x\"]\nsolution",
            )
            .replace("answers = { q1 = \"a\" }\n", "")
            .replace("answers = { q1 = \"b\" }\n", "")
            .replace("[[steps.checks]]\nkind = \"quiz\"\nitem = \"q1\"\n", "");
        let e = err(&no_quiz);
        assert!(
            e.contains(
                "objectives[0]: \"explain-x\" is an explain objective but no quiz item proves it"
            ),
            "{e}"
        );
    }

    #[test]
    fn bad_regex_and_syntax_errors() {
        let e = err(&LAB.replace("content = \"hi\"", "content = \"(hi\""));
        assert!(e.contains("steps[0].checks[0].content: bad regex"), "{e}");
        let e = err(&LAB.replace("[[quiz]]", "[[quiz]"));
        assert!(e.starts_with("labs/t/lab.toml:"), "{e}");
    }

    #[test]
    fn network_checks_validate_their_values_and_hosts() {
        let with = |check: &str| {
            LAB.replace(
                "[[steps.checks]]\nkind = \"quiz\"",
                &format!("[[steps.checks]]\n{check}\n\n[[steps.checks]]\nkind = \"quiz\""),
            )
        };
        let ok = with("kind = \"link\"\nof = { host = \"vm1\", cmdline = \"^sleep 1$\" }\nname = \"^eth0$\"\ntype = \"veth\"\npeer = { of = { host = \"vm1\" }, master = \"docker1\" }");
        assert_eq!(parse(&ok).unwrap().steps[0].checks[1].kind(), "link");
        let e = err(&with(
            "kind = \"route\"\nof = { host = \"vm1\" }\ndst = \"10.3.3.0\"",
        ));
        assert!(
            e.contains("steps[0].checks[1].dst: \"10.3.3.0\": a network needs its prefix"),
            "{e}"
        );
        let e = err(&with(
            "kind = \"address\"\nof = { host = \"vm1\" }\nip = \"10.3.3.300/24\"",
        ));
        assert!(e.contains("steps[0].checks[1].ip:"), "{e}");
        let e = err(&with("kind = \"connectivity\"\nfrom = { host = \"vm1\" }\nto = \"10.3.3.2\"\nexpect = \"open\""));
        assert!(e.contains("steps[0].checks[1].to:"), "{e}");
        let e = err(&with(
            "kind = \"resolve\"\nof = { host = \"vm9\" }\nname = \"haha\"",
        ));
        assert!(
            e.contains("steps[0].checks[1].of.host: unknown host \"vm9\""),
            "{e}"
        );
        let e = err(&with("kind = \"link\"\nof = { host = \"vm1\" }\nname = \"^eth0$\"\npeer = { of = { host = \"vm8\" } }"));
        assert!(
            e.contains("steps[0].checks[1].peer.of.host: unknown host \"vm8\""),
            "{e}"
        );
    }
}
