//! Registry commands: `pull`, `push`, `login`, `logout`, `search`, with Docker's texts and exit
//! codes. Credentials come from `~/.berth/config.json` ([`super::registry_auth`]) and travel to
//! berthd in `X-Registry-Auth`.

use std::io::{BufRead, Read, Write};

use berth_storage::Reference;
use clap::Args;
use serde_json::{json, Value};

use super::registry_auth as auth;
use super::registry_progress::display;
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// NAME[:TAG|@DIGEST]
    name: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// NAME[:TAG]
    name: String,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long = "username")]
    username: Option<String>,
    /// Password
    #[arg(short = 'p', long = "password")]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    /// SERVER
    server: Option<String>,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Max number of search results
    #[arg(long = "limit", default_value_t = 25)]
    limit: i64,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Pretty-print search using a Go template
    #[arg(long = "format")]
    format: Option<String>,
    term: String,
}

fn parse(name: &str) -> Result<Reference, Failure> {
    Reference::parse_normalized(name).map_err(|e| {
        let m = e.to_string();
        Failure::new(if m.starts_with("invalid reference format") { m } else { format!("invalid reference format: {m}") }, 1)
    })
}

/// Streams an operation's progress; an error in the stream is printed as Docker's CLI does
/// (the message alone) with exit status 1.
fn follow(resp: crate::client::Response, quiet: bool) -> Result<Vec<Value>, Failure> {
    let mut resp = resp;
    let tty = !quiet && super::stream::is_tty(1);
    let mut sink: Box<dyn Write> = if quiet { Box::new(std::io::sink()) } else { Box::new(std::io::stdout()) };
    display(resp.reader(), &mut sink, tty).map_err(|e| Failure::new(e.0, 1))
}

pub fn pull(c: &Client, a: PullArgs) -> CliResult {
    let mut r = parse(&a.name)?;
    if r.tag.is_none() && r.digest.is_none() {
        if !a.quiet {
            println!("Using default tag: latest");
        }
        r = r.with_default_tag();
    }
    let tag = r.digest.clone().or_else(|| r.tag.clone()).unwrap_or_default();
    let path = format!("/images/create?fromImage={}&tag={}", enc(&r.familiar_name()), enc(&tag));
    let header = auth::header_for(&r.domain);
    let resp = c.request_with("POST", &path, None, &[("X-Registry-Auth", &header)])?.check()?;
    follow(resp, a.quiet)?;
    println!("{r}");
    Ok(())
}

pub fn push(c: &Client, a: PushArgs) -> CliResult {
    let r = parse(&a.name)?;
    if r.digest.is_some() {
        return Err(Failure::new(format!("invalid reference format: cannot push a digest reference ({})", a.name), 1));
    }
    let tag = match (&r.tag, a.all_tags) {
        (Some(_), true) => return Err(Failure::new("tag can't be used with --all-tags/-a", 1)),
        (Some(t), false) => t.clone(),
        (None, true) => String::new(),
        (None, false) => {
            if !a.quiet {
                println!("Using default tag: latest");
            }
            "latest".into()
        }
    };
    let path = format!("/images/{}/push?tag={}", r.repository().familiar_name(), enc(&tag));
    let header = auth::header_for(&r.domain);
    let resp = c.request_with("POST", &path, None, &[("X-Registry-Auth", &header)])?.check()?;
    follow(resp, a.quiet)?;
    if a.quiet {
        println!("{}", r.with_default_tag());
    }
    Ok(())
}

fn prompt(label: &str, echo: bool) -> Result<String, Failure> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    print!("{label}");
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    let saved = if echo { None } else { tcgetattr(&stdin).ok() };
    if let Some(s) = &saved {
        let mut t = s.clone();
        t.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &t);
    }
    let mut line = String::new();
    let res = stdin.lock().read_line(&mut line);
    if let Some(s) = &saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, s);
        println!();
    }
    res.map_err(|e| Failure::new(format!("reading {}: {e}", label.trim_end_matches([':', ' '])), 1))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(c: &Client, a: LoginArgs) -> CliResult {
    if a.password.is_some() && a.password_stdin {
        return Err(Failure::new("--password and --password-stdin are mutually exclusive", 1));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Failure::new("Must provide --username with --password-stdin", 1));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let server = a.server.clone().unwrap_or_else(|| auth::HUB_KEY.to_string());
    let key = auth::server_key(&server);
    let mut password = a.password.clone().unwrap_or_default();
    if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| Failure::new(format!("reading the password from stdin: {e}"), 1))?;
        password = s.trim_end_matches(['\n', '\r']).to_string();
    }
    let interactive = a.username.is_none() || (a.password.is_none() && !a.password_stdin);
    if interactive && !super::stream::is_tty(0) {
        return Err(Failure::new("Error: Cannot perform an interactive login from a non TTY device", 1));
    }
    let username = match &a.username {
        Some(u) => u.clone(),
        None => prompt("Username: ", true)?,
    };
    if username.is_empty() {
        return Err(Failure::new("Error: Non-null Username Required", 1));
    }
    if a.password.is_none() && !a.password_stdin {
        password = prompt("Password: ", false)?;
    }
    if password.is_empty() {
        return Err(Failure::new("Error: Password Required", 1));
    }
    let body = json!({"username": username, "password": password, "serveraddress": key});
    let v: Value = c.post_json("/auth", &body).map_err(|e| Failure::new(daemon_error(&e), 1))?.json()?;
    auth::store(&key, &username, &password).map_err(|e| Failure::new(e, 1))?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n",
        auth::config_file().display()
    );
    println!("{}", v["Status"].as_str().unwrap_or("Login Succeeded"));
    Ok(())
}

pub fn logout(server: Option<String>) -> CliResult {
    let (shown, keys) = match server {
        None => (auth::HUB_KEY.to_string(), vec![auth::HUB_KEY.to_string()]),
        Some(s) => {
            let host = auth::server_key(&s);
            (host.clone(), vec![s.clone(), host.clone(), format!("http://{host}"), format!("https://{host}")])
        }
    };
    if !auth::remove(&keys).map_err(|e| Failure::new(e, 1))? {
        println!("Not logged in to {shown}");
        return Ok(());
    }
    println!("Removing login credentials for {shown}");
    Ok(())
}

pub fn search(c: &Client, a: SearchArgs) -> CliResult {
    let (registry, _) = crate::daemon::distribution::search::split_term(&a.term);
    let header = auth::header_for(&registry);
    let path = format!("/images/search?term={}&limit={}", enc(&a.term), a.limit);
    let list: Vec<Value> = c.request_with("GET", &path, None, &[("X-Registry-Auth", &header)])?.check()?.json()?;
    let rows: Vec<Value> = list
        .iter()
        .map(|r| {
            let mut desc = r["description"].as_str().unwrap_or("").replace('\n', " ");
            if !a.no_trunc && desc.chars().count() > 45 {
                desc = desc.chars().take(44).collect::<String>() + "…";
            }
            json!({
                "Name": r["name"], "Description": desc, "StarCount": r["star_count"].as_u64().unwrap_or(0).to_string(),
                "IsOfficial": if r["is_official"].as_bool().unwrap_or(false) { "[OK]" } else { "" },
                "IsAutomated": if r["is_automated"].as_bool().unwrap_or(false) { "[OK]" } else { "" },
            })
        })
        .collect();
    let title = |f: &str| match f {
        "Name" => "NAME".to_string(),
        "Description" => "DESCRIPTION".into(),
        "StarCount" => "STARS".into(),
        "IsOfficial" => "OFFICIAL".into(),
        "IsAutomated" => "AUTOMATED".into(),
        o => o.to_uppercase(),
    };
    super::table::print(a.format.clone(), "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}", 1, &rows, &title)
}
