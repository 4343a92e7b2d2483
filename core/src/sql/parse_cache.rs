//! A cache of parsed SQL keyed by the text with its literals blanked out,
//! so clients that send the same statement shapes with different values in
//! the simple query protocol (pgbench's default mode, most ORMs' logging
//! paths) pay for sqlparser once per shape instead of once per statement;
//! parsing was a ninth of the server's CPU under pgbench.
//!
//! A hit clones the cached syntax tree and puts this text's literals in
//! place of the cached ones, so the result is exactly what parsing this text
//! would give: the same tree shape, with this text's values.
//!
//! Invariants that make that true:
//! * The scanner ([`scan`]) finds only plain integer literals and plain
//!   single-quoted strings; anything it cannot read for certain (comments,
//!   dollar quotes, E'' or B'' strings, decimals, exponents) makes the text
//!   uncacheable. Parameters (`$1`) stay in the key as they are, so the
//!   texts drivers send in the extended protocol (`… WHERE id = $1`) are
//!   cached too. Token kinds alone decide sqlparser's
//!   grammar, so two texts equal outside their literals parse to the same
//!   shape.
//! * A text is cached only when every literal the scanner found is a value
//!   expression of the tree at exactly its position and of its kind, and
//!   the tree has no other value expressions. Substitution maps literals
//!   to tree positions through that check, never by guessing an order.
//!
//! Bounded: texts over [`MAX_CACHED_SQL_BYTES`] are not cached, and the
//! cache holds at most [`MAX_ENTRIES`] shapes (it is emptied when full:
//! cheap, and a workload's hot shapes come back at once).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use sqlparser::ast;

use crate::Result;
use crate::sql::script::{ParsedStatement, parse_script};

/// Longest text cached.
pub const MAX_CACHED_SQL_BYTES: usize = 4096;
/// Most shapes kept.
pub const MAX_ENTRIES: usize = 1024;

/// One literal of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Literal {
    Integer(String),
    Text(String),
}

/// A literal and where it starts (1-based line and column, in characters,
/// as sqlparser counts them).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    literal: Literal,
    line: u64,
    column: u64,
}

/// What the cache knows of a shape: `None` when it was found not to be
/// cacheable, so later texts of that shape go straight to the parser.
type Entry = Option<Arc<Shape>>;

/// A cached shape: its statements, and for each value expression (in the
/// visitor's order) which literal of the text it holds (`None`: a
/// parameter, the same in every text of the shape).
struct Shape {
    statements: Vec<ast::Statement>,
    slots: Vec<Option<usize>>,
}

#[derive(Default)]
pub struct ParseCache {
    shapes: Mutex<BTreeMap<String, Entry>>,
}

impl ParseCache {
    /// [`parse_script`] of `sql`, from the cache when its shape is there.
    pub fn parse(&self, sql: &str) -> Result<Vec<ParsedStatement>> {
        let Some((key, found)) = scan(sql) else {
            return parse_script(sql);
        };
        let cached = self.shapes.lock().expect("parse cache lock").get(&key).cloned();
        match cached {
            Some(Some(shape)) => return Ok(instantiate(&shape, &found)),
            Some(None) => return parse_script(sql),
            None => {}
        }
        let parsed = parse_script(sql)?;
        let entry = shape_of(&parsed, &found).map(Arc::new);
        let mut shapes = self.shapes.lock().expect("parse cache lock");
        if shapes.len() >= MAX_ENTRIES {
            shapes.clear();
        }
        shapes.insert(key, entry);
        Ok(parsed)
    }
}

/// The statements of `parsed` as a shape, if every value expression is one
/// of `found` at its position and every literal of `found` is used once.
fn shape_of(parsed: &[ParsedStatement], found: &[Found]) -> Option<Shape> {
    let mut statements = Vec::with_capacity(parsed.len());
    for statement in parsed {
        match statement {
            ParsedStatement::Sql(statement) => statements.push(ast::Statement::clone(statement)),
            ParsedStatement::Vacuum(_) | ParsedStatement::Checkpoint => return None,
        }
    }
    let mut slots = Vec::new();
    let mut used = vec![false; found.len()];
    let outcome = ast::visit_expressions_mut(&mut statements, |expr| {
        if let ast::Expr::Value(value) = expr {
            if matches!(value.value, ast::Value::Placeholder(_)) {
                slots.push(None);
                return ControlFlow::Continue(());
            }
            let at = (value.span.start.line, value.span.start.column);
            let slot = found.iter().position(|f| (f.line, f.column) == at && same_kind(&f.literal, &value.value));
            match slot {
                Some(slot) if !used[slot] => {
                    used[slot] = true;
                    slots.push(Some(slot));
                }
                _ => return ControlFlow::Break(()),
            }
        }
        ControlFlow::Continue(())
    });
    (outcome.is_continue() && used.iter().all(|&u| u)).then_some(Shape { statements, slots })
}

fn same_kind(literal: &Literal, value: &ast::Value) -> bool {
    match (literal, value) {
        (Literal::Integer(text), ast::Value::Number(number, false)) => number == text,
        (Literal::Text(text), ast::Value::SingleQuotedString(s)) => s == text,
        _ => false,
    }
}

/// The cached statements with `found`'s literals in their slots.
fn instantiate(shape: &Shape, found: &[Found]) -> Vec<ParsedStatement> {
    let mut statements = shape.statements.clone();
    let mut next = 0;
    let _ = ast::visit_expressions_mut(&mut statements, |expr| {
        if let ast::Expr::Value(value) = expr {
            let slot = shape.slots[next];
            next += 1;
            let Some(slot) = slot else { return ControlFlow::Continue(()) };
            value.value = match &found[slot].literal {
                Literal::Integer(text) => ast::Value::Number(text.clone(), false),
                Literal::Text(text) => ast::Value::SingleQuotedString(text.clone()),
            };
        }
        ControlFlow::<()>::Continue(())
    });
    statements.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))).collect()
}

/// The text with its literals blanked out, and the literals; `None` if the
/// text holds anything the scanner cannot read for certain.
fn scan(sql: &str) -> Option<(String, Vec<Found>)> {
    if sql.len() > MAX_CACHED_SQL_BYTES {
        return None;
    }
    let chars: Vec<char> = sql.chars().collect();
    let mut key = String::with_capacity(sql.len());
    let mut found = Vec::new();
    let (mut line, mut column) = (1u64, 1u64);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = (line, column);
        let advance = |n: usize, i: &mut usize, line: &mut u64, column: &mut u64| {
            for &ch in &chars[*i..*i + n] {
                if ch == '\n' {
                    *line += 1;
                    *column = 1;
                } else {
                    *column += 1;
                }
            }
            *i += n;
        };
        match c {
            '-' if next == Some('-') => return None,
            '/' if next == Some('*') => return None,
            '$' if next.is_some_and(|n| n.is_ascii_digit()) => {
                let len = parameter_len(&chars[i..])?;
                key.extend(&chars[i..i + len]);
                advance(len, &mut i, &mut line, &mut column);
            }
            '$' | '\\' | '\u{1}' | '\u{2}' => return None,
            '\'' => {
                let (text, len) = quoted(&chars[i..], '\'')?;
                found.push(Found { literal: Literal::Text(text), line: start.0, column: start.1 });
                key.push('\u{2}');
                advance(len, &mut i, &mut line, &mut column);
            }
            '"' => {
                let (_, len) = quoted(&chars[i..], '"')?;
                key.extend(&chars[i..i + len]);
                advance(len, &mut i, &mut line, &mut column);
            }
            c if c.is_ascii_digit() => {
                let len = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                let after = chars.get(i + len).copied();
                if after.is_some_and(|a| is_word(a) || a == '.') {
                    return None;
                }
                let text: String = chars[i..i + len].iter().collect();
                found.push(Found { literal: Literal::Integer(text), line: start.0, column: start.1 });
                key.push('\u{1}');
                advance(len, &mut i, &mut line, &mut column);
            }
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => return None,
            c if is_word(c) => {
                let len = chars[i..].iter().take_while(|&&c| is_word(c)).count();
                // A prefixed string (E'', B'', X'', N'', U&'') is not plain.
                if matches!(chars.get(i + len), Some('\'') | Some('&')) {
                    return None;
                }
                key.extend(&chars[i..i + len]);
                advance(len, &mut i, &mut line, &mut column);
            }
            _ => {
                key.push(c);
                advance(1, &mut i, &mut line, &mut column);
            }
        }
    }
    Some((key, found))
}

/// The length of the parameter (`$` and digits) at the start of `chars`,
/// kept in the key as written; `None` if a word character follows.
fn parameter_len(chars: &[char]) -> Option<usize> {
    let len = 1 + chars[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    (!chars.get(len).copied().is_some_and(is_word)).then_some(len)
}

/// Whether `c` continues an identifier or keyword.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The content of the quoted token at the start of `chars` (doubled quotes
/// unescaped) and its length; `None` if it is not closed.
fn quoted(chars: &[char], quote: char) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut i = 1;
    loop {
        match *chars.get(i)? {
            c if c == quote && chars.get(i + 1) == Some(&quote) => {
                text.push(quote);
                i += 2;
            }
            c if c == quote => return Some((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(statements: &[ParsedStatement]) -> Vec<String> {
        statements
            .iter()
            .map(|s| match s {
                ParsedStatement::Sql(s) => s.to_string(),
                ParsedStatement::Vacuum(v) => format!("{v:?}"),
                ParsedStatement::Checkpoint => "CHECKPOINT".into(),
            })
            .collect()
    }

    /// Every text parses through the cache exactly as it does without it,
    /// whether its shape was cached by an earlier text or not.
    /// The cache's parse of `text` prints as a fresh parse does.
    fn assert_parses_as_fresh(cache: &ParseCache, text: &str) {
        let fresh = texts(&parse_script(text).unwrap());
        assert_eq!(texts(&cache.parse(text).unwrap()), fresh, "{text}");
    }

    #[test]
    fn cached_parses_equal_fresh_parses() {
        let cache = ParseCache::default();
        let texts_in_order = [
            "UPDATE pgbench_accounts SET abalance = abalance + 5 WHERE aid = 17;",
            "UPDATE pgbench_accounts SET abalance = abalance + -4990 WHERE aid = 99812;",
            "UPDATE pgbench_accounts SET abalance = abalance + 17 WHERE aid = 5;",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 3",
            "INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (1, 1, 2, 3, CURRENT_TIMESTAMP)",
            "INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (9, 8, 7, 6, CURRENT_TIMESTAMP)",
            "SELECT 'it''s', 'x' WHERE 'a' = 'a'",
            "SELECT 'héllo', 'x' WHERE 'b' = 'c'",
            "SELECT 1;\nSELECT 'two'\n  , 3",
            "SELECT 4;\nSELECT 'five'\n  , 6",
            "SELECT x FROM t LIMIT 10 OFFSET 20",
            "SELECT x FROM t LIMIT 30 OFFSET 40",
            "CREATE TABLE v (a VARCHAR(10))",
            "SELECT \"a1\" FROM t WHERE b = 1",
        ];
        for text in texts_in_order {
            assert_parses_as_fresh(&cache, text);
            assert_parses_as_fresh(&cache, text);
        }
        let shapes = cache.shapes.lock().unwrap().values().filter(|entry| entry.is_some()).count();
        assert!(shapes >= 5, "the common shapes are cached ({shapes})");
    }

    #[test]
    fn pgbench_statements_are_cached_with_negative_deltas_too() {
        let cache = ParseCache::default();
        let script = [
            "BEGIN;",
            "UPDATE pgbench_accounts SET abalance = abalance + -2783 WHERE aid = 4412;",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 4412;",
            "UPDATE pgbench_tellers SET tbalance = tbalance + -2783 WHERE tid = 3;",
            "UPDATE pgbench_branches SET bbalance = bbalance + -2783 WHERE bid = 1;",
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 4412, -2783, CURRENT_TIMESTAMP);",
            "END;",
        ];
        for text in script {
            cache.parse(text).unwrap();
        }
        assert!(cache.shapes.lock().unwrap().values().all(Option::is_some));
        assert_eq!(cache.shapes.lock().unwrap().len(), script.len());
    }

    #[test]
    fn texts_the_scanner_cannot_read_for_certain_are_not_cached() {
        for text in [
            "SELECT 1 -- comment",
            "SELECT /* c */ 1",
            "SELECT $1a",
            "SELECT $$x$$",
            "SELECT $tag$x$tag$",
            "SELECT E'a\\n'",
            "SELECT 1.5",
            "SELECT 1e3",
            "SELECT .5",
            "SELECT 'unclosed",
        ] {
            assert!(scan(text).is_none(), "{text}");
        }
        // A type modifier is not a value expression: scanned, but never a
        // shape; remembered as such, and still parsed right.
        let cache = ParseCache::default();
        for text in ["CREATE TABLE w (a VARCHAR(10))", "CREATE TABLE w (a VARCHAR(20))"] {
            assert_parses_as_fresh(&cache, text);
        }
        assert_eq!(cache.shapes.lock().unwrap().len(), 1);
        assert!(cache.shapes.lock().unwrap().values().all(Option::is_none));
    }

    /// Extended-protocol texts: parameters are part of the shape, literals
    /// beside them still slots.
    #[test]
    fn texts_with_parameters_are_cached() {
        let cache = ParseCache::default();
        let texts_in_order = [
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
            "SELECT $1, 5 WHERE $2 = 'a'",
            "SELECT $1, 7 WHERE $2 = 'b'",
            "SELECT $2, 7 WHERE $1 = 'b'",
            "SELECT $10 + $1",
        ];
        for text in texts_in_order {
            assert_parses_as_fresh(&cache, text);
        }
        let shapes = cache.shapes.lock().unwrap();
        assert!(shapes.values().all(Option::is_some));
        assert_eq!(shapes.len(), 4, "one shape per text apart from literals");
    }

    #[test]
    fn errors_are_not_cached_and_stay_errors() {
        let cache = ParseCache::default();
        assert!(cache.parse("SELEC 1").is_err());
        assert!(cache.parse("SELEC 2").is_err());
        assert!(cache.shapes.lock().unwrap().is_empty());
    }
}
