//! Splitting SQL text into statements, including the PostgreSQL utility
//! statements sqlparser does not parse the way PostgreSQL does.
//!
//! sqlparser reads `VACUUM ANALYZE t` as a vacuum of a table named
//! `analyze` followed by garbage, so VACUUM is recognised here, from the
//! tokens, and everything else goes to sqlparser unchanged. Statement
//! boundaries are the top-level semicolons of the token stream, so a
//! semicolon inside a string or a dollar-quoted body never splits.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::sql::session::parse;
use crate::{Error, Result};

/// One statement of a script.
#[derive(Debug, Clone)]
pub enum ParsedStatement {
    Sql(Box<ast::Statement>),
    Vacuum(VacuumCommand),
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
            ParsedStatement::Vacuum(_) => None,
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
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| Error::sql("42601", format!("syntax error: {e}")))?;
    if !tokens.iter().any(|t| is_keyword(t, Keyword::VACUUM) || is_keyword(t, Keyword::COPY)) {
        return Ok(parse(sql)?.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))).collect());
    }
    let mut out = Vec::new();
    for group in tokens.split(|t| *t == Token::SemiColon) {
        let words: Vec<&Token> = group.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
        match words.first() {
            None => {}
            Some(first) if is_keyword(first, Keyword::VACUUM) => {
                out.push(ParsedStatement::Vacuum(vacuum(&words[1..])?))
            }
            Some(first) => {
                let mut group = group.to_vec();
                if is_keyword(first, Keyword::COPY) {
                    spell_copy_booleans(&mut group);
                }
                let text: String = group.iter().map(ToString::to_string).collect();
                out.extend(parse(&text)?.into_iter().map(|s| ParsedStatement::Sql(Box::new(s))));
            }
        }
    }
    Ok(out)
}

/// COPY options take PostgreSQL booleans (`FREEZE ON`, `HEADER off`);
/// sqlparser knows only TRUE and FALSE, so ON/OFF after an option name are
/// spelled that way before parsing.
fn spell_copy_booleans(tokens: &mut [Token]) {
    let mut previous_word: Option<String> = None;
    for token in tokens.iter_mut() {
        if let Token::Word(w) = token {
            let value = w.value.to_lowercase();
            let after_option = matches!(previous_word.as_deref(), Some("freeze" | "header"));
            if w.quote_style.is_none() && after_option && (value == "on" || value == "off") {
                *token = Token::make_keyword(if value == "on" { "TRUE" } else { "FALSE" });
                previous_word = None;
                continue;
            }
            previous_word = Some(value);
        } else if !matches!(token, Token::Whitespace(_)) {
            previous_word = None;
        }
    }
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
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
    fn scripts_split_at_top_level_semicolons_only() {
        let parsed = parse_script("SELECT 'a;b'; VACUUM t; SELECT 2").unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(matches!(parsed[1], ParsedStatement::Vacuum(_)));
        let copy = parse_script("copy t from stdin with (freeze on, header off)").unwrap();
        assert_eq!(copy[0].copy_direction(), Some(CopyDirection::FromStdin));
    }
}
