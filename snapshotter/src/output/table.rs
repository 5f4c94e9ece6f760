//! [`Table`]: the one renderer of the column tables people read (`list`, `verify`, the backup report,
//! `purge`'s plan). Callers build rows of text; the table sizes each column to its widest cell (or a
//! minimum width), aligns it left or right, separates columns with two spaces and trims the end of each
//! line, so a left-aligned last column (an error, a reason) is never padded.

use std::fmt::Write as _;

/// How a column's cells sit in their width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One column: its header (empty for a table without a header line), alignment and minimum width.
#[derive(Debug, Clone)]
pub struct Column {
    header: &'static str,
    align: Align,
    min_width: usize,
}

impl Column {
    pub fn left(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Left,
            min_width: 0,
        }
    }

    pub fn right(header: &'static str) -> Self {
        Column {
            header,
            align: Align::Right,
            min_width: 0,
        }
    }

    /// At least `width` characters wide, however narrow the cells (keeps a column steady from run to run).
    pub fn min_width(mut self, width: usize) -> Self {
        self.min_width = width;
        self
    }
}

/// Columns and rows of text, rendered by [`Table::render`].
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    indent: &'static str,
    header: bool,
}

impl Table {
    /// A table whose first line names the columns.
    pub fn new(columns: Vec<Column>) -> Self {
        Table {
            columns,
            rows: Vec::new(),
            indent: "",
            header: true,
        }
    }

    /// A table of rows only (the headers are left out).
    pub fn without_header(columns: Vec<Column>) -> Self {
        Table {
            header: false,
            ..Table::new(columns)
        }
    }

    /// Every line starts with `indent` (a table nested under a heading line).
    pub fn indented(mut self, indent: &'static str) -> Self {
        self.indent = indent;
        self
    }

    /// Adds a row; it must have one cell per column.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let row: Vec<String> = cells.into_iter().map(Into::into).collect();
        debug_assert_eq!(row.len(), self.columns.len(), "one cell per column");
        self.rows.push(row);
    }

    /// The lines, each ending with a newline.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let header = if self.header { width(column.header) } else { 0 };
                self.rows
                    .iter()
                    .filter_map(|row| row.get(i))
                    .map(|cell| width(cell))
                    .fold(header.max(column.min_width), usize::max)
            })
            .collect();
        let mut out = String::new();
        let headers: Vec<&str> = self.columns.iter().map(|c| c.header).collect();
        let lines = self.header.then_some(headers).into_iter().chain(
            self.rows
                .iter()
                .map(|r| r.iter().map(String::as_str).collect()),
        );
        for cells in lines {
            let mut line = String::from(self.indent);
            for (i, (cell, column)) in cells.iter().zip(&self.columns).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[i].saturating_sub(width(cell)));
                match column.align {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// Characters, not bytes: host names and paths may hold non-ASCII letters.
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_size_to_content_align_and_trim() {
        let mut table = Table::new(vec![
            Column::left("HOST"),
            Column::right("FILES").min_width(6),
            Column::left("ERROR"),
        ]);
        table.row(["node-1.example", "12", ""]);
        table.row(["n2", "3", "timed out"]);
        assert_eq!(
            table.render(),
            "\
HOST             FILES  ERROR
node-1.example      12
n2                   3  timed out
"
        );
    }

    #[test]
    fn headerless_indented_rows() {
        let mut table =
            Table::without_header(vec![Column::left("").min_width(4), Column::left("")])
                .indented("  ");
        table.row(["ä", "x"]);
        table.row(["abcdef", "y"]);
        assert_eq!(table.render(), "  ä       x\n  abcdef  y\n");
    }
}
