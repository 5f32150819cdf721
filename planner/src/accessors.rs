//! pandas' element-wise methods and `.dt` / `.str` accessors as methods on DataFusion's
//! [`Expr`]: `col("ts").dt_year()`, `col("name").str_lower()`, `col("x").clip(-1, 1)`.

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::expr_fn::{
    abs, character_length, coalesce, date_part, greatest, least, lower, round, strpos, upper,
};
use datafusion::logical_expr::{cast, lit, when, Expr, Literal};

/// pandas-style methods on expressions. In scope with `use rask::prelude::*`.
///
/// ```
/// use datafusion::logical_expr::col;
/// use rask_planner::accessors::DaskExpr;
/// let clipped = col("x").clip(-1.0, 1.0);
/// let year = col("timestamp").dt_year();
/// let shouting = col("name").str_upper();
/// ```
pub trait DaskExpr: Sized {
    /// `isna()`: true where the value is NULL.
    fn isna(self) -> Expr;
    /// `notna()`: true where the value is not NULL.
    fn notna(self) -> Expr;
    /// `fillna(value)`: NULLs replaced by `value`.
    fn fillna(self, value: impl Literal) -> Expr;
    /// `astype(dtype)`: a cast.
    fn astype(self, data_type: DataType) -> Expr;
    /// `where(cond, other)`: the value where `cond` holds, `other` elsewhere.
    fn where_(self, cond: Expr, other: Expr) -> Expr;
    /// `clip(lower, upper)`: values limited to `[lower, upper]`; NULLs stay NULL.
    fn clip(self, lower: impl Literal, upper: impl Literal) -> Expr;
    /// `abs()`.
    fn abs(self) -> Expr;
    /// `round(decimals)`.
    fn round(self, decimals: i64) -> Expr;
    /// `.dt.year`.
    fn dt_year(self) -> Expr;
    /// `.dt.month` (1–12).
    fn dt_month(self) -> Expr;
    /// `.dt.day` (1–31).
    fn dt_day(self) -> Expr;
    /// `.dt.hour` (0–23).
    fn dt_hour(self) -> Expr;
    /// `.dt.dayofweek`: Monday = 0 … Sunday = 6, as pandas counts.
    fn dt_dayofweek(self) -> Expr;
    /// `.str.lower()`.
    fn str_lower(self) -> Expr;
    /// `.str.upper()`.
    fn str_upper(self) -> Expr;
    /// `.str.contains(pattern)` for a literal substring.
    fn str_contains(self, pattern: &str) -> Expr;
    /// `.str.len()` in characters.
    fn str_len(self) -> Expr;
}

fn part(unit: &str, value: Expr) -> Expr {
    cast(date_part(lit(unit), value), DataType::Int32)
}

impl DaskExpr for Expr {
    fn isna(self) -> Expr {
        self.is_null()
    }

    fn notna(self) -> Expr {
        self.is_not_null()
    }

    fn fillna(self, value: impl Literal) -> Expr {
        coalesce(vec![self, lit(value)])
    }

    fn astype(self, data_type: DataType) -> Expr {
        cast(self, data_type)
    }

    fn where_(self, cond: Expr, other: Expr) -> Expr {
        when(cond, self)
            .otherwise(other)
            .expect("a single WHEN branch is valid")
    }

    fn clip(self, lower: impl Literal, upper: impl Literal) -> Expr {
        // greatest/least skip NULL arguments, so a NULL input must be kept explicitly.
        let clipped = least(vec![greatest(vec![self.clone(), lit(lower)]), lit(upper)]);
        when(self.is_null(), lit(datafusion::common::ScalarValue::Null))
            .otherwise(clipped)
            .expect("a single WHEN branch is valid")
    }

    fn abs(self) -> Expr {
        abs(self)
    }

    fn round(self, decimals: i64) -> Expr {
        round(vec![self, lit(decimals)])
    }

    fn dt_year(self) -> Expr {
        part("year", self)
    }

    fn dt_month(self) -> Expr {
        part("month", self)
    }

    fn dt_day(self) -> Expr {
        part("day", self)
    }

    fn dt_hour(self) -> Expr {
        part("hour", self)
    }

    fn dt_dayofweek(self) -> Expr {
        // date_part's dow counts Sunday = 0; pandas counts Monday = 0.
        (part("dow", self) + lit(6)) % lit(7)
    }

    fn str_lower(self) -> Expr {
        lower(self)
    }

    fn str_upper(self) -> Expr {
        upper(self)
    }

    fn str_contains(self, pattern: &str) -> Expr {
        strpos(self, lit(pattern)).gt(lit(0))
    }

    fn str_len(self) -> Expr {
        character_length(self)
    }
}
