//! COPY … FROM STDIN / TO STDOUT in PostgreSQL's text and CSV formats.
//!
//! Text format: fields separated by a delimiter (tab), `\N` for NULL,
//! backslash escapes (`\t`, `\n`, `\\` …), one row per line, an optional
//! `\.` end marker. CSV: fields separated by a delimiter (comma), quoted with
//! `"` when they hold the delimiter, quotes or newlines, doubled quotes
//! inside; an unquoted empty field is NULL; an optional header line.
//! Reading from or writing to server-side files and programs is not
//! supported (SQLSTATE 0A000): data flows through the client.

use sqlparser::ast;

use crate::{Error, Result};

/// The most bytes of COPY data one call accepts.
pub const MAX_COPY_BYTES: usize = 1 << 30;

/// How COPY data is laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyFormat {
    pub csv: bool,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
}

impl CopyFormat {
    /// The format a COPY statement's options describe.
    pub fn from_options(options: &[ast::CopyOption], legacy: &[ast::CopyLegacyOption]) -> Result<CopyFormat> {
        let mut csv = false;
        for option in options {
            if let ast::CopyOption::Format(f) = option {
                csv = match f.value.to_lowercase().as_str() {
                    "csv" => true,
                    "text" => false,
                    other => return Err(Error::NotSupported(format!("COPY format {other}"))),
                };
            }
        }
        csv |= legacy.iter().any(|o| matches!(o, ast::CopyLegacyOption::Csv(_)));
        let mut format = CopyFormat {
            csv,
            delimiter: if csv { ',' } else { '\t' },
            null: if csv { String::new() } else { "\\N".into() },
            header: false,
            quote: '"',
        };
        for option in options {
            match option {
                ast::CopyOption::Delimiter(c) => format.delimiter = *c,
                ast::CopyOption::Null(n) => format.null = n.clone(),
                ast::CopyOption::Header(h) => format.header = *h,
                ast::CopyOption::Quote(q) => format.quote = *q,
                ast::CopyOption::Format(_) | ast::CopyOption::Encoding(_) | ast::CopyOption::Freeze(_) => {}
                other => return Err(Error::NotSupported(format!("COPY option {other}"))),
            }
        }
        for option in legacy {
            match option {
                ast::CopyLegacyOption::Delimiter(c) => format.delimiter = *c,
                ast::CopyLegacyOption::Null(n) => format.null = n.clone(),
                ast::CopyLegacyOption::Header => format.header = true,
                ast::CopyLegacyOption::Csv(opts) => {
                    for o in opts {
                        match o {
                            ast::CopyLegacyCsvOption::Header => format.header = true,
                            ast::CopyLegacyCsvOption::Quote(q) => format.quote = *q,
                            other => return Err(Error::NotSupported(format!("COPY CSV option {other}"))),
                        }
                    }
                }
                other => return Err(Error::NotSupported(format!("COPY option {other}"))),
            }
        }
        Ok(format)
    }

    /// Splits COPY data into rows of fields (`None` is NULL).
    pub fn parse(&self, data: &str) -> Result<Vec<Vec<Option<String>>>> {
        if data.len() > MAX_COPY_BYTES {
            return Err(Error::sql("54000", "COPY data larger than 1 GiB"));
        }
        let mut rows = if self.csv { self.parse_csv(data)? } else { self.parse_text(data)? };
        if self.header && !rows.is_empty() {
            rows.remove(0);
        }
        Ok(rows)
    }

    fn parse_text(&self, data: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut rows = Vec::new();
        for line in data.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line == "\\." {
                break;
            }
            if line.is_empty() {
                continue;
            }
            let fields = line
                .split(self.delimiter)
                .map(|raw| if raw == self.null { Ok(None) } else { unescape_text(raw).map(Some) })
                .collect::<Result<Vec<_>>>()?;
            rows.push(fields);
        }
        Ok(rows)
    }

    fn parse_csv(&self, data: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut rows = Vec::new();
        let mut row: Vec<Option<String>> = Vec::new();
        let mut field = String::new();
        let (mut quoted, mut in_quotes, mut any) = (false, false, false);
        let mut chars = data.chars().peekable();
        while let Some(c) = chars.next() {
            if in_quotes {
                if c == self.quote {
                    if chars.peek() == Some(&self.quote) {
                        field.push(c);
                        chars.next();
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                c if c == self.quote => {
                    in_quotes = true;
                    quoted = true;
                    any = true;
                }
                c if c == self.delimiter => {
                    row.push(self.csv_field(std::mem::take(&mut field), quoted));
                    quoted = false;
                    any = true;
                }
                '\n' => {
                    if any || !field.is_empty() {
                        row.push(self.csv_field(std::mem::take(&mut field), quoted));
                        rows.push(std::mem::take(&mut row));
                    }
                    quoted = false;
                    any = false;
                }
                '\r' => {}
                c => {
                    field.push(c);
                    any = true;
                }
            }
        }
        if in_quotes {
            return Err(Error::sql("22P04", "unterminated CSV quoted field"));
        }
        if any || !field.is_empty() {
            row.push(self.csv_field(field, quoted));
            rows.push(row);
        }
        Ok(rows)
    }

    fn csv_field(&self, field: String, quoted: bool) -> Option<String> {
        if !quoted && field == self.null { None } else { Some(field) }
    }

    /// Writes rows of text fields (`None` is NULL) in this format.
    pub fn write(&self, rows: &[Vec<Option<String>>], header: Option<&[String]>) -> String {
        let mut out = String::new();
        if let (true, Some(names)) = (self.header, header) {
            let names: Vec<Option<String>> = names.iter().cloned().map(Some).collect();
            self.write_row(&names, &mut out);
        }
        for row in rows {
            self.write_row(row, &mut out);
        }
        out
    }

    fn write_row(&self, row: &[Option<String>], out: &mut String) {
        for (i, field) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            match field {
                None => out.push_str(&self.null),
                Some(text) if self.csv => {
                    let needs_quotes = text.is_empty()
                        || text.contains(self.delimiter)
                        || text.contains(self.quote)
                        || text.contains(['\n', '\r']);
                    if needs_quotes {
                        out.push(self.quote);
                        for c in text.chars() {
                            if c == self.quote {
                                out.push(c);
                            }
                            out.push(c);
                        }
                        out.push(self.quote);
                    } else {
                        out.push_str(text);
                    }
                }
                Some(text) => escape_text(text, self.delimiter, out),
            }
        }
        out.push('\n');
    }
}

fn unescape_text(raw: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => return Err(Error::sql("22P04", "COPY field ends with a lone backslash")),
        }
    }
    Ok(out)
}

fn escape_text(text: &str, delimiter: char, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' if delimiter == '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == delimiter => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> CopyFormat {
        CopyFormat::from_options(&[], &[]).unwrap()
    }

    fn csv() -> CopyFormat {
        CopyFormat { csv: true, delimiter: ',', null: String::new(), header: false, quote: '"' }
    }

    #[test]
    fn text_format_round_trips_escapes_and_nulls() {
        let rows = vec![vec![Some("a\tb".to_string()), None, Some("back\\slash\nline".into())]];
        let data = text().write(&rows, None);
        assert_eq!(data, "a\\tb\t\\N\tback\\\\slash\\nline\n");
        assert_eq!(text().parse(&format!("{data}\\.\n")).unwrap(), rows);
    }

    #[test]
    fn csv_quotes_and_distinguishes_empty_from_null() {
        let rows = vec![vec![Some("x,y".to_string()), Some(String::new()), None, Some("say \"hi\"".into())]];
        let data = csv().write(&rows, None);
        assert_eq!(data, "\"x,y\",\"\",,\"say \"\"hi\"\"\"\n");
        assert_eq!(csv().parse(&data).unwrap(), rows);
        assert!(csv().parse("\"open").is_err());
    }
}
