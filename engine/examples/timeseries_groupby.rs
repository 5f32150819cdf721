//! "Dask is more than parallel pandas": the built-in `timeseries()` dataset grouped by
//! name with `{'x': 'max', 'y': 'mean'}`.
//!
//! `cargo run -p rask --example timeseries_groupby`

use rask::prelude::*;
use rask::TimeseriesParams;

#[tokio::main]
async fn main() -> rask::Result<()> {
    let session = Session::new()?;
    let df = session.timeseries(TimeseriesParams::default())?;
    println!("Columns: {:?}", df.columns());
    println!("Number of partitions: {}", df.npartitions().await?);
    let result = df
        .groupby(&["name"])
        .agg(&[("x", &["max"]), ("y", &["mean"])])?;
    println!("{}", result.compute().await?);
    Ok(())
}
