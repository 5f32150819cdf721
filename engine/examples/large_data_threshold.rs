//! The distributed-processing tutorial's query: mean `value` per category over
//! `large_data.csv`, keeping categories whose mean exceeds 500.
//!
//! `cargo run -p rask --example large_data_threshold [DATA_DIR]`

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_tutorial_csv("large_data.csv", |dir| {
        rask::datasets::large_data_single(dir, common::rows(1_000_000)).map(drop)
    })
    .await?;
    let result = ddf
        .groupby(&["category"])
        .agg(&[("value", &["mean"])])?
        .filter(col("value").gt(lit(500.0)))?;
    println!("{}", result.compute().await?);
    Ok(())
}
