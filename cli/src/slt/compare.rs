//! Comparing a query's formatted rows with a record's expected lines: sort
//! modes, valuewise/rowwise layout, and `N values hashing to <md5>`.

use md5::{Digest, Md5};
use sqllogictest::SortMode;

/// How a query's output is laid out and ordered before comparing.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub sort: SortMode,
    /// One value per line (SQLite) rather than one row per line.
    pub valuewise: bool,
    /// Columns per row, from the `query` line's type string.
    pub columns: usize,
}

/// Why a result did not match, as lines to show.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: Vec<String>,
    pub actual: Vec<String>,
}

/// `N values hashing to <md5>` as (N, md5).
pub fn parse_hash_line(expected: &[String]) -> Option<(usize, String)> {
    let [line] = expected else { return None };
    let mut words = line.split_whitespace();
    let count = words.next()?.parse().ok()?;
    let rest: Vec<&str> = words.collect();
    match rest.as_slice() {
        ["values", "hashing", "to", hash] if hash.len() == 32 => Some((count, hash.to_ascii_lowercase())),
        _ => None,
    }
}

/// MD5 of every value followed by a newline, as SQLite's runner hashes.
pub fn md5_hex(values: &[String]) -> String {
    let mut md5 = Md5::new();
    for value in values {
        md5.update(value.as_bytes());
        md5.update(b"\n");
    }
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies the sort mode and flattens to values: rows compare column by
/// column as strings (strcmp), as SQLite's runner sorts.
pub fn sorted_values(mut rows: Vec<Vec<String>>, sort: SortMode) -> Vec<String> {
    if sort == SortMode::RowSort {
        rows.sort();
    }
    let mut values: Vec<String> = rows.into_iter().flatten().collect();
    if sort == SortMode::ValueSort {
        values.sort();
    }
    values
}

/// Whitespace trimmed and runs of it collapsed, as sqllogictest-rs compares.
fn normalize(s: &str) -> String {
    s.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines a result prints as, after sorting.
pub fn actual_lines(rows: &[Vec<String>], shape: Shape) -> Vec<String> {
    if shape.valuewise {
        return sorted_values(rows.to_vec(), shape.sort);
    }
    let normalized = rows.iter().map(|row| row.iter().map(|v| normalize(v)).collect()).collect();
    match shape.sort {
        SortMode::ValueSort => sorted_values(normalized, shape.sort),
        _ => {
            let mut lines: Vec<String> = normalized.into_iter().map(|row: Vec<String>| row.join(" ")).collect();
            if shape.sort == SortMode::RowSort {
                lines.sort();
            }
            lines
        }
    }
}

/// The expected lines in the same order as [`actual_lines`] puts ours: a
/// sorted record is compared as a multiset, whatever order its writer used.
fn expected_lines(expected: &[String], shape: Shape) -> Vec<String> {
    if shape.valuewise {
        let values: Vec<String> = expected.iter().map(|l| l.trim_end_matches('\r').to_string()).collect();
        let width = shape.columns.max(1);
        if shape.sort == SortMode::RowSort && values.len().is_multiple_of(width) {
            let rows = values.chunks(width).map(<[String]>::to_vec).collect();
            return sorted_values(rows, shape.sort);
        }
        return sorted_values(vec![values], shape.sort);
    }
    let mut lines: Vec<String> = expected.iter().map(|l| normalize(l)).collect();
    if shape.sort != SortMode::NoSort {
        lines.sort();
    }
    lines
}

/// Compares a result with a record's expected lines.
pub fn compare(rows: &[Vec<String>], expected: &[String], shape: Shape) -> Result<(), Mismatch> {
    if let Some((count, hash)) = parse_hash_line(expected) {
        let values = sorted_values(rows.to_vec(), shape.sort);
        let ours = md5_hex(&values);
        if values.len() == count && ours == hash {
            return Ok(());
        }
        let actual = vec![format!("{} values hashing to {ours}", values.len())];
        return Err(Mismatch { expected: expected.to_vec(), actual });
    }
    let actual = actual_lines(rows, shape);
    let want = expected_lines(expected, shape);
    if actual == want { Ok(()) } else { Err(Mismatch { expected: want, actual }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[&str]]) -> Vec<Vec<String>> {
        data.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    fn lines(data: &[&str]) -> Vec<String> {
        data.iter().map(|s| s.to_string()).collect()
    }

    fn shape(sort: SortMode, valuewise: bool, columns: usize) -> Shape {
        Shape { sort, valuewise, columns }
    }

    #[test]
    fn md5_matches_sqlite_runner() {
        // printf '1\n2\n' | md5sum
        assert_eq!(md5_hex(&lines(&["1", "2"])), "6ddb4095eb719e2a9f0a3f95677d24e0");
        assert_eq!(md5_hex(&[]), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn hash_lines_parse() {
        let h = "30 values hashing to 3C13DC48C8F7E6F8E5B1D3D6E8C9F7A1";
        assert_eq!(parse_hash_line(&lines(&[h])), Some((30, "3c13dc48c8f7e6f8e5b1d3d6e8c9f7a1".to_string())));
        assert_eq!(parse_hash_line(&lines(&["30 values hashing to abc"])), None);
        assert_eq!(parse_hash_line(&lines(&["1", "2"])), None);
    }

    #[test]
    fn rowsort_orders_rows_column_by_column() {
        let r = rows(&[&["10", "a"], &["9", "b"], &["1", "c d"]]);
        assert_eq!(sorted_values(r.clone(), SortMode::RowSort), lines(&["1", "c d", "10", "a", "9", "b"]));
        assert_eq!(sorted_values(r.clone(), SortMode::ValueSort), lines(&["1", "10", "9", "a", "b", "c d"]));
        assert_eq!(sorted_values(r, SortMode::NoSort), lines(&["10", "a", "9", "b", "1", "c d"]));
    }

    #[test]
    fn valuewise_comparison_and_hashing() {
        let r = rows(&[&["2", "x"], &["1", "y"]]);
        let s = shape(SortMode::RowSort, true, 2);
        assert_eq!(compare(&r, &lines(&["1", "y", "2", "x"]), s), Ok(()));
        // The expected side is sorted too.
        assert_eq!(compare(&r, &lines(&["2", "x", "1", "y"]), s), Ok(()));
        assert!(compare(&r, &lines(&["1", "x", "2", "y"]), s).is_err());
        let hash = md5_hex(&lines(&["1", "y", "2", "x"]));
        assert_eq!(compare(&r, &[format!("4 values hashing to {hash}")], s), Ok(()));
        assert!(compare(&r, &[format!("5 values hashing to {hash}")], s).is_err());
        let nosort = shape(SortMode::NoSort, true, 2);
        assert!(compare(&r, &[format!("4 values hashing to {hash}")], nosort).is_err());
    }

    #[test]
    fn rowwise_comparison_normalizes_whitespace() {
        let r = rows(&[&["a", "(empty)"], &["b c", "1"]]);
        let s = shape(SortMode::NoSort, false, 2);
        assert_eq!(compare(&r, &lines(&["a  (empty)", " b c 1"]), s), Ok(()));
        assert!(compare(&r, &lines(&["b c 1", "a (empty)"]), s).is_err());
        assert_eq!(compare(&r, &lines(&["b c 1", "a (empty)"]), shape(SortMode::RowSort, false, 2)), Ok(()));
        let valuesort = shape(SortMode::ValueSort, false, 2);
        assert_eq!(compare(&r, &lines(&["(empty)", "1", "a", "b c"]), valuesort), Ok(()));
        let err = compare(&r, &lines(&["a (empty)"]), s).unwrap_err();
        assert_eq!(err.actual, lines(&["a (empty)", "b c 1"]));
    }

    #[test]
    fn empty_results() {
        assert_eq!(compare(&[], &[], shape(SortMode::NoSort, true, 1)), Ok(()));
        assert!(compare(&rows(&[&["1"]]), &[], shape(SortMode::NoSort, false, 1)).is_err());
    }
}
