//! SQL semantics on the DataFrame API: bag intersection and difference, and the key column of
//! an outer merge, against counts worked out by hand from `testdata/sales/*.csv` and
//! `testdata/products.csv`.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use rask::prelude::*;
use rask::{ErrorKind, How, ReadOptions};

use crate::testdata;

async fn sales(session: &Session) -> DataFrame {
    session
        .read_csv(&testdata("sales/part_*.csv"), ReadOptions::default())
        .await
        .unwrap()
}

/// The values of `column` as text, sorted, NULLs last.
async fn sorted(frame: DataFrame, column: &str) -> Vec<Option<String>> {
    let mut values = texts(&frame.collect().await.unwrap(), column);
    values.sort_by_key(|v| (v.is_none(), v.clone()));
    values
}

fn texts(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|batch| {
            let array = cast(batch.column_by_name(column).unwrap(), &DataType::Utf8).unwrap();
            array
                .as_string::<i32>()
                .iter()
                .map(|value| value.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

#[tokio::test]
async fn intersect_and_except_count_copies_of_rows() {
    let session = Session::new().unwrap();
    // Regions of all ten sales: north 4, south 3, east 2, NULL 1; of the five with qty > 3:
    // north 2, south 2, east 1.
    let regions = sales(&session).await.select(&["region"]).unwrap();
    let large = sales(&session)
        .await
        .filter(col("qty").gt(lit(3)))
        .unwrap()
        .select(&["region"])
        .unwrap();

    let both = regions.clone().intersect(large.clone()).unwrap();
    assert_eq!(
        sorted(both, "region").await,
        some(&["east", "north", "north", "south", "south"])
    );

    let rest = regions.clone().except(large.clone()).unwrap();
    let mut expected = some(&["east", "north", "north", "south"]);
    expected.push(None);
    assert_eq!(sorted(rest, "region").await, expected);

    let nothing = large.except(regions.clone()).unwrap();
    assert_eq!(nothing.len().await.unwrap(), 0);

    let none = regions.clone().filter(lit(false)).unwrap();
    assert_eq!(
        regions
            .clone()
            .intersect(none.clone())
            .unwrap()
            .len()
            .await
            .unwrap(),
        0
    );
    assert_eq!(regions.except(none).unwrap().len().await.unwrap(), 10);
}

#[tokio::test]
async fn rows_of_several_columns_compare_nulls_as_equal() {
    let session = Session::new().unwrap();
    // The banana sales: (south, banana), (NULL, banana), (north, banana); twice each against
    // once each leaves one copy of every row, the NULL region's too.
    let bananas = sales(&session)
        .await
        .filter(col("product").eq(lit("banana")))
        .unwrap()
        .select(&["region", "product"])
        .unwrap();
    let twice = bananas.clone().concat(vec![bananas.clone()]).unwrap();
    let mut regions = some(&["north", "south"]);
    regions.push(None);

    let left_over = twice.clone().except(bananas.clone()).unwrap();
    assert_eq!(left_over.columns(), ["region", "product"]);
    let batches = left_over.collect().await.unwrap();
    assert_eq!(texts(&batches, "product"), some(&["banana"; 3]));
    let mut found = texts(&batches, "region");
    found.sort_by_key(|v| (v.is_none(), v.clone()));
    assert_eq!(found, regions);

    let shared = twice.intersect(bananas).unwrap();
    assert_eq!(sorted(shared, "region").await, regions);
}

#[tokio::test]
async fn frames_of_sql_intersect_as_sql_does() {
    let session = Session::new().unwrap();
    let left = session
        .sql("SELECT * FROM (VALUES (1), (1), (1), (2), (NULL)) AS t(x)")
        .await
        .unwrap();
    let right = session
        .sql("SELECT * FROM (VALUES (1), (1), (NULL), (NULL), (3)) AS t(x)")
        .await
        .unwrap();
    let mut expected = some(&["1", "1"]);
    expected.push(None);
    assert_eq!(
        sorted(left.clone().intersect(right.clone()).unwrap(), "x").await,
        expected
    );
    assert_eq!(
        sorted(left.except(right).unwrap(), "x").await,
        some(&["1", "2"])
    );
}

#[tokio::test]
async fn intersect_needs_as_many_columns_on_both_sides() {
    let session = Session::new().unwrap();
    let two = sales(&session).await.select(&["region", "qty"]).unwrap();
    let one = sales(&session).await.select(&["region"]).unwrap();
    for result in [two.clone().intersect(one.clone()), two.except(one)] {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Plan);
        let message = error.to_string();
        assert!(message.contains("number of columns"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[tokio::test]
async fn an_outer_merge_fills_its_key_from_either_side() {
    let session = Session::new().unwrap();
    // Fruit products: apple, banana, durian; north sales per product: apple 2, banana 1,
    // cherry 1. Cherry is only on the right, durian only on the left.
    let fruit = session
        .read_csv(&testdata("products.csv"), ReadOptions::default())
        .await
        .unwrap()
        .filter(col("category").eq(lit("fruit")))
        .unwrap();
    let north = sales(&session)
        .await
        .filter(col("region").eq(lit("north")))
        .unwrap()
        .groupby(&["product"])
        .size()
        .unwrap();
    let outer = fruit
        .clone()
        .merge(
            north.clone(),
            How::Outer,
            &["product"],
            (&[], &[]),
            ("_x", "_y"),
        )
        .unwrap();
    assert_eq!(outer.columns(), ["product", "category", "origin", "size"]);
    let outer = outer.sort_values(&["product"], true).unwrap();
    let batches = outer.collect().await.unwrap();
    assert_eq!(
        texts(&batches, "product"),
        some(&["apple", "banana", "cherry", "durian"])
    );
    assert_eq!(
        texts(&batches, "size"),
        vec![Some("2".into()), Some("1".into()), Some("1".into()), None]
    );

    let right = fruit
        .merge(north, How::Right, &["product"], (&[], &[]), ("_x", "_y"))
        .unwrap();
    assert_eq!(
        sorted(right, "product").await,
        some(&["apple", "banana", "cherry"])
    );
}
