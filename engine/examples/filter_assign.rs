//! Filtering and transformation: keep positive values and add `value_squared`.
//!
//! `cargo run -p rask --example filter_assign [DATA_DIR]`

#[path = "common/mod.rs"]
mod common;

use rask::prelude::*;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
    let filtered = ddf
        .filter(col("value").gt(lit(0.0)))?
        .assign("value_squared", col("value") * col("value"))?;
    println!("Columns: {:?}", filtered.columns());
    println!("{}", rask::pretty_format(&filtered.clone().head(5).await?)?);
    println!("Count of positive values: {}", filtered.len().await?);
    Ok(())
}
