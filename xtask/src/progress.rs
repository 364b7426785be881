//! What a person sees while they wait: a spinner with the current phase and its elapsed time on
//! a terminal, and one line per finished phase (with its time) everywhere, CI logs included.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sequence of phases under one heading ("provisioning 8-overlay2"): each `phase` call ends
/// the previous one with a `✔ what (1.2 s)` line and shows the next on the spinner.
pub struct Phases {
    bar: ProgressBar,
    current: Mutex<Option<(String, Instant)>>,
}

impl Phases {
    pub fn new(heading: &str) -> Phases {
        Phases::with_target(heading, ProgressDrawTarget::stderr())
    }

    fn with_target(heading: &str, target: ProgressDrawTarget) -> Phases {
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            // The heading is part of the message, which `wide_msg` cuts to the terminal's width:
            // a fixed prefix would overflow a narrow terminal and every redraw would wrap.
            ProgressStyle::with_template("{spinner} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(heading.to_string());
        bar.set_message(heading.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Phases { bar, current: Mutex::new(None) }
    }

    /// Ends the running phase (if any) and starts `what`.
    pub fn phase(&self, what: &str) {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((prev, t0)) = cur.take() {
            self.line(&format!("  ✔ {prev} ({})", secs(t0.elapsed())));
        }
        *cur = Some((what.to_string(), Instant::now()));
        self.bar.set_message(format!("{} {what}", self.bar.prefix()));
        self.bar.reset_elapsed();
    }

    /// A line above the spinner (or on stderr when there is no terminal to draw it on).
    pub fn line(&self, s: &str) {
        if self.bar.is_hidden() {
            eprintln!("{s}");
        } else {
            self.bar.println(s);
        }
    }

    /// Forgets the running phase without a line (its caller prints its own).
    pub fn clear_current(&self) {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Text on standard output, with the spinner out of the way while it is written.
    pub fn out(&self, s: &str) {
        use std::io::Write;
        self.bar.suspend(|| {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(s.as_bytes());
            let _ = o.flush();
        });
    }

    /// Ends the last phase and removes the spinner.
    pub fn done(&self) {
        if let Some((prev, t0)) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            self.line(&format!("  ✔ {prev} ({})", secs(t0.elapsed())));
        }
        self.bar.finish_and_clear();
    }

    /// Removes the spinner, saying the running phase failed.
    pub fn failed(&self) {
        if let Some((prev, t0)) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            self.line(&format!("  ✘ {prev} ({})", secs(t0.elapsed())));
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Phases {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// A terminal `width` columns wide that records every line drawn on it.
    #[derive(Debug, Clone)]
    struct Narrow {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Narrow {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.lines.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.lines.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A terminal narrower than the spinner line: the phase text is cut to fit, never wrapped
    /// over the lines above (indicatif's `wide_msg` takes what the width leaves).
    #[test]
    fn a_narrow_terminal_gets_lines_that_fit() {
        let term = Narrow { width: 24, lines: Arc::default() };
        let p = Phases::with_target("provisioning 8-overlay2:", ProgressDrawTarget::term_like(Box::new(term.clone())));
        p.phase("hub registry storage (built once per fixture set, then reused)");
        p.bar.tick();
        p.phase("host vm1 (10.1.1.11/24)");
        p.bar.tick();
        p.done();
        let lines = term.lines.lock().unwrap().clone();
        let spinner: Vec<&String> = lines.iter().filter(|l| !l.starts_with("  ✔") && l.contains("provisioning")).collect();
        assert!(!spinner.is_empty(), "{lines:?}");
        for l in &lines {
            // Finished-phase lines are printed whole (the terminal wraps them like any log
            // line); the live spinner line must fit.
            if !l.starts_with("  ✔") {
                assert!(console_width(l) <= 24, "{l:?} is wider than 24 columns: {lines:?}");
            }
        }
    }

    fn console_width(s: &str) -> usize {
        s.chars().count()
    }
}
