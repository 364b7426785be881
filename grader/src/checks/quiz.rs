//! A quiz answer: the student's recorded choice equals the answer key.

use super::{Ctx, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuizCheck {
    pub item: String,
}

impl QuizCheck {
    pub fn describe(&self) -> String {
        format!("quiz {} answered correctly", self.item)
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(item) = ctx.quiz.iter().find(|q| q.id == self.item) else {
            return Outcome::fail(expected, format!("no quiz item {}", self.item));
        };
        match ctx.answers.get(&self.item) {
            None => Outcome::fail(expected, "not answered yet"),
            // The key is never printed: a failed quiz must not reveal the answer.
            Some(a) if a == &item.answer => Outcome::pass(format!("answered {a}")),
            Some(a) => Outcome::fail(expected, format!("answered {a}, which is not right")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{QuizItem, Text};
    use crate::checks::testing::{ctx, FakeHosts};

    #[test]
    fn compares_with_key_without_revealing_it() {
        let t = tempfile::tempdir().unwrap();
        let hosts = FakeHosts::default();
        let quiz = vec![QuizItem {
            id: "q1".into(),
            objective: "o".into(),
            question: Text::default(),
            choices: vec![Text::default(), Text::default()],
            answer: "b".into(),
            explanation: Text::default(),
        }];
        let mut c = ctx(t.path(), &hosts);
        c.quiz = &quiz;
        let chk = QuizCheck { item: "q1".into() };
        assert!(!chk.probe(&c).passed());
        c.answers.insert("q1".into(), "a".into());
        match chk.probe(&c) {
            Outcome::Fail { observed, expected } => {
                assert!(
                    !observed.contains('b') || !expected.contains(" b"),
                    "{observed}"
                )
            }
            o => panic!("{o:?}"),
        }
        c.answers.insert("q1".into(), "b".into());
        assert!(chk.probe(&c).passed());
    }
}
