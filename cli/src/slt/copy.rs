//! `COPY table [(cols)] FROM 'file' …`: the engine reads no server-side
//! files, so the runner finds and reads the file and hands its data to the
//! engine's `COPY … FROM STDIN` (`Session::copy_from`).

use std::path::{Path, PathBuf};

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

/// The `COPY … FROM STDIN` statement that loads the file through the
/// engine's own COPY.
pub fn stdin_statement(spec: &CopySpec) -> String {
    let target = match &spec.columns {
        Some(columns) => format!("{} {columns}", spec.table),
        None => spec.table.clone(),
    };
    let format = if spec.csv { "csv" } else { "text" };
    let delimiter = spec.delimiter.to_string().replace('\'', "''");
    format!("COPY {target} FROM STDIN WITH (FORMAT {format}, DELIMITER '{delimiter}', HEADER {})", spec.header)
}

/// The file's data as COPY reads it: TPC-H `.tbl` lines end with a
/// delimiter, which only ends the row.
pub fn stdin_data(text: &str, spec: &CopySpec) -> String {
    if spec.csv {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        out.push_str(line.strip_suffix(spec.delimiter).unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(stdin_data("1|a b||\r\n2|\\N|x|\n", &spec), "1|a b|\n2|\\N|x\n");
        assert_eq!(stdin_statement(&spec), "COPY t FROM STDIN WITH (FORMAT text, DELIMITER '|', HEADER false)");
    }

    #[test]
    fn csv_files_pass_through_with_their_options() {
        let spec = parse_copy("COPY t (a, b) FROM 'x' CSV HEADER").unwrap();
        assert_eq!(stdin_data("a,b\n1,\n", &spec), "a,b\n1,\n");
        assert_eq!(stdin_statement(&spec), "COPY t (a, b) FROM STDIN WITH (FORMAT csv, DELIMITER ',', HEADER true)");
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
