//! Just enough of RFC 1035 to read a query and write an answer with A records.
use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const CLASS_IN: u16 = 1;
pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: u16,
    /// Opcode and RD bits of the request, echoed back.
    pub flags: u16,
    /// Lower-case, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Raw question section (name + type + class) to echo.
    pub question: Vec<u8>,
}

/// Parse a standard query with exactly one question (what stub resolvers send).
pub fn parse_query(buf: &[u8]) -> Option<Query> {
    if buf.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if flags & 0x8000 != 0 {
        return None; // a response, not a query
    }
    let qd = u16::from_be_bytes([buf[4], buf[5]]);
    if qd != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *buf.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression pointers never appear in a question of a query
        }
        let l = buf.get(i..i + len)?;
        labels.push(String::from_utf8_lossy(l).to_ascii_lowercase());
        i += len;
    }
    let t = buf.get(i..i + 4)?;
    Some(Query {
        id,
        flags,
        name: labels.join("."),
        qtype: u16::from_be_bytes([t[0], t[1]]),
        qclass: u16::from_be_bytes([t[2], t[3]]),
        question: buf[12..i + 4].to_vec(),
    })
}

/// Build a response: QR, AA and RA set, opcode/RD copied from the query.
pub fn build_response(q: &Query, rcode: u8, answers: &[Ipv4Addr], ttl: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + q.question.len() + answers.len() * 16);
    out.extend_from_slice(&q.id.to_be_bytes());
    let flags: u16 = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | rcode as u16;
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&q.question);
    for ip in answers {
        out.extend_from_slice(&[0xc0, 0x0c]); // pointer to the question's name
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// A query for `name` (tests and clients).
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.trim_end_matches('.').split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// Read the rcode and A records of a response (tests and clients).
pub fn parse_response_a(buf: &[u8]) -> Option<(u16, u8, Vec<Ipv4Addr>)> {
    let q = {
        // Reuse the question parser by clearing QR on a copy.
        let mut c = buf.to_vec();
        *c.get_mut(2)? &= 0x7f;
        parse_query(&c)?
    };
    let rcode = buf[3] & 0x0f;
    let an = u16::from_be_bytes([buf[6], buf[7]]) as usize;
    let mut i = 12 + q.question.len();
    let mut ips = Vec::new();
    for _ in 0..an {
        // name: pointer or labels
        if *buf.get(i)? & 0xc0 == 0xc0 {
            i += 2;
        } else {
            while *buf.get(i)? != 0 {
                i += 1 + buf[i] as usize;
            }
            i += 1;
        }
        let h = buf.get(i..i + 10)?;
        let t = u16::from_be_bytes([h[0], h[1]]);
        let rdlen = u16::from_be_bytes([h[8], h[9]]) as usize;
        let rd = buf.get(i + 10..i + 10 + rdlen)?;
        if t == TYPE_A && rdlen == 4 {
            ips.push(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3]));
        }
        i += 10 + rdlen;
    }
    Some((q.id, rcode, ips))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip() {
        let q = build_query(0x1234, "Web.", TYPE_A);
        let p = parse_query(&q).unwrap();
        assert_eq!((p.id, p.name.as_str(), p.qtype, p.qclass), (0x1234, "web", TYPE_A, CLASS_IN));
        let r = build_response(&p, RCODE_NOERROR, &["172.18.0.2".parse().unwrap(), "172.18.0.3".parse().unwrap()], 600);
        assert_eq!(r[2] & 0x80, 0x80, "QR");
        assert_eq!(r[2] & 0x01, 0x01, "RD echoed");
        let (id, rc, ips) = parse_response_a(&r).unwrap();
        assert_eq!((id, rc), (0x1234, 0));
        assert_eq!(ips.iter().map(|i| i.to_string()).collect::<Vec<_>>(), ["172.18.0.2", "172.18.0.3"]);
        let r = build_response(&p, RCODE_REFUSED, &[], 0);
        assert_eq!(parse_response_a(&r).unwrap().1, RCODE_REFUSED);
        assert!(parse_query(&r).is_none(), "responses are not queries");
        assert!(parse_query(&q[..14]).is_none(), "truncated");
    }
}
