//! Exercise 5 of the first tutorial: drop rows with missing values from
//! `large_data_*.csv`, aggregate per category, and write the cleaned rows as Parquet
//! partitioned by category (snappy).
//!
//! `cargo run -p rask --example exercise_to_parquet [DATA_DIR [OUTPUT_DIR]]`

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;
use rask::sink::ParquetSink;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_tutorial_csv("large_data_*.csv", |dir| {
        rask::datasets::large_data(dir, 10, common::rows(100_000)).map(drop)
    })
    .await?;
    let clean = ddf.dropna(DropHow::Any, &[])?;
    let stats = clean.clone().groupby(&["category"]).agg(&[
        ("value1", &["mean", "std", "count"]),
        ("value2", &["mean", "std", "count"]),
    ])?;
    println!("{}", stats.compute().await?);

    // Into the folder named by the second argument, or a temporary one.
    let scratch = tempfile::tempdir()?;
    let out = match std::env::args().nth(2) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => scratch.path().join("output_parquet"),
    };
    let written = clean
        .to_parquet(
            &out,
            &ParquetSink {
                partition_on: vec!["category".into()],
                compression: "snappy".into(),
            },
        )
        .await?;
    println!(
        "Wrote {written} rows to {} (one folder per category)",
        out.display()
    );
    Ok(())
}
