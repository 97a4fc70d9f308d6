//! Command templates: the text a user (or a tool profile) gives, with
//! `{path}`, `{critical}` and `{lockcheck}` placeholders, checked up front
//! and expanded into shell text for `/bin/sh -c`.

use std::path::Path;

use anyhow::{bail, Result};

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["path", "critical", "lockcheck"];

/// What one expansion fills in.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// The lock path (`{path}`).
    pub path: &'a Path,
    /// The critical-section program (`{critical}`): an executable file run
    /// with no arguments while the lock is held.
    pub critical: &'a Path,
    /// The lockcheck executable (`{lockcheck}`), for built-in holders.
    pub lockcheck: &'a Path,
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

impl Template {
    /// Check `text`: braces must name known placeholders, and every name in
    /// `required` must appear. `flag` names the template in errors (`--acquire`).
    pub fn parse(flag: &str, text: &str, required: &[&str]) -> Result<Template> {
        if text.trim().is_empty() {
            bail!("{flag} is empty: give a command with {{path}} where the lock path goes");
        }
        let names = placeholders(flag, text)?;
        for want in required {
            if !names.iter().any(|n| n == want) {
                bail!(
                    "{flag} '{text}' has no {{{want}}}: the gate must tell the tool {}",
                    match *want {
                        "path" => "which lock path to use",
                        _ => "what to run while it holds the lock",
                    }
                );
            }
        }
        Ok(Template {
            text: text.to_string(),
        })
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Shell text with every placeholder replaced by a quoted shell word.
    pub fn expand(&self, fill: &Fill<'_>) -> String {
        let mut out = String::with_capacity(self.text.len() + 64);
        for piece in pieces(&self.text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Slot(name) => {
                    let value = match name {
                        "path" => fill.path,
                        "critical" => fill.critical,
                        _ => fill.lockcheck,
                    };
                    out.push_str(&shell_word(&value.to_string_lossy()));
                }
            }
        }
        out
    }
}

/// A template cut into literal text and `{name}` slots.
enum Piece<'a> {
    Text(&'a str),
    Slot(&'a str),
}

/// Cut `text` into pieces. A slot is `{` + lowercase letters/underscores +
/// `}`, not preceded by `$`; any other brace (shell `${VAR}`, code such as
/// `{ retries: 0 }`) is literal text.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut lit = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' && (i == 0 || bytes[i - 1] != b'$') {
            let name_len = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase() || **b == b'_')
                .count();
            let close = i + 1 + name_len;
            if name_len > 0 && bytes.get(close) == Some(&b'}') {
                out.push(Piece::Text(&text[lit..i]));
                out.push(Piece::Slot(&text[i + 1..close]));
                i = close + 1;
                lit = i;
                continue;
            }
        }
        i += 1;
    }
    out.push(Piece::Text(&text[lit..]));
    out
}

/// The placeholder names in `text`, rejecting unknown ones.
fn placeholders(flag: &str, text: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for piece in pieces(text) {
        if let Piece::Slot(name) = piece {
            if !PLACEHOLDERS.contains(&name) {
                bail!("{flag} '{text}' uses {{{name}}}, which is not a placeholder (use {{path}}, {{critical}} or {{lockcheck}})");
            }
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// `s` as one shell word: unchanged when it needs no quoting, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill() -> Fill<'static> {
        Fill {
            path: Path::new("/tmp/x/updates.lock"),
            critical: Path::new("/tmp/x/crit"),
            lockcheck: Path::new("/usr/bin/lockcheck"),
        }
    }

    #[test]
    fn expands_placeholders_as_shell_words() {
        let t = Template::parse(
            "--hold",
            "flock -n {path} {critical}",
            &["path", "critical"],
        )
        .unwrap();
        assert_eq!(
            t.expand(&fill()),
            "flock -n /tmp/x/updates.lock /tmp/x/crit"
        );
        let odd = Fill {
            path: Path::new("/tmp/a b/it's"),
            ..fill()
        };
        let t = Template::parse("--acquire", "touch {path}", &["path"]).unwrap();
        assert_eq!(t.expand(&odd), r"touch '/tmp/a b/it'\''s'");
    }

    #[test]
    fn other_braces_are_literal() {
        let text = r#"p={path}; node -e "lock(x, { retries: 0 })" "${p%.lock}" ${HOME} {critical}"#;
        let t = Template::parse("--hold", text, &["path", "critical"]).unwrap();
        assert_eq!(
            t.expand(&fill()),
            r#"p=/tmp/x/updates.lock; node -e "lock(x, { retries: 0 })" "${p%.lock}" ${HOME} /tmp/x/crit"#
        );
    }

    #[test]
    fn rejects_missing_and_unknown_placeholders() {
        let e = Template::parse("--acquire", "lockfile -r 0 /tmp/x", &["path"]).unwrap_err();
        assert!(e.to_string().contains("has no {path}"), "{e}");
        let e = Template::parse("--hold", "flock {path} true", &["path", "critical"]).unwrap_err();
        assert!(e.to_string().contains("has no {critical}"), "{e}");
        let e = Template::parse("--acquire", "touch {pth}", &["path"]).unwrap_err();
        assert!(e.to_string().contains("{pth}"), "{e}");
        let e = Template::parse("--acquire", "touch {path", &["path"]).unwrap_err();
        assert!(e.to_string().contains("has no {path}"), "{e}");
        let e = Template::parse("--acquire", " ", &["path"]).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
