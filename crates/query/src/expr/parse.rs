//! The recursive-descent parser of `where=` expressions.

use super::lex::{Tok, Token, lex};
use super::{MAX_DEPTH, MAX_LEN, SyntaxError};

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    /// As written, with its sign: typed against the field it meets.
    Number(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field { name: String, pos: usize },
    Literal { value: Literal, pos: usize },
}

impl Operand {
    pub fn pos(&self) -> usize {
        match self {
            Operand::Field { pos, .. } | Operand::Literal { pos, .. } => *pos,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Or(Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Compare {
        left: Operand,
        op: CmpOp,
        right: Operand,
    },
    In {
        operand: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    Like {
        operand: Operand,
        pattern: String,
        insensitive: bool,
        negated: bool,
    },
    Contains {
        operand: Operand,
        needle: String,
        insensitive: bool,
        negated: bool,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    /// A bare operand used as a condition: a boolean field, `true` or `false`.
    Truth(Operand),
}

impl Ast {
    /// The names of the fields the expression reads, each once.
    pub fn fields(&self) -> Vec<String> {
        fn walk<'a>(ast: &'a Ast, out: &mut Vec<&'a str>) {
            let mut operand = |o: &'a Operand| {
                if let Operand::Field { name, .. } = o {
                    out.push(name);
                }
            };
            match ast {
                Ast::Or(a, b) | Ast::And(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Ast::Not(a) => walk(a, out),
                Ast::Compare { left, right, .. } => {
                    operand(left);
                    operand(right);
                }
                Ast::In { operand: o, list, .. } => {
                    operand(o);
                    list.iter().for_each(operand);
                }
                Ast::Between { operand: o, low, high, .. } => {
                    operand(o);
                    operand(low);
                    operand(high);
                }
                Ast::Like { operand: o, .. }
                | Ast::Contains { operand: o, .. }
                | Ast::IsNull { operand: o, .. }
                | Ast::Truth(o) => operand(o),
            }
        }
        let mut names = Vec::new();
        walk(self, &mut names);
        names.sort_unstable();
        names.dedup();
        names.into_iter().map(str::to_string).collect()
    }
}

const KEYWORDS: [&str; 13] =
    ["and", "or", "not", "in", "between", "like", "ilike", "contains", "icontains", "is", "null", "true", "false"];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

/// Parse a `where=` expression.
pub fn parse(src: &str) -> Result<Ast, SyntaxError> {
    let len = src.chars().count();
    if len > MAX_LEN {
        return Err(SyntaxError {
            position: MAX_LEN + 1,
            message: format!("the expression is {len} characters long; at most {MAX_LEN} are accepted"),
        });
    }
    if src.trim().is_empty() {
        return Err(SyntaxError { position: 1, message: "the expression is empty".into() });
    }
    let mut p = Parser { tokens: lex(src)?, at: 0, depth: 0 };
    let ast = p.or()?;
    match &p.peek().tok {
        Tok::End => Ok(ast),
        Tok::RParen => Err(p.error("a `)` without its `(`")),
        other => {
            Err(p.error(&format!("expected `and`, `or` or the end of the expression, found {}", other.describe())))
        }
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn error(&self, message: &str) -> SyntaxError {
        SyntaxError { position: self.peek().pos, message: message.to_string() }
    }

    fn is_keyword(&self, word: &str) -> bool {
        self.peek().tok.keyword().as_deref() == Some(word)
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let yes = self.is_keyword(word);
        if yes {
            self.next();
        }
        yes
    }

    fn expect_keyword(&mut self, word: &str, context: &str) -> Result<(), SyntaxError> {
        if self.eat_keyword(word) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{word}` {context}, found {}", self.peek().tok.describe())))
        }
    }

    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("the expression nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Ast, SyntaxError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = Ast::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, SyntaxError> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            let right = self.not()?;
            left = Ast::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Ast, SyntaxError> {
        if self.eat_keyword("not") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, SyntaxError> {
        if self.peek().tok == Tok::LParen {
            let open = self.next().pos;
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next().tok != Tok::RParen {
                return Err(SyntaxError {
                    position: self.tokens[self.at.saturating_sub(1)].pos,
                    message: format!("expected `)` to close the `(` at position {open}"),
                });
            }
            return Ok(inner);
        }
        let operand = self.operand("a field, a value or `(`")?;
        self.tail(operand)
    }

    fn tail(&mut self, operand: Operand) -> Result<Ast, SyntaxError> {
        if let Tok::Op(op) = self.peek().tok {
            self.next();
            let op = match op {
                "=" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Lte,
                ">" => CmpOp::Gt,
                _ => CmpOp::Gte,
            };
            let right = self.operand(&format!("a field or a value after `{}`", op.symbol()))?;
            return Ok(Ast::Compare { left: operand, op, right });
        }
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            self.expect_keyword("null", "after `is`")?;
            return Ok(Ast::IsNull { operand, negated });
        }
        let negated =
            self.is_keyword("not")
                && self.tokens.get(self.at + 1).and_then(|t| t.tok.keyword()).is_some_and(|k| {
                    matches!(k.as_str(), "in" | "between" | "like" | "ilike" | "contains" | "icontains")
                });
        if negated {
            self.next();
        }
        match self.peek().tok.keyword().as_deref() {
            Some("in") => {
                self.next();
                if self.next().tok != Tok::LParen {
                    return Err(self.error_before("expected `(` after `in`, as in `in ('a', 'b')`"));
                }
                let mut list = vec![self.operand("a value in the list")?];
                loop {
                    match self.next().tok {
                        Tok::Comma => list.push(self.operand("a value after `,`")?),
                        Tok::RParen => break,
                        _ => return Err(self.error_before("expected `,` or `)` in the `in` list")),
                    }
                }
                Ok(Ast::In { operand, list, negated })
            }
            Some("between") => {
                self.next();
                let low = self.operand("the low end after `between`")?;
                self.expect_keyword("and", "between the two ends of `between`")?;
                let high = self.operand("the high end after `and`")?;
                Ok(Ast::Between { operand, low, high, negated })
            }
            Some(word @ ("like" | "ilike" | "contains" | "icontains")) => {
                let word = word.to_string();
                self.next();
                let text = match self.next().tok {
                    Tok::Text(t) => t,
                    _ => return Err(self.error_before(&format!("expected a text in single quotes after `{word}`"))),
                };
                let insensitive = word.starts_with('i');
                Ok(if word.ends_with("like") {
                    Ast::Like { operand, pattern: text, insensitive, negated }
                } else {
                    Ast::Contains { operand, needle: text, insensitive, negated }
                })
            }
            _ if negated => Err(self.error("expected `in`, `between`, `like` or `contains` after `not`")),
            _ => Ok(Ast::Truth(operand)),
        }
    }

    /// An error at the token just consumed.
    fn error_before(&self, message: &str) -> SyntaxError {
        SyntaxError { position: self.tokens[self.at.saturating_sub(1)].pos, message: message.to_string() }
    }

    fn operand(&mut self, expected: &str) -> Result<Operand, SyntaxError> {
        let token = self.next();
        let pos = token.pos;
        let literal = |value| Ok(Operand::Literal { value, pos });
        match token.tok {
            Tok::Quoted(name) => Ok(Operand::Field { name, pos }),
            Tok::Text(t) => literal(Literal::Text(t)),
            Tok::Number(n) => literal(Literal::Number(n)),
            Tok::Minus => match self.next().tok {
                Tok::Number(n) => literal(Literal::Number(format!("-{n}"))),
                _ => Err(SyntaxError { position: pos, message: "a `-` must be followed by a number".into() }),
            },
            Tok::Ident(word) => match word.to_lowercase().as_str() {
                "true" => literal(Literal::Bool(true)),
                "false" => literal(Literal::Bool(false)),
                "null" => literal(Literal::Null),
                k if KEYWORDS.contains(&k) => Err(SyntaxError {
                    position: pos,
                    message: format!(
                        "expected {expected}, found the keyword `{word}` (a field of that name goes in double quotes: \"{word}\")"
                    ),
                }),
                _ => Ok(Operand::Field { name: word, pos }),
            },
            other => {
                Err(SyntaxError { position: pos, message: format!("expected {expected}, found {}", other.describe()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, pos: usize) -> Operand {
        Operand::Field { name: name.into(), pos }
    }

    #[test]
    fn precedence_and_tails() {
        let ast = parse("a = 1 or b >= -2.5 and not c is null").unwrap();
        let Ast::Or(left, right) = ast else { panic!("or at the top") };
        assert_eq!(
            *left,
            Ast::Compare {
                left: field("a", 1),
                op: CmpOp::Eq,
                right: Operand::Literal { value: Literal::Number("1".into()), pos: 5 }
            }
        );
        let Ast::And(_, not) = *right else { panic!("and binds tighter than or") };
        assert!(matches!(*not, Ast::Not(inner) if matches!(*inner, Ast::IsNull { negated: false, .. })));
        assert!(
            matches!(parse("x not in ('a', 'b')").unwrap(), Ast::In { negated: true, ref list, .. } if list.len() == 2)
        );
        assert!(matches!(parse("x between 1 and 5").unwrap(), Ast::Between { negated: false, .. }));
        assert!(matches!(parse("x ilike 'ha%'").unwrap(), Ast::Like { insensitive: true, .. }));
        assert!(matches!(parse("\"and\" is not null").unwrap(), Ast::IsNull { negated: true, .. }));
        assert_eq!(parse("(((dung_han)))").unwrap(), Ast::Truth(field("dung_han", 4)));
        assert!(
            matches!(parse("ten = 'O''Brien'").unwrap(), Ast::Compare { right: Operand::Literal { value: Literal::Text(t), .. }, .. } if t == "O'Brien")
        );
    }

    #[test]
    fn errors_say_where_and_what_was_expected() {
        let e = parse("le_phi >= ").unwrap_err();
        assert_eq!(e.position, 11);
        assert!(e.message.contains("after `>=`") && e.message.contains("end of the expression"), "{e:?}");
        let e = parse("(a = 1 or b = 2").unwrap_err();
        assert!(e.message.contains("close the `(` at position 1"), "{e:?}");
        let e = parse("a = 1 b = 2").unwrap_err();
        assert_eq!(e.position, 7);
        let e = parse("ten = 'Ba Đình").unwrap_err();
        assert_eq!((e.position, e.message.contains("unterminated text")), (7, true));
        let e = parse("a in 1").unwrap_err();
        assert!(e.message.contains("`(` after `in`"), "{e:?}");
        assert!(parse("a = 1)").unwrap_err().message.contains("without its `(`"));
        assert!(parse(&"(".repeat(100)).unwrap_err().message.contains("deeper"));
        assert!(parse(&"not ".repeat(100)).unwrap_err().message.contains("deeper"));
        assert!(parse("a ; b").unwrap_err().message.contains("unexpected character `;`"));
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("a = and").unwrap_err().message.contains("keyword `and`"));
    }
}
