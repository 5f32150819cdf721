//! A bounded, seeded fuzz pass: grammar-generated statements, the same statements mutated
//! byte by byte, queries over damaged copies of CSV, NDJSON, Parquet and Arrow files, and
//! random session settings. Any panic (contained, it shows as an internal error), abort,
//! statement running past [`STATEMENT_TIMEOUT`] or error that is not one plain line fails the
//! pass, which prints its seed first.
//!
//! `RASK_FUZZ_SEED=N` repeats a pass; `RASK_FUZZ_ITERATIONS=N` sets how many statements it
//! generates (default [`DEFAULT_ITERATIONS`]; thousands for a long run). Every statement a
//! pass ever caught failing is kept in [`FOUND`] and runs first.

use std::path::Path;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rask::{Session, SessionBuilder};

/// The seed of the pass that `cargo test` runs; other seeds find other statements.
const DEFAULT_SEED: u64 = 0x5eed_2026;
const DEFAULT_ITERATIONS: usize = 1500;

/// Longer than any statement over the fixtures takes in a debug build.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows read of each result.
const ROWS_READ: usize = 100_000;

/// Statements that once crashed, hung or misreported, smallest form first.
const FOUND: &[&str] = &[
    "SELECT 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1",
    "SELECT rpad('a', -1, s) FROM t",
    "SELECT lpad(s, -1, s) FROM t",
    "SELECT rpad(s, 2147483647, 'x') FROM t",
    "SELECT repeat(s, 2000000000) FROM t",
    "SELECT sum(i) OVER (ORDER BY i ROWS BETWEEN CURRENT ROW AND 18446744073709551615 FOLLOWING) FROM t",
    "SELECT count(*) FROM timeseries(partition_freq => '1ns')",
    "SELECT * FROM generate_series(1, 10000000000) LIMIT 1",
    "SELECT CAST(CAST(CAST(CAST(CAST(CAST(CAST(CAST(1 AS INT) AS INT) AS INT) AS INT) AS INT) AS INT) AS INT) AS INT)",
    "SELECT i FROM t ORDER BY i LIMIT 18446744073709551615",
    "SELECT i FROM t OFFSET 9223372036854775807",
    "SELECT array_repeat(1, 10000000000)",
    "SELECT b, substr(-2147483648 IS NOT NULL, 'a', 18446744073709551615) IS NULL FROM t",
    "SELECT 12345678901234567890123456789, (b BETWEEN i AND t.s) FROM t",
    "SELECT * FROM timeseries('2000-01-01', '2000-01-02', '7ns')",
];

#[derive(Debug)]
struct Failure {
    statement: String,
    what: String,
}

/// Runs `statement` to its end; a failure when it panics, hangs or errs with a message that
/// is not one plain line.
async fn check(session: &Session, statement: &str) -> Option<Failure> {
    // As a user reading the first rows would: a result is not held whole, and a long one
    // is dropped (cancelled) after its first rows.
    let run = async {
        let mut batches = session.sql(statement).await?.execute_stream().await?;
        let mut rows = 0;
        while rows < ROWS_READ {
            match batches.next_batch().await {
                Some(batch) => rows += batch?.num_rows(),
                None => break,
            }
        }
        Ok::<_, rask::Error>(())
    };
    let what = match tokio::time::timeout(STATEMENT_TIMEOUT, run).await {
        Err(_) => format!("still running after {STATEMENT_TIMEOUT:?}"),
        Ok(Ok(_)) => return None,
        Ok(Err(error)) => {
            let message = error.to_string();
            let plain = !message.is_empty()
                && !message.contains('\n')
                && !message.starts_with("internal error")
                && !message.contains("panicked")
                && !message.contains("likely caused by a bug");
            if plain {
                return None;
            }
            message
        }
    };
    Some(Failure {
        statement: statement.to_string(),
        what,
    })
}

/// The table every generated statement reads: `t(i, f, s, d, b)` with NULLs, extremes and
/// empty strings.
const TABLE: &str = "i,f,s,d,b
1,1.5,alpha,2024-01-01,true
-2,,béta,2024-02-29,false
9223372036854775807,1e308,,2023-12-31,
,-0.0,\"with, comma\",,true
0,NaN,日本語,1970-01-01,false
-9223372036854775808,-1e-308,z,2038-01-19,true
";

fn pick<'a>(rng: &mut SmallRng, choices: &[&'a str]) -> &'a str {
    choices[rng.random_range(0..choices.len())]
}

/// Random SQL from a small grammar over `t`, the built-in sources and literals at the edges
/// of their types.
struct Grammar<'r> {
    rng: &'r mut SmallRng,
}

impl Grammar<'_> {
    fn literal(&mut self) -> String {
        pick(
            self.rng,
            &[
                "0",
                "1",
                "-1",
                "2",
                "1000000",
                "2147483647",
                "-2147483648",
                "9223372036854775807",
                "-9223372036854775808",
                "18446744073709551615",
                "1e308",
                "-1e-308",
                "0.5",
                "'NaN'",
                "'inf'",
                "NULL",
                "''",
                "'a'",
                "'héllo'",
                "'2024-01-01'",
                "TRUE",
                "FALSE",
                "DATE '2024-02-29'",
                "TIMESTAMP '2000-01-01 00:00:00'",
                "INTERVAL '1 day'",
                "[1, 2, 3]",
                "X'00ff'",
                "12345678901234567890123456789",
                "1.0e-400",
                "'%'",
                "'\\'",
            ],
        )
        .to_string()
    }

    fn column(&mut self) -> String {
        pick(self.rng, &["i", "f", "s", "d", "b", "t.i", "t.s"]).to_string()
    }

    fn expr(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.random_bool(0.3) {
            return if self.rng.random_bool(0.5) {
                self.column()
            } else {
                self.literal()
            };
        }
        let d = depth - 1;
        match self.rng.random_range(0..14) {
            0 | 1 => {
                let op = pick(
                    self.rng,
                    &[
                        "+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR", "||", "LIKE",
                        "&", "|", "<<", ">>",
                    ],
                );
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            2 => format!("{} {}", pick(self.rng, &["-", "NOT", "+"]), self.expr(d)),
            3 => {
                let ty = pick(
                    self.rng,
                    &[
                        "INT",
                        "BIGINT",
                        "SMALLINT",
                        "TINYINT",
                        "DOUBLE",
                        "REAL",
                        "DECIMAL(38, 10)",
                        "DECIMAL(5, 2)",
                        "TEXT",
                        "DATE",
                        "TIMESTAMP",
                        "BOOLEAN",
                        "INTERVAL",
                        "BYTEA",
                    ],
                );
                let cast = pick(self.rng, &["CAST", "TRY_CAST"]);
                format!("{cast}({} AS {ty})", self.expr(d))
            }
            4 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.expr(d),
                self.expr(d),
                self.expr(d)
            ),
            5 => {
                let function = pick(
                    self.rng,
                    &[
                        "abs",
                        "round",
                        "ceil",
                        "floor",
                        "sqrt",
                        "ln",
                        "exp",
                        "length",
                        "upper",
                        "lower",
                        "trim",
                        "reverse",
                        "md5",
                        "to_hex",
                        "isnan",
                        "signum",
                        "cardinality",
                        "date_trunc('day', ",
                        "extract(year FROM ",
                    ],
                );
                if function.ends_with(' ') {
                    format!("{function}{})", self.expr(d))
                } else {
                    format!("{function}({})", self.expr(d))
                }
            }
            6 => {
                let function = pick(
                    self.rng,
                    &[
                        "substr",
                        "left",
                        "right",
                        "repeat",
                        "lpad",
                        "rpad",
                        "power",
                        "log",
                        "coalesce",
                        "nullif",
                        "concat",
                        "strpos",
                        "split_part",
                        "round",
                        "trunc",
                        "array_repeat",
                        "date_part",
                        "to_timestamp",
                        "greatest",
                        "least",
                        "atan2",
                        "gcd",
                        "lcm",
                    ],
                );
                format!("{function}({}, {})", self.expr(d), self.expr(d))
            }
            7 => format!("{} IN ({}, {})", self.expr(d), self.expr(d), self.expr(d)),
            8 => format!(
                "{} BETWEEN {} AND {}",
                self.expr(d),
                self.expr(d),
                self.expr(d)
            ),
            9 => format!("{} IS {}NULL", self.expr(d), pick(self.rng, &["", "NOT "])),
            10 => format!("(SELECT {} FROM t LIMIT 1)", self.expr(d)),
            11 => format!("EXISTS (SELECT 1 FROM t WHERE {})", self.expr(d)),
            12 => format!(
                "substr({}, {}, {})",
                self.expr(d),
                self.literal(),
                self.literal()
            ),
            _ => format!("({})", self.expr(d)),
        }
    }

    fn aggregate(&mut self) -> String {
        let function = pick(
            self.rng,
            &[
                "sum",
                "avg",
                "min",
                "max",
                "count",
                "stddev",
                "var_pop",
                "median",
                "bool_and",
                "string_agg",
                "approx_distinct",
                "first_value",
                "array_agg",
            ],
        );
        let distinct = pick(self.rng, &["", "", "DISTINCT "]);
        if function == "string_agg" {
            return format!("string_agg({}, ',')", self.expr(1));
        }
        format!("{function}({distinct}{})", self.expr(2))
    }

    fn window(&mut self) -> String {
        let function = pick(
            self.rng,
            &[
                "row_number()",
                "rank()",
                "lag(i, 1)",
                "lead(s, 2)",
                "sum(i)",
                "count(*)",
                "avg(f)",
                "ntile(3)",
                "first_value(s)",
                "nth_value(i, 2)",
            ],
        );
        let bound = |rng: &mut SmallRng| {
            let offset = pick(
                rng,
                &[
                    "0",
                    "1",
                    "3",
                    "9223372036854775807",
                    "18446744073709551615",
                    "UNBOUNDED",
                ],
            );
            format!("{offset} {}", pick(rng, &["PRECEDING", "FOLLOWING"]))
        };
        let frame = match self.rng.random_range(0..3) {
            0 => String::new(),
            _ => {
                let units = pick(self.rng, &["ROWS", "GROUPS", "RANGE"]);
                let (start, end) = (bound(self.rng), bound(self.rng));
                format!(" {units} BETWEEN {start} AND {end}")
            }
        };
        format!("{function} OVER (PARTITION BY b ORDER BY i{frame})")
    }

    fn source(&mut self) -> String {
        match self.rng.random_range(0..8) {
            0 => format!(
                "generate_series({})",
                pick(
                    self.rng,
                    &[
                        "1, 10",
                        "-5, 0",
                        "0, -1",
                        "10, 1",
                        "1, 100000",
                        "9223372036854775800, 9223372036854775807",
                        "-9223372036854775808, -9223372036854775805",
                        "1, 10, 0",
                        "1, 10, -1",
                        "NULL, 3"
                    ]
                )
            ),
            1 => format!(
                "timeseries('2000-01-01', '2000-01-0{}', '{}')",
                self.rng.random_range(2..4),
                pick(self.rng, &["1h", "10min", "1D", "0s", "1M", "-1s", "1W"])
            ),
            2 => "(SELECT * FROM t UNION ALL SELECT * FROM t)".to_string(),
            3 => "t AS a JOIN t AS b ON a.i = b.i".to_string(),
            4 => "t AS a LEFT JOIN t AS b USING (s)".to_string(),
            5 => "t AS a FULL JOIN t AS b ON a.f < b.f".to_string(),
            _ => "t".to_string(),
        }
    }

    fn statement(&mut self) -> String {
        match self.rng.random_range(0..7) {
            0 => format!(
                "SELECT {}, {} FROM t GROUP BY 1{}",
                self.expr(2),
                self.aggregate(),
                pick(self.rng, &["", " HAVING count(*) > 1", " ORDER BY 2 DESC"])
            ),
            1 => format!("SELECT i, {} FROM t ORDER BY i", self.window()),
            2 => format!(
                "SELECT * FROM {} {} {}",
                self.source(),
                pick(self.rng, &["", "ORDER BY 1", "ORDER BY 1 DESC NULLS FIRST"]),
                pick(
                    self.rng,
                    &[
                        "",
                        "LIMIT 3",
                        "LIMIT 0",
                        "LIMIT 18446744073709551615",
                        "OFFSET 2",
                        "LIMIT 1 OFFSET 9223372036854775807"
                    ]
                )
            ),
            3 => format!(
                "SELECT {} {} SELECT {}",
                self.expr(2),
                pick(
                    self.rng,
                    &[
                        "UNION",
                        "UNION ALL",
                        "INTERSECT",
                        "EXCEPT",
                        "INTERSECT ALL",
                        "EXCEPT ALL"
                    ]
                ),
                self.expr(2)
            ),
            4 => format!("SELECT {} FROM t WHERE {}", self.aggregate(), self.expr(3)),
            5 => format!(
                "SELECT DISTINCT {} FROM {} WHERE {}",
                self.expr(2),
                self.source(),
                self.expr(2)
            ),
            _ => format!("SELECT {}, {} FROM t", self.expr(4), self.expr(3)),
        }
    }
}

/// `statement` with a few random edits: characters dropped, repeated or replaced by SQL's
/// punctuation and keywords.
fn mutated(rng: &mut SmallRng, statement: &str) -> String {
    let mut chars: Vec<char> = statement.chars().collect();
    for _ in 0..rng.random_range(1..4) {
        if chars.is_empty() {
            break;
        }
        let at = rng.random_range(0..chars.len());
        match rng.random_range(0..4) {
            0 => {
                let end = (at + rng.random_range(1..8)).min(chars.len());
                chars.drain(at..end);
            }
            1 => {
                let end = (at + rng.random_range(1..12)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            2 => {
                let token = pick(
                    rng,
                    &[
                        "(", ")", ",", "'", "\"", ";", "SELECT ", " FROM ", "--", "/*", "::", "[",
                        "]", "{", " NOT ", " OVER ", "\u{0}", "é", "9e999",
                    ],
                );
                chars.splice(at..at, token.chars());
            }
            _ => {
                chars[at] = pick(rng, &["*", "0", "'", "(", " ", "?", "$1"])
                    .chars()
                    .next()
                    .unwrap();
            }
        }
    }
    chars.into_iter().collect()
}

/// Damaged copies of `good`: bytes flipped, cut short, a slice repeated.
fn damaged_copies(rng: &mut SmallRng, good: &[u8], count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            let mut bytes = good.to_vec();
            match rng.random_range(0..3) {
                0 => {
                    for _ in 0..rng.random_range(1..16) {
                        let at = rng.random_range(0..bytes.len());
                        bytes[at] = rng.random();
                    }
                }
                1 => bytes.truncate(rng.random_range(0..bytes.len())),
                _ => {
                    let at = rng.random_range(0..bytes.len());
                    let end = (at + rng.random_range(1..64)).min(bytes.len());
                    let slice = bytes[at..end].to_vec();
                    bytes.splice(at..at, slice);
                }
            }
            bytes
        })
        .collect()
}

/// Writes `t` as CSV, NDJSON, Parquet and Arrow into `dir`; returns the files.
async fn fixtures(session: &Session, dir: &Path) -> Vec<std::path::PathBuf> {
    let csv = dir.join("t.csv");
    std::fs::write(&csv, TABLE).unwrap();
    let mut files = vec![csv];
    for extension in ["ndjson", "parquet", "arrow"] {
        let path = dir.join(format!("t.{extension}"));
        let frame = session.sql("SELECT * FROM t").await.unwrap();
        rask::sink::write_file(frame.execute_stream().await.unwrap(), &path)
            .await
            .unwrap();
        files.push(path);
    }
    files
}

fn settings(rng: &mut SmallRng) -> SessionBuilder {
    let mut builder = Session::builder();
    if rng.random_bool(0.5) {
        builder = builder.partitions(
            pick(rng, &["1", "2", "3", "16", "1024", "0", "1025"])
                .parse()
                .unwrap(),
        );
    }
    if rng.random_bool(0.5) {
        builder = builder.batch_size(
            pick(rng, &["1", "2", "7", "8192", "1048576", "0", "1048577"])
                .parse()
                .unwrap(),
        );
    }
    if rng.random_bool(0.3) {
        builder = builder.memory_limit(
            pick(rng, &["1", "1000", "10000000", "1000000000"])
                .parse()
                .unwrap(),
        );
    }
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_pass() {
    let seed = std::env::var("RASK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let iterations = std::env::var("RASK_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ITERATIONS);
    println!("fuzz seed {seed}, {iterations} statements (RASK_FUZZ_SEED={seed} repeats this pass)");
    rask::panics::report_panics_as_errors();
    let mut rng = SmallRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.csv");
    std::fs::write(&table, TABLE).unwrap();

    let session = Session::builder().memory_limit(1 << 30).build().unwrap();
    session
        .register_files("t", table.to_str().unwrap())
        .await
        .unwrap();
    let mut failures = Vec::new();
    for statement in FOUND {
        failures.extend(check(&session, statement).await);
    }
    for _ in 0..iterations {
        let statement = Grammar { rng: &mut rng }.statement();
        let statement = if rng.random_bool(0.3) {
            mutated(&mut rng, &statement)
        } else {
            statement
        };
        failures.extend(check(&session, &statement).await);
    }

    for good in fixtures(&session, dir.path()).await {
        let bytes = std::fs::read(&good).unwrap();
        let extension = good.extension().unwrap().to_str().unwrap().to_string();
        for (n, copy) in damaged_copies(&mut rng, &bytes, iterations / 40 + 1)
            .iter()
            .enumerate()
        {
            let path = dir.path().join(format!("damaged_{n}.{extension}"));
            std::fs::write(&path, copy).unwrap();
            for query in [
                "SELECT * FROM '{}'",
                "SELECT count(*), max(s), sum(i) FROM '{}'",
            ] {
                let statement = query.replace("{}", path.to_str().unwrap());
                failures.extend(check(&session, &statement).await);
            }
        }
    }

    for _ in 0..iterations / 50 + 1 {
        // Settings out of range are refused when the session is built; the rest must run.
        if let Ok(tuned) = settings(&mut rng).build() {
            tuned
                .register_files("t", table.to_str().unwrap())
                .await
                .unwrap();
            let statement = Grammar { rng: &mut rng }.statement();
            failures.extend(check(&tuned, &statement).await);
        }
    }

    assert!(
        failures.is_empty(),
        "fuzz seed {seed}: {} failure(s):\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| format!("  {}\n    -> {}", f.statement, f.what))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
