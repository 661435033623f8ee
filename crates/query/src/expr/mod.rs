//! `where=` expressions: parsed into an AST ([`parse`]), checked against the dataset's schema
//! and compiled to a polars expression ([`compile`]). Never turned into SQL text.
//!
//! ```text
//! expr       := or
//! or         := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | primary
//! primary    := "(" expr ")" | operand [tail]
//! tail       := cmp operand                        cmp: = != <> < <= > >=
//!             | ["not"] "in" "(" literal ("," literal)* ")"
//!             | ["not"] "between" operand "and" operand
//!             | ["not"] ("like" | "ilike") 'pattern'          % any run, _ one character
//!             | ["not"] ("contains" | "icontains") 'text'
//!             | "is" ["not"] "null"
//! operand    := field | "quoted field" | literal
//! literal    := 'text' ('' for a quote) | [-]number | true | false | null
//! ```
//!
//! A field with no tail must be boolean (`dung_han and le_phi > 0`). Keywords are
//! case-insensitive. Text literals compared with a date or datetime field are read as dates
//! (`'2024-03-01'`, `'01/03/2024'`). Comparisons follow SQL: a null compares as unknown, so
//! `x != 5` does not match rows where `x` is null. `ilike` and `icontains` ignore case and
//! Vietnamese diacritics (`icontains 'duong'` finds `Đường`).

mod compile;
mod lex;
mod parse;

pub(crate) use compile::balanced;
pub use compile::compile;
pub use parse::{Ast, CmpOp, Literal, Operand, parse};

/// The longest expression accepted, in characters.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of parentheses and `not`s accepted.
pub const MAX_DEPTH: usize = 64;

/// What went wrong in an expression, at which 1-based character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: usize,
    pub message: String,
}
