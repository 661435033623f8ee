//! Tokens of a `where=` expression, each with its 1-based character position.

use super::SyntaxError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare or `"quoted"` field name.
    Ident(String),
    Quoted(String),
    Text(String),
    /// The number as written (parsed against the field's type later).
    Number(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Minus,
    End,
}

impl Tok {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Text(s) => format!("'{s}'"),
            Tok::Number(n) => n.clone(),
            Tok::Op(o) => format!("`{o}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Minus => "`-`".into(),
            Tok::End => "the end of the expression".into(),
        }
    }

    /// A bare word, lower-cased, when the token is one (keywords are bare words).
    pub fn keyword(&self) -> Option<String> {
        match self {
            Tok::Ident(s) => Some(s.to_lowercase()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub fn lex(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, message: String| SyntaxError { position: pos + 1, message };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '-' => {
                i += 1;
                Tok::Minus
            }
            '=' => {
                i += 1;
                if chars.get(i) == Some(&'=') {
                    i += 1;
                }
                Tok::Op("=")
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Op("!=")
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    i += 2;
                    Tok::Op("<=")
                }
                Some('>') => {
                    i += 2;
                    Tok::Op("!=")
                }
                _ => {
                    i += 1;
                    Tok::Op("<")
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 2;
                    Tok::Op(">=")
                } else {
                    i += 1;
                    Tok::Op(">")
                }
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            let what = if quote == '\'' { "text" } else { "quoted field name" };
                            return Err(err(start, format!("unterminated {what}: add the closing {quote}")));
                        }
                        Some(&q) if q == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                s.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                if quote == '\'' { Tok::Text(s) } else { Tok::Quoted(s) }
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                if i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    return Err(err(start, "a number runs into a letter: put a space after it".into()));
                }
                Tok::Number(chars[start..i].iter().collect())
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                Tok::Ident(chars[start..i].iter().collect())
            }
            other => {
                return Err(err(
                    start,
                    format!("unexpected character `{other}`; text goes in single quotes, e.g. 'Quận Ba Đình'"),
                ));
            }
        };
        out.push(Token { tok, pos: start + 1 });
    }
    out.push(Token { tok: Tok::End, pos: chars.len() + 1 });
    Ok(out)
}
