//! The tutorial's "Parallel map/apply": `map_partitions` adding `A_squared` and `B_log`, a
//! row-wise `apply` with `meta`, and a custom aggregation per partition.
//!
//! `cargo run -p rask --example map_partitions_apply`

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rask::arrow::array::{ArrayRef, AsArray, Float64Array};
use rask::arrow::datatypes::Float64Type;
use rask::prelude::*;
use rask::DataType;

fn column(partition: &RecordBatch, name: &str) -> rask::Result<Vec<f64>> {
    let array = partition
        .column_by_name(name)
        .ok_or_else(|| Error::plan(format!("no column {name}")))?;
    Ok(array.as_primitive::<Float64Type>().values().to_vec())
}

/// `partition['A_squared'] = A ** 2; partition['B_log'] = log1p(|B|)`.
fn custom_processing(partition: RecordBatch) -> rask::Result<RecordBatch> {
    let a = column(&partition, "A")?;
    let b = column(&partition, "B")?;
    let squared: ArrayRef = Arc::new(Float64Array::from_iter_values(a.iter().map(|v| v * v)));
    let logs: ArrayRef = Arc::new(Float64Array::from_iter_values(
        b.iter().map(|v| v.abs().ln_1p()),
    ));
    let mut columns: Vec<(String, ArrayRef)> = partition
        .schema()
        .fields()
        .iter()
        .zip(partition.columns())
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect();
    columns.push(("A_squared".into(), squared));
    columns.push(("B_log".into(), logs));
    Ok(RecordBatch::try_from_iter(columns)?)
}

/// Mean, std, min and max of `A` in one partition.
fn custom_agg(partition: RecordBatch) -> rask::Result<RecordBatch> {
    let a = column(&partition, "A")?;
    let n = a.len() as f64;
    let mean = a.iter().sum::<f64>() / n;
    let std = (a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let stat = |v: f64| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
    Ok(RecordBatch::try_from_iter(vec![
        ("mean", stat(mean)),
        ("std", stat(std)),
        ("min", stat(a.iter().cloned().fold(f64::INFINITY, f64::min))),
        (
            "max",
            stat(a.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
        ),
    ])?)
}

#[tokio::main]
async fn main() -> rask::Result<()> {
    let session = Session::new()?;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(0);
    let rows = 1000;
    let normal = |rng: &mut rand::rngs::SmallRng| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal)),
        ))
    };
    let a = normal(&mut rng);
    let b = normal(&mut rng);
    let ddf = session.from_columns(vec![("A", a), ("B", b)], 4)?;

    let ddf_processed = ddf
        .clone()
        .map_partitions("custom_processing", custom_processing, None)?;
    println!("=== map_partitions ===");
    println!("{}", rask::pretty_format(&ddf_processed.head(5).await?)?);

    let ddf = ddf.apply(
        "A_times_B",
        |row| Ok((row.f64("A") * row.f64("B")).into()),
        DataType::Float64,
    )?;
    println!("\n=== apply ===");
    println!("{}", rask::pretty_format(&ddf.clone().head(5).await?)?);

    let stats = ddf
        .map_partitions("custom_agg", custom_agg, None)?
        .compute()
        .await?;
    println!("\n=== Custom Aggregation ===");
    println!("{stats}");
    Ok(())
}
