//! `COPY table [(cols)] FROM 'file' …`, done by the runner: the file is read
//! here and its rows sent as `INSERT … VALUES` statements, every field a
//! string literal that the column's type takes on assignment.

use std::path::{Path, PathBuf};

/// Rows per `INSERT` statement.
const CHUNK: usize = 500;

/// A parsed `COPY … FROM 'file'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub table: String,
    /// The column list as written, parentheses included.
    pub columns: Option<String>,
    pub path: String,
    pub delimiter: char,
    pub csv: bool,
    pub header: bool,
}

/// Parses `COPY <table> [(cols)] FROM '<path>' [options]`; `None` if the
/// statement is not a COPY from a file.
pub fn parse_copy(sql: &str) -> Option<CopySpec> {
    let sql = sql.trim().trim_end_matches(';');
    let rest = strip_keyword(sql, "COPY")?;
    let name_end = rest.find(|c: char| c.is_whitespace() || c == '(')?;
    let table = rest[..name_end].to_string();
    let mut rest = rest[name_end..].trim_start();
    let mut columns = None;
    if rest.starts_with('(') {
        let close = rest.find(')')?;
        columns = Some(rest[..=close].to_string());
        rest = rest[close + 1..].trim_start();
    }
    let rest = strip_keyword(rest, "FROM")?;
    let (path, options) = quoted(rest)?;
    let words = option_words(options);
    let csv = words.windows(2).any(|w| w[0] == "FORMAT" && w[1] == "CSV") || words.iter().any(|w| w == "CSV");
    let header = words
        .iter()
        .enumerate()
        .any(|(i, w)| w == "HEADER" && !matches!(words.get(i + 1).map(String::as_str), Some("FALSE" | "OFF" | "0")));
    let delimiter = match options.to_ascii_uppercase().find("DELIMITER") {
        Some(at) => quoted(options[at + "DELIMITER".len()..].trim_start())?.0.chars().next()?,
        None if csv => ',',
        None => '\t',
    };
    Some(CopySpec { table, columns, path, delimiter, csv, header })
}

/// `text` without a leading keyword (any case) and the whitespace after it.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace)).then(|| rest.trim_start())
}

/// A leading `'…'` literal ('' escapes a quote) and the text after it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('\'')?;
    let mut value = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            value.push(c);
        } else if chars.peek().is_some_and(|&(_, n)| n == '\'') {
            value.push('\'');
            chars.next();
        } else {
            return Some((value, &body[i + 1..]));
        }
    }
    None
}

/// The option keywords, upper-cased, quoted literals left out.
fn option_words(options: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut in_quote = false;
    let mut word = String::new();
    for c in options.chars() {
        if c == '\'' {
            in_quote = !in_quote;
        } else if !in_quote && c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_uppercase());
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The data file: `path` if absolute, else relative to the first of the
/// test file's directory and its ancestors where it exists.
pub fn resolve_path(test_dir: &Path, path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    test_dir.ancestors().map(|dir| dir.join(p)).find(|candidate| candidate.exists())
}

/// The rows of a data file; `None` is a NULL field.
pub fn parse_data(text: &str, spec: &CopySpec) -> Vec<Vec<Option<String>>> {
    let mut rows = if spec.csv { parse_csv(text, spec.delimiter) } else { parse_text(text, spec.delimiter) };
    if spec.header && !rows.is_empty() {
        rows.remove(0);
    }
    rows
}

/// PostgreSQL's text format (`\N` is NULL, backslash escapes), also taking
/// TPC-H `.tbl` files: a delimiter ending a line ends the row.
fn parse_text(text: &str, delimiter: char) -> Vec<Vec<Option<String>>> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty() && *line != "\\.")
        .map(|line| {
            let line = line.strip_suffix(delimiter).unwrap_or(line);
            line.split(delimiter).map(unescape_text_field).collect()
        })
        .collect()
}

fn unescape_text_field(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

/// CSV as PostgreSQL reads it: `"…"` quotes a field (`""` is a quote), an
/// unquoted empty field is NULL and a quoted one the empty string.
fn parse_csv(text: &str, delimiter: char) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes) = (false, false);
    let mut chars = text.chars().peekable();
    let finish = |field: &mut String, quoted: &mut bool| {
        let value = if field.is_empty() && !*quoted { None } else { Some(std::mem::take(field)) };
        *quoted = false;
        value
    };
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => {
                in_quotes = !in_quotes;
                quoted = true;
            }
            c if in_quotes => field.push(c),
            c if c == delimiter => row.push(finish(&mut field, &mut quoted)),
            '\r' => {}
            '\n' => {
                row.push(finish(&mut field, &mut quoted));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || quoted || !row.is_empty() {
        row.push(finish(&mut field, &mut quoted));
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].is_none()));
    rows
}

/// `INSERT` statements loading `rows`, [`CHUNK`] rows each.
pub fn insert_statements(spec: &CopySpec, rows: &[Vec<Option<String>>]) -> Vec<String> {
    let target = match &spec.columns {
        Some(columns) => format!("{} {columns}", spec.table),
        None => spec.table.clone(),
    };
    rows.chunks(CHUNK)
        .map(|chunk| {
            let values: Vec<String> = chunk.iter().map(|row| format!("({})", row_literals(row))).collect();
            format!("INSERT INTO {target} VALUES {}", values.join(", "))
        })
        .collect()
}

fn row_literals(row: &[Option<String>]) -> String {
    let literals: Vec<String> = row
        .iter()
        .map(|field| match field {
            Some(s) => format!("'{}'", s.replace('\'', "''")),
            None => "NULL".to_string(),
        })
        .collect();
    literals.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn parses_risinglight_copy() {
        let spec = parse_copy("COPY NATION FROM 'tests/sql/tpch/tbl/nation.tbl' ( DELIMITER '|' );").unwrap();
        assert_eq!(spec.table, "NATION");
        assert_eq!(spec.path, "tests/sql/tpch/tbl/nation.tbl");
        assert_eq!((spec.delimiter, spec.csv, spec.header, spec.columns), ('|', false, false, None));
    }

    #[test]
    fn parses_datafusion_copy() {
        let sql = "COPY aggregate_test_100_by_sql\n    FROM '../../testing/data/csv/aggregate_test_100.csv'\n    DELIMITER ','\n    CSV HEADER;";
        let spec = parse_copy(sql).unwrap();
        assert_eq!(spec.table, "aggregate_test_100_by_sql");
        assert_eq!((spec.delimiter, spec.csv, spec.header), (',', true, true));
        let spec = parse_copy("copy t(a, b) from 'x.csv' with (format csv, header true)").unwrap();
        assert_eq!((spec.table.as_str(), spec.columns.as_deref()), ("t", Some("(a, b)")));
        assert_eq!((spec.delimiter, spec.csv, spec.header), (',', true, true));
        assert!(parse_copy("COPY t TO 'x'").is_none());
        assert!(parse_copy("SELECT 1").is_none());
        assert!(parse_copy("copyright").is_none());
    }

    #[test]
    fn tbl_rows_drop_the_trailing_delimiter() {
        let spec = parse_copy("COPY t FROM 'x' ( DELIMITER '|' )").unwrap();
        let rows = parse_data("1|a b||\n2|\\N|x|\n\n", &spec);
        assert_eq!(rows, vec![vec![s("1"), s("a b"), s("")], vec![s("2"), None, s("x")]]);
    }

    #[test]
    fn csv_quotes_nulls_and_header() {
        let spec = parse_copy("COPY t FROM 'x' CSV HEADER").unwrap();
        let rows = parse_data("a,b,c\n1,,\"\"\n\"x,\"\"y\"\"\",2,\"multi\nline\"\r\n3,4,5", &spec);
        assert_eq!(
            rows,
            vec![vec![s("1"), None, s("")], vec![s("x,\"y\""), s("2"), s("multi\nline")], vec![s("3"), s("4"), s("5")]]
        );
    }

    #[test]
    fn inserts_in_chunks_with_quoted_literals() {
        let spec = parse_copy("COPY t (a, b) FROM 'x' CSV").unwrap();
        let rows = vec![vec![s("it's"), None]; 1001];
        let statements = insert_statements(&spec, &rows);
        assert_eq!(statements.len(), 3);
        assert!(statements[0].starts_with("INSERT INTO t (a, b) VALUES ('it''s', NULL), ('it''s', NULL)"));
        assert_eq!(statements[2], "INSERT INTO t (a, b) VALUES ('it''s', NULL)");
    }

    #[test]
    fn data_paths_resolve_upwards() {
        let dir = std::env::temp_dir().join(format!("rustydb-slt-copy-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b/c")).unwrap();
        std::fs::write(dir.join("a/data.csv"), "1\n").unwrap();
        assert_eq!(resolve_path(&dir.join("a/b/c"), "data.csv"), Some(dir.join("a/data.csv")));
        assert_eq!(resolve_path(&dir.join("a/b/c"), "../../data.csv"), Some(dir.join("a/b/c/../../data.csv")));
        assert_eq!(resolve_path(&dir.join("a/b/c"), "missing.csv"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
