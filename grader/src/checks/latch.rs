//! Retry-until-deadline and latching: a check that held once stays passed (a student's later
//! command must not un-pass a step), and a check that does not hold yet is retried, because the
//! state it reads may still be settling (a daemon starting, a process forking).

use super::Outcome;
use std::time::{Duration, Instant};

/// The latched state of one step's checks.
#[derive(Debug, Clone)]
pub struct Latches {
    state: Vec<Option<Outcome>>,
}

impl Latches {
    pub fn new(n: usize) -> Latches {
        Latches {
            state: vec![None; n],
        }
    }

    /// Probes every check not yet latched; returns the current outcome of each.
    pub fn poll(&mut self, probe: &mut dyn FnMut(usize) -> Outcome) -> Vec<Outcome> {
        (0..self.state.len())
            .map(|i| match &self.state[i] {
                Some(o) => o.clone(),
                None => {
                    let o = probe(i);
                    if o.passed() {
                        self.state[i] = Some(o.clone());
                    }
                    o
                }
            })
            .collect()
    }

    pub fn all_passed(&self) -> bool {
        self.state.iter().all(Option::is_some)
    }

    /// Polls until every check passed or `timeout` elapsed; returns the last outcomes.
    pub fn wait(
        &mut self,
        timeout: Duration,
        interval: Duration,
        probe: &mut dyn FnMut(usize) -> Outcome,
    ) -> Vec<Outcome> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.poll(probe);
            if out.iter().all(Outcome::passed) || Instant::now() >= deadline {
                return out;
            }
            std::thread::sleep(interval.min(deadline.saturating_duration_since(Instant::now())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_until_pass_then_latches() {
        let mut l = Latches::new(2);
        let mut calls = [0, 0];
        let out = l.wait(Duration::from_secs(5), Duration::from_millis(1), &mut |i| {
            calls[i] += 1;
            // check 0 holds on its third probe, check 1 at once
            if i == 1 || calls[0] >= 3 {
                Outcome::pass("ok")
            } else {
                Outcome::fail("x", "not yet")
            }
        });
        assert!(out.iter().all(Outcome::passed));
        assert_eq!(calls, [3, 1], "a passed check is not probed again");
        // Latched: even a probe that now fails does not un-pass it.
        let out = l.poll(&mut |_| Outcome::fail("x", "broken later"));
        assert!(out.iter().all(Outcome::passed));
    }

    #[test]
    fn gives_up_at_deadline_with_last_observation() {
        let mut l = Latches::new(1);
        let start = Instant::now();
        let mut n = 0;
        let out = l.wait(
            Duration::from_millis(60),
            Duration::from_millis(10),
            &mut |_| {
                n += 1;
                Outcome::fail("5", format!("observed {n}"))
            },
        );
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert!(n >= 3);
        assert_eq!(out[0], Outcome::fail("5", format!("observed {n}")));
        assert!(!l.all_passed());
    }
}
