//! What a person sees while they wait: a spinner with the current phase and its elapsed time on
//! a terminal, and one line per finished phase (with its time) everywhere, CI logs included.

use indicatif::{ProgressBar, ProgressStyle};
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
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(heading.to_string());
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
        self.bar.set_message(what.to_string());
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
