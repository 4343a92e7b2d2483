//! Finding test files and reading them into records: conditions, includes,
//! and the SQLite-format quirks the `sqllogictest` parser does not take
//! (a `# comment` after a condition's label, a conditional `halt`).

use std::path::{Path, PathBuf};

use sqllogictest::{Condition, DefaultColumnType, Record};

/// The labels `onlyif`/`skipif` see for this engine.
pub const LABELS: [&str; 3] = ["postgresql", "postgres", "rustydb"];

pub type Records = Vec<Record<DefaultColumnType>>;

fn has_label(label: &str) -> bool {
    LABELS.iter().any(|l| l.eq_ignore_ascii_case(label))
}

/// Whether a record guarded by `conditions` is skipped for this engine.
pub fn should_skip(conditions: &[Condition]) -> bool {
    conditions.iter().any(|c| match c {
        Condition::OnlyIf { label } => !has_label(label),
        Condition::SkipIf { label } => has_label(label),
    })
}

/// A condition line without its trailing comment, or `None` for other lines.
fn condition_line(line: &str) -> Option<(Condition, String)> {
    let code = line.split('#').next().unwrap_or("");
    let mut words = code.split_whitespace();
    let keyword = words.next()?;
    let label = words.next()?.to_string();
    if words.next().is_some() {
        return None;
    }
    let condition = match keyword {
        "onlyif" => Condition::OnlyIf { label },
        "skipif" => Condition::SkipIf { label },
        _ => return None,
    };
    Some((condition, code.trim_end().to_string()))
}

/// Rewrites a script so the parser takes it, keeping every line number:
/// comments after a condition's label are cut; a `halt` guarded by
/// conditions stays (bare) if they apply to us and goes otherwise, as in
/// SQLite's runner, whose conditions guard a halt like any record.
pub fn preprocess(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let mut run = Vec::new();
        while let Some(parsed) = lines.get(i + run.len()).and_then(|l| condition_line(l)) {
            run.push(parsed);
        }
        if run.is_empty() {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let end = i + run.len();
        if lines.get(end).is_some_and(|l| l.trim() == "halt") {
            let conditions: Vec<Condition> = run.into_iter().map(|(c, _)| c).collect();
            out.extend(std::iter::repeat_n("# (runner) condition on halt".to_string(), conditions.len()));
            out.push(if should_skip(&conditions) { "# (runner) halt not for us" } else { "halt" }.to_string());
            i = end + 1;
        } else {
            out.extend(run.into_iter().map(|(_, line)| line));
            i = end;
        }
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// Reads a file's records, with included files' records spliced in after
/// each `include` (paths relative to the including file).
pub fn load(path: &Path) -> Result<Records, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.to_string_lossy().to_string();
    let parsed: Records = sqllogictest::parse_with_name(&preprocess(&text), name).map_err(|e| e.to_string())?;
    let mut records = Vec::with_capacity(parsed.len());
    for record in parsed {
        let include = match &record {
            Record::Include { filename, .. } => Some(filename.clone()),
            _ => None,
        };
        records.push(record);
        if let Some(filename) = include {
            let dir = path.parent().unwrap_or(Path::new("."));
            let matches = expand_include(dir, &filename)?;
            for file in matches {
                records.extend(load(&file)?);
            }
        }
    }
    Ok(records)
}

/// An include's files: a plain path, or a `*` pattern in its last part.
fn expand_include(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let name = full.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if !name.contains('*') {
        return if full.exists() { Ok(vec![full]) } else { Err(format!("include {pattern}: no such file")) };
    }
    let parent = full.parent().unwrap_or(dir);
    let mut found: Vec<PathBuf> = std::fs::read_dir(parent)
        .map_err(|e| format!("include {pattern}: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| wildcard_match(&name, &n.to_string_lossy())))
        .collect();
    found.sort();
    if found.is_empty() { Err(format!("include {pattern}: no file matches")) } else { Ok(found) }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether a directory walk runs this file: a test file, not a fragment.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    !name.starts_with('_') && [".test", ".slt", ".slt.part"].iter().any(|ext| name.ends_with(ext))
}

/// The files to run: each file argument as given, each directory searched
/// recursively (sorted) for test files.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files).map_err(|e| format!("{}: {e}", path.display()))?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, files)?;
        } else if is_test_file(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(label: &str) -> Condition {
        Condition::OnlyIf { label: label.into() }
    }

    fn skip(label: &str) -> Condition {
        Condition::SkipIf { label: label.into() }
    }

    #[test]
    fn conditions_use_our_labels() {
        assert!(!should_skip(&[]));
        assert!(!should_skip(&[only("postgresql")]));
        assert!(!should_skip(&[only("postgres")]));
        assert!(should_skip(&[only("mysql")]));
        assert!(should_skip(&[only("DataFusion")]));
        assert!(should_skip(&[skip("postgresql")]));
        assert!(!should_skip(&[skip("mssql")]));
        assert!(should_skip(&[skip("mssql"), skip("postgresql")]));
        assert!(should_skip(&[only("postgresql"), only("sqlite")]));
    }

    #[test]
    fn condition_comments_are_cut() {
        let text = "skipif mysql # not compatible\nquery I rowsort label-1\nSELECT 1 # not a condition\n----\n1\n";
        let out = preprocess(text);
        assert_eq!(out, "skipif mysql\nquery I rowsort label-1\nSELECT 1 # not a condition\n----\n1\n");
        let records: Records = sqllogictest::parse(&out).unwrap();
        let conditions = records.iter().find_map(|r| match r {
            Record::Query { conditions, .. } => Some(conditions.clone()),
            _ => None,
        });
        assert_eq!(conditions, Some(vec![skip("mysql")]));
    }

    #[test]
    fn conditional_halts_follow_sqlites_runner() {
        let text = "onlyif mssql\nhalt\n\nstatement ok\nSELECT 1\n";
        assert_eq!(
            preprocess(text),
            "# (runner) condition on halt\n# (runner) halt not for us\n\nstatement ok\nSELECT 1\n"
        );
        let text = "skipif mssql # x\nhalt\n";
        assert_eq!(preprocess(text), "# (runner) condition on halt\nhalt\n");
        let text = "onlyif postgresql\nhalt\n";
        assert_eq!(preprocess(text), "# (runner) condition on halt\nhalt\n");
        assert_eq!(preprocess("halt\n"), "halt\n");
        // The next record keeps no condition of the dropped halt.
        let records: Records =
            sqllogictest::parse(&preprocess("onlyif mssql\nhalt\n\nstatement ok\nSELECT 1\n")).unwrap();
        assert!(records.iter().any(|r| matches!(r, Record::Statement { conditions, .. } if conditions.is_empty())));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("_q*.slt", "_q12.slt"));
        assert!(wildcard_match("*", "x"));
        assert!(!wildcard_match("_q*.slt", "_create.slt"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(wildcard_match("a.slt", "a.slt"));
    }

    #[test]
    fn test_files() {
        assert!(is_test_file(Path::new("x/select1.test")));
        assert!(is_test_file(Path::new("x/a.slt")));
        assert!(is_test_file(Path::new("x/a.slt.part")));
        assert!(!is_test_file(Path::new("x/_q1.slt")));
        assert!(!is_test_file(Path::new("x/nation.tbl")));
    }
}
