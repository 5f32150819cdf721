//! Filtering and transformation: keep positive values and add `value_squared`.
//!
//! `cargo run -p rask --example filter_assign [DATA_DIR]`

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
    let filtered = ddf
        .filter(col("value").gt(lit(0.0)))?
        .assign("value_squared", col("value") * col("value"))?;
    println!("Columns: {:?}", filtered.columns());
    println!("{}", rask::pretty_format(&filtered.clone().head(5).await?)?);
    println!("Count of positive values: {}", filtered.len().await?);
    Ok(())
}
