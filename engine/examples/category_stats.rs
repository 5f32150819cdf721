//! Per-category mean, standard deviation (ddof = 1) and count of `value` over
//! `data_part_*.csv`; the lazy plan first, then the result.
//!
//! `cargo run -p rask --example category_stats [DATA_DIR]`

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;
use rask::ReadOptions;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (dir, _guard, generate) = common::data_dir();
    if generate {
        rask::datasets::data_parts(&dir, 5, common::rows(1_000_000))?;
    }
    let session = Session::new()?;
    let ddf = session
        .read_csv(
            &format!("{}/data_part_*.csv", dir.display()),
            ReadOptions::default(),
        )
        .await?;
    // ddf.groupby('category')['value'].agg(['mean', 'std', 'count'])
    let category_stats = ddf
        .groupby(&["category"])
        .column("value")
        .agg(&["mean", "std", "count"])?;
    println!("=== Statistics by Category (Lazy Evaluation) ===");
    println!("columns: {:?}", category_stats.columns());
    println!("{}", category_stats.clone().explain(false).await?);
    println!("=== Statistics by Category (Execution Result) ===");
    println!("{}", category_stats.compute().await?);
    Ok(())
}
