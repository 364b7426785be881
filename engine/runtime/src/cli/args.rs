//! A tiny flag parser with runc's conventions: `--flag value`, `--flag=value`, `-f value`,
//! boolean flags, and positionals in any order.

#[derive(Debug, Default)]
pub struct Parsed {
    pub values: Vec<(&'static str, String)>,
    pub bools: Vec<&'static str>,
    pub positional: Vec<String>,
}

impl Parsed {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
    pub fn flag(&self, name: &str) -> bool {
        self.bools.contains(&name)
    }
}

/// A flag: canonical long name, aliases, takes a value.
pub struct Flag(pub &'static str, pub &'static [&'static str], pub bool);

pub fn parse(verb: &str, argv: &[String], flags: &[Flag]) -> Result<Parsed, String> {
    parse_impl(verb, argv, flags, false)
}

/// Like [`parse`], but everything from the first positional on is positional (`exec ID ls -l`).
pub fn parse_until_positional(verb: &str, argv: &[String], flags: &[Flag]) -> Result<Parsed, String> {
    parse_impl(verb, argv, flags, true)
}

impl Parsed {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.values.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.as_str()).collect()
    }
}

fn parse_impl(verb: &str, argv: &[String], flags: &[Flag], stop: bool) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if a == "--" || (stop && !p.positional.is_empty()) {
            let from = if a == "--" { i + 1 } else { i };
            p.positional.extend(argv[from..].iter().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 && !a.chars().nth(1).is_some_and(|c| c.is_ascii_digit()) {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            let f = flags
                .iter()
                .find(|f| f.1.contains(&name))
                .ok_or_else(|| format!("{verb}: flag provided but not defined: {name}"))?;
            if f.2 {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        argv.get(i).cloned().ok_or_else(|| format!("{verb}: flag needs an argument: {name}"))?
                    }
                };
                p.values.push((f.0, v));
            } else {
                p.bools.push(f.0);
            }
        } else {
            p.positional.push(a.clone());
        }
        i += 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_style() {
        let flags = [Flag("bundle", &["--bundle", "-b"], true), Flag("detach", &["--detach", "-d"], false)];
        let argv: Vec<String> = ["-b", "/x", "--detach", "id1"].iter().map(|s| s.to_string()).collect();
        let p = parse("run", &argv, &flags).unwrap();
        assert_eq!(p.value("bundle"), Some("/x"));
        assert!(p.flag("detach"));
        assert_eq!(p.positional, vec!["id1"]);
        let argv: Vec<String> = ["--bundle=/y", "id2", "--nope"].iter().map(|s| s.to_string()).collect();
        assert_eq!(parse("run", &argv, &flags).unwrap_err(), "run: flag provided but not defined: --nope");
        let argv: Vec<String> = ["id", "-9"].iter().map(|s| s.to_string()).collect();
        assert_eq!(parse("kill", &argv, &flags).unwrap().positional, vec!["id", "-9"]);
    }

    #[test]
    fn exec_style_stops_at_the_first_positional() {
        let flags = [Flag("env", &["--env", "-e"], true), Flag("tty", &["--tty", "-t"], false)];
        let argv: Vec<String> =
            ["-e", "A=1", "-t", "--env=B=2", "c1", "ls", "-la", "--env", "x"].iter().map(|s| s.to_string()).collect();
        let p = parse_until_positional("exec", &argv, &flags).unwrap();
        assert_eq!(p.all("env"), vec!["A=1", "B=2"]);
        assert!(p.flag("tty"));
        assert_eq!(p.positional, vec!["c1", "ls", "-la", "--env", "x"]);
    }
}
