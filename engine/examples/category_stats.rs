//! Per-category mean, standard deviation (ddof = 1) and count of `value` over
//! `data_part_*.csv`; the lazy plan first, then the result.
//!
//! `cargo run -p rask --example category_stats [DATA_DIR]`

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
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
