//! Maps a field path (`steps[1].checks[0].host`) back to a line of the toml text, so semantic
//! validation errors point at the line just like syntax errors do.

use toml_edit::{ImDocument, Item, Value};

/// 1-based line of byte offset `pos` in `text`.
pub fn line_of(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Parses "steps[1].checks[0].host" into segments.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(Seg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    out.push(Seg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// The line of the deepest item on `path` that toml_edit knows a span for (1 if none).
pub fn line_of_path(text: &str, path: &str) -> usize {
    let Ok(doc) = ImDocument::parse(text) else {
        return 1;
    };
    let mut best: Option<usize> = None;
    let mut cur: Option<Node> = Some(Node::Item(doc.as_item()));
    for seg in parse_path(path) {
        let Some(node) = cur.take() else { break };
        let (next, key_span) = step(node, &seg);
        if let Some(s) = key_span {
            best = Some(s);
        }
        if let Some(n) = &next {
            if let Some(s) = n.span() {
                best = Some(s);
            }
        }
        cur = next;
    }
    best.map(|p| line_of(text, p)).unwrap_or(1)
}

enum Node<'a> {
    Item(&'a Item),
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

impl Node<'_> {
    fn span(&self) -> Option<usize> {
        match self {
            Node::Item(i) => i.span().map(|s| s.start),
            Node::Table(t) => t.span().map(|s| s.start),
            Node::Value(v) => v.span().map(|s| s.start),
        }
    }
}

fn step<'a>(node: Node<'a>, seg: &Seg) -> (Option<Node<'a>>, Option<usize>) {
    match (node, seg) {
        (Node::Item(Item::Table(t)), seg) => step(Node::Table(t), seg),
        (Node::Item(Item::Value(v)), seg) => step(Node::Value(v), seg),
        (Node::Table(t), Seg::Key(k)) => {
            let ks = t.key(k).and_then(|k| k.span()).map(|s| s.start);
            (t.get(k).map(Node::Item), ks)
        }
        (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => (a.get(*i).map(Node::Table), None),
        (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
            let ks = t.key(k).and_then(|k| k.span()).map(|s| s.start);
            (t.get(k).map(Node::Value), ks)
        }
        (Node::Value(Value::Array(a)), Seg::Index(i)) => (a.get(*i).map(Node::Value), None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(
            parse_path("steps[1].checks[0].host"),
            vec![
                Seg::Key("steps".into()),
                Seg::Index(1),
                Seg::Key("checks".into()),
                Seg::Index(0),
                Seg::Key("host".into())
            ]
        );
    }

    #[test]
    fn finds_line_of_nested_field() {
        let text = "id = \"x\"\n\n[[steps]]\nid = \"a\"\n\n[[steps]]\nid = \"b\"\nhost = \"vm9\"\n";
        assert_eq!(line_of_path(text, "steps[1].host"), 8);
        assert_eq!(line_of_path(text, "steps[0].id"), 4);
        assert_eq!(line_of_path(text, "id"), 1);
    }
}
