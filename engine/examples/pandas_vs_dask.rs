//! "Pandas vs Dask DataFrame": an in-memory frame split into 4 partitions, its shape and
//! columns, and a lazily computed mean.
//!
//! `cargo run -p rask --example pandas_vs_dask`

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use rask::prelude::*;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
    let rows = 10_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("z", DataType::Utf8, false),
    ]));
    let x: Vec<f64> = (0..rows).map(|_| rng.random()).collect();
    let y: Vec<f64> = (0..rows).map(|_| rng.random()).collect();
    let z: Vec<&str> = (0..rows)
        .map(|_| ["A", "B", "C"][rng.random_range(0..3)])
        .collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(x.clone())),
            Arc::new(Float64Array::from(y)),
            Arc::new(StringArray::from(z)),
        ],
    )?;
    let memory: usize = batch.get_array_memory_size();

    println!("=== In-memory batch (the pandas side) ===");
    println!("Shape: ({}, {})", batch.num_rows(), batch.num_columns());
    println!("Memory usage: {:.2} KB", memory as f64 / 1024.0);

    let session = Session::new()?;
    let frame = session.from_batches(vec![batch], 4)?;
    println!("\n=== Rask DataFrame ===");
    println!("Number of partitions: {}", frame.npartitions().await?);
    println!("Columns: {:?}", frame.columns());

    println!("\nComputing mean:");
    println!("In memory: {:.6}", x.iter().sum::<f64>() / rows as f64);
    let mean = frame.agg(&[("x", &["mean"])])?.compute().await?;
    println!("Rask:\n{mean}");
    Ok(())
}
