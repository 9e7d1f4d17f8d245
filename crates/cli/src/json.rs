//! A small JSON value and pretty printer: enough for `morselkind info --json`, without a
//! serialisation framework.

use std::fmt::Write;

/// A JSON value. Objects keep their keys in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs.
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A string value.
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// A number from an unsigned value; values beyond `i64::MAX` saturate (never happens for
    /// byte counts on a real machine).
    pub fn uint(n: impl Into<u64>) -> Json {
        Json::Int(i64::try_from(n.into()).unwrap_or(i64::MAX))
    }

    /// `null` for `None`.
    pub fn opt(v: Option<Json>) -> Json {
        v.unwrap_or(Json::Null)
    }

    /// An array of node or CPU numbers.
    pub fn ids(ids: &[u32]) -> Json {
        Json::Arr(ids.iter().map(|&i| Json::uint(i)).collect())
    }

    /// Pretty-printed, two spaces per level, with a final newline.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Str(s) => write_str(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Obj(items) if items.is_empty() => out.push_str("{}"),
            Json::Arr(items) => {
                // Arrays of scalars stay on one line: node lists read better that way.
                if items.iter().all(|v| !matches!(v, Json::Arr(_) | Json::Obj(_))) {
                    out.push('[');
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        v.write(out, depth + 1);
                    }
                    out.push(']');
                    return;
                }
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Obj(items) => {
                out.push_str("{\n");
                for (i, (k, v)) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    write_str(out, k);
                    out.push_str(": ");
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nests() {
        let v = Json::obj([
            ("s", Json::str("a\"b\\c\n\u{1}é")),
            ("n", Json::Int(-3)),
            ("ids", Json::ids(&[0, 2])),
            ("empty", Json::Arr(vec![])),
            ("o", Json::obj([("t", Json::Bool(true)), ("z", Json::Null)])),
        ]);
        let text = v.pretty();
        assert!(text.contains(r#""s": "a\"b\\c\n\u0001é""#), "{text}");
        assert!(text.contains(r#""ids": [0, 2]"#), "{text}");
        assert!(text.contains(r#""empty": []"#), "{text}");
        assert!(text.contains("\"o\": {\n    \"t\": true,\n    \"z\": null\n  }"), "{text}");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn big_numbers_saturate() {
        assert_eq!(Json::uint(u64::MAX), Json::Int(i64::MAX));
        assert_eq!(Json::uint(7u32), Json::Int(7));
    }
}
