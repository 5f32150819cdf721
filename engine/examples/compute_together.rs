//! "Execute multiple computations at once": `dask.compute(mean, std, len(filtered))`, the
//! files read once for all three results.
//!
//! `cargo run -p rask --example compute_together [DATA_DIR]` (generates the files when no
//! folder is given)

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
    let filtered = ddf.clone().filter(col("value").gt(lit(0.0)))?;
    let mean = ddf.clone().agg(&[("value", &["mean"])])?;
    let std = ddf.agg(&[("value", &["std"])])?;
    let filtered_count = filtered.agg(&[("value", &["count"])])?;
    let session = Session::new()?;
    let results = session.compute(vec![mean, std, filtered_count]).await?;
    println!("\nOverall Statistics:");
    for (label, result) in ["Mean", "Standard deviation", "Positive values"]
        .iter()
        .zip(&results)
    {
        println!(
            "{label}: {}",
            rask::pretty_format(&result.batches)?
                .lines()
                .nth(3)
                .unwrap_or("")
        );
    }
    Ok(())
}
