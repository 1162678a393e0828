//! The query language: lexer, parser and AST. Compiling to SQL lives in the store;
//! this module only knows syntax, so it can be fuzzed and tested without a database.
//!
//! ```text
//! asset.inventory:(source:`Cortex XDR`)
//! finding.vendorProductName:`Cortex XDR` AND finding.severity>=high
//! finding.kind:code_weakness NOT finding.status:fixed
//! finding.severity:(critical OR high) OR finding.cve:"CVE-2024-6387"
//! ```
//!
//! * `field:value` matches (case-insensitively for text); `field:(…)` scopes a group
//!   to the field: bare values inside are alternatives, `sub:value` terms name sub-fields.
//! * `field>=value`, `>`, `<`, `<=`, `=`, `!=` compare.
//! * Terms next to each other are ANDed; `AND`, `OR`, `NOT` (or `-term`) and parentheses
//!   combine them. `OR` binds looser than `AND`.
//! * Values are bare words, `"double"` or `` `backtick` `` quoted.

use std::fmt;

use serde::Serialize;

/// Byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryError {
    pub message: String,
    pub span: Span,
    pub expected: Vec<String>,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at column {})", self.message, self.span.start + 1)
    }
}

impl std::error::Error for QueryError {}

impl QueryError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        QueryError { message: message.into(), span, expected: Vec::new() }
    }

    /// The message with the query and a caret line under the offending span.
    pub fn render(&self, query: &str) -> String {
        let width = query[self.span.start.min(query.len())..self.span.end.min(query.len())].chars().count().max(1);
        let pad = query[..self.span.start.min(query.len())].chars().count();
        format!("{}\n  {query}\n  {}{}", self, " ".repeat(pad), "^".repeat(width))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `:` — equality (or membership for a group).
    Match,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Match => ":",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Literal {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TermValue {
    Lit(Literal),
    /// `field:( … )`: a group evaluated in the field's scope.
    Group(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    /// `None` for a bare value inside a group (`severity:(high OR critical)`).
    pub field: Option<Field>,
    pub op: Op,
    pub value: TermValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// A literal as query text: bare when the lexer reads it back as one word, quoted
/// otherwise (and always when it was quoted).
fn write_literal(f: &mut fmt::Formatter<'_>, l: &Literal) -> fmt::Result {
    let bare = !l.quoted
        && !l.text.is_empty()
        && !matches!(l.text.as_str(), "AND" | "and" | "&&" | "OR" | "or" | "||" | "NOT" | "not")
        && !l.text.starts_with('-')
        && !l.text.chars().any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '>' | '<' | '=' | '!' | '"' | '`'))
        && (!l.text.contains(':') || time_so_far(&l.text));
    if bare {
        return f.write_str(&l.text);
    }
    f.write_str("\"")?;
    for c in l.text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// The query as text that parses back to the same tree (`AND` explicit, parentheses only
/// where precedence needs them).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |f: &mut fmt::Formatter<'_>, e: &Expr, paren: bool| if paren { write!(f, "({e})") } else { write!(f, "{e}") };
        match self {
            Expr::And(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" AND ")?;
                    }
                    part(f, p, matches!(p, Expr::Or(_)))?;
                }
                Ok(())
            }
            Expr::Or(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" OR ")?;
                    }
                    part(f, p, false)?;
                }
                Ok(())
            }
            Expr::Not(inner) => {
                f.write_str("NOT ")?;
                part(f, inner, matches!(**inner, Expr::And(_) | Expr::Or(_)))
            }
            Expr::Term(t) => {
                if let Some(field) = &t.field {
                    write!(f, "{}{}", field.path, t.op)?;
                }
                match &t.value {
                    TermValue::Lit(l) => write_literal(f, l),
                    TermValue::Group(g) => write!(f, "({g})"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    LParen,
    RParen,
    Op(Op),
    And,
    Or,
    Not,
    Minus,
}

fn lex(text: &str) -> Result<Vec<(Tok, Span)>, QueryError> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let sp = |end| Span { start, end };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((Tok::LParen, sp(i + 1)));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, sp(i + 1)));
                i += 1;
            }
            b':' => {
                out.push((Tok::Op(Op::Match), sp(i + 1)));
                i += 1;
            }
            b'>' | b'<' | b'=' | b'!' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'>', true) => Op::Ge,
                    (b'>', false) => Op::Gt,
                    (b'<', true) => Op::Le,
                    (b'<', false) => Op::Lt,
                    (b'!', true) => Op::Ne,
                    (b'=', _) => Op::Eq,
                    _ => return Err(QueryError::new("'!' must be followed by '=' (use NOT to negate)", sp(i + 1))),
                };
                let len = if two { 2 } else { 1 };
                out.push((Tok::Op(op), sp(i + len)));
                i += len;
            }
            b'"' | b'`' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => return Err(QueryError::new(format!("unclosed {} quote", c as char), sp(text.len()))),
                        Some(&q) if q == c => break,
                        Some(&b'\\') if c == b'"' && b.get(j + 1).is_some() => {
                            let ch = text[j + 1..].chars().next().unwrap_or('\\');
                            s.push(ch);
                            j += 1 + ch.len_utf8();
                        }
                        Some(_) => {
                            let ch = text[j..].chars().next().unwrap_or(' ');
                            s.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                out.push((Tok::Quoted(s), sp(j + 1)));
                i = j + 1;
            }
            b'-' if out.last().is_none_or(|(t, _)| !matches!(t, Tok::Op(_))) && b.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) => {
                out.push((Tok::Minus, sp(i + 1)));
                i += 1;
            }
            _ => {
                let mut j = i;
                while j < b.len() {
                    // An unquoted RFC 3339 time keeps its colons (`2026-11-25T00:00:00Z`).
                    if b[j] == b':' && b.get(j + 1).is_some_and(u8::is_ascii_digit) && time_so_far(&text[i..j]) {
                        j += 1;
                        continue;
                    }
                    if matches!(b[j], b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b':' | b'>' | b'<' | b'=' | b'!' | b'"' | b'`') {
                        break;
                    }
                    j += text[j..].chars().next().map_or(1, char::len_utf8);
                }
                let w = &text[i..j];
                let tok = match w {
                    "AND" | "and" | "&&" => Tok::And,
                    "OR" | "or" | "||" => Tok::Or,
                    "NOT" | "not" => Tok::Not,
                    _ => Tok::Word(w.to_string()),
                };
                out.push((tok, sp(j)));
                i = j;
            }
        }
    }
    Ok(out)
}

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;
/// How deeply parentheses and `NOT`s may nest.
pub const MAX_DEPTH: usize = 32;
/// Terms in one query at most (a database has limits on expression size too).
pub const MAX_TERMS: usize = 256;

/// A word that began as `YYYY-MM-DDT…`: a time, whose colons (and its offset's) belong to it.
fn time_so_far(w: &str) -> bool {
    let b = w.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    b.len() >= 13
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    len: usize,
    /// Current nesting (parentheses, groups, `NOT`s).
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn span(&self) -> Span {
        self.toks.get(self.pos).map(|(_, s)| *s).unwrap_or(Span { start: self.len, end: self.len })
    }
    fn bump(&mut self) -> Option<(Tok, Span)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self, scoped: bool) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and(scoped)?];
        while self.peek() == Some(&Tok::Or) {
            self.bump();
            parts.push(self.and(scoped)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self, scoped: bool) -> Result<Expr, QueryError> {
        let mut parts = vec![self.not(scoped)?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.bump();
                    parts.push(self.not(scoped)?);
                }
                Some(Tok::Word(_) | Tok::Quoted(_) | Tok::LParen | Tok::Not | Tok::Minus) => parts.push(self.not(scoped)?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    /// One level deeper, refused past [`MAX_DEPTH`] (a deep query would exhaust the stack).
    fn deeper(&mut self, span: Span) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::new(format!("the query nests parentheses or NOTs more than {MAX_DEPTH} deep"), span));
        }
        Ok(())
    }

    fn not(&mut self, scoped: bool) -> Result<Expr, QueryError> {
        if matches!(self.peek(), Some(Tok::Not | Tok::Minus)) {
            let span = self.span();
            self.bump();
            self.deeper(span)?;
            let inner = self.not(scoped)?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary(scoped)
    }

    fn primary(&mut self, scoped: bool) -> Result<Expr, QueryError> {
        let span = self.span();
        if matches!(self.peek(), Some(Tok::Word(_))) {
            self.terms += 1;
            if self.terms > MAX_TERMS {
                return Err(QueryError::new(format!("the query has more than {MAX_TERMS} terms; narrow it down"), span));
            }
        }
        match self.bump() {
            Some((Tok::LParen, _)) => {
                self.deeper(span)?;
                let e = self.or(scoped)?;
                self.depth -= 1;
                match self.bump() {
                    Some((Tok::RParen, _)) => Ok(e),
                    _ => Err(QueryError { message: "missing ')'".into(), span: self.prev_span(), expected: vec![")".into()] }),
                }
            }
            Some((Tok::Word(w), wspan)) => {
                if let Some(Tok::Op(op)) = self.peek().cloned() {
                    self.bump();
                    // Field names are dotted identifiers: anything else before an operator
                    // is a typo (and would not print back as the same query).
                    if !w.starts_with(|c: char| c.is_ascii_alphabetic())
                        || !w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
                    {
                        return Err(QueryError {
                            message: format!(
                                "'{w}' is not a field name (fields look like finding.severity; quote a value that holds an operator)"
                            ),
                            span: wspan,
                            expected: Vec::new(),
                        });
                    }
                    let field = Field { path: w, span: wspan };
                    let value = if op == Op::Match && self.peek() == Some(&Tok::LParen) {
                        let gspan = self.span();
                        self.bump();
                        self.deeper(gspan)?;
                        let inner = self.or(true)?;
                        self.depth -= 1;
                        match self.bump() {
                            Some((Tok::RParen, _)) => TermValue::Group(Box::new(inner)),
                            _ => {
                                return Err(QueryError {
                                    message: "missing ')' after the group".into(),
                                    span: self.prev_span(),
                                    expected: vec![")".into()],
                                });
                            }
                        }
                    } else {
                        TermValue::Lit(self.literal()?)
                    };
                    Ok(Expr::Term(Term { field: Some(field), op, value }))
                } else if scoped {
                    Ok(Expr::Term(Term {
                        field: None,
                        op: Op::Match,
                        value: TermValue::Lit(Literal { text: w, quoted: false, span: wspan }),
                    }))
                } else {
                    Err(QueryError {
                        message: format!("'{w}' is not a condition: write field:value, e.g. finding.severity:high"),
                        span: wspan,
                        expected: vec![":".into(), ">=".into()],
                    })
                }
            }
            Some((Tok::Quoted(q), qspan)) if scoped => {
                Ok(Expr::Term(Term { field: None, op: Op::Match, value: TermValue::Lit(Literal { text: q, quoted: true, span: qspan }) }))
            }
            Some((t, s)) => Err(QueryError {
                message: format!("unexpected {}", describe(&t)),
                span: s,
                expected: vec!["field:value".into(), "(".into()],
            }),
            None => Err(QueryError { message: "the query ends too early".into(), span, expected: vec!["field:value".into()] }),
        }
    }

    fn prev_span(&self) -> Span {
        self.toks.get(self.pos.saturating_sub(1)).map(|(_, s)| *s).unwrap_or(Span { start: self.len, end: self.len })
    }

    fn literal(&mut self) -> Result<Literal, QueryError> {
        let span = self.span();
        match self.bump() {
            Some((Tok::Word(w), s)) => Ok(Literal { text: w, quoted: false, span: s }),
            Some((Tok::Quoted(q), s)) => Ok(Literal { text: q, quoted: true, span: s }),
            Some((t, s)) => {
                Err(QueryError { message: format!("expected a value, found {}", describe(&t)), span: s, expected: vec!["value".into()] })
            }
            None => Err(QueryError { message: "expected a value at the end of the query".into(), span, expected: vec!["value".into()] }),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Op(o) => format!("'{o}'"),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Minus => "'-'".into(),
    }
}

/// Parses a query. Never panics; errors carry the byte span to underline.
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError::new(
            format!("the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted", text.len()),
            Span { start: MAX_QUERY_BYTES, end: text.len() },
        ));
    }
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(QueryError::new("the query is empty", Span { start: 0, end: text.len() }));
    }
    let mut p = Parser { toks, pos: 0, len: text.len(), depth: 0, terms: 0 };
    let e = p.or(false)?;
    if let Some((t, s)) = p.bump() {
        return Err(QueryError::new(format!("unexpected {} after a complete query", describe(&t)), s));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random token soup from the query language's own vocabulary.
    fn soup() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let tok = prop_oneof![
            Just("finding.severity".to_string()),
            Just("asset.hostName".to_string()),
            Just("finding.lastSeen".to_string()),
            Just("asset.inventory".to_string()),
            Just("source".to_string()),
            Just(":".to_string()),
            Just(">=".to_string()),
            Just("<".to_string()),
            Just("!=".to_string()),
            Just("=".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("AND".to_string()),
            Just("OR".to_string()),
            Just("NOT".to_string()),
            Just("-".to_string()),
            Just("high".to_string()),
            Just("web-*".to_string()),
            Just("2026-11-25T00:00:00Z".to_string()),
            Just("30d".to_string()),
            Just("`Cortex XDR`".to_string()),
            Just("\"a \\\" b\"".to_string()),
            "[a-z0-9*.]{1,6}",
        ];
        proptest::collection::vec(tok, 0..14).prop_map(|t| t.join(" "))
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_printing_round_trips(q in soup(), junk in ".{0,40}") {
            let _ = parse(&junk);
            if let Ok(e) = parse(&q) {
                let printed = e.to_string();
                let again = parse(&printed).map_err(|err| format!("{printed}: {err}"));
                proptest::prop_assert!(again.is_ok(), "{q} printed as {printed}: {again:?}");
                proptest::prop_assert_eq!(again.unwrap_or_else(|_| e.clone()).to_string(), printed);
            }
        }
    }

    #[test]
    fn unquoted_times_keep_their_colons() {
        for q in
            ["finding.lastSeen>2026-11-25T00:00:00Z", "finding.lastSeen>2026-11-25T00:00Z", "finding.lastSeen>=2026-11-25T10:30:00.5+01:00"]
        {
            let e = parse(q).unwrap();
            let t = term(&e);
            let TermValue::Lit(l) = &t.value else { panic!("{q}") };
            assert!(l.text.starts_with("2026-11-25T"), "{q}: {}", l.text);
            assert!(crate::time::parse_loose(&l.text).is_some(), "{q}: {}", l.text);
        }
        // A field followed by ':' is still a field.
        assert_eq!(term(&parse("asset.hostName:web-01").unwrap()).field.as_ref().unwrap().path, "asset.hostName");
    }

    #[test]
    fn deep_long_and_wide_queries_are_refused_in_words() {
        let deep = format!("{}a:1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).unwrap_err().message.contains("bytes long"));
        let deep = format!("{}a:1{}", "(".repeat(1_000), ")".repeat(1_000));
        assert!(parse(&deep).unwrap_err().message.contains("more than 32 deep"));
        let nots = format!("{}a:1", "NOT ".repeat(1_000));
        assert!(parse(&nots).unwrap_err().message.contains("more than 32 deep"));
        let wide = vec!["a:1"; 1_000].join(" AND ");
        assert!(parse(&wide).unwrap_err().message.contains("more than 256 terms"));
        assert!(parse(&format!("{}a:1{}", "(".repeat(30), ")".repeat(30))).is_ok());
    }

    fn term(e: &Expr) -> &Term {
        match e {
            Expr::Term(t) => t,
            other => panic!("not a term: {other:?}"),
        }
    }

    #[test]
    fn parses_the_seed_queries() {
        let e = parse("asset.inventory:(source:`Cortex XDR`)").unwrap();
        let t = term(&e);
        assert_eq!(t.field.as_ref().unwrap().path, "asset.inventory");
        let TermValue::Group(inner) = &t.value else { panic!() };
        let it = term(inner);
        assert_eq!(it.field.as_ref().unwrap().path, "source");
        assert_eq!(it.value, TermValue::Lit(Literal { text: "Cortex XDR".into(), quoted: true, span: Span { start: 24, end: 36 } }));
        let e = parse("finding.vendorProductName:`Cortex XDR` ").unwrap();
        assert!(matches!(&term(&e).value, TermValue::Lit(l) if l.text == "Cortex XDR"));
    }

    #[test]
    fn precedence_and_negation() {
        let e = parse("a:1 b:2 OR NOT c:3 AND -d>=4").unwrap();
        let Expr::Or(parts) = e else { panic!() };
        assert!(matches!(&parts[0], Expr::And(v) if v.len() == 2));
        let Expr::And(right) = &parts[1] else { panic!() };
        assert!(matches!(&right[0], Expr::Not(_)));
        let Expr::Not(d) = &right[1] else { panic!() };
        assert_eq!(term(d).op, Op::Ge);
        let e = parse("finding.severity:(high OR critical)").unwrap();
        let TermValue::Group(g) = &term(&e).value else { panic!() };
        assert!(matches!(**g, Expr::Or(ref v) if v.len() == 2));
        assert!(parse("x:a-b").is_ok(), "a dash inside a value is not negation");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let q = "finding.severity:high AND";
        let e = parse(q).unwrap_err();
        assert_eq!(e.message, "the query ends too early");
        assert_eq!(e.span.start, q.len());
        let e = parse("severity high").unwrap_err();
        assert!(e.message.contains("'severity' is not a condition"), "{e}");
        assert_eq!(e.span, Span { start: 0, end: 8 });
        assert!(parse("a:(b").unwrap_err().message.contains("missing ')'"));
        assert!(parse("a:`open").unwrap_err().message.contains("unclosed"));
        assert!(parse("").is_err());
        assert!(parse("a:b)").unwrap_err().message.contains("after a complete query"));
        assert!(e.render("severity high").contains("^^^^^^^^"));
    }
}
