//! Every `--format` parses back to the fixture's values.

use crate::{ok, SALES, SALES_QUERY};

fn expected_csv_fields() -> Vec<Vec<String>> {
    SALES
        .iter()
        .map(|(id, region, price, note)| {
            vec![
                id.to_string(),
                region.unwrap_or("").to_string(),
                price.map(|p| p.to_string()).unwrap_or_default(),
                note.unwrap_or("").to_string(),
            ]
        })
        .collect()
}

/// A minimal RFC 4180 reader, independent of the writer under test.
fn parse_delimited(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (c, false) if c == delimiter => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

fn normalise_floats(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|mut row| {
            if let Ok(price) = row[2].parse::<f64>() {
                row[2] = price.to_string();
            }
            row
        })
        .collect()
}

#[test]
fn csv_and_tsv_read_back() {
    for (format, delimiter) in [("csv", ','), ("tsv", '\t')] {
        let rows = parse_delimited(&ok(&["--format", format, SALES_QUERY]), delimiter);
        assert_eq!(rows[0], ["id", "region", "price", "note"], "{format}");
        assert_eq!(
            normalise_floats(rows[1..].to_vec()),
            expected_csv_fields(),
            "{format}"
        );
    }
}

fn check_json_rows(rows: &[serde_json::Value]) {
    assert_eq!(rows.len(), SALES.len());
    for (row, (id, region, price, note)) in rows.iter().zip(SALES) {
        assert_eq!(row["id"].as_i64(), Some(id));
        assert_eq!(row["region"].as_str(), region, "row {id}");
        assert_eq!(row["price"].as_f64(), price, "row {id}");
        assert_eq!(row["note"].as_str(), note, "row {id}");
        if region.is_none() {
            assert!(row["region"].is_null(), "NULL is written as null");
        }
    }
}

#[test]
fn json_and_ndjson_read_back() {
    let array: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&["--format", "json", SALES_QUERY])).unwrap();
    check_json_rows(&array);
    let lines: Vec<serde_json::Value> = ok(&["--format", "ndjson", SALES_QUERY])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    check_json_rows(&lines);
}

/// Cells of an ASCII or Markdown table, header first, borders dropped.
fn table_cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| line.starts_with('|') && !line.starts_with("|-") && !line.starts_with("|:"))
        .map(|line| {
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().replace("\\|", "|"))
                .collect()
        })
        .collect()
}

#[test]
fn table_and_markdown_read_back() {
    for format in ["table", "markdown"] {
        let text = ok(&["--format", format, SALES_QUERY]);
        let mut cells = table_cells(&text);
        assert_eq!(
            cells[0],
            ["id", "region", "price", "note"],
            "{format}:\n{text}"
        );
        // Tables give the types under the names; Markdown, meant to be pasted, does not.
        if format == "table" {
            assert_eq!(cells.remove(1), ["int64", "varchar", "double", "varchar"]);
        }
        let expected: Vec<Vec<String>> = SALES
            .iter()
            .map(|(id, region, price, note)| {
                vec![
                    id.to_string(),
                    region.unwrap_or("NULL").to_string(),
                    price.map(|p| p.to_string()).unwrap_or("NULL".into()),
                    note.unwrap_or("NULL").to_string(),
                ]
            })
            .collect();
        let actual: Vec<Vec<String>> = cells[1..]
            .iter()
            .map(|row| {
                let mut row = row.clone();
                if let Ok(p) = row[2].parse::<f64>() {
                    row[2] = p.to_string();
                }
                row
            })
            .collect();
        assert_eq!(actual, expected, "{format}:\n{text}");
    }
    let markdown = ok(&["--format", "markdown", "SELECT 'a|b' AS s"]);
    assert!(
        markdown.contains("a\\|b"),
        "pipes are escaped in markdown: {markdown}"
    );
}

#[test]
fn maxrows_shows_a_footer() {
    // The first two rows and the last one, around a row of `...`.
    let text = ok(&["--maxrows", "3", SALES_QUERY]);
    let ids: Vec<String> = table_cells(&text)[2..]
        .iter()
        .map(|row| row[0].clone())
        .collect();
    assert_eq!(ids, ["1", "2", "...", "10"], "{text}");
    assert!(text.ends_with("+\n10 rows (3 shown)\n"), "{text}");
    let all = ok(&["--maxrows", "inf", SALES_QUERY]);
    assert_eq!(table_cells(&all).len(), 2 + 10);
    assert!(!all.contains("shown"));
    // The default shows 40 rows of a longer result: 1 to 20 and 81 to 100.
    let long = ok(&["SELECT * FROM generate_series(1, 100)"]);
    let values: Vec<String> = table_cells(&long)[2..]
        .iter()
        .map(|row| row[0].clone())
        .collect();
    let expected: Vec<String> = (1..=20)
        .map(|v| v.to_string())
        .chain(["...".to_string()])
        .chain((81..=100).map(|v| v.to_string()))
        .collect();
    assert_eq!(values, expected);
    assert!(long.ends_with("100 rows (40 shown)\n"), "{long}");
    // Markdown shows the first rows only: a `...` row would not paste well.
    let markdown = ok(&["--format", "markdown", "--maxrows", "3", SALES_QUERY]);
    assert_eq!(table_cells(&markdown).len(), 1 + 3, "{markdown}");
    assert!(markdown.ends_with("|\n10 rows (3 shown)\n"), "{markdown}");
}

/// No row matches `id < 0`.
const EMPTY_QUERY: &str = "SELECT id, region FROM 'testdata/sales/part_*.csv' WHERE id < 0";

/// A result without rows is still a table of its columns: the CSV and TSV header, an empty
/// JSON array on its line, no NDJSON line, and the table formats' header with a `0 rows` footer.
#[test]
fn an_empty_result_still_shows_its_columns() {
    let border = "+-------+---------+\n";
    let table =
        format!("{border}| id    | region  |\n| int64 | varchar |\n{border}{border}0 rows\n");
    for (format, expected) in [
        ("csv", "id,region\n"),
        ("tsv", "id\tregion\n"),
        ("json", "[]\n"),
        ("ndjson", ""),
        ("table", table.as_str()),
        ("markdown", "| id | region |\n|----|--------|\n0 rows\n"),
    ] {
        assert_eq!(ok(&["--format", format, EMPTY_QUERY]), expected, "{format}");
    }
}

/// Scripts run through the same printing: an empty result between two others keeps its
/// header, and a blank line separates tables as usual.
#[test]
fn an_empty_result_in_a_script_keeps_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("three.sql");
    std::fs::write(
        &script,
        format!("SELECT 1 AS one;\n{EMPTY_QUERY};\nSELECT 2 AS two;\n"),
    )
    .unwrap();
    let script = script.to_str().unwrap();
    assert_eq!(
        ok(&["--format", "csv", "-f", script]),
        "one\n1\nid,region\ntwo\n2\n"
    );
    assert_eq!(
        ok(&["--format", "markdown", "-f", script]),
        "| one |\n|-----|\n|   1 |\n\n| id | region |\n|----|--------|\n0 rows\n\n| two |\n|-----|\n|   2 |\n"
    );
}

/// Two ids of part 0 under one name, three times over.
const REPEATED_QUERY: &str = "SELECT id, id * 10 AS id, region AS id FROM 'testdata/sales/part_0.csv' WHERE id <= 2 ORDER BY 1";

/// A result may repeat a column name, as PostgreSQL's may: every format prints the name
/// as often as the result has it.
#[test]
fn repeated_column_names_are_printed_as_they_are() {
    let border = "+-------+-------+---------+\n";
    let table = format!(
        "{border}| id    | id    | id      |\n| int64 | int64 | varchar |\n{border}|     1 |    10 | north   |\n|     2 |    20 | south   |\n{border}"
    );
    for (format, expected) in [
        ("csv", "id,id,id\n1,10,north\n2,20,south\n"),
        ("tsv", "id\tid\tid\n1\t10\tnorth\n2\t20\tsouth\n"),
        (
            "json",
            "[{\"id\":1,\"id\":10,\"id\":\"north\"},{\"id\":2,\"id\":20,\"id\":\"south\"}]\n",
        ),
        (
            "ndjson",
            "{\"id\":1,\"id\":10,\"id\":\"north\"}\n{\"id\":2,\"id\":20,\"id\":\"south\"}\n",
        ),
        ("table", table.as_str()),
        (
            "markdown",
            "| id | id | id    |\n|----|----|-------|\n|  1 | 10 | north |\n|  2 | 20 | south |\n",
        ),
    ] {
        assert_eq!(
            ok(&["--format", format, REPEATED_QUERY]),
            expected,
            "{format}"
        );
    }
    // Without a row, and after a join whose sides share a column name.
    assert_eq!(
        ok(&["--format", "csv", "SELECT 1, 1 WHERE false"]),
        "Int64(1),Int64(1)\n"
    );
    assert_eq!(
        ok(&[
            "--format",
            "csv",
            "SELECT * FROM 'testdata/products.csv' a JOIN 'testdata/products.csv' b ON a.product = b.product WHERE a.product = 'apple'",
        ]),
        "product,category,origin,product,category,origin\napple,fruit,Spain,apple,fruit,Spain\n"
    );
}

/// Runs `query` in a UTF-8 locale with `COLUMNS` set as given; returns stdout.
fn ok_in_utf8(args: &[&str], columns: Option<&str>) -> String {
    let mut command = assert_cmd::Command::cargo_bin("query").unwrap();
    command
        .current_dir(crate::workspace())
        .env("LC_ALL", "C.UTF-8")
        .env_remove("COLUMNS")
        .args(args);
    if let Some(columns) = columns {
        command.env("COLUMNS", columns);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", crate::stderr(&output));
    crate::stdout(&output)
}

const WIDE_QUERY: &str = "SELECT id, region, note, 'The quick brown fox jumps over the lazy dog' AS comment FROM 'testdata/sales/part_*.csv' ORDER BY id LIMIT 3";

/// 1 + (5+3) + (7+3) + (11+3) + (43+3) = 79 columns unfitted; at 50, the 37 left for text
/// give `comment` what the others do not need: 14.
#[test]
fn a_wide_result_is_cut_to_the_width_asked() {
    let expected = "\
┌───────┬─────────┬─────────────┬────────────────┐
│ id    │ region  │ note        │ comment        │
│ int64 │ varchar │ varchar     │ varchar        │
├───────┼─────────┼─────────────┼────────────────┤
│     1 │ north   │ plain       │ The quick bro… │
│     2 │ south   │ with, comma │ The quick bro… │
│     3 │ north   │ say \"hi\"    │ The quick bro… │
└───────┴─────────┴─────────────┴────────────────┘
";
    assert_eq!(
        ok_in_utf8(&["--maxwidth", "50", WIDE_QUERY], None),
        expected
    );
    // Without a limit, nothing is cut.
    let whole = ok_in_utf8(&["--maxwidth", "inf", WIDE_QUERY], None);
    assert!(
        whole.contains("│ The quick brown fox jumps over the lazy dog │"),
        "{whole}"
    );
}

/// At 30 columns not even every column at 8 fits: the first and last stay around a `…`.
#[test]
fn columns_that_do_not_fit_are_left_out_in_the_middle() {
    let expected = "\
┌───────┬───┬────────────────┐
│ id    │ … │ comment        │
│ int64 │   │ varchar        │
├───────┼───┼────────────────┤
│     1 │ … │ The quick bro… │
│     2 │ … │ The quick bro… │
│     3 │ … │ The quick bro… │
└───────┴───┴────────────────┘
3 rows · 4 columns (2 shown)
";
    assert_eq!(
        ok_in_utf8(&["--maxwidth", "30", WIDE_QUERY], None),
        expected
    );
    // `COLUMNS` is the width when the output is no terminal and none is asked for.
    assert_eq!(ok_in_utf8(&[WIDE_QUERY], Some("30")), expected);
    // ASCII: the same layout, its markers three dots wide.
    let ascii = ok_in_utf8(&["--ascii", "--maxwidth", "30", WIDE_QUERY], None);
    assert!(
        ascii.starts_with("+-------+-----+--------------+\n| id    | ... | comment      |\n"),
        "{ascii}"
    );
}

/// The first and last rows around a `…` row; floats to ten significant digits; a line break
/// in a cell shown as `\n`; timestamps with a space.
#[test]
fn long_results_show_their_first_and_last_rows() {
    let sql = "SELECT value AS v, value / 3.0 AS third, 'line' || chr(10) || 'break' AS text FROM generate_series(1, 6) ORDER BY v";
    let expected = "\
┌───────┬──────────────┬─────────────┐
│ v     │ third        │ text        │
│ int64 │ double       │ varchar     │
├───────┼──────────────┼─────────────┤
│     1 │ 0.3333333333 │ line\\nbreak │
│     2 │ 0.6666666667 │ line\\nbreak │
│     … │            … │ …           │
│     5 │  1.666666667 │ line\\nbreak │
│     6 │          2.0 │ line\\nbreak │
└───────┴──────────────┴─────────────┘
6 rows (4 shown)
";
    assert_eq!(ok_in_utf8(&["--maxrows", "4", sql], None), expected);
    // Files and other formats keep every digit and the line break.
    let csv = ok(&[
        "--format",
        "csv",
        "SELECT 1 / 3.0 AS third, 'a' || chr(10) || 'b' AS s",
    ]);
    assert_eq!(csv, "third,s\n0.3333333333333333,\"a\nb\"\n");
    let stamps = ok(&[
        "SELECT TIMESTAMP '2024-03-15 13:45:00' AS t, TIMESTAMP '2024-03-15 13:45:00.25' AS u",
    ]);
    assert!(
        stamps.contains("| 2024-03-15 13:45:00 | 2024-03-15 13:45:00.250 |"),
        "{stamps}"
    );
    assert!(
        stamps.contains("| timestamp           | timestamp               |"),
        "{stamps}"
    );
}

/// `SUMMARIZE` over the fixture, each statistic worked out here from `SALES`.
#[test]
fn summarize_describes_every_column() {
    let text = ok(&[
        "--format",
        "csv",
        "SUMMARIZE SELECT id, region, price, note FROM 'testdata/sales/part_*.csv'",
    ]);
    let rows = parse_delimited(&text, ',');
    assert_eq!(
        rows[0],
        [
            "column_name",
            "column_type",
            "min",
            "max",
            "approx_unique",
            "avg",
            "std",
            "q25",
            "q50",
            "q75",
            "count",
            "null_percentage"
        ]
    );
    let by_name = |name: &str| rows.iter().find(|row| row[0] == name).unwrap().clone();
    let number = |text: &str| text.parse::<f64>().unwrap();
    let close = |text: &str, expected: f64| (number(text) - expected).abs() < 1e-9;

    let ids: Vec<f64> = SALES.iter().map(|s| s.0 as f64).collect();
    let prices: Vec<f64> = SALES.iter().filter_map(|s| s.2).collect();
    for (name, values, kind) in [("id", &ids, "int64"), ("price", &prices, "double")] {
        let row = by_name(name);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance =
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
        assert_eq!(row[1], kind);
        assert!(close(&row[5], mean), "{name} avg {}", row[5]);
        assert!(close(&row[6], variance.sqrt()), "{name} std {}", row[6]);
        let least = values.iter().copied().fold(f64::INFINITY, f64::min);
        let most = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((number(&row[2]), number(&row[3])), (least, most), "{name}");
        let missing = 100.0 * (SALES.len() - values.len()) as f64 / SALES.len() as f64;
        assert!(close(&row[11], missing), "{name} nulls {}", row[11]);
        // Quartiles are approximate but in order, within the values.
        let quartiles: Vec<f64> = row[7..10].iter().map(|q| number(q)).collect();
        assert!(
            quartiles.windows(2).all(|w| w[0] <= w[1])
                && quartiles[0] >= least
                && quartiles[2] <= most,
            "{quartiles:?}"
        );
        assert_eq!(row[10], "10");
    }
    assert_eq!(by_name("id")[4], "10");

    let regions: Vec<&str> = SALES.iter().filter_map(|s| s.1).collect();
    let region = by_name("region");
    assert_eq!(region[1], "varchar");
    assert_eq!(region[2], *regions.iter().min().unwrap());
    assert_eq!(region[3], *regions.iter().max().unwrap());
    assert_eq!(region[4], "3");
    assert_eq!(&region[5..10], ["", "", "", "", ""], "no mean of text");
    assert!(close(&region[11], 10.0));

    // The function form composes: the columns with a NULL, and a dot command's spelling.
    assert_eq!(
        ok(&["--format", "csv", "SELECT column_name FROM summarize((SELECT * FROM 'testdata/sales/part_*.csv')) WHERE null_percentage > 0 ORDER BY 1"]),
        "column_name\nnote\nprice\nqty\nregion\n"
    );
    crate::fails(
        &["SELECT * FROM summarize(1)"],
        1,
        &["summarize takes a query"],
    );
}
