//! A SQL query answered by a MySQL/MariaDB server, asked by the grader itself from inside a
//! host's network namespace: the client/server protocol spoken directly (handshake v10,
//! `mysql_native_password`, one `COM_QUERY`, a text result set), so a step passes only when a
//! real server accepts the lab's credentials and holds the data — not when some client program
//! prints the right words.

use super::{netns, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlCheck {
    /// The host whose network namespace the connection starts from.
    pub from: String,
    /// ip:port of the server.
    pub to: String,
    pub user: String,
    #[serde(default)]
    pub password: String,
    pub query: String,
    /// Regex the result must match: one line per row, columns separated by tabs, NULL as `NULL`.
    #[serde(default)]
    pub rows: Option<String>,
}

// Capability flags (include/mysql_com.h).
const LONG_PASSWORD: u32 = 1;
const PROTOCOL_41: u32 = 1 << 9;
const TRANSACTIONS: u32 = 1 << 13;
const SECURE_CONNECTION: u32 = 1 << 15;
const PLUGIN_AUTH: u32 = 1 << 19;
const CLIENT_FLAGS: u32 = LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | PLUGIN_AUTH;
/// utf8mb4_general_ci
const CHARSET: u8 = 45;
const MAX_PACKET: usize = 16 * 1024 * 1024;

/// Why a query got no answer; the text is what the report shows as observed.
#[derive(Debug, PartialEq)]
pub enum SqlError {
    /// The server's own ERR packet: `ERROR 1045 (28000): Access denied for user …`.
    Server { code: u16, state: String, message: String },
    /// Not a MySQL conversation (bad packet, unknown auth plugin, early close…).
    Protocol(String),
    Io(String),
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlError::Server { code, state, message } => write!(f, "ERROR {code} ({state}): {message}"),
            SqlError::Protocol(m) => write!(f, "protocol: {m}"),
            SqlError::Io(m) => write!(f, "{m}"),
        }
    }
}

impl From<std::io::Error> for SqlError {
    fn from(e: std::io::Error) -> Self {
        SqlError::Io(e.to_string())
    }
}

/// A packet stream: 3-byte length, 1-byte sequence number, payload.
struct Conn<S> {
    s: S,
    seq: u8,
}

impl<S: Read + Write> Conn<S> {
    fn read(&mut self) -> Result<Vec<u8>, SqlError> {
        let mut head = [0u8; 4];
        self.s.read_exact(&mut head).map_err(|e| SqlError::Io(format!("reading from the server: {e}")))?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
        if len >= MAX_PACKET {
            return Err(SqlError::Protocol(format!("packet of {len} bytes")));
        }
        self.seq = head[3].wrapping_add(1);
        let mut body = vec![0u8; len];
        self.s.read_exact(&mut body)?;
        Ok(body)
    }

    fn write(&mut self, payload: &[u8]) -> Result<(), SqlError> {
        let len = (payload.len() as u32).to_le_bytes();
        let mut p = vec![len[0], len[1], len[2], self.seq];
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.s.write_all(&p)?;
        Ok(())
    }
}

fn err_packet(p: &[u8]) -> SqlError {
    if p.len() < 3 {
        return SqlError::Protocol("short ERR packet".into());
    }
    let code = u16::from_le_bytes([p[1], p[2]]);
    let (state, msg) = if p.get(3) == Some(&b'#') && p.len() >= 9 {
        (String::from_utf8_lossy(&p[4..9]).into_owned(), &p[9..])
    } else {
        ("HY000".to_string(), &p[3..])
    };
    SqlError::Server { code, state, message: String::from_utf8_lossy(msg).into_owned() }
}

/// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))): `mysql_native_password`.
fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return vec![];
    }
    let sha1 = |parts: &[&[u8]]| {
        let mut c = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        for p in parts {
            c.update(p);
        }
        c.finish()
    };
    let stage1 = sha1(&[password.as_bytes()]);
    let stage2 = sha1(&[stage1.as_ref()]);
    let mix = sha1(&[scramble, stage2.as_ref()]);
    stage1.as_ref().iter().zip(mix.as_ref()).map(|(a, b)| a ^ b).collect()
}

fn take_nul<'a>(p: &mut &'a [u8]) -> Result<&'a [u8], SqlError> {
    let i = p.iter().position(|b| *b == 0).ok_or_else(|| SqlError::Protocol("unterminated string".into()))?;
    let s = &p[..i];
    *p = &p[i + 1..];
    Ok(s)
}

/// A length-encoded integer; None for the NULL marker 0xfb.
fn lenenc(p: &mut &[u8]) -> Result<Option<u64>, SqlError> {
    let short = || SqlError::Protocol("truncated length".into());
    let first = *p.first().ok_or_else(short)?;
    let (n, used) = match first {
        0xfb => (None, 1),
        0xfc => (Some(u16::from_le_bytes(p.get(1..3).ok_or_else(short)?.try_into().unwrap()) as u64), 3),
        0xfd => {
            let b = p.get(1..4).ok_or_else(short)?;
            (Some(u32::from_le_bytes([b[0], b[1], b[2], 0]) as u64), 4)
        }
        0xfe => (Some(u64::from_le_bytes(p.get(1..9).ok_or_else(short)?.try_into().unwrap())), 9),
        n => (Some(n as u64), 1),
    };
    *p = &p[used..];
    Ok(n)
}

/// Handshake, authentication and one query over `s`; returns the rows as text.
pub fn query<S: Read + Write>(s: S, user: &str, password: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, SqlError> {
    let mut c = Conn { s, seq: 0 };
    let hello = c.read()?;
    if hello.first() == Some(&0xff) {
        return Err(err_packet(&hello));
    }
    if hello.first() != Some(&10) {
        return Err(SqlError::Protocol(format!("handshake version {:?}, not 10", hello.first())));
    }
    let mut p = &hello[1..];
    take_nul(&mut p)?; // server version
    let short = || SqlError::Protocol("short handshake".into());
    let part1 = p.get(4..12).ok_or_else(short)?.to_vec();
    p = p.get(13..).ok_or_else(short)?; // thread id, scramble 1, filler
    let caps_low = u16::from_le_bytes(p.get(0..2).ok_or_else(short)?.try_into().unwrap()) as u32;
    let caps_high = p.get(5..7).map(|b| u16::from_le_bytes(b.try_into().unwrap()) as u32).unwrap_or(0);
    let server_caps = caps_low | caps_high << 16;
    if server_caps & PROTOCOL_41 == 0 {
        return Err(SqlError::Protocol("server without the 4.1 protocol".into()));
    }
    let data_len = *p.get(7).ok_or_else(short)? as usize;
    p = p.get(18..).ok_or_else(short)?; // charset, status, caps high, len, 10 reserved (MariaDB caps)
    let part2_len = data_len.saturating_sub(8).max(13);
    let mut scramble = part1;
    let part2 = p.get(..part2_len).ok_or_else(short)?;
    scramble.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
    let mut rest = p.get(part2_len..).unwrap_or_default();
    // The server's default plugin does not matter: the reply below is for the native one, and
    // an account that needs another gets an auth switch request, handled after.
    let _default_plugin = take_nul(&mut rest);

    let auth = native_password(password, &scramble);
    let mut resp = Vec::new();
    resp.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    resp.extend_from_slice(&(MAX_PACKET as u32).to_le_bytes());
    resp.push(CHARSET);
    resp.extend_from_slice(&[0u8; 23]);
    resp.extend_from_slice(user.as_bytes());
    resp.push(0);
    resp.push(auth.len() as u8);
    resp.extend_from_slice(&auth);
    resp.extend_from_slice(b"mysql_native_password\0");
    c.write(&resp)?;
    let mut answer = c.read()?;
    if answer.first() == Some(&0xfe) {
        // Auth switch request: plugin name, then new scramble.
        let mut q = &answer[1..];
        let plugin = String::from_utf8_lossy(take_nul(&mut q)?).into_owned();
        if plugin != "mysql_native_password" {
            return Err(SqlError::Protocol(format!("the account wants auth plugin {plugin}, the grader speaks mysql_native_password")));
        }
        let scramble = q.strip_suffix(&[0]).unwrap_or(q).to_vec();
        c.write(&native_password(password, &scramble))?;
        answer = c.read()?;
    }
    match answer.first() {
        Some(0x00) => {}
        Some(0xff) => return Err(err_packet(&answer)),
        other => return Err(SqlError::Protocol(format!("unexpected answer to login: {other:?}"))),
    }

    c.seq = 0;
    let mut q = vec![0x03];
    q.extend_from_slice(sql.as_bytes());
    c.write(&q)?;
    let first = c.read()?;
    match first.first() {
        Some(0x00) => return Ok(vec![]), // OK: a statement without rows
        Some(0xff) => return Err(err_packet(&first)),
        _ => {}
    }
    let mut p = &first[..];
    let columns = lenenc(&mut p)?.ok_or_else(|| SqlError::Protocol("NULL column count".into()))?;
    for _ in 0..columns {
        c.read()?; // column definitions: names are not compared
    }
    let is_eof = |p: &[u8]| p.first() == Some(&0xfe) && p.len() < 9;
    if !is_eof(&c.read()?) {
        return Err(SqlError::Protocol("no EOF after the column definitions".into()));
    }
    let mut rows = vec![];
    loop {
        let row = c.read()?;
        if is_eof(&row) {
            return Ok(rows);
        }
        if row.first() == Some(&0xff) {
            return Err(err_packet(&row));
        }
        let mut p = &row[..];
        let mut values = vec![];
        for _ in 0..columns {
            values.push(match lenenc(&mut p)? {
                None => None,
                Some(n) => {
                    let n = n as usize;
                    let v = p.get(..n).ok_or_else(|| SqlError::Protocol("truncated row".into()))?;
                    p = &p[n..];
                    Some(String::from_utf8_lossy(v).into_owned())
                }
            });
        }
        rows.push(values);
    }
}

/// Rows as the report shows them and `rows` matches: tab-separated columns, one line per row.
pub fn render(rows: &[Vec<Option<String>>]) -> String {
    rows.iter()
        .map(|r| r.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl MysqlCheck {
    pub fn describe(&self) -> String {
        let what = match &self.rows {
            Some(r) => format!("answers rows matching /{r}/"),
            None => "succeeds".into(),
        };
        format!("`{}` as {} on mysql://{} from {} {what}", self.query, self.user, self.to, self.from)
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        self.to.parse::<SocketAddr>().map_err(|e| ("to".to_string(), e.to_string()))?;
        if let Some(r) = &self.rows {
            regex::Regex::new(r).map_err(|e| ("rows".to_string(), format!("bad regex: {e}")))?;
        }
        Ok(())
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.from) else {
            return Outcome::fail(expected, format!("host {} is not running", self.from));
        };
        let Ok(addr) = self.to.parse::<SocketAddr>() else {
            return Outcome::fail(expected, format!("{:?} is not ip:port", self.to));
        };
        let (user, password, sql) = (self.user.clone(), self.password.clone(), self.query.clone());
        let r = netns::in_netns(&ctx.proc_root, Some(pid), move || {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map_err(|e| SqlError::Io(format!("connect {addr}: {e}")))?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            s.set_write_timeout(Some(Duration::from_secs(5))).ok();
            query(s, &user, &password, &sql)
        });
        let rows = match r {
            Err(e) => return Outcome::fail(expected, e),
            Ok(Err(e)) => return Outcome::fail(expected, e.to_string()),
            Ok(Ok(rows)) => rows,
        };
        let text = render(&rows);
        let shown = if text.is_empty() { "no rows".to_string() } else { format!("rows:\n{text}") };
        match self.rows.as_deref().map(regex::Regex::new) {
            None => Outcome::pass(shown),
            Some(Err(e)) => Outcome::fail(expected, format!("bad regex: {e}")),
            Some(Ok(re)) if re.is_match(&text) => Outcome::pass(shown),
            Some(Ok(_)) => Outcome::fail(expected, shown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_le_bytes();
        let mut p = vec![len[0], len[1], len[2], seq];
        p.extend_from_slice(payload);
        p
    }

    fn read_packet(s: &mut TcpStream) -> Vec<u8> {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).unwrap();
        let mut b = vec![0u8; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
        s.read_exact(&mut b).unwrap();
        b
    }

    fn lenenc_str(s: &str) -> Vec<u8> {
        let mut v = vec![s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// A server speaking just enough of the protocol (as MariaDB 10.11 frames it): checks the
    /// scramble, answers one query with two rows (one NULL), or an ERR for a wrong password.
    fn fake_server(password: &'static str) -> (std::thread::JoinHandle<Vec<u8>>, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let scramble: Vec<u8> = (1..=20).collect();
            let mut hello = vec![10];
            hello.extend_from_slice(b"5.5.5-10.11.19-MariaDB-0+deb12u1\0");
            hello.extend_from_slice(&7u32.to_le_bytes());
            hello.extend_from_slice(&scramble[..8]);
            hello.push(0);
            hello.extend_from_slice(&0xf7feu16.to_le_bytes()); // caps low (PROTOCOL_41 set)
            hello.push(45);
            hello.extend_from_slice(&2u16.to_le_bytes());
            hello.extend_from_slice(&0x81bfu16.to_le_bytes()); // caps high (PLUGIN_AUTH set)
            hello.push(21);
            hello.extend_from_slice(&[0u8; 10]);
            hello.extend_from_slice(&scramble[8..]);
            hello.push(0);
            hello.extend_from_slice(b"mysql_native_password\0");
            s.write_all(&packet(0, &hello)).unwrap();
            let login = read_packet(&mut s);
            let mut p = &login[32..];
            assert_eq!(take_nul(&mut p).unwrap(), b"root");
            let n = p[0] as usize;
            let got = p[1..1 + n].to_vec();
            if got != native_password(password, &scramble) {
                let mut e = vec![0xff];
                e.extend_from_slice(&1045u16.to_le_bytes());
                e.extend_from_slice(b"#28000Access denied for user 'root'@'10.1.1.12' (using password: YES)");
                s.write_all(&packet(2, &e)).unwrap();
                return got;
            }
            s.write_all(&packet(2, &[0, 0, 0, 2, 0, 0, 0])).unwrap();
            let q = read_packet(&mut s);
            assert_eq!(q[0], 3);
            s.write_all(&packet(1, &[2])).unwrap();
            s.write_all(&packet(2, b"\x03def\x00\x00\x00\x02id")).unwrap();
            s.write_all(&packet(3, b"\x03def\x00\x00\x00\x04name")).unwrap();
            s.write_all(&packet(4, &[0xfe, 0, 0, 2, 0])).unwrap();
            let mut row = lenenc_str("1");
            row.extend(lenenc_str("zhang san"));
            s.write_all(&packet(5, &row)).unwrap();
            let mut row = lenenc_str("2");
            row.push(0xfb);
            s.write_all(&packet(6, &row)).unwrap();
            s.write_all(&packet(7, &[0xfe, 0, 0, 2, 0])).unwrap();
            q[1..].to_vec()
        });
        (h, addr)
    }

    #[test]
    fn logs_in_queries_and_reads_rows() {
        let (h, addr) = fake_server("12'3");
        let s = TcpStream::connect(addr).unwrap();
        let rows = query(s, "root", "12'3", "SELECT id, name FROM school.student").unwrap();
        assert_eq!(render(&rows), "1\tzhang san\n2\tNULL");
        assert_eq!(h.join().unwrap(), b"SELECT id, name FROM school.student");
    }

    #[test]
    fn a_wrong_password_gets_the_server_s_own_error() {
        let (h, addr) = fake_server("123");
        let s = TcpStream::connect(addr).unwrap();
        let e = query(s, "root", "wrong", "SELECT 1").unwrap_err();
        assert_eq!(e.to_string(), "ERROR 1045 (28000): Access denied for user 'root'@'10.1.1.12' (using password: YES)");
        h.join().unwrap();
    }

    #[test]
    fn the_native_scramble_is_mysql_s() {
        // SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))) for "secret" and scramble bytes 0..20,
        // computed independently (Python's hashlib).
        let scramble: Vec<u8> = (0..20).collect();
        let got: String = native_password("secret", &scramble).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, "21b3ff405f32cbe4aafff291396046ea29fa3a4d");
        assert!(native_password("", &scramble).is_empty(), "an empty password sends no reply bytes");
    }

    #[test]
    fn garbage_is_a_protocol_error_not_a_panic() {
        for junk in [&b"\x05\x00\x00\x00hello"[..], &b"\x01\x00\x00\x00\x0a"[..], &b"\xff\xff\xff\x00"[..], &b""[..]] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let junk = junk.to_vec();
            let h = std::thread::spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                s.write_all(&junk).unwrap();
            });
            let s = TcpStream::connect(addr).unwrap();
            assert!(query(s, "root", "x", "SELECT 1").is_err());
            h.join().unwrap();
        }
    }
}
