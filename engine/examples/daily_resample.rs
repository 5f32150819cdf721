//! The first tutorial's time-series aggregation:
//! `ddf.set_index('timestamp').resample('D')['value'].mean()`.
//!
//! `cargo run -p rask --example daily_resample [DATA_DIR]` (generates the files when no
//! folder is given)

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
    // The timestamps restart in every file: the index is sorted into new partitions.
    let indexed = ddf.set_index("timestamp", false).await?;
    println!("Divisions: {:?}", indexed.divisions());
    let daily_stats = indexed.resample("1D")?.mean(&["value"])?;
    println!("\n=== Daily Average (First 5 Days) ===");
    println!("{}", rask::pretty_format(&daily_stats.head(5).await?)?);
    Ok(())
}
