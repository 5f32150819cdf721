//! `df-baseline`: the smallest DataFusion program that runs a benchmark workload, the yardstick
//! for what Rask's layers cost. It registers each `--csv NAME=GLOB` / `--parquet NAME=GLOB`
//! with DataFusion's own listing tables, runs the SQL and prints the result as a table.
//!
//! ```text
//! df-baseline --csv t='data/data_part_*.csv' "SELECT category, avg(value) FROM t GROUP BY 1"
//! ```

use datafusion::error::Result;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

#[tokio::main]
async fn main() -> Result<()> {
    let ctx = SessionContext::new();
    let mut args = std::env::args().skip(1);
    let mut sql = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--csv" | "--parquet" => {
                let spec = args.next().unwrap_or_default();
                let Some((name, path)) = spec.split_once('=') else {
                    eprintln!("usage: df-baseline [--csv|--parquet NAME=GLOB].. SQL");
                    std::process::exit(2);
                };
                if arg == "--csv" {
                    ctx.register_csv(name, path, CsvReadOptions::new()).await?;
                } else {
                    ctx.register_parquet(name, path, ParquetReadOptions::default())
                        .await?;
                }
            }
            _ => sql = Some(arg),
        }
    }
    let Some(sql) = sql else {
        eprintln!("usage: df-baseline [--csv|--parquet NAME=GLOB].. SQL");
        std::process::exit(2);
    };
    for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
        ctx.sql(statement).await?.show().await?;
    }
    Ok(())
}
