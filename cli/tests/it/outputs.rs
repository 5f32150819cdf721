//! `-o FILE`: every format reads back identical, and writes are atomic.

use std::fs::File;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rask::arrow::array::{Array, AsArray, RecordBatch, RecordBatchReader};
use rask::arrow::datatypes::{DataType, Float64Type, Int64Type};
use rask::arrow::ipc::reader::FileReader;

use crate::{fails, ok, query, stderr, SALES, SALES_QUERY};

/// Checks id, price and note of batches read back from a file against the fixture.
fn check_batches(batches: &[RecordBatch]) {
    let mut rows = 0;
    for batch in batches {
        let ids = batch
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let prices = batch
            .column_by_name("price")
            .unwrap()
            .as_primitive::<Float64Type>();
        let notes =
            rask::arrow::compute::cast(batch.column_by_name("note").unwrap(), &DataType::Utf8)
                .unwrap();
        let notes = notes.as_string::<i32>();
        for i in 0..batch.num_rows() {
            let (id, _, price, note) = SALES[rows];
            assert_eq!(ids.value(i), id);
            assert_eq!(
                prices.is_valid(i).then(|| prices.value(i)),
                price,
                "row {id}"
            );
            assert_eq!(notes.is_valid(i).then(|| notes.value(i)), note, "row {id}");
            rows += 1;
        }
    }
    assert_eq!(rows, SALES.len());
}

#[test]
fn binary_outputs_read_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("out.parquet");
    let output = query(&["-o", parquet.to_str().unwrap(), SALES_QUERY]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("wrote 10 row(s)"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    check_batches(&reader.collect::<Result<Vec<_>, _>>().unwrap());

    let arrow = dir.path().join("out.arrow");
    ok(&["-q", "-o", arrow.to_str().unwrap(), SALES_QUERY]);
    let reader = FileReader::try_new(File::open(&arrow).unwrap(), None).unwrap();
    check_batches(&reader.collect::<Result<Vec<_>, _>>().unwrap());
}

/// A compression suffix after the format's extension compresses the file, for `-o` and for
/// `COPY`: decompressed by the codecs' own decoders, it holds what the plain format prints.
/// `COPY` takes its format from the same extensions.
#[test]
fn compressed_text_outputs_decompress_to_the_plain_format() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let decompress = |path: &std::path::Path| -> String {
        let file = File::open(path).unwrap();
        let mut reader: Box<dyn Read> = match path.extension().unwrap().to_str().unwrap() {
            "gz" => Box::new(flate2::read::MultiGzDecoder::new(file)),
            "zst" => Box::new(zstd::stream::read::Decoder::new(file).unwrap()),
            "bz2" => Box::new(bzip2::read::BzDecoder::new(file)),
            "xz" => Box::new(liblzma::read::XzDecoder::new(file)),
            other => panic!("{other}"),
        };
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        text
    };
    for (name, format) in [
        ("out.csv.gz", "csv"),
        ("out.ndjson.zst", "ndjson"),
        ("out.tsv.bz2", "tsv"),
        ("out.json.xz", "json"),
    ] {
        let path = dir.path().join(name);
        ok(&["-q", "-o", path.to_str().unwrap(), SALES_QUERY]);
        let printed = ok(&["--format", format, SALES_QUERY]);
        assert_eq!(decompress(&path), printed, "{name}");
    }
    // Read back through the readers: the fixture's 10 rows, ids 1 to 10.
    for name in ["out.csv.gz", "out.ndjson.zst", "out.tsv.bz2"] {
        let sql = format!(
            "SELECT count(*), sum(id) FROM '{}'",
            dir.path().join(name).display()
        );
        assert_eq!(
            ok(&["--format", "csv", &sql]),
            "count(*),sum(id)\n10,55\n",
            "{name}"
        );
    }
    // COPY names formats as -o does (DataFusion knows neither `tsv` nor `ndjson` nor `gz`).
    for (name, format) in [
        ("copy.csv.gz", "csv"),
        ("copy.tsv", "tsv"),
        ("copy.ndjson.zst", "ndjson"),
    ] {
        let copied = dir.path().join(name);
        let copy = format!("COPY ({SALES_QUERY}) TO '{}'", copied.display());
        ok(&["-q", &copy]);
        let written = match copied.extension().unwrap().to_str().unwrap() {
            "tsv" => std::fs::read_to_string(&copied).unwrap(),
            _ => decompress(&copied),
        };
        let printed = ok(&["--format", format, SALES_QUERY]);
        if format == "ndjson" {
            // DataFusion's JSON writer leaves out the keys of nulls; -o writes them.
            let objects = |text: &str| -> Vec<serde_json::Value> {
                let without_nulls = |mut object: serde_json::Value| {
                    object.as_object_mut().unwrap().retain(|_, v| !v.is_null());
                    object
                };
                text.lines()
                    .map(|line| without_nulls(serde_json::from_str(line).unwrap()))
                    .collect()
            };
            assert_eq!(objects(&written), objects(&printed), "{name}");
        } else {
            assert_eq!(written, printed, "{name}");
        }
    }
    for refused in ["out.parquet.gz", "out.arrow.zst"] {
        let path = dir.path().join(refused);
        fails(
            &["-o", path.to_str().unwrap(), "SELECT 1"],
            1,
            &["compress internally"],
        );
        let copy = format!("COPY (SELECT 1) TO '{}'", path.display());
        fails(&[&copy], 1, &["compress internally"]);
        assert!(!path.exists());
    }
}

#[test]
fn text_outputs_read_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    for extension in ["csv", "tsv", "json", "ndjson"] {
        let path = dir.path().join(format!("out.{extension}"));
        ok(&["-q", "-o", path.to_str().unwrap(), SALES_QUERY]);
        let printed = ok(&["--format", extension, SALES_QUERY]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            printed,
            "{extension}"
        );
    }
    // The written files are queryable again and hold the fixture's values.
    let csv = dir.path().join("out.csv");
    let sums = ok(&[
        "--format",
        "csv",
        &format!(
            "SELECT count(*), sum(price), count(region) FROM '{}'",
            csv.display()
        ),
    ]);
    assert_eq!(sums.lines().nth(1), Some("10,15.5,9"));
}

#[test]
fn a_failed_query_leaves_the_destination_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("result.csv");
    std::fs::write(&target, "precious\n").unwrap();
    fails(
        &[
            "-o",
            target.to_str().unwrap(),
            "SELECT sum(v) FROM 'testdata/bad/bad_value.csv'",
        ],
        1,
        &["bad_value.csv:10052"],
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn output_errors_are_caught_before_running() {
    fails(
        &["-o", "no/such/dir/out.csv", "SELECT 1"],
        1,
        &["cannot write 'no/such/dir/out.csv': directory 'no/such/dir' does not exist"],
    );
    fails(
        &["-o", "out.xlsx", "SELECT 1"],
        1,
        &["cannot tell the output format", ".parquet"],
    );
}

/// A write the file system refuses while `COPY` runs names the file and the cause, which
/// DataFusion's sink drops ("Error encountered while finalizing writes").
#[test]
fn copy_refused_by_the_file_system_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "not a directory\n").unwrap();
    let target = plain.join("out.csv");
    let err = fails(
        &[&format!("COPY (SELECT 1 AS a) TO '{}'", target.display())],
        1,
        &[&format!(
            "cannot write '{}': Not a directory",
            target.display()
        )],
    );
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        "not a directory\n"
    );
}

/// `query … | head`: once the reader has gone, every format ends quietly with success
/// (the rows left are not wanted), and no error is printed.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    for format in ["csv", "tsv", "json", "ndjson", "table", "markdown"] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("query"))
            .current_dir(crate::workspace())
            .args([
                "--no-progress",
                "--maxrows",
                "inf",
                "--format",
                format,
                "SELECT * FROM timeseries('2000-01-01', '2000-01-03', '1s')",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 4096];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The read end is closed here, long before 172,800 rows are written.
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{format}: {:?}", output.status);
        assert_eq!(stderr(&output), "", "{format}");
    }
}

/// `-o` with a result without rows writes a file that still has the result's columns: the
/// header of CSV and TSV, `[]`, an empty NDJSON file, and Parquet and Arrow files whose
/// schema names and types the columns.
#[test]
fn empty_results_write_files_with_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let empty = "SELECT id, region FROM 'testdata/sales/part_*.csv' WHERE id < 0";
    for (extension, expected) in [
        ("csv", "id,region\n"),
        ("tsv", "id\tregion\n"),
        ("json", "[]\n"),
        ("ndjson", ""),
    ] {
        let path = dir.path().join(format!("empty.{extension}"));
        let output = query(&["-o", path.to_str().unwrap(), empty]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stderr(&output).contains("wrote 0 row(s)"), "{extension}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected,
            "{extension}"
        );
    }
    let columns = |schema: &rask::arrow::datatypes::Schema| -> Vec<(String, DataType)> {
        schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    let expected = vec![
        ("id".to_string(), DataType::Int64),
        ("region".to_string(), DataType::Utf8),
    ];
    let parquet = dir.path().join("empty.parquet");
    ok(&["-q", "-o", parquet.to_str().unwrap(), empty]);
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(columns(&reader.schema()), expected);
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
    let arrow = dir.path().join("empty.arrow");
    ok(&["-q", "-o", arrow.to_str().unwrap(), empty]);
    let reader = FileReader::try_new(File::open(&arrow).unwrap(), None).unwrap();
    assert_eq!(columns(&reader.schema()), expected);
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 0);
}

/// `COPY … TO` a file writes the header of a result without rows too.
#[test]
fn copy_of_an_empty_result_writes_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copied.csv");
    let copy = format!(
        "COPY (SELECT id, region FROM 'testdata/sales/part_*.csv' WHERE id < 0) TO '{}'",
        path.display()
    );
    ok(&["-q", &copy]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "id,region\n");
}

/// Files written with `-o` keep a result's repeated column names: the CSV header, and the
/// Parquet and Arrow schemas.
#[test]
fn repeated_column_names_are_written_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let repeated = "SELECT id, id * 10 AS id FROM 'testdata/sales/part_0.csv' ORDER BY 1";
    let csv = dir.path().join("repeated.csv");
    ok(&["-q", "-o", csv.to_str().unwrap(), repeated]);
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "id,id\n1,10\n2,20\n3,30\n4,40\n"
    );
    let names = |schema: &rask::arrow::datatypes::Schema| -> Vec<String> {
        schema.fields().iter().map(|f| f.name().clone()).collect()
    };
    let parquet = dir.path().join("repeated.parquet");
    ok(&["-q", "-o", parquet.to_str().unwrap(), repeated]);
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(names(&reader.schema()), ["id", "id"]);
    let tens: Vec<i64> = reader
        .flat_map(|batch| {
            let batch = batch.unwrap();
            batch
                .column(1)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(tens, [10, 20, 30, 40]);
    let arrow = dir.path().join("repeated.arrow");
    ok(&["-q", "-o", arrow.to_str().unwrap(), repeated]);
    let reader = FileReader::try_new(File::open(&arrow).unwrap(), None).unwrap();
    assert_eq!(names(&reader.schema()), ["id", "id"]);
}
