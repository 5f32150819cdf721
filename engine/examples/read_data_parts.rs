//! Reading `data_part_*.csv` in parallel: partitions, columns, length, dtypes and the first
//! rows, as the first tutorial prints them.
//!
//! `cargo run -p rask --example read_data_parts [DATA_DIR]` (generates the files when no
//! folder is given)

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
    println!("=== Rask DataFrame ===");
    println!("Number of partitions: {}", ddf.npartitions().await?);
    println!("Columns: {:?}", ddf.columns());
    println!("Rows: {}", ddf.clone().len().await?);
    println!("\nData types:");
    for (name, dtype) in ddf.dtypes() {
        println!("{name:<10} {dtype}");
    }
    println!("\nFirst 5 rows:");
    println!("{}", rask::pretty_format(&ddf.head(5).await?)?);
    Ok(())
}
