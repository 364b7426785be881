//! Instruction flags (buildkit's `BFlags`): each instruction declares the `--name=value` flags
//! it takes, then the words found on the line are checked against them, with buildkit's
//! messages ("Unknown flag: x", "Duplicate flag specified: x", "Missing a value on flag: x").

/// The flags one instruction accepts and the values found for them.
pub(crate) struct Flags<'a> {
    words: &'a [String],
    /// (name, repeatable) in declaration order.
    declared: Vec<(&'static str, bool)>,
    /// (name, value) in the order they appear on the line.
    found: Vec<(String, String)>,
}

impl<'a> Flags<'a> {
    pub fn new(words: &'a [String]) -> Self {
        Flags { words, declared: Vec::new(), found: Vec::new() }
    }

    /// Declare a string flag (`AddString`); given at most once.
    pub fn string(mut self, name: &'static str) -> Self {
        self.declared.push((name, false));
        self
    }

    /// Declare a repeatable string flag (`AddStrings`, RUN's `--mount`).
    pub fn strings(mut self, name: &'static str) -> Self {
        self.declared.push((name, true));
        self
    }

    /// `BFlags.Parse`: check every flag word. Errors are buildkit's messages.
    pub fn parse(mut self) -> Result<Parsed, String> {
        for arg in self.words {
            let Some(arg) = arg.strip_prefix("--") else {
                return Err(format!("Arg should start with -- : {arg}"));
            };
            if arg.is_empty() {
                break;
            }
            let (name, value) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (arg, None),
            };
            let Some(&(_, repeatable)) = self.declared.iter().find(|(n, _)| *n == name) else {
                return Err(format!("Unknown flag: {name}"));
            };
            if !repeatable && self.found.iter().any(|(n, _)| n == name) {
                return Err(format!("Duplicate flag specified: {name}"));
            }
            let Some(value) = value else {
                return Err(format!("Missing a value on flag: {name}"));
            };
            self.found.push((name.to_string(), value.to_string()));
        }
        Ok(Parsed { found: self.found })
    }
}

/// The flags found on a line, after [`Flags::parse`].
pub(crate) struct Parsed {
    found: Vec<(String, String)>,
}

impl Parsed {
    /// A string flag's value; `None` when absent *or empty* (`--chown=` means no chown, as in
    /// Docker, where the empty string is the flag's default).
    pub fn value(&self, name: &str) -> Option<String> {
        self.found.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }

    /// The first flag given, for RUN's "the --X option requires BuildKit".
    pub fn first_used(&self) -> Option<&str> {
        self.found.first().map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn messages() {
        let w = words(&["--from=a", "--chown=1"]);
        let p = Flags::new(&w).string("from").string("chown").parse().unwrap();
        assert_eq!(p.value("from").as_deref(), Some("a"));
        let w = words(&["--nope=1"]);
        assert_eq!(Flags::new(&w).string("from").parse().err().unwrap(), "Unknown flag: nope");
        let w = words(&["--from=a", "--from=b"]);
        assert_eq!(Flags::new(&w).string("from").parse().err().unwrap(), "Duplicate flag specified: from");
        let w = words(&["--from"]);
        assert_eq!(Flags::new(&w).string("from").parse().err().unwrap(), "Missing a value on flag: from");
        let w = words(&["--mount=a", "--mount=b"]);
        assert_eq!(Flags::new(&w).strings("mount").parse().unwrap().first_used(), Some("mount"));
        let w = words(&["--chown="]);
        assert_eq!(Flags::new(&w).string("chown").parse().unwrap().value("chown"), None);
    }
}
