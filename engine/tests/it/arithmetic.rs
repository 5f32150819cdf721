//! PostgreSQL's arithmetic through the DataFrame API: the same rules hold for frames as for
//! SQL (see `sqllogictests/test_files/{integer_overflow,casts,decimals}.slt`), checked against
//! values worked out by hand from `testdata/extremes.csv` and `testdata/sales`.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type, Int64Type};
use rask::prelude::*;
use rask::ReadOptions;

use crate::testdata;

async fn extremes() -> DataFrame {
    Session::new()
        .unwrap()
        .read_csv(&testdata("extremes.csv"), ReadOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn frame_arithmetic_fails_instead_of_wrapping() {
    let frame = extremes()
        .await
        .filter(col("id").eq(lit(1i64)))
        .unwrap()
        .assign("next", col("big") + lit(1i64))
        .unwrap();
    let error = frame.collect().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("bigint out of range: 9223372036854775807 + 1"),
        "{error}"
    );

    let in_range = extremes()
        .await
        .filter(col("id").eq(lit(3i64)))
        .unwrap()
        .assign("next", col("big") + lit(1i64))
        .unwrap()
        .collect()
        .await
        .unwrap();
    let next = in_range[0].column_by_name("next").unwrap();
    assert_eq!(next.as_primitive::<Int64Type>().value(0), i64::MIN + 1);
}

#[tokio::test]
async fn groupby_sums_are_exact_and_means_divide_exact_sums() {
    // Groups by id % 2: {1, 3} have big = 2⁶³ − 1 and −2⁶³, {2, 4} have 1 and NULL.
    let grouped = extremes()
        .await
        .assign("parity", col("id") % lit(2i64))
        .unwrap()
        .groupby(&["parity"])
        .agg(&[("big", &["sum", "mean"]), ("small", &["sum"])])
        .unwrap();
    let schema = grouped.schema();
    assert_eq!(
        schema.field(1).data_type(),
        &DataType::Int64,
        "sums stay int64"
    );
    let batches = grouped.collect().await.unwrap();
    let batch = &batches[0];
    let sums = batch.column(1).as_primitive::<Int64Type>();
    let means = batch.column(2).as_primitive::<Float64Type>();
    let small = batch.column(3).as_primitive::<Int64Type>();
    // Sorted by the key: parity 0 first.
    assert_eq!((sums.value(0), means.value(0)), (1, 1.0));
    assert_eq!((sums.value(1), means.value(1)), (-1, -0.5));
    assert_eq!((small.value(0), small.value(1)), (2147483650, 2147483642));

    let overflowing = extremes()
        .await
        .filter(col("id").lt_eq(lit(2i64)))
        .unwrap()
        .groupby(&["small"])
        .agg(&[("big", &["sum"])])
        .unwrap();
    let error = overflowing.collect().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("bigint out of range: 9223372036854775808"),
        "{error}"
    );
}

#[tokio::test]
async fn astype_to_integers_rounds_half_away_from_zero() {
    let batches = extremes()
        .await
        .astype(&[("f", DataType::Int32)])
        .unwrap()
        .sort_values(&["id"], true)
        .unwrap()
        .collect()
        .await
        .unwrap();
    let rounded: Vec<i32> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name("f").unwrap().as_primitive::<Int32Type>();
            column.values().to_vec()
        })
        .collect();
    // f = 2.5, -2.5, 0.5, 1.5
    assert_eq!(rounded, [3, -3, 1, 2]);
}

#[tokio::test]
async fn decimal_means_keep_sixteen_places() {
    let session = Session::new().unwrap();
    let prices = session
        .read_csv(&testdata("sales/part_*.csv"), ReadOptions::default())
        .await
        .unwrap()
        .astype(&[("price", DataType::Decimal128(10, 2))])
        .unwrap()
        .groupby(&["product"])
        .agg(&[("price", &["mean"])])
        .unwrap();
    let batches = prices.collect().await.unwrap();
    let means = batches[0].column(1).as_primitive::<Decimal128Type>();
    assert_eq!(means.data_type(), &DataType::Decimal128(38, 16));
    // apple 5.25 / 4, banana 1.75 / 3 (rounded at the 16th place), cherry 8.50 / 2
    let shown: Vec<String> = (0..means.len())
        .map(|row| means.value_as_string(row))
        .collect();
    assert_eq!(
        shown,
        [
            "1.3125000000000000",
            "0.5833333333333333",
            "4.2500000000000000"
        ]
    );
}
