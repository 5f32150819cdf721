//! The DataFrame API against independent computations over the fixture rows.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use rask::prelude::*;
use rask::{DropHow, How};
use rask::{ReadOptions, TimeseriesParams};

use crate::testdata;

/// `(region, qty, price)` of `testdata/sales/*.csv`, read off the files by hand.
const SALES: [(Option<&str>, Option<i64>, Option<f64>); 10] = [
    (Some("north"), Some(3), Some(1.25)),
    (Some("south"), None, Some(0.5)),
    (Some("north"), Some(10), Some(4.0)),
    (Some("east"), Some(1), Some(1.25)),
    (Some("south"), Some(7), Some(1.5)),
    (None, Some(2), Some(0.5)),
    (Some("east"), Some(5), None),
    (Some("north"), Some(4), Some(0.75)),
    (Some("south"), Some(6), Some(4.5)),
    (Some("north"), None, Some(1.25)),
];

/// Count, mean and sum of squared deviations of the non-null `qty` values.
fn qty_moments() -> (f64, f64, f64) {
    let values: Vec<f64> = SALES
        .iter()
        .filter_map(|(_, q, _)| q.map(|q| q as f64))
        .collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let squares = values.iter().map(|v| (v - mean).powi(2)).sum();
    (n, mean, squares)
}

async fn sales() -> DataFrame {
    let session = Session::new().unwrap();
    session
        .read_csv(&testdata("sales/part_*.csv"), ReadOptions::default())
        .await
        .unwrap()
}

fn one_batch(batches: Vec<RecordBatch>) -> RecordBatch {
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[tokio::test]
async fn inspection_without_a_full_compute() {
    let frame = sales().await;
    assert_eq!(
        frame.columns(),
        ["id", "region", "product", "qty", "price", "sold_at", "note"]
    );
    let dtypes = frame.dtypes();
    assert_eq!(dtypes[3], ("qty".to_string(), DataType::Int64));
    assert_eq!(dtypes[4], ("price".to_string(), DataType::Float64));
    assert_eq!(frame.clone().len().await.unwrap(), SALES.len());
    let head = one_batch(frame.head(3).await.unwrap());
    assert_eq!(head.num_rows(), 3);
}

#[tokio::test]
async fn filter_and_assign() {
    let frame = sales()
        .await
        .filter(col("qty").gt(lit(4)))
        .unwrap()
        .assign("revenue", col("qty") * col("price"))
        .unwrap()
        .agg(&[("revenue", &["sum", "count"]), ("qty", &["sum"])])
        .unwrap();
    let batch = one_batch(frame.collect().await.unwrap());
    let kept: Vec<_> = SALES
        .iter()
        .filter(|(_, q, _)| q.is_some_and(|q| q > 4))
        .collect();
    let revenue: f64 = kept
        .iter()
        .filter_map(|(_, q, p)| Some(q.unwrap() as f64 * (*p)?))
        .sum();
    let counted = kept.iter().filter(|(_, _, p)| p.is_some()).count() as i64;
    let qty: i64 = kept.iter().map(|(_, q, _)| q.unwrap()).sum();
    assert_eq!(
        batch.column(0).as_primitive::<Float64Type>().value(0),
        revenue
    );
    assert_eq!(
        batch.column(1).as_primitive::<Int64Type>().value(0),
        counted
    );
    assert_eq!(batch.column(2).as_primitive::<Int64Type>().value(0), qty);
}

#[tokio::test]
async fn groupby_follows_pandas() {
    let frame = sales()
        .await
        .groupby(&["region"])
        .dropna(false)
        .agg(&[
            ("qty", &["sum", "count", "mean", "std"]),
            ("price", &["max"]),
        ])
        .unwrap();
    assert_eq!(
        frame.columns(),
        [
            "region",
            "qty_sum",
            "qty_count",
            "qty_mean",
            "qty_std",
            "price"
        ]
    );
    let batch = one_batch(frame.collect().await.unwrap());
    // Independent computation: groups sorted by key, the NULL key last (kept: dropna(false)).
    let mut keys: Vec<Option<&str>> = SALES.iter().map(|(r, _, _)| *r).collect();
    keys.sort_by(|a, b| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, _) => std::cmp::Ordering::Greater,
        (_, None) => std::cmp::Ordering::Less,
        (Some(a), Some(b)) => a.cmp(b),
    });
    keys.dedup();
    assert_eq!(batch.num_rows(), keys.len());
    let regions = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap();
    let regions = regions.as_string::<i32>();
    for (row, key) in keys.iter().enumerate() {
        assert_eq!(regions.is_valid(row).then(|| regions.value(row)), *key);
        let qty: Vec<f64> = SALES
            .iter()
            .filter(|(r, _, _)| r == key)
            .filter_map(|(_, q, _)| q.map(|q| q as f64))
            .collect();
        let n = qty.len() as f64;
        let mean = qty.iter().sum::<f64>() / n;
        let sample_var = qty.iter().map(|q| (q - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert_eq!(
            batch.column(1).as_primitive::<Int64Type>().value(row),
            qty.iter().sum::<f64>() as i64
        );
        assert_eq!(
            batch.column(2).as_primitive::<Int64Type>().value(row),
            qty.len() as i64
        );
        assert!((batch.column(3).as_primitive::<Float64Type>().value(row) - mean).abs() < 1e-12);
        let std = batch.column(4).as_primitive::<Float64Type>();
        if qty.len() > 1 {
            assert!(
                (std.value(row) - sample_var.sqrt()).abs() < 1e-12,
                "ddof = 1"
            );
        } else {
            assert!(std.is_null(row), "the sample std of one value is undefined");
        }
    }
}

#[tokio::test]
async fn groupby_size_counts_rows_with_nulls() {
    let frame = sales().await.groupby(&["product"]).size().unwrap();
    let batch = one_batch(frame.collect().await.unwrap());
    let sizes = batch.column(1).as_primitive::<Int64Type>();
    // apple: ids 1, 4, 5, 10; banana: 2, 6, 8; cherry: 3, 7, 9
    assert_eq!(sizes.values().to_vec(), [4, 3, 3]);
}

#[tokio::test]
async fn the_timeseries_groupby_of_the_blog_post() {
    let session = Session::new().unwrap();
    let params =
        TimeseriesParams::new(None, Some("2000-01-03"), Some("1min"), None, Some(5)).unwrap();
    let frame = session
        .timeseries(params)
        .unwrap()
        .groupby(&["name"])
        .agg(&[("x", &["max"]), ("y", &["mean"])])
        .unwrap();
    assert_eq!(frame.columns(), ["name", "x", "y"]);
    let batch = one_batch(frame.collect().await.unwrap());
    assert_eq!(batch.num_rows(), 26);
    let names = batch.column(0).as_string::<i32>();
    assert_eq!(names.value(0), "Alice");
    assert_eq!(names.value(25), "Zelda");
    let x = batch.column(1).as_primitive::<Float64Type>();
    assert!(
        x.values().iter().all(|v| (0.9..1.0).contains(v)),
        "max of ~110 uniforms on [-1, 1)"
    );
}

#[tokio::test]
async fn frames_and_sql_compose_both_ways() {
    let session = Session::new().unwrap();
    let big = session
        .sql(&format!("SELECT * FROM '{}'", testdata("sales/part_*.csv")))
        .await
        .unwrap()
        .filter(col("qty").gt_eq(lit(5)))
        .unwrap();
    session.register_frame("big", &big).unwrap();
    let batch = one_batch(
        session
            .sql("SELECT count(*) FROM big")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let expected = SALES
        .iter()
        .filter(|(_, q, _)| q.is_some_and(|q| q >= 5))
        .count() as i64;
    assert_eq!(
        batch.column(0).as_primitive::<Int64Type>().value(0),
        expected
    );
}

#[tokio::test]
async fn bad_operations_are_refused_clearly() {
    let frame = sales().await;
    let err = frame
        .clone()
        .groupby(&["region"])
        .agg(&[("qty", &["median_ish"])])
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown aggregation 'median_ish'"),
        "{err}"
    );
    let err = frame.clone().drop(&["nope"]).unwrap_err();
    assert!(err.to_string().contains("no column named nope"), "{err}");
    let err = frame.rename(&[("nope", "x")]).unwrap_err();
    assert!(err.to_string().contains("no column named nope"), "{err}");
}

#[tokio::test]
async fn in_memory_frames_have_the_requested_partitions() {
    let session = Session::new().unwrap();
    let source = one_batch(
        sales()
            .await
            .select(&["id", "qty"])
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let frame = session.from_batches(vec![source], 3).unwrap();
    let total = one_batch(
        frame
            .agg(&[("id", &["sum", "count"])])
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(total.column(0).as_primitive::<Int64Type>().value(0), 55);
    assert_eq!(total.column(1).as_primitive::<Int64Type>().value(0), 10);
}

#[tokio::test]
async fn element_wise_accessors() {
    let frame = sales()
        .await
        .filter(col("id").in_list(vec![lit(1), lit(6), lit(7)], false))
        .unwrap()
        .sort_values(&["id"], true)
        .unwrap()
        .assign("day", col("sold_at").dt_day())
        .unwrap()
        .assign("weekday", col("sold_at").dt_dayofweek())
        .unwrap()
        .assign("shout", col("product").str_upper())
        .unwrap()
        .assign("has_an", col("product").str_contains("an"))
        .unwrap()
        .assign("price0", col("price").fillna(0.0))
        .unwrap()
        .assign("clipped", col("qty").clip(3, 4))
        .unwrap()
        .assign("missing", col("region").isna())
        .unwrap()
        .select(&[
            "day", "weekday", "shout", "has_an", "price0", "clipped", "missing",
        ])
        .unwrap();
    let batch = one_batch(frame.collect().await.unwrap());
    let text = rask::pretty_format(&[batch]).unwrap();
    // id 1: 2024-01-01 (a Monday) apple qty 3 price 1.25; id 6: 2024-01-03 (Wednesday)
    // banana qty 2, region NULL; id 7: 2024-01-04 (Thursday) cherry qty 5, price NULL.
    let expected = "\
+-----+---------+--------+--------+--------+---------+---------+
| day | weekday | shout  | has_an | price0 | clipped | missing |
+-----+---------+--------+--------+--------+---------+---------+
| 1   | 0       | APPLE  | false  | 1.25   | 3       | false   |
| 3   | 2       | BANANA | true   | 0.5    | 3       | true    |
| 4   | 3       | CHERRY | false  | 0.0    | 4       | false   |
+-----+---------+--------+--------+--------+---------+---------+";
    assert_eq!(text, expected);
}

#[tokio::test]
async fn row_operations() {
    let frame = sales().await;
    let rows = |f: rask::Result<DataFrame>| async move { f.unwrap().len().await.unwrap() };
    // dropna over qty and price: ids 2 (qty), 7 (price) and 10 (qty) go.
    assert_eq!(
        rows(frame.clone().dropna(DropHow::Any, &["qty", "price"])).await,
        7
    );
    assert_eq!(
        rows(frame.clone().dropna(DropHow::All, &["qty", "price"])).await,
        10
    );
    // Over all columns, id 4's NULL note drops it too.
    assert_eq!(rows(frame.clone().dropna(DropHow::Any, &[])).await, 5);
    // (apple, north) appears twice (ids 1 and 10); the other 8 pairs once.
    assert_eq!(
        rows(frame.clone().drop_duplicates(&["product", "region"])).await,
        9
    );
    assert_eq!(rows(frame.clone().unique("product")).await, 3);

    let counts = one_batch(
        frame
            .clone()
            .value_counts("region")
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let text = rask::pretty_format(&[counts]).unwrap();
    assert!(
        text.contains("| north  | 4     |\n| south  | 3     |\n| east   | 2     |"),
        "{text}"
    );

    let top = one_batch(
        frame
            .clone()
            .nlargest(2, "qty")
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(
        top.column_by_name("qty")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        [10, 7]
    );
    let bottom = one_batch(
        frame
            .nsmallest(2, "price")
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(
        bottom
            .column_by_name("price")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .to_vec(),
        [0.5, 0.5]
    );
}

#[tokio::test]
async fn merge_and_concat_follow_pandas() {
    let session = Session::new().unwrap();
    let products = session
        .read_csv(&testdata("products.csv"), ReadOptions::default())
        .await
        .unwrap();
    let left = sales().await.select(&["id", "product", "qty"]).unwrap();
    let merged = left
        .clone()
        .merge(
            products.clone(),
            How::Left,
            &["product"],
            (&[], &[]),
            ("_x", "_y"),
        )
        .unwrap();
    assert_eq!(
        merged.columns(),
        ["id", "product", "qty", "category", "origin"]
    );
    assert_eq!(merged.len().await.unwrap(), 10);

    let outer = products
        .clone()
        .merge(
            left.clone(),
            How::Outer,
            &["product"],
            (&[], &[]),
            ("_x", "_y"),
        )
        .unwrap();
    // 10 sales rows plus durian, which has none
    assert_eq!(outer.clone().len().await.unwrap(), 11);
    let durian = outer.filter(col("product").eq(lit("durian"))).unwrap();
    assert_eq!(
        durian.len().await.unwrap(),
        1,
        "outer keys are filled from either side"
    );

    let anti = products
        .clone()
        .merge(
            left.clone(),
            How::LeftAnti,
            &["product"],
            (&[], &[]),
            ("_x", "_y"),
        )
        .unwrap();
    assert_eq!(anti.columns(), ["product", "category", "origin"]);
    assert_eq!(anti.len().await.unwrap(), 1);

    // Shared non-key names get the suffixes.
    let renamed = products.clone().rename(&[("origin", "qty")]).unwrap();
    let clash = left
        .clone()
        .merge(
            renamed,
            How::Inner,
            &[],
            (&["product"], &["product"]),
            ("_sale", "_product"),
        )
        .unwrap();
    assert_eq!(
        clash.columns(),
        ["id", "product", "qty_sale", "category", "qty_product"]
    );

    let both = left.clone().concat(vec![left]).unwrap();
    assert_eq!(both.len().await.unwrap(), 20);
}

#[tokio::test]
async fn compute_and_explain() {
    let frame = sales().await.groupby(&["product"]).size().unwrap();
    let plan = frame.clone().explain(false).await.unwrap();
    assert!(plan.contains("Aggregate"), "{plan}");
    let table = frame.compute().await.unwrap();
    assert_eq!(table.num_rows(), 3);
    assert!(table.to_string().contains("| apple   | 4    |"), "{table}");
    assert!(
        sales().await.compute_blocking().is_err(),
        "refused inside a runtime"
    );
}

#[test]
fn compute_blocking_outside_a_runtime() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let frame = runtime.block_on(sales());
    let table = frame
        .agg(&[("qty", &["sum"])])
        .unwrap()
        .compute_blocking()
        .unwrap();
    assert_eq!(
        table.batches[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        38
    );
}

#[tokio::test]
async fn describe_and_quantile() {
    let frame = sales().await.select(&["qty", "price"]).unwrap();
    let described = one_batch(
        frame
            .clone()
            .describe()
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(described.num_rows(), 8);
    let stats = described.column(0).as_string::<i32>();
    let qty = described.column(1).as_primitive::<Float64Type>();
    let (n, mean, squares) = qty_moments();
    let std = (squares / (n - 1.0)).sqrt();
    let row = |name: &str| (0..8).find(|&i| stats.value(i) == name).unwrap();
    assert_eq!(qty.value(row("count")), n);
    assert!((qty.value(row("mean")) - mean).abs() < 1e-12);
    assert!((qty.value(row("std")) - std).abs() < 1e-12);
    assert_eq!(qty.value(row("min")), 1.0);
    assert_eq!(qty.value(row("max")), 10.0);
    // qty sorted: 1 2 3 4 5 6 7 10; the approximate median lies between the middle two
    assert!((4.0..=5.0).contains(&qty.value(row("50%"))));

    let q = one_batch(
        frame
            .quantile(&["price"], 1.0)
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(q.column(0).as_primitive::<Float64Type>().value(0), 4.5);
}

#[tokio::test]
async fn sinks_write_partitioned_parquet_and_per_partition_csv() {
    let session = Session::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("by_region");
    let rows = sales()
        .await
        .dropna(DropHow::Any, &["region"])
        .unwrap()
        .to_parquet(
            &out,
            &rask::sink::ParquetSink {
                partition_on: vec!["region".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows, 9);
    let mut folders: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, ["region=east", "region=north", "region=south"]);
    let north = session
        .read_parquet(&format!("{}/region=north/", out.display()))
        .await
        .unwrap()
        .agg(&[("qty", &["sum"])])
        .unwrap();
    let batch = one_batch(north.collect().await.unwrap());
    assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 17);
    // The whole folder gives the partition column back, as Dask's read_parquet does.
    let by_region = session
        .read_parquet(&out.display().to_string())
        .await
        .unwrap()
        .groupby(&["region"])
        .agg(&[("qty", &["sum"])])
        .unwrap();
    let batch = one_batch(by_region.collect().await.unwrap());
    let regions: Vec<&str> = (0..3)
        .map(|i| batch.column(0).as_string::<i32>().value(i))
        .collect();
    assert_eq!(regions, ["east", "north", "south"]);
    let sums: Vec<i64> = (0..3)
        .map(|i| batch.column(1).as_primitive::<Int64Type>().value(i))
        .collect();
    assert_eq!(sums, [6, 17, 13]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no staging folder left"
    );

    let pattern = dir.path().join("part-*.csv");
    let frame = session
        .from_batches(vec![one_batch(sales().await.collect().await.unwrap())], 3)
        .unwrap();
    assert_eq!(frame.npartitions().await.unwrap(), 3);
    assert_eq!(frame.to_csv(&pattern).await.unwrap(), 10);
    let written: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(dir.path().join(format!("part-{i}.csv")))
                .unwrap()
                .lines()
                .count()
                - 1
        })
        .sum();
    assert_eq!(written, 10);
}

#[tokio::test]
async fn samples_are_reproducible_and_sized() {
    let session = Session::new().unwrap();
    let params =
        || TimeseriesParams::new(None, Some("2000-01-02"), Some("1s"), None, Some(1)).unwrap();
    let rows = |frac, seed, partitions| {
        let session = Session::builder().partitions(partitions).build().unwrap();
        async move {
            let frame = session
                .timeseries(params())
                .unwrap()
                .sample(frac, seed)
                .unwrap();
            frame
                .agg(&[("x", &["sum", "count"])])
                .unwrap()
                .compute()
                .await
                .unwrap()
        }
    };
    let a = rows(0.1, 7, 1).await;
    let b = rows(0.1, 7, 4).await;
    let count = |t: &rask::Table| t.batches[0].column(1).as_primitive::<Int64Type>().value(0);
    let sum = |t: &rask::Table| {
        t.batches[0]
            .column(0)
            .as_primitive::<Float64Type>()
            .value(0)
    };
    assert_eq!(
        count(&a),
        count(&b),
        "the same rows whatever the partitioning"
    );
    assert!((sum(&a) - sum(&b)).abs() < 1e-9);
    // 86,400 rows: a 10% sample has 8,640 ± 3 standard deviations (≈ 264)
    assert!((8_376..=8_904).contains(&count(&a)), "{}", count(&a));
    assert_ne!(count(&rows(0.1, 8, 2).await), 0);
    assert_ne!(
        sum(&rows(0.1, 8, 2).await),
        sum(&a),
        "another seed, another sample"
    );
    let all = session
        .timeseries(params())
        .unwrap()
        .sample(1.0, 0)
        .unwrap();
    assert_eq!(all.len().await.unwrap(), 86_400);
    assert!(session
        .timeseries(params())
        .unwrap()
        .sample(1.5, 0)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_shows_the_structure_without_computing() {
    let session = Session::builder().partitions(3).build().unwrap();
    let frame = session
        .read_csv(&testdata("sales/part_*.csv"), ReadOptions::default())
        .await
        .unwrap()
        .select(&["region", "qty"])
        .unwrap()
        .filter(col("qty").gt(lit(1)))
        .unwrap();
    let text = frame.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Rask DataFrame Structure:");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["region", "qty"]
    );
    // three small files, one partition each
    assert_eq!(lines[2], "npartitions=3");
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["Utf8", "Int64"]
    );
    assert!(
        lines[4].starts_with("Rask plan: Filter <- Projection <- TableScan"),
        "{text}"
    );
    assert!(lines[4].contains("tasks"), "{text}");
}

#[tokio::test]
async fn display_inside_a_single_threaded_runtime_leaves_partitions_open() {
    let text = sales().await.to_string();
    assert_eq!(text.lines().nth(2), Some("npartitions=?"));
}

/// What `read_csv` is not told it finds: the `;` and dates of `dialects/`, and, asked to,
/// the columns of `drift/` by name (the values read off the fixtures).
#[tokio::test]
async fn read_csv_sniffs_dialects_and_unions_by_name() {
    let session = Session::new().unwrap();
    let semicolon = session
        .read_csv(&testdata("dialects/semicolon.csv"), ReadOptions::default())
        .await
        .unwrap();
    let names: Vec<String> = semicolon.columns();
    assert_eq!(names, ["id", "city", "visits"]);
    let dates = session
        .read_csv(&testdata("dialects/dates.csv"), ReadOptions::default())
        .await
        .unwrap();
    assert!(dates
        .dtypes()
        .iter()
        .take(4)
        .all(|(_, t)| *t == DataType::Date32));
    let drift = testdata("drift/part_*.csv");
    assert!(session
        .read_csv(&drift, ReadOptions::default())
        .await
        .is_err());
    let options = ReadOptions {
        union_by_name: true,
        ..ReadOptions::default()
    };
    let all = session.read_csv(&drift, options).await.unwrap();
    assert_eq!(all.columns(), ["id", "name", "score", "city"]);
    assert_eq!(all.len().await.unwrap(), 4);
}

#[tokio::test]
async fn read_options_parse_dates_and_dtypes() {
    let session = Session::new().unwrap();
    let options = ReadOptions {
        parse_dates: vec!["d".into()],
        dtypes: vec![("i".into(), DataType::Float64)],
        ..ReadOptions::default()
    };
    let frame = session
        .read_csv(&testdata("typed.csv"), options)
        .await
        .unwrap();
    let dtypes = frame.dtypes();
    assert_eq!(dtypes[0].1, DataType::Float64);
    assert_eq!(
        dtypes[3].1,
        DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None)
    );
    assert_eq!(frame.len().await.unwrap(), 3);
}

#[tokio::test]
async fn std_and_var_take_ddof() {
    let (n, _, squares) = qty_moments();
    let single = |frame: rask::Result<DataFrame>| async move {
        let batch = one_batch(frame.unwrap().collect().await.unwrap());
        batch.column(0).as_primitive::<Float64Type>().value(0)
    };
    for (ddof, expected_var) in [(1, squares / (n - 1.0)), (0, squares / n)] {
        let var = single(sales().await.var(&["qty"], ddof)).await;
        let std = single(sales().await.std(&["qty"], ddof)).await;
        assert!((var - expected_var).abs() < 1e-12, "ddof {ddof}");
        assert!((std - expected_var.sqrt()).abs() < 1e-12, "ddof {ddof}");
    }
    assert!(sales().await.std(&["qty"], 2).is_err());
}

/// Rows in each partition `frame` hands to `map_partitions`, one entry per call.
async fn rows_per_call(frame: DataFrame) -> Vec<usize> {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    // With its meta given, the function is not also called on an empty frame to infer it.
    let meta = frame.schema();
    let counted = frame
        .map_partitions(
            "count_rows",
            move |batch: RecordBatch| {
                seen.lock().unwrap().push(batch.num_rows());
                Ok(batch)
            },
            Some(meta),
        )
        .unwrap();
    counted.compute().await.unwrap();
    let mut calls = calls.lock().unwrap().clone();
    calls.sort_unstable();
    calls
}

#[tokio::test]
async fn partitions_are_dasks_whatever_the_session_runs() {
    let dir = tempfile::tempdir().unwrap();
    let files = rask::datasets::data_parts(dir.path(), 3, 5_000).unwrap();
    let glob = format!("{}/data_part_*.csv", dir.path().display());
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .collect();
    for session_partitions in [1, 2, 7] {
        let session = Session::builder()
            .partitions(session_partitions)
            .build()
            .unwrap();
        // A file per partition below read_csv's 64 MB blocks, as Dask reads them.
        let whole = session
            .read_csv(&glob, ReadOptions::default())
            .await
            .unwrap();
        assert_eq!(whole.npartitions().await.unwrap(), 3);
        let positive = whole.clone().filter(col("value").gt(lit(0.0))).unwrap();
        assert_eq!(
            positive.npartitions().await.unwrap(),
            3,
            "row-wise steps keep them"
        );
        assert_eq!(rows_per_call(whole).await, [5_000; 3]);

        // Each file cut into blocks of its own.
        let blocks: u64 = sizes.iter().map(|size| size.div_ceil(40_000)).sum();
        let in_blocks = session
            .read_csv(
                &glob,
                ReadOptions {
                    blocksize: Some(40_000),
                    ..ReadOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(in_blocks.npartitions().await.unwrap() as u64, blocks);
        let rows = rows_per_call(in_blocks).await;
        assert_eq!(rows.len() as u64, blocks);
        assert_eq!(rows.iter().sum::<usize>(), 15_000, "every row once");

        // Five days of hourly rows: a partition per day.
        let days = session
            .timeseries(
                TimeseriesParams::new(None, Some("2000-01-06"), Some("1h"), None, None).unwrap(),
            )
            .unwrap();
        assert_eq!(days.npartitions().await.unwrap(), 5);
        assert_eq!(rows_per_call(days).await, [24; 5]);
    }

    // Parquet and JSON: a partition per file.
    let session = Session::builder().partitions(2).build().unwrap();
    let frame = session
        .read_csv(&glob, ReadOptions::default())
        .await
        .unwrap();
    let parquet = dir.path().join("parquet");
    frame
        .clone()
        .to_parquet(&parquet, &rask::sink::ParquetSink::default())
        .await
        .unwrap();
    let written = std::fs::read_dir(&parquet).unwrap().count();
    assert_eq!(written, 3, "a file per partition");
    let read = session
        .read_parquet(parquet.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(read.npartitions().await.unwrap(), written);
    let json = dir.path().join("part-*.json");
    frame.to_json(&json).await.unwrap();
    let read = session.read_json(json.to_str().unwrap()).await.unwrap();
    assert_eq!(read.npartitions().await.unwrap(), 3);
    assert_eq!(rows_per_call(read).await, [5_000; 3]);
}

#[tokio::test]
async fn groupby_leaves_out_null_keys_as_pandas_does() {
    let sizes = sales().await.groupby(&["region"]).size().unwrap();
    let batch = one_batch(sizes.collect().await.unwrap());
    let regions = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap();
    let regions: Vec<Option<&str>> = regions.as_string::<i32>().iter().collect();
    assert_eq!(regions, [Some("east"), Some("north"), Some("south")]);
    let total: i64 = batch
        .column(1)
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .sum();
    let with_region = SALES
        .iter()
        .filter(|(region, _, _)| region.is_some())
        .count();
    assert_eq!(total as usize, with_region, "row 6 has no region");
}

#[tokio::test]
async fn sums_of_no_values_are_zero_as_in_pandas() {
    // south's bananas: one row, its qty missing.
    let sums = sales()
        .await
        .groupby(&["region", "product"])
        .agg(&[("qty", &["sum"])])
        .unwrap();
    let batch = one_batch(sums.collect().await.unwrap());
    let regions = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8).unwrap();
    let products = datafusion::arrow::compute::cast(batch.column(1), &DataType::Utf8).unwrap();
    let row = (0..batch.num_rows())
        .find(|&i| {
            regions.as_string::<i32>().value(i) == "south"
                && products.as_string::<i32>().value(i) == "banana"
        })
        .unwrap();
    let qty = batch.column(2).as_primitive::<Int64Type>();
    assert!(qty.is_valid(row));
    assert_eq!(qty.value(row), 0);
}

#[tokio::test]
async fn a_read_in_blocks_names_the_bad_line() {
    let frame = Session::new()
        .unwrap()
        .read_csv(
            &testdata("bad/bad_value.csv"),
            ReadOptions {
                blocksize: Some(64 << 20),
                ..ReadOptions::default()
            },
        )
        .await
        .unwrap();
    let error = frame.compute().await.unwrap_err().to_string();
    assert!(error.contains("bad_value.csv:10052"), "{error}");
}

#[tokio::test]
async fn compute_keeps_the_files_order() {
    let session = Session::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rask::datasets::data_parts(dir.path(), 5, 20_000).unwrap();
    let glob = format!("{}/data_part_*.csv", dir.path().display());
    let frame = session
        .read_csv(&glob, ReadOptions::default())
        .await
        .unwrap()
        .filter(col("value").gt(lit(0.0)))
        .unwrap();
    let table = frame.compute().await.unwrap();
    let ids: Vec<i64> = table
        .batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .unwrap()
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert!(ids.len() > 40_000, "about half the 100,000 rows");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids rise through the files"
    );
}

#[tokio::test]
async fn a_selected_column_names_results_by_function() {
    let frame = sales()
        .await
        .groupby(&["product"])
        .column("qty")
        .agg(&["mean", "std", "count"])
        .unwrap();
    assert_eq!(frame.columns(), ["product", "mean", "std", "count"]);
    let batch = one_batch(frame.collect().await.unwrap());
    // apple qty 3, 1, 7 (one NULL): count 3, mean 11/3
    assert_eq!(batch.column(3).as_primitive::<Int64Type>().value(0), 3);
    assert!((batch.column(1).as_primitive::<Float64Type>().value(0) - 11.0 / 3.0).abs() < 1e-12);
}

#[tokio::test]
async fn head_takes_the_first_partition_first() {
    let dir = tempfile::tempdir().unwrap();
    rask::datasets::data_parts(dir.path(), 3, 20_000).unwrap();
    let session = Session::builder().partitions(3).build().unwrap();
    let frame = session
        .read_csv(
            &format!("{}/data_part_*.csv", dir.path().display()),
            ReadOptions::default(),
        )
        .await
        .unwrap();
    let head = one_batch(
        frame
            .filter(col("id").gt_eq(lit(10)))
            .unwrap()
            .head(5)
            .await
            .unwrap(),
    );
    let ids = head
        .column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(ids.values().to_vec(), [10, 11, 12, 13, 14]);
}
