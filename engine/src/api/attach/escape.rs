//! Detach keys, as moby's `pkg/term` (`ToBytes`, `EscapeProxy`): a TTY attach's stdin is run
//! through an escape proxy; the whole key sequence ends the attach (the container keeps
//! running), a sequence that breaks off is passed on.

/// `ctrl-p,ctrl-q`: the default when no keys are given (moby `defaultEscapeSequence`).
pub const DEFAULT_KEYS: [u8; 2] = [0x10, 0x11];

/// moby `term.ToBytes`: comma-separated items; a one-byte item stands for itself; else one of
/// `ctrl-@`, `ctrl-a`…`ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_` (bytes 0–31,
/// case-sensitive) or `DEL` (127). Anything else: `Unknown character: '<item>'`.
pub fn to_bytes(keys: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            out.push(key.as_bytes()[0]);
            continue;
        }
        let ctrl = key.strip_prefix("ctrl-").map(str::as_bytes).and_then(|c| match c {
            [c @ b'a'..=b'z'] => Some(c - b'a' + 1),
            [c @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => Some(c - b'@'),
            _ => None,
        });
        match (ctrl, key) {
            (Some(c), _) => out.push(c),
            (None, "DEL") => out.push(127),
            (None, _) => return Err(format!("Unknown character: '{key}'")),
        }
    }
    Ok(out)
}

/// The keys a daemon uses for `detachKeys`: Docker's default when empty, else [`to_bytes`]
/// with the daemon's error (`Invalid detach keys (…) provided`; `what` = "detach" for
/// attach, "escape" for exec create, as moby words them).
pub fn daemon_keys(keys: &str, what: &str) -> Result<Vec<u8>, String> {
    if keys.is_empty() {
        return Ok(DEFAULT_KEYS.to_vec());
    }
    to_bytes(keys).map_err(|_| format!("Invalid {what} keys ({keys}) provided"))
}

/// moby's `escapeProxy`, as a push parser: bytes that match a prefix of the key sequence are
/// held back; the whole sequence ends the stream (what follows it is dropped); a sequence
/// that breaks off is released, followed by the byte that broke it — that byte is not taken
/// as the start of a new sequence (moby's behaviour, which the docker CLI's own proxy shares:
/// both sides must agree on when a detach happened).
#[derive(Debug, Clone)]
pub struct EscapeProxy {
    keys: Vec<u8>,
    pos: usize,
    detached: bool,
}

impl EscapeProxy {
    pub fn new(keys: Vec<u8>) -> Self {
        EscapeProxy { keys, pos: 0, detached: false }
    }

    /// Run `input` through; returns what to pass on and whether the sequence is now complete.
    /// After a detach every further input is dropped.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + self.pos);
        if self.detached {
            return (out, true);
        }
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.pos] {
                self.pos += 1;
                if self.pos == self.keys.len() {
                    self.pos = 0;
                    self.detached = true;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.pos]);
            self.pos = 0;
            out.push(b);
        }
        (out, false)
    }

    /// Bytes held back (a partial sequence), released at end of input.
    pub fn flush(&mut self) -> Vec<u8> {
        let held = self.keys[..self.pos].to_vec();
        self.pos = 0;
        held
    }

    pub fn detached(&self) -> bool {
        self.detached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_docker_parses_them() {
        assert_eq!(to_bytes("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(to_bytes("ctrl-x,x").unwrap(), [0x18, b'x']);
        assert_eq!(to_bytes("ctrl-a").unwrap(), [1]);
        assert_eq!(to_bytes("ctrl-z").unwrap(), [26]);
        assert_eq!(to_bytes("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(), [0, 27, 28, 29, 30, 31]);
        assert_eq!(to_bytes("DEL").unwrap(), [127]);
        assert_eq!(to_bytes("a,X,,,").unwrap_err(), "Unknown character: ''", "an empty item is unknown");
        assert_eq!(to_bytes(",").unwrap_err(), "Unknown character: ''", "a lone comma is two empty items");
    }

    #[test]
    fn bad_keys_are_refused_with_docker_text() {
        assert_eq!(to_bytes("ctrl-A").unwrap_err(), "Unknown character: 'ctrl-A'", "case-sensitive");
        assert_eq!(to_bytes("ctrl-ü").unwrap_err(), "Unknown character: 'ctrl-ü'");
        assert_eq!(to_bytes("ü").unwrap_err(), "Unknown character: 'ü'", "two bytes are not one character");
        assert_eq!(to_bytes("shift-a").unwrap_err(), "Unknown character: 'shift-a'");
        assert_eq!(to_bytes("ctrl-1").unwrap_err(), "Unknown character: 'ctrl-1'");
        assert_eq!(daemon_keys("ctrl-ü", "detach").unwrap_err(), "Invalid detach keys (ctrl-ü) provided");
        assert_eq!(daemon_keys("nope", "escape").unwrap_err(), "Invalid escape keys (nope) provided");
        assert_eq!(daemon_keys("", "detach").unwrap(), DEFAULT_KEYS, "empty: the default");
    }

    #[test]
    fn plain_input_passes() {
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"touch /x\n"), (b"touch /x\n".to_vec(), false));
        assert_eq!(p.flush(), b"");
    }

    #[test]
    fn a_prefix_is_held_then_the_sequence_detaches() {
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"ls\x10"), (b"ls".to_vec(), false), "ctrl-p held back");
        assert_eq!(p.feed(b"\x11"), (vec![], true), "ctrl-q completes: nothing of the sequence passes");
        assert!(p.detached());
        assert_eq!(p.feed(b"more"), (vec![], true), "after the detach nothing passes");
    }

    #[test]
    fn whole_sequence_in_one_read_drops_what_follows() {
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"echo\r\x10\x11after"), (b"echo\r".to_vec(), true));
    }

    #[test]
    fn a_broken_off_sequence_is_released() {
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"\x10"), (vec![], false));
        assert_eq!(p.feed(b"a"), (b"\x10a".to_vec(), false), "held ctrl-p released before the byte that broke it");
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"x\x10ay"), (b"x\x10ay".to_vec(), false), "same within one read");
        assert!(!p.detached());
    }

    #[test]
    fn the_breaking_byte_does_not_restart_the_match() {
        // moby: ctrl-p ctrl-p ctrl-q is no detach (the second ctrl-p breaks the first off and
        // is passed on; ctrl-q then is no match).
        let mut p = EscapeProxy::new(DEFAULT_KEYS.to_vec());
        assert_eq!(p.feed(b"\x10\x10\x11"), (b"\x10\x10\x11".to_vec(), false));
        // A fresh ctrl-p after that still works.
        assert_eq!(p.feed(b"\x10\x11"), (vec![], true));
    }

    #[test]
    fn split_across_reads_byte_by_byte() {
        let keys = to_bytes("ctrl-x,x,y").unwrap();
        let mut p = EscapeProxy::new(keys.clone());
        let mut passed = Vec::new();
        for &b in b"a\x18xb\x18x" {
            let (o, d) = p.feed(&[b]);
            passed.extend(o);
            assert!(!d);
        }
        assert_eq!(passed, b"a\x18xb", "the broken-off ctrl-x,x released with b; the trailing ctrl-x,x held");
        assert_eq!(p.feed(b"y"), (vec![], true));
        let mut p = EscapeProxy::new(keys);
        assert_eq!(p.feed(b"\x18x"), (vec![], false));
        assert_eq!(p.flush(), b"\x18x", "EOF releases what was held");
    }

    #[test]
    fn single_key_and_no_keys() {
        let mut p = EscapeProxy::new(b"q".to_vec());
        assert_eq!(p.feed(b"abqcd"), (b"ab".to_vec(), true));
        let mut p = EscapeProxy::new(Vec::new());
        assert_eq!(p.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false), "no keys: everything passes");
    }
}
