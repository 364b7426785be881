//! The real catalog (`labs/`) without hosts: it loads and validates, its quizzes are fair (the
//! right answer is not given away by length or position, every item explains itself), the
//! steps' reference answers are right and their broken variants' wrong, and every objective
//! is proven somewhere. Runs unprivileged, in milliseconds.

use berth_grader::catalog::{Catalog, Lab, ObjectiveKind, QuizItem, Text};
use berth_grader::checks::CheckSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn catalog() -> Catalog {
    Catalog::load(&root().join("labs")).unwrap_or_else(|e| panic!("labs/ does not validate: {e}"))
}

fn items(c: &Catalog) -> Vec<(&Lab, &QuizItem)> {
    c.labs
        .iter()
        .flat_map(|l| l.quiz.iter().map(move |q| (l, q)))
        .collect()
}

fn len(t: &Text, zh: bool) -> usize {
    if zh { &t.zh } else { &t.en }.chars().count()
}

/// Whether the right choice is longer than every other one in a language.
fn longest(q: &QuizItem, zh: bool) -> bool {
    let right = q.answer_index().unwrap();
    let r = len(&q.choices[right], zh);
    q.choices
        .iter()
        .enumerate()
        .all(|(i, c)| i == right || len(c, zh) < r)
}

#[test]
fn the_labs_and_the_selftest_lab_validate() {
    let c = catalog();
    assert!(c.labs.len() >= 10, "{} labs", c.labs.len());
    Lab::load(
        &root().join("grader/tests/fixtures/selftest/lab.toml"),
        &c.objectives,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn quizzes_give_nothing_away_by_length_or_position() {
    let c = catalog();
    let all = items(&c);
    assert!(all.len() >= 16, "{} quiz items", all.len());
    let mut letters: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut long_zh, mut long_en) = (0, 0);
    for (lab, q) in &all {
        let at = format!("{} {}", lab.id, q.id);
        assert!(
            !(longest(q, true) && longest(q, false)),
            "{at}: the right answer is the longest choice in both languages"
        );
        assert!(
            !q.explanation.zh.trim().is_empty() && !q.explanation.en.trim().is_empty(),
            "{at}: no explanation"
        );
        for ch in &q.choices {
            assert!(
                !ch.zh.trim().is_empty() && !ch.en.trim().is_empty(),
                "{at}: empty choice"
            );
        }
        *letters.entry(q.answer.as_str()).or_default() += 1;
        long_zh += usize::from(longest(q, true));
        long_en += usize::from(longest(q, false));
    }
    // No systematic length: the right answer is the longest in at most a third of the items.
    assert!(
        long_zh * 3 <= all.len(),
        "longest in zh {long_zh}/{}",
        all.len()
    );
    assert!(
        long_en * 3 <= all.len(),
        "longest in en {long_en}/{}",
        all.len()
    );
    // Spread positions: a, b and c all used, none for more than a third of the items.
    for l in ["a", "b", "c"] {
        assert!(letters.contains_key(l), "{letters:?}");
    }
    for (l, n) in &letters {
        assert!(
            n * 3 <= all.len() + 2,
            "answer {l} for {n} of {} items",
            all.len()
        );
    }
}

#[test]
fn reference_answers_are_right_and_broken_ones_fail() {
    let c = catalog();
    for lab in &c.labs {
        // Answers recorded by earlier steps stay recorded (a broken variant replays them).
        let mut earlier: BTreeMap<String, String> = BTreeMap::new();
        for s in &lab.steps {
            let checked: Vec<&QuizItem> = s
                .checks
                .iter()
                .filter_map(|c| match c {
                    CheckSpec::Quiz(q) => lab.quiz_item(&q.item),
                    _ => None,
                })
                .collect();
            let at = format!("{} step {}", lab.id, s.id);
            let with = |a: &BTreeMap<String, String>| {
                let mut all = earlier.clone();
                all.extend(a.clone());
                all
            };
            let reference = with(&s.answers);
            for q in &checked {
                assert_eq!(
                    reference.get(&q.id),
                    Some(&q.answer),
                    "{at}: the reference answer to {} is not its right answer",
                    q.id
                );
            }
            let mut failed = BTreeSet::new();
            for b in &s.broken {
                let given = with(&b.answers);
                let wrong: Vec<&str> = checked
                    .iter()
                    .filter(|q| given.get(&q.id) != Some(&q.answer))
                    .map(|q| q.id.as_str())
                    .collect();
                if checked.len() == s.checks.len() {
                    assert!(
                        !wrong.is_empty(),
                        "{at}: broken variant {} answers every quiz item right",
                        b.name
                    );
                }
                failed.extend(wrong);
            }
            if !checked.is_empty() && checked.len() == s.checks.len() {
                for q in &checked {
                    assert!(
                        failed.contains(q.id.as_str()),
                        "{at}: no broken variant answers {} wrong",
                        q.id
                    );
                }
            }
            earlier.extend(s.answers.clone());
        }
    }
}

#[test]
fn every_objective_of_a_lab_is_proven_and_overlay2_steps_prove_the_explain_ones() {
    let c = catalog();
    let p = c.provers();
    assert_eq!(p.len(), c.objectives.list.len());
    for lab in &c.labs {
        for o in &lab.objectives {
            assert!(
                p[o].iter().any(|(l, _)| l == &lab.id),
                "{}: {o} is proven by none of its steps",
                lab.id
            );
        }
    }
    let steps = |o: &str| -> Vec<&str> {
        p[o].iter()
            .filter(|(l, _)| l == "8-overlay2")
            .map(|(_, s)| s.as_str())
            .collect()
    };
    assert_eq!(steps("explain-copy-on-write"), ["copy-on-write", "quiz"]);
    assert_eq!(steps("explain-overlay2"), ["container-layers", "quiz"]);
    assert_eq!(
        steps("find-storage-driver"),
        [
            "driver",
            "image-layers",
            "container-layers",
            "copy-on-write"
        ]
    );
    // Every explain objective still rests on a quiz item too.
    for o in c
        .objectives
        .list
        .iter()
        .filter(|o| o.kind == ObjectiveKind::Explain)
    {
        for lab in c.labs.iter().filter(|l| l.objectives.contains(&o.id)) {
            assert!(
                lab.quiz.iter().any(|q| q.objective == o.id),
                "{}: {} has no quiz item",
                lab.id,
                o.id
            );
        }
    }
}
