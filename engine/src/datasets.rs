//! The datasets of the Dask tutorials, written as CSV files for examples and experiments
//! (the tutorials' generation snippets; `timeseries()` is the built-in dataset).
//!
//! Values are pseudo-random and reproducible: the same call writes the same files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, StringArray, TimestampSecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::Result;
use crate::sink::{BatchWriter, OutputFormat};
use crate::RecordBatch;

/// 2024-01-01T00:00:00Z, where the tutorials' timestamps start.
const START_SECONDS: i64 = 1_704_067_200;

fn write_csv(path: &Path, batch: &RecordBatch) -> Result<()> {
    let file = std::fs::File::create(path)?;
    let mut writer = BatchWriter::new(
        OutputFormat::Csv,
        std::io::BufWriter::new(file),
        &batch.schema(),
    )?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(())
}

fn labels(rng: &mut SmallRng, rows: usize, choices: &[String]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        (0..rows).map(|_| choices[rng.random_range(0..choices.len())].as_str()),
    ))
}

fn normals(rng: &mut SmallRng, rows: usize) -> Vec<f64> {
    (0..rows).map(|_| rng.sample(StandardNormal)).collect()
}

/// The `timestamp` column of the tutorials' files: seconds, no time zone.
fn timestamp_field() -> Field {
    Field::new(
        "timestamp",
        DataType::Timestamp(TimeUnit::Second, None),
        false,
    )
}

/// `data_part_{i}.csv` for `i` in `0..files`, as the first tutorial writes them: `id`
/// (running over all files), `value` (standard normal), `category` (A–D) and `timestamp`
/// (one per second from 2024-01-01, restarting in each file). Returns the paths.
pub fn data_parts(dir: &Path, files: usize, rows: usize) -> Result<Vec<PathBuf>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Float64, false),
        Field::new("category", DataType::Utf8, false),
        timestamp_field(),
    ]));
    let categories: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
    (0..files)
        .map(|part| {
            let mut rng = SmallRng::seed_from_u64(part as u64);
            let first = (part * rows) as i64;
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(first..first + rows as i64)),
                    Arc::new(Float64Array::from(normals(&mut rng, rows))),
                    labels(&mut rng, rows, &categories),
                    Arc::new(TimestampSecondArray::from_iter_values(
                        (0..rows as i64).map(|s| START_SECONDS + s),
                    )),
                ],
            )?;
            let path = dir.join(format!("data_part_{part}.csv"));
            write_csv(&path, &batch)?;
            Ok(path)
        })
        .collect()
}

/// `large_data_{i}.csv` of the distributed-processing exercise: `id`, `category` (A–E),
/// `value1` (normal, empty in every hundredth row), `value2` (normal) and `timestamp`.
/// Returns the paths.
pub fn large_data(dir: &Path, files: usize, rows: usize) -> Result<Vec<PathBuf>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("value1", DataType::Float64, true),
        Field::new("value2", DataType::Float64, false),
        timestamp_field(),
    ]));
    let categories: Vec<String> = ["A", "B", "C", "D", "E"].map(String::from).to_vec();
    (0..files)
        .map(|part| {
            let mut rng = SmallRng::seed_from_u64(1_000 + part as u64);
            let first = (part * rows) as i64;
            let value1: Float64Array = normals(&mut rng, rows)
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i % 100 != 99).then_some(v))
                .collect();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(first..first + rows as i64)),
                    labels(&mut rng, rows, &categories),
                    Arc::new(value1),
                    Arc::new(Float64Array::from(normals(&mut rng, rows))),
                    Arc::new(TimestampSecondArray::from_iter_values(
                        (first..first + rows as i64).map(|s| START_SECONDS + s),
                    )),
                ],
            )?;
            let path = dir.join(format!("large_data_{part}.csv"));
            write_csv(&path, &batch)?;
            Ok(path)
        })
        .collect()
}

/// `large_data.csv` of the `Client` tutorial: `category` (`cat_0` … `cat_99`) and `value`
/// (uniform on [0, 1000)).
pub fn large_data_single(dir: &Path, rows: usize) -> Result<PathBuf> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("category", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ]));
    let categories: Vec<String> = (0..100).map(|i| format!("cat_{i}")).collect();
    let mut rng = SmallRng::seed_from_u64(2_000);
    let category = labels(&mut rng, rows, &categories);
    let value = Float64Array::from_iter_values((0..rows).map(|_| rng.random_range(0.0..1000.0)));
    let batch = RecordBatch::try_new(schema, vec![category, Arc::new(value)])?;
    let path = dir.join("large_data.csv");
    write_csv(&path, &batch)?;
    Ok(path)
}
