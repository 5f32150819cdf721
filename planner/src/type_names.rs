//! The names types go by where people read them: under a column's name in a table, in
//! `SUMMARIZE`. SQL's names (`varchar`, `double`, `decimal(15,2)`), not Arrow's.

use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// The name a column's type goes by under its name, as SQL spells it.
pub fn sql_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(unit, zone) => {
            // Nanoseconds are SQL's timestamps here; other units say so.
            let unit = match unit {
                TimeUnit::Second => "_s",
                TimeUnit::Millisecond => "_ms",
                TimeUnit::Microsecond => "_us",
                TimeUnit::Nanosecond => "",
            };
            match zone {
                Some(_) => format!("timestamptz{unit}"),
                None => format!("timestamp{unit}"),
            }
        }
        DataType::Interval(_) => "interval".into(),
        DataType::Duration(_) => "duration".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "blob".into(),
        DataType::FixedSizeBinary(n) => format!("blob({n})"),
        DataType::Null => "null".into(),
        DataType::List(field) | DataType::LargeList(field) | DataType::ListView(field) => {
            format!("{}[]", sql_type_name(field.data_type()))
        }
        DataType::FixedSizeList(field, n) => format!("{}[{n}]", sql_type_name(field.data_type())),
        DataType::Struct(fields) => format!(
            "struct({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Map(..) => "map".into(),
        DataType::Dictionary(_, value) => sql_type_name(value),
        other => other.to_string().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn types_read_as_sql_spells_them() {
        for (data_type, name) in [
            (DataType::Utf8View, "varchar"),
            (DataType::Float64, "double"),
            (DataType::Decimal128(15, 2), "decimal(15,2)"),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), "timestamp"),
            (
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                "timestamptz_ms",
            ),
            (
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                "int32[]",
            ),
        ] {
            assert_eq!(sql_type_name(&data_type), name);
        }
    }
}
