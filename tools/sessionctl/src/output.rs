//! What sessionctl prints: plain-text tables, and writes to stdout and stderr that
//! never panic (a reader that went away, as `| head` does, ends the output quietly).

use std::io::Write;

/// Writes `text` to stdout as it is. A closed pipe is not an error: whoever reads has
/// what they wanted.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("could not write the output: {err}"))
        }
        _ => Ok(()),
    }
}

/// Writes a line to stderr, prefixed `sessionctl: `; a closed stderr is ignored.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "sessionctl: {line}");
}

/// Lays out `rows` under `header`, each column as wide as its widest cell. Control
/// characters (a User-Agent may carry any) are shown as `?`, so no cell can move the
/// terminal's cursor or change its colours.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |cell: &str| -> String {
        cell.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let header: Vec<String> = header.iter().map(|h| clean(h)).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| clean(cell)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).chain([header.len()]).max();
    let mut widths = vec![0; columns.unwrap_or(0)];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header = (!header.is_empty()).then_some(&header);
    for row in header.into_iter().chain(rows.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let width = widths.get(i).copied().unwrap_or(0);
            line.extend(std::iter::repeat_n(
                ' ',
                width.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to at most `max` characters, an ellipsis marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_control_characters_are_neutralised() {
        let out = table(
            &["ID", "AGENT"],
            &[
                vec!["a".into(), "curl\u{1b}[31m".into()],
                vec!["bbbb".into(), "x".into()],
            ],
        );
        assert_eq!(out, "ID    AGENT\na     curl?[31m\nbbbb  x\n");
        assert_eq!(table(&[], &[vec!["a".into(), "b".into()]]), "a  b\n");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }
}
