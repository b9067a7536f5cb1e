//! Splitting one scenario line into tokens: words and quoted strings.
//!
//! A word is a run of characters other than whitespace, `"` and `#`; `#` starts a
//! comment that runs to the end of the line. A string is double-quoted, with the escapes
//! `\"`, `\\`, `\0`, `\n`, `\t` and `\u{HEX}`; any other backslash is kept as it is, so
//! `"Global\JeffMutex"` is the name `Global\JeffMutex`.

/// One token of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A bare word: a keyword, a name, a number, `A:`, `=`, `key=value`.
    Word(String),
    /// A quoted string, escapes resolved.
    Str(String),
}

/// A token and the column (1-based, in characters) where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it starts.
    pub col: usize,
}

/// Splits `line` into tokens, dropping a trailing comment. The error is
/// `(column, message)`.
pub fn tokens(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            break;
        } else if c == '"' {
            let col = i + 1;
            let (text, next) = string(&chars, i + 1).map_err(|m| (col, m))?;
            out.push(Token { tok: Tok::Str(text), col });
            i = next;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' && chars[i] != '#' {
                i += 1;
            }
            out.push(Token { tok: Tok::Word(chars[start..i].iter().collect()), col: start + 1 });
        }
    }
    Ok(out)
}

/// Reads a string body from `i` (just past the opening quote); returns the text and
/// the index past the closing quote.
fn string(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut text = String::new();
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((text, i + 1)),
            '\\' if i + 1 < chars.len() => {
                let e = chars[i + 1];
                i += 2;
                match e {
                    '"' => text.push('"'),
                    '\\' => text.push('\\'),
                    '0' => text.push('\0'),
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'u' if chars.get(i) == Some(&'{') => {
                        let close =
                            chars[i..].iter().position(|&c| c == '}').ok_or("unclosed \\u{...} escape")?;
                        let hex: String = chars[i + 1..i + close].iter().collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("bad escape \\u{{{hex}}}"))?;
                        text.push(ch);
                        i += close + 1;
                    }
                    other => {
                        text.push('\\');
                        text.push(other);
                    }
                }
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated string (a `\"` is missing)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Tok> {
        tokens(line).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_strings_comments() {
        assert_eq!(
            words(r#"A: m = create mutex "Jeff Mutex" inherit # a comment"#),
            vec![
                Tok::Word("A:".into()),
                Tok::Word("m".into()),
                Tok::Word("=".into()),
                Tok::Word("create".into()),
                Tok::Word("mutex".into()),
                Tok::Str("Jeff Mutex".into()),
                Tok::Word("inherit".into()),
            ]
        );
        assert_eq!(
            words(r#""Global\Jeff" "a\\\\b" "T\0x" "\"q\"" "\u{41}""#),
            vec![
                Tok::Str("Global\\Jeff".into()),
                Tok::Str("a\\\\b".into()),
                Tok::Str("T\0x".into()),
                Tok::Str("\"q\"".into()),
                Tok::Str("A".into()),
            ]
        );
        assert_eq!(words("  # only a comment"), vec![]);
    }

    #[test]
    fn unterminated_string_is_an_error_with_its_column() {
        assert_eq!(tokens(r#"open mutex "abc"#).unwrap_err().0, 12);
    }
}
