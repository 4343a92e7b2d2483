//! Splitting SQL text into statements, including the PostgreSQL utility
//! statements sqlparser does not parse the way PostgreSQL does.
//!
//! sqlparser reads `VACUUM ANALYZE t` as a vacuum of a table named
//! `analyze` followed by garbage, so VACUUM is recognised here, from the
//! tokens, as is PostgreSQL's `CHECKPOINT`, which sqlparser does not know;
//! everything else goes to sqlparser unchanged. Statement
//! boundaries are the top-level semicolons of the token stream, so a
//! semicolon inside a string or a dollar-quoted body never splits.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::sql::session::parse;
use crate::{Error, Result};

/// One statement of a script.
#[derive(Debug, Clone)]
pub enum ParsedStatement {
    Sql(Box<ast::Statement>),
    Vacuum(VacuumCommand),
    /// `CHECKPOINT`: write every dirty page and start recovery from here.
    Checkpoint,
}

/// `VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [, …]]` and the
/// parenthesised option list form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumCommand {
    pub tables: Vec<String>,
    pub analyze: bool,
    pub full: bool,
}

/// Which way a COPY statement moves data over the client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDirection {
    FromStdin,
    ToStdout,
}

impl ParsedStatement {
    /// For COPY … FROM STDIN / TO STDOUT: which way data flows.
    pub fn copy_direction(&self) -> Option<CopyDirection> {
        match self {
            ParsedStatement::Sql(statement) => copy_direction(statement),
            ParsedStatement::Vacuum(_) | ParsedStatement::Checkpoint => None,
        }
    }
}

/// Which way a COPY statement moves data over the client connection, if it does.
pub(crate) fn copy_direction(statement: &ast::Statement) -> Option<CopyDirection> {
    match statement {
        ast::Statement::Copy { to: false, target: ast::CopyTarget::Stdin, payload: None, .. } => {
            Some(CopyDirection::FromStdin)
        }
        ast::Statement::Copy { to: true, target: ast::CopyTarget::Stdout, .. } => Some(CopyDirection::ToStdout),
        _ => None,
    }
}

/// Parses every statement of `sql`.
pub fn parse_script(sql: &str) -> Result<Vec<ParsedStatement>> {
    // Tokenizing twice costs every statement; only text that may hold the
    // keywords takes the token path.
    let may_need_tokens = sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"copy") || w.eq_ignore_ascii_case(b"vacu") || w.eq_ignore_ascii_case(b"chec"));
    if !may_need_tokens {
        return Ok(parse(sql)?.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))).collect());
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| Error::sql("42601", format!("syntax error: {e}")))?;
    let special = |t: &TokenWithSpan| {
        is_keyword(&t.token, Keyword::VACUUM) || is_keyword(&t.token, Keyword::COPY) || is_checkpoint(&t.token)
    };
    if !tokens.iter().any(special) {
        return Ok(parse(sql)?.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))).collect());
    }
    let offsets = LineOffsets::new(sql);
    let mut out = Vec::new();
    let mut start = 0;
    for group in tokens.split(|t| t.token == Token::SemiColon) {
        let words: Vec<&TokenWithSpan> = group.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).collect();
        let end = group.last().map_or(start, |t| offsets.of(t.span.end));
        let text = &sql[start..end];
        // Past this group and the semicolon that ended it.
        start = (end + 1).min(sql.len());
        match words.first() {
            None => {}
            Some(first) if is_keyword(&first.token, Keyword::VACUUM) => {
                let words: Vec<&Token> = words[1..].iter().map(|t| &t.token).collect();
                out.push(ParsedStatement::Vacuum(vacuum(&words)?));
            }
            Some(first) if is_checkpoint(&first.token) => {
                if let Some(extra) = words.get(1) {
                    return Err(Error::sql("42601", format!("syntax error at or near \"{}\"", extra.token)));
                }
                out.push(ParsedStatement::Checkpoint);
            }
            Some(first) => {
                let text = if is_keyword(&first.token, Keyword::COPY) {
                    spell_copy_booleans(sql, &words, &offsets, text)
                } else {
                    text.to_string()
                };
                out.extend(parse(&text)?.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))));
            }
        }
    }
    Ok(out)
}

/// Byte offsets of tokenizer locations (1-based lines and character columns).
struct LineOffsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(sql: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(sql.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineOffsets { sql, line_starts }
    }

    fn of(&self, location: Location) -> usize {
        let Some(&line_start) = self.line_starts.get((location.line as usize).saturating_sub(1)) else {
            return self.sql.len();
        };
        let column = (location.column as usize).saturating_sub(1);
        self.sql[line_start..].char_indices().nth(column).map_or(self.sql.len(), |(i, _)| line_start + i)
    }
}

/// COPY options take PostgreSQL booleans (`FREEZE ON`, `HEADER off`);
/// sqlparser knows only TRUE and FALSE, so ON/OFF after an option name are
/// respelled in the statement's text (`text`, which starts at the group's
/// first token) before parsing.
fn spell_copy_booleans(sql: &str, words: &[&TokenWithSpan], offsets: &LineOffsets<'_>, text: &str) -> String {
    let base = text.as_ptr() as usize - sql.as_ptr() as usize;
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for pair in words.windows(2) {
        let (Token::Word(option), Token::Word(value)) = (&pair[0].token, &pair[1].token) else { continue };
        let option = option.value.to_lowercase();
        let value_text = value.value.to_lowercase();
        if value.quote_style.is_none()
            && matches!(option.as_str(), "freeze" | "header")
            && matches!(value_text.as_str(), "on" | "off")
        {
            let at = offsets.of(pair[1].span.start) - base;
            out.push_str(&text[copied..at]);
            out.push_str(if value_text == "on" { "TRUE" } else { "FALSE" });
            copied = at + value.value.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// sqlparser has no CHECKPOINT keyword; an unquoted word spelled so is one.
fn is_checkpoint(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("checkpoint"))
}

fn vacuum(words: &[&Token]) -> Result<VacuumCommand> {
    let mut command = VacuumCommand { tables: Vec::new(), analyze: false, full: false };
    let mut rest = words;
    if rest.first() == Some(&&Token::LParen) {
        let close = rest
            .iter()
            .position(|t| **t == Token::RParen)
            .ok_or_else(|| Error::sql("42601", "syntax error: unterminated VACUUM option list"))?;
        for option in rest[1..close].split(|t| **t == Token::Comma) {
            let name = option.first().map(|t| t.to_string().to_lowercase()).unwrap_or_default();
            let enabled =
                option.get(1).is_none_or(|v| !matches!(v.to_string().to_lowercase().as_str(), "false" | "off" | "0"));
            apply_option(&mut command, &name, enabled)?;
        }
        rest = &rest[close + 1..];
    } else {
        while let Some(Token::Word(w)) = rest.first() {
            let name = w.value.to_lowercase();
            if w.quote_style.is_some()
                || !matches!(name.as_str(), "full" | "freeze" | "verbose" | "analyze" | "analyse")
            {
                break;
            }
            apply_option(&mut command, &name, true)?;
            rest = &rest[1..];
        }
    }
    for table in rest.split(|t| **t == Token::Comma).filter(|_| !rest.is_empty()) {
        match table {
            [Token::Word(w)] => {
                command.tables.push(if w.quote_style.is_some() { w.value.clone() } else { w.value.to_lowercase() })
            }
            _ => {
                let text: Vec<String> = table.iter().map(ToString::to_string).collect();
                return Err(Error::sql("42601", format!("syntax error in VACUUM at \"{}\"", text.join(" "))));
            }
        }
    }
    Ok(command)
}

fn apply_option(command: &mut VacuumCommand, name: &str, enabled: bool) -> Result<()> {
    match name {
        "analyze" | "analyse" => command.analyze = enabled,
        "full" => command.full = enabled,
        // Versions are removed once no snapshot can see them; there is no
        // separate freezing step, and VERBOSE output is not produced.
        "freeze" | "verbose" | "skip_locked" | "index_cleanup" | "truncate" | "process_toast" => {}
        other => return Err(Error::sql("42601", format!("unrecognized VACUUM option \"{other}\""))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vacuum_of(sql: &str) -> VacuumCommand {
        match parse_script(sql).unwrap().pop().unwrap() {
            ParsedStatement::Vacuum(v) => v,
            other => panic!("not a vacuum: {other:?}"),
        }
    }

    #[test]
    fn vacuum_forms_parse_as_postgresql_reads_them() {
        assert_eq!(
            vacuum_of("vacuum analyze pgbench_tellers"),
            VacuumCommand { tables: vec!["pgbench_tellers".into()], analyze: true, full: false }
        );
        assert_eq!(vacuum_of("VACUUM"), VacuumCommand { tables: vec![], analyze: false, full: false });
        assert_eq!(
            vacuum_of("VACUUM (ANALYZE, VERBOSE false) a, \"B\""),
            VacuumCommand { tables: vec!["a".into(), "B".into()], analyze: true, full: false }
        );
        assert!(vacuum_of("vacuum full").full);
        assert!(parse_script("vacuum (bogus) t").is_err());
        assert!(parse_script("vacuum t u").is_err());
    }

    #[test]
    fn checkpoint_is_a_statement_of_its_own() {
        let parsed = parse_script("select 1; checkpoint ; CHECKPOINT").unwrap();
        assert!(matches!(
            parsed[..],
            [ParsedStatement::Sql(_), ParsedStatement::Checkpoint, ParsedStatement::Checkpoint]
        ));
        assert!(parse_script("CHECKPOINT now").is_err());
        // A column of that name is still a column.
        assert!(matches!(parse_script("SELECT checkpoint FROM t").unwrap()[..], [ParsedStatement::Sql(_)]));
    }

    #[test]
    fn scripts_split_at_top_level_semicolons_only() {
        let parsed = parse_script("SELECT 'a;b'; VACUUM t; SELECT 2").unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(matches!(parsed[1], ParsedStatement::Vacuum(_)));
        let quoted = parse_script("SELECT 'it''s;'; COPY t FROM STDIN; SELECT 'é', \"a\"\"b\"").unwrap();
        assert_eq!(quoted.len(), 3);
        match &quoted[0] {
            ParsedStatement::Sql(s) => assert_eq!(s.to_string(), "SELECT 'it''s;'"),
            other => panic!("{other:?}"),
        }
        let copy = parse_script("copy t from stdin with (freeze on, header off)").unwrap();
        assert_eq!(copy[0].copy_direction(), Some(CopyDirection::FromStdin));
    }
}
