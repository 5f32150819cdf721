//! The table format: a result laid out to fit the terminal. Which rows and columns show and
//! how wide each column is are decided here; comfy-table draws the borders and aligns the
//! cells in the widths given.
//!
//! A result longer than `maxrows` shows its first and last rows around a `…` row; columns
//! wider than the terminal are narrowed down to [`MIN_COLUMN_WIDTH`] (their cells cut with
//! `…`), and when even that does not fit, middle columns give way to a `…` column. A footer
//! says what was left out.

use std::collections::VecDeque;

use comfy_table::{Cell, CellAlignment, ColumnConstraint, Table, Width};
use rask::arrow::array::{Array, AsArray};
use rask::arrow::datatypes::{Float32Type, Float64Type};
use rask::arrow::util::display::{ArrayFormatter, FormatOptions};
use rask::{DataType, RecordBatch, Result, SchemaRef};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How the table format draws; the shell's dot commands change these.
#[derive(Clone, Debug, PartialEq)]
pub struct TableStyle {
    /// ASCII borders and markers instead of box drawing (`--ascii`, or a non-UTF-8 locale).
    pub ascii: bool,
    /// Widest the table may be: `None` fits the terminal (unlimited when the output is not
    /// one), `Some(usize::MAX)` never narrows (`--maxwidth`, `.maxwidth`).
    pub max_width: Option<usize>,
    /// How NULL is shown (`.nullvalue`).
    pub null: String,
    /// Widths asked for columns by position; 0 leaves a column fitted (`.width`).
    pub widths: Vec<usize>,
}

impl TableStyle {
    /// Box drawing unless the locale says the terminal cannot show it.
    pub fn for_locale(ascii: bool) -> TableStyle {
        TableStyle {
            ascii: ascii || !locale_is_utf8(),
            max_width: None,
            null: "NULL".to_string(),
            widths: Vec::new(),
        }
    }

    fn ellipsis(&self) -> &'static str {
        if self.ascii {
            "..."
        } else {
            "…"
        }
    }
}

/// Whether the locale's character set is UTF-8, read as the C library does: the first of
/// `LC_ALL`, `LC_CTYPE` and `LANG` that is set decides; none set means the C locale.
fn locale_is_utf8() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .is_some_and(|value| {
            let value = value.to_ascii_lowercase();
            value.contains("utf-8") || value.contains("utf8")
        })
}

/// Text columns narrower than this (or than their content, or their name up to
/// [`KEPT_NAME_WIDTH`]) are never made, and numbers are never cut; past that, columns are
/// left out instead.
pub const MIN_COLUMN_WIDTH: usize = 8;

/// The widest cell drawn, whatever the width allowed: comfy-table draws columns of at most
/// 2^16 - 1 characters, padding included, and wraps what is longer in time growing with the
/// square of its length (a 50 MB value took minutes).
const WIDEST_CELL: usize = u16::MAX as usize - 2;

/// Column names are cut no shorter than this (or their length).
const KEPT_NAME_WIDTH: usize = 16;

/// Significant digits a float shows in a table; csv, json and files keep every digit.
const FLOAT64_DIGITS: usize = 10;
const FLOAT32_DIGITS: usize = 6;

/// The rows a table shows of a result as it streams by: the first ones and the last ones,
/// and how many there were in all.
pub struct ShownRows {
    head: Vec<RecordBatch>,
    head_rows: usize,
    head_room: usize,
    tail: VecDeque<RecordBatch>,
    tail_rows: usize,
    tail_room: usize,
    total: u64,
}

impl ShownRows {
    /// Keeps `maxrows` rows: the first half (rounded up) and the last half, or only the first
    /// ones when `with_tail` is false.
    pub fn new(maxrows: usize, with_tail: bool) -> ShownRows {
        let tail_room = if with_tail && maxrows != usize::MAX {
            maxrows / 2
        } else {
            0
        };
        ShownRows {
            head: Vec::new(),
            head_rows: 0,
            head_room: maxrows - tail_room,
            tail: VecDeque::new(),
            tail_rows: 0,
            tail_room,
            total: 0,
        }
    }

    pub fn push(&mut self, batch: &RecordBatch) {
        let rows = batch.num_rows();
        self.total += rows as u64;
        let taken = rows.min(self.head_room - self.head_rows);
        if taken > 0 {
            self.head.push(batch.slice(0, taken));
            self.head_rows += taken;
        }
        let kept = (rows - taken).min(self.tail_room);
        if kept == 0 {
            return;
        }
        self.tail.push_back(batch.slice(rows - kept, kept));
        self.tail_rows += kept;
        while let Some(front) = self.tail.front() {
            let excess = self.tail_rows.saturating_sub(self.tail_room);
            if excess == 0 {
                break;
            }
            if front.num_rows() <= excess {
                self.tail_rows -= front.num_rows();
                self.tail.pop_front();
            } else {
                let trimmed = front.slice(excess, front.num_rows() - excess);
                self.tail_rows -= excess;
                self.tail[0] = trimmed;
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    fn shown(&self) -> usize {
        self.head_rows + self.tail_rows
    }

    fn elided(&self) -> u64 {
        self.total - self.shown() as u64
    }
}

/// The footer under a table: nothing when it shows everything, else what it left out.
fn footer(total: u64, shown: usize, columns: usize, shown_columns: usize) -> Option<String> {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut rows = plural(total, "row", "rows");
    if total > shown as u64 {
        rows.push_str(&format!(" ({shown} shown)"));
    }
    if shown_columns < columns {
        let columns = plural(columns as u64, "column", "columns");
        return Some(format!("{rows} · {columns} ({shown_columns} shown)"));
    }
    (total == 0 || total > shown as u64).then_some(rows)
}

/// Renders the rows kept by `rows` as a table of at most `width` columns of text, with the
/// footer when something is left out.
pub fn render_table(
    schema: &SchemaRef,
    rows: &ShownRows,
    style: &TableStyle,
    width: usize,
) -> Result<String> {
    // A plan is text to read whole, line by line.
    let explain = is_explain(schema);
    let width = if explain { usize::MAX } else { width };
    let ellipsis = style.ellipsis();
    let columns = schema.fields().len();
    let mut body: Vec<Vec<String>> = Vec::with_capacity(rows.shown() + 1);
    for batch in &rows.head {
        body.extend(cells(batch, style, explain)?);
    }
    if rows.elided() > 0 && rows.tail_rows > 0 {
        body.push(vec![ellipsis.to_string(); columns]);
    }
    for batch in &rows.tail {
        body.extend(cells(batch, style, explain)?);
    }
    let names: Vec<String> = schema.fields().iter().map(|f| escape(f.name())).collect();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| rask::sql_type_name(f.data_type()))
        .collect();
    let natural: Vec<usize> = (0..columns)
        .map(|c| match style.widths.get(c) {
            Some(&asked) if asked > 0 => asked.min(WIDEST_CELL),
            _ => body
                .iter()
                .flat_map(|row| row[c].lines().map(UnicodeWidthStr::width))
                .chain([names[c].width(), types[c].width()])
                .max()
                .unwrap_or(0)
                .min(WIDEST_CELL),
        })
        .collect();
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    // A number cut short reads as another number, and a name cut to 8 characters often
    // says nothing: numbers keep their width and names up to `KEPT_NAME_WIDTH`, columns
    // being left out sooner instead.
    let least: Vec<usize> = natural
        .iter()
        .enumerate()
        .map(|(c, &w)| match style.widths.get(c) {
            Some(&asked) if asked > 0 => asked,
            _ if numeric[c] => w,
            _ => w.min(MIN_COLUMN_WIDTH.max(names[c].width().min(KEPT_NAME_WIDTH))),
        })
        .collect();
    let layout = fit(&natural, &least, width, ellipsis.width());

    let mut table = Table::new();
    table.load_preset(if style.ascii {
        "||--+-++|    ++++++"
    } else {
        "││──├─┼┤│    ┬┴┌┐└┘"
    });
    // A column as laid out: its position in the result (`None` for the `…` column) and width.
    let laid_out: Vec<(Option<usize>, usize)> = layout
        .left
        .iter()
        .map(|&(c, w)| (Some(c), w))
        .chain(layout.elided.then_some((None, ellipsis.width())))
        .chain(layout.right.iter().map(|&(c, w)| (Some(c), w)))
        .collect();
    let header = laid_out.iter().map(|&(column, width)| match column {
        Some(c) => Cell::new(format!(
            "{}\n{}",
            cut(&names[c], width, ellipsis),
            cut(&types[c], width, ellipsis)
        )),
        None => Cell::new(ellipsis),
    });
    table.set_header(header);
    for row in &body {
        table.add_row(laid_out.iter().map(|&(column, width)| match column {
            Some(c) => {
                let cell = Cell::new(cut(&row[c], width, ellipsis));
                if numeric[c] {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }
            None => Cell::new(ellipsis),
        }));
    }
    let padded = |width: usize| Width::Fixed(u16::try_from(width + 2).unwrap_or(u16::MAX));
    table.set_constraints(
        laid_out
            .iter()
            .map(|&(_, width)| ColumnConstraint::Absolute(padded(width))),
    );
    let mut text = table.to_string();
    let shown_columns = layout.left.len() + layout.right.len();
    if let Some(footer) = footer(rows.total(), rows.shown(), columns, shown_columns) {
        text.push('\n');
        text.push_str(&footer);
    }
    Ok(text)
}

/// Renders the first rows kept by `rows` as a Markdown table (whole cells, names only), with
/// the footer when rows are left out.
pub fn render_markdown(schema: &SchemaRef, rows: &ShownRows, style: &TableStyle) -> Result<String> {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_header(schema.fields().iter().map(|f| Cell::new(escape(f.name()))));
    for batch in &rows.head {
        for row in cells(batch, style, false)? {
            table.add_row(row.into_iter().zip(schema.fields()).map(|(text, field)| {
                let text = cut(&text, WIDEST_CELL, style.ellipsis());
                let cell = Cell::new(text.replace('|', "\\|"));
                if is_numeric(field.data_type()) {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }));
        }
    }
    let mut text = table.to_string();
    let columns = schema.fields().len();
    if let Some(footer) = footer(rows.total(), rows.shown(), columns, columns) {
        text.push('\n');
        text.push_str(&footer);
    }
    Ok(text)
}

/// Which columns a table shows and how wide each is.
#[derive(Debug, PartialEq)]
struct Layout {
    /// (column, width) from the left edge, then from the right one, each in result order.
    left: Vec<(usize, usize)>,
    right: Vec<(usize, usize)>,
    /// Whether columns between `left` and `right` are left out.
    elided: bool,
}

/// Every column drawn costs its width plus a space either side and a border.
const COLUMN_FRAME: usize = 3;

/// Fits columns of `natural` widths, none narrower than its `least`, into `width` text
/// columns (borders included): all of them when they fit at their least widths, else as many
/// as fit taken from the left and right edges in turn, around a `…` column `marker` wide.
/// The widest columns give up width first.
fn fit(natural: &[usize], least: &[usize], width: usize, marker: usize) -> Layout {
    let cost = |columns: &mut dyn Iterator<Item = usize>| -> usize {
        1 + columns.map(|c| least[c] + COLUMN_FRAME).sum::<usize>()
    };
    let count = natural.len();
    let mut kept: Vec<usize> = (0..count).collect();
    let mut from_left = count;
    if cost(&mut kept.iter().copied()) > width {
        let budget = width.saturating_sub(marker + COLUMN_FRAME);
        let (mut left, mut right) = (0, count);
        let mut used = 1;
        // The first column is kept whatever it costs: a table shows at least one.
        while left < right {
            let (next, take_left) = if (left + count - right).is_multiple_of(2) {
                (left, true)
            } else {
                (right - 1, false)
            };
            let extra = least[next] + COLUMN_FRAME;
            if used + extra > budget && left > 0 {
                break;
            }
            used += extra;
            if take_left {
                left += 1;
            } else {
                right -= 1;
            }
        }
        from_left = left;
        kept = (0..left).chain(right..count).collect();
    }
    let elided = kept.len() < count;
    let frame = 1 + kept.len() * COLUMN_FRAME + if elided { marker + COLUMN_FRAME } else { 0 };
    let budget = width.saturating_sub(frame);
    let floors: Vec<usize> = match kept.as_slice() {
        [_] => vec![1],
        _ => kept.iter().map(|&c| least[c]).collect(),
    };
    let capped = |cap: usize| -> Vec<usize> {
        kept.iter()
            .zip(&floors)
            .map(|(&c, &floor)| natural[c].min(cap.max(floor)))
            .collect()
    };
    // The widest cap that fits: every column wider than it is cut to it (never below its
    // floor), and what is left of the budget goes to the cut columns from the left.
    let widest = kept.iter().map(|&c| natural[c]).max().unwrap_or(0);
    let fits = |cap: usize| capped(cap).iter().sum::<usize>() <= budget;
    let (mut low, mut high) = (0, widest);
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(middle) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    let mut widths = capped(low);
    let mut spare = budget.saturating_sub(widths.iter().sum());
    for (width, &c) in widths.iter_mut().zip(&kept) {
        if spare > 0 && *width < natural[c] {
            *width += 1;
            spare -= 1;
        }
    }
    let mut left: Vec<(usize, usize)> = kept.into_iter().zip(widths).collect();
    let right = left.split_off(from_left);
    Layout {
        left,
        right,
        elided,
    }
}

/// Whether `schema` is that of `EXPLAIN`'s result.
fn is_explain(schema: &SchemaRef) -> bool {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names == ["plan_type", "plan"]
}

/// `text` cut to `width` display columns, ending in `ellipsis` when cut.
fn cut(text: &str, width: usize, ellipsis: &str) -> String {
    if text.lines().all(|line| line.width() <= width) {
        return text.to_string();
    }
    let marker = ellipsis.width();
    let (room, ellipsis) = if width > marker {
        (width - marker, ellipsis)
    } else {
        (width, "")
    };
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push_str(ellipsis);
    out
}

/// The cells of `batch` as text, row by row; line breaks are escaped unless `multiline`.
fn cells(batch: &RecordBatch, style: &TableStyle, multiline: bool) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default()
        .with_null(&style.null)
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"))
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let columns = batch
        .columns()
        .iter()
        .map(|array| ColumnText::new(array.as_ref(), &options, &style.null, multiline))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..batch.num_rows())
        .map(|row| columns.iter().map(|column| column.text(row)).collect())
        .collect())
}

/// How one column's values become text.
enum ColumnText<'a> {
    Float64(&'a rask::arrow::array::Float64Array, &'a str),
    Float32(&'a rask::arrow::array::Float32Array, &'a str),
    Other(ArrayFormatter<'a>),
    Lines(ArrayFormatter<'a>),
}

impl<'a> ColumnText<'a> {
    fn new(
        array: &'a dyn Array,
        options: &FormatOptions<'a>,
        null: &'a str,
        multiline: bool,
    ) -> Result<Self> {
        Ok(match array.data_type() {
            DataType::Float64 => ColumnText::Float64(array.as_primitive::<Float64Type>(), null),
            DataType::Float32 => ColumnText::Float32(array.as_primitive::<Float32Type>(), null),
            _ if multiline => ColumnText::Lines(ArrayFormatter::try_new(array, options)?),
            _ => ColumnText::Other(ArrayFormatter::try_new(array, options)?),
        })
    }

    fn text(&self, row: usize) -> String {
        match self {
            ColumnText::Float64(array, null) if array.is_null(row) => null.to_string(),
            ColumnText::Float64(array, _) => float_text(array.value(row), FLOAT64_DIGITS),
            ColumnText::Float32(array, null) if array.is_null(row) => null.to_string(),
            ColumnText::Float32(array, _) => {
                float_text(f64::from(array.value(row)), FLOAT32_DIGITS)
            }
            ColumnText::Other(formatter) => escape(&formatter.value(row).to_string()),
            ColumnText::Lines(formatter) => formatter.value(row).to_string(),
        }
    }
}

/// A float as a table shows it: the shortest text that reads back as the value once rounded
/// to `digits` significant digits, positional from 1e-4 to 1e15 and scientific beyond.
fn float_text(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return match value {
            v if v.is_nan() => "NaN".to_string(),
            v if v > 0.0 => "inf".to_string(),
            _ => "-inf".to_string(),
        };
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e15).contains(&magnitude) {
        let text = format!("{:.*e}", digits - 1, value);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let exponent = if magnitude == 0.0 {
        0
    } else {
        magnitude.log10().floor() as i64
    };
    let decimals = (digits as i64 - 1 - exponent).max(0) as usize;
    let text = format!("{value:.decimals$}");
    let trimmed = trim_fraction(&text);
    if trimmed.contains('.') {
        trimmed.to_string()
    } else {
        format!("{trimmed}.0")
    }
}

/// `1.2500` → `1.25`, `3.000` → `3.0`; text without a fraction stays as it is.
fn trim_fraction(text: &str) -> &str {
    if !text.contains('.') {
        return text;
    }
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        &text[..trimmed.len() + 1]
    } else {
        trimmed
    }
}

/// Line breaks, tabs and other control characters spelled as escapes, so that a row keeps
/// to one line.
fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rask::arrow::array::{Int64Array, StringArray};
    use rask::arrow::datatypes::{Field, Schema};

    use super::*;

    fn numbers(range: std::ops::Range<i64>) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("n", DataType::Int64, false)]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Int64Array::from_iter_values(range))],
        )
        .unwrap()
    }

    fn kept(rows: &ShownRows) -> Vec<i64> {
        rows.head
            .iter()
            .chain(&rows.tail)
            .flat_map(|batch| {
                batch
                    .column(0)
                    .as_primitive::<rask::arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn the_first_and_last_rows_are_kept_across_batches() {
        let mut rows = ShownRows::new(5, true);
        for start in (0..100).step_by(7) {
            rows.push(&numbers(start..(start + 7).min(100)));
        }
        assert_eq!(kept(&rows), [0, 1, 2, 98, 99]);
        assert_eq!((rows.total(), rows.elided()), (100, 95));

        let mut single_rows = ShownRows::new(4, true);
        for n in 0..10 {
            single_rows.push(&numbers(n..n + 1));
        }
        assert_eq!(kept(&single_rows), [0, 1, 8, 9]);

        let mut head_only = ShownRows::new(3, false);
        head_only.push(&numbers(0..10));
        assert_eq!(kept(&head_only), [0, 1, 2]);

        let mut everything = ShownRows::new(usize::MAX, true);
        everything.push(&numbers(0..10));
        assert_eq!(kept(&everything), (0..10).collect::<Vec<_>>());
        assert_eq!(everything.elided(), 0);

        // A result no longer than maxrows is kept whole, in order.
        let mut short = ShownRows::new(6, true);
        short.push(&numbers(0..2));
        short.push(&numbers(2..6));
        assert_eq!(kept(&short), [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn floats_show_their_shortest_text_to_ten_digits() {
        for (value, shown) in [
            (0.1 + 0.2, "0.3"),
            (1.25, "1.25"),
            (4.0, "4.0"),
            (-0.5, "-0.5"),
            (0.0, "0.0"),
            (2.0 / 3.0, "0.6666666667"),
            (123_456_789.125, "123456789.1"),
            (1e14, "100000000000000.0"),
            (1e15, "1e15"),
            (1.5e20, "1.5e20"),
            (0.00001234, "1.234e-5"),
            (0.0001, "0.0001"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(float_text(value, FLOAT64_DIGITS), shown, "{value:e}");
        }
        assert_eq!(float_text(f64::from(0.1f32), FLOAT32_DIGITS), "0.1");
        assert_eq!(
            float_text(f64::from(1.0f32 / 3.0), FLOAT32_DIGITS),
            "0.333333"
        );
    }

    #[test]
    fn cells_are_cut_to_their_width_by_display_columns() {
        assert_eq!(cut("plain", 5, "…"), "plain");
        assert_eq!(cut("with, comma", 8, "…"), "with, c…");
        assert_eq!(cut("日本語です", 5, "…"), "日本…");
        assert_eq!(cut("abcdef", 5, "..."), "ab...");
        assert_eq!(cut("abcdef", 2, "..."), "ab");
        assert_eq!(escape("x\ny\tz\r"), "x\\ny\\tz\\r");
    }

    #[test]
    fn narrow_widths_shrink_the_widest_columns_first() {
        // 1 + (5+3) + (20+3) + (300+3) = 335 wide; 60 leaves 50 for text.
        let layout = fit(&[5, 20, 300], &[5, 8, 8], 60, 1);
        assert_eq!(
            layout,
            Layout {
                left: vec![(0, 5), (1, 20), (2, 25)],
                right: vec![],
                elided: false
            }
        );
        // Everything fits: nothing changes.
        let wide = fit(&[5, 20, 300], &[5, 8, 8], 400, 1);
        assert_eq!(wide.left, [(0, 5), (1, 20), (2, 300)]);
        // Two wide columns share what is left evenly.
        let even = fit(&[30, 30, 3], &[8, 8, 3], 40, 1);
        assert_eq!(even.left, [(0, 14), (1, 13), (2, 3)]);
        // A lone column is cut to whatever the width leaves: 12 - 1 - 3 - 4 for the `…`.
        let lone = fit(&[30, 30], &[8, 8], 12, 1);
        assert_eq!(lone.left, [(0, 4)]);
    }

    #[test]
    fn columns_that_cannot_fit_are_left_out_in_the_middle() {
        // Ten columns of 10, at least 8 each: 1 + 10 × 11 = 111 at their least.
        let natural = [10; 10];
        let least = [8; 10];
        let layout = fit(&natural, &least, 60, 1);
        // 60 - 4 for the `…` column: 1 + 4 × 11 = 45 fits, a fifth (56) does too, a sixth not.
        let columns: Vec<usize> = layout
            .left
            .iter()
            .chain(&layout.right)
            .map(|&(c, _)| c)
            .collect();
        assert_eq!(columns, [0, 1, 2, 8, 9]);
        assert!(layout.elided);
        let drawn = 1
            + layout
                .left
                .iter()
                .chain(&layout.right)
                .map(|&(_, w)| w + 3)
                .sum::<usize>()
            + 4;
        assert!(drawn <= 60, "{layout:?} is {drawn} wide");
        // Even a terminal narrower than one column shows that column, cut.
        let tiny = fit(&[40, 40], &[8, 8], 12, 1);
        assert_eq!(tiny.left.len(), 1);
        assert!(tiny.elided);
    }

    #[test]
    fn footers_say_what_was_left_out() {
        assert_eq!(footer(3, 3, 2, 2), None);
        assert_eq!(footer(0, 0, 2, 2).as_deref(), Some("0 rows"));
        assert_eq!(
            footer(100, 40, 2, 2).as_deref(),
            Some("100 rows (40 shown)")
        );
        assert_eq!(
            footer(1, 1, 30, 8).as_deref(),
            Some("1 row · 30 columns (8 shown)")
        );
        assert_eq!(
            footer(100, 40, 30, 8).as_deref(),
            Some("100 rows (40 shown) · 30 columns (8 shown)")
        );
    }

    /// Numbers keep every digit and names up to 16 characters; columns are left out first.
    #[test]
    fn numbers_and_names_are_not_cut_short() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("description_of_it", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![123_456_789_012])),
                Arc::new(StringArray::from(vec!["x".repeat(40)])),
            ],
        )
        .unwrap();
        let mut rows = ShownRows::new(40, true);
        rows.push(&batch);
        let style = TableStyle::for_locale(true);
        // 40: both fit at their least (12 and 16), the text gets the 21 left.
        let expected = "\
+--------------+-----------------------+
| id           | description_of_it     |
| int64        | varchar               |
+--------------+-----------------------+
| 123456789012 | xxxxxxxxxxxxxxxxxx... |
+--------------+-----------------------+";
        assert_eq!(render_table(&schema, &rows, &style, 40).unwrap(), expected);
        // 30: not both; the number stays whole and the text column is left out.
        let expected = "\
+--------------+-----+
| id           | ... |
| int64        |     |
+--------------+-----+
| 123456789012 | ... |
+--------------+-----+
1 row · 2 columns (1 shown)";
        assert_eq!(render_table(&schema, &rows, &style, 30).unwrap(), expected);
    }

    #[test]
    fn a_wide_result_is_drawn_within_the_width() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 22])),
                Arc::new(StringArray::from(vec![Some("x".repeat(50)), None])),
            ],
        )
        .unwrap();
        let mut rows = ShownRows::new(40, true);
        rows.push(&batch);
        let style = TableStyle {
            null: "∅".into(),
            ..TableStyle::for_locale(true)
        };
        let expected = "\
+-------+---------------+
| id    | text          |
| int64 | varchar       |
+-------+---------------+
|     1 | xxxxxxxxxx... |
|    22 | ∅             |
+-------+---------------+";
        assert_eq!(render_table(&schema, &rows, &style, 25).unwrap(), expected);
    }

    #[test]
    fn a_value_wider_than_a_column_can_be_is_cut_not_wrapped() {
        let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
        let value = "x".repeat(3 * WIDEST_CELL);
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(vec![value]))],
        )
        .unwrap();
        let mut rows = ShownRows::new(40, true);
        rows.push(&batch);
        let style = TableStyle::for_locale(true);
        let drawn = render_table(&schema, &rows, &style, usize::MAX).unwrap();
        // Borders, name, type, border, the one row, border: the value on one line, cut.
        let lines: Vec<&str> = drawn.lines().collect();
        assert_eq!(lines.len(), 6, "{}", &drawn[..200]);
        let cell = format!("| {}... |", "x".repeat(WIDEST_CELL - 3));
        assert_eq!(lines[4], cell);
        let markdown = render_markdown(&schema, &rows, &style).unwrap();
        let row = markdown.lines().nth(2).unwrap();
        assert_eq!(row, cell);
    }
}
