//! The first tutorial's partition optimisation: the partition count, `repartition`,
//! `set_index(.., sorted=True)` with known divisions, and partition sizes via
//! `map_partitions(len)`.
//!
//! `cargo run -p rask --example partition_tuning [DATA_DIR]` (generates the files when no
//! folder is given)

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use rask::arrow::array::{ArrayRef, AsArray, Int64Array};
use rask::arrow::datatypes::Int64Type;
use rask::RecordBatch;

fn len(partition: RecordBatch) -> rask::Result<RecordBatch> {
    let rows: ArrayRef = Arc::new(Int64Array::from(vec![partition.num_rows() as i64]));
    Ok(RecordBatch::try_from_iter(vec![("len", rows)])?)
}

#[tokio::main]
async fn main() -> rask::Result<()> {
    let (ddf, _data) = common::read_data_parts().await?;
    println!("Original partition count: {}", ddf.npartitions().await?);
    let ddf_optimized = ddf.clone().repartition(20)?;
    println!(
        "Optimized partition count: {}",
        ddf_optimized.npartitions().await?
    );

    // `id` runs through the files in order: one partition per file, divisions from each
    // file's smallest and largest id.
    let ddf_indexed = ddf.clone().set_index("id", true).await?;
    println!("\nAfter setting index:");
    println!("Partition count: {}", ddf_indexed.npartitions().await?);
    println!("Known divisions: {}", ddf_indexed.known_divisions());
    println!("Divisions: {:?}", ddf_indexed.divisions());

    let sizes = ddf.map_partitions("len", len, None)?.compute().await?;
    let sizes: Vec<i64> = sizes
        .batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .take(10)
        .collect();
    println!("\nSize of each partition: {sizes:?}");
    Ok(())
}
