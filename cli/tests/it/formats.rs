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
        let cells = table_cells(&text);
        assert_eq!(
            cells[0],
            ["id", "region", "price", "note"],
            "{format}:\n{text}"
        );
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
    let text = ok(&["--maxrows", "3", SALES_QUERY]);
    let cells = table_cells(&text);
    assert_eq!(cells.len(), 1 + 3, "{text}");
    assert!(text.contains("10 rows in total, 7 not shown"), "{text}");
    let all = ok(&["--maxrows", "inf", SALES_QUERY]);
    assert_eq!(table_cells(&all).len(), 11);
    assert!(!all.contains("not shown"));
    // The default shows 40 rows of a longer result.
    let long = ok(&["SELECT * FROM generate_series(1, 100)"]);
    assert_eq!(table_cells(&long).len(), 41);
    assert!(long.contains("100 rows in total, 60 not shown"), "{long}");
}

/// No row matches `id < 0`.
const EMPTY_QUERY: &str = "SELECT id, region FROM 'testdata/sales/part_*.csv' WHERE id < 0";

/// A result without rows is still a table of its columns: the CSV and TSV header, an empty
/// JSON array, no NDJSON line, and the table formats' header with a `0 rows` footer.
#[test]
fn an_empty_result_still_shows_its_columns() {
    let border = "+----+--------+\n";
    let table = format!("{border}| id | region |\n{border}{border}0 rows\n");
    for (format, expected) in [
        ("csv", "id,region\n"),
        ("tsv", "id\tregion\n"),
        ("json", "[]"),
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
    let border = "+----+----+-------+\n";
    let table = format!(
        "{border}| id | id | id    |\n{border}|  1 | 10 | north |\n|  2 | 20 | south |\n{border}"
    );
    for (format, expected) in [
        ("csv", "id,id,id\n1,10,north\n2,20,south\n"),
        ("tsv", "id\tid\tid\n1\t10\tnorth\n2\t20\tsouth\n"),
        (
            "json",
            r#"[{"id":1,"id":10,"id":"north"},{"id":2,"id":20,"id":"south"}]"#,
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
