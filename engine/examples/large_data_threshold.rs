//! The distributed-processing tutorial's query: mean `value` per category over
//! `large_data.csv`, keeping categories whose mean exceeds 500.
//!
//! `cargo run -p rask --example large_data_threshold [DATA_DIR]`

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;
use rask::ReadOptions;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (dir, _guard, generate) = common::data_dir();
    if generate {
        rask::datasets::large_data_single(&dir, common::rows(1_000_000))?;
    }
    let session = Session::new()?;
    let df = session
        .read_csv(
            &format!("{}/large_data.csv", dir.display()),
            ReadOptions::default(),
        )
        .await?;
    let result = df
        .groupby(&["category"])
        .agg(&[("value", &["mean"])])?
        .filter(col("value").gt(lit(500.0)))?;
    println!("{}", result.compute().await?);
    Ok(())
}
