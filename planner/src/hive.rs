//! Hive-style folders (`product=apple/part-0.parquet`), as `to_parquet(partition_on=..)`,
//! Dask, Spark and pyarrow write them: reading the folder gives the `key=value` names back as
//! columns, as Dask's `read_parquet` does.

use std::path::Path;

use datafusion::arrow::datatypes::DataType;
use url::Url;

use crate::files::{has_glob, FileSet};
use crate::stores::is_url;

/// Files laid out in hive-style folders below the folder the user named.
pub struct HiveLayout {
    /// The folder, ending in `/`.
    pub folder: Url,
    /// The partition columns, outermost first.
    pub columns: Vec<(String, DataType)>,
    /// The extension all files share (`.parquet`).
    pub extension: String,
}

/// The layout of `files` when the user named a folder whose files all lie in `key=value`
/// folders (the same keys throughout) and share an extension.
pub fn layout(files: &FileSet) -> Option<HiveLayout> {
    let folder = folder_of(files)?;
    let columns = partition_columns(&folder, files)?;
    let extension = common_extension(files)?;
    Some(HiveLayout {
        folder,
        columns,
        extension,
    })
}

/// The folder a table's files were found below, when the user named a folder (not a file
/// or a glob).
fn folder_of(files: &FileSet) -> Option<Url> {
    let pattern = files.pattern.as_str();
    if has_glob(pattern) {
        return None;
    }
    let folder = if is_url(pattern) {
        Url::parse(&format!("{}/", pattern.trim_end_matches('/'))).ok()?
    } else {
        let path = Path::new(pattern);
        if !path.is_dir() {
            return None;
        }
        Url::from_directory_path(crate::files::absolute(path).ok()?).ok()?
    };
    let below = |file: &Url| file.as_str().starts_with(folder.as_str());
    files.files.iter().all(|f| below(&f.url)).then_some(folder)
}

/// The partition columns of the files below `folder`: the `key=value` folders every file
/// lies in, the same keys in the same order, typed `Int64` when every value is an integer
/// and text otherwise. `None` when the files are not laid out so (or lie directly in it).
fn partition_columns(folder: &Url, files: &FileSet) -> Option<Vec<(String, DataType)>> {
    let mut keys: Option<Vec<String>> = None;
    let mut integers: Vec<bool> = Vec::new();
    for file in &files.files {
        let relative = file.url.as_str().strip_prefix(folder.as_str())?;
        let mut segments: Vec<&str> = relative.split('/').collect();
        segments.pop();
        let pairs: Vec<(String, String)> = segments
            .iter()
            .map(|segment| {
                let decoded = percent_decode(segment);
                let (key, value) = decoded.split_once('=')?;
                (!key.is_empty()).then(|| (key.to_string(), value.to_string()))
            })
            .collect::<Option<_>>()?;
        let names: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        match &keys {
            None => {
                integers = vec![true; names.len()];
                keys = Some(names);
            }
            Some(known) if *known != names => return None,
            Some(_) => {}
        }
        for ((_, value), integer) in pairs.iter().zip(integers.iter_mut()) {
            *integer &= value.parse::<i64>().is_ok();
        }
    }
    let keys = keys.filter(|k| !k.is_empty())?;
    Some(
        keys.into_iter()
            .zip(integers)
            .map(|(key, integer)| {
                let data_type = if integer {
                    DataType::Int64
                } else {
                    DataType::Utf8
                };
                (key, data_type)
            })
            .collect(),
    )
}

/// The common extension of the files' names (`.parquet`), which the folder's listing keeps
/// to; `None` when they differ.
fn common_extension(files: &FileSet) -> Option<String> {
    let extension = |name: String| name.rfind('.').map(|dot| name[dot..].to_string());
    let mut found = files.files.iter().map(|f| extension(f.name()));
    let first = found.next()??;
    found
        .all(|e| e.as_deref() == Some(first.as_str()))
        .then_some(first)
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::SourceFile;

    fn files(folder: &str, names: &[&str]) -> FileSet {
        FileSet {
            pattern: folder.to_string(),
            files: names
                .iter()
                .map(|name| SourceFile {
                    url: Url::from_file_path(format!("{folder}/{name}")).unwrap(),
                    size: 1,
                    listed: None,
                })
                .collect(),
        }
    }

    #[test]
    fn keys_become_typed_columns() {
        let set = files(
            "/data/out",
            &[
                "year=2024/product=apple/part-0.parquet",
                "year=2023/product=b%20c/part-0.parquet",
            ],
        );
        let folder = Url::from_directory_path("/data/out").unwrap();
        assert_eq!(
            partition_columns(&folder, &set).unwrap(),
            [
                ("year".to_string(), DataType::Int64),
                ("product".to_string(), DataType::Utf8)
            ]
        );
        assert_eq!(common_extension(&set).as_deref(), Some(".parquet"));
    }

    #[test]
    fn files_not_in_key_folders_have_none() {
        let folder = Url::from_directory_path("/data/out").unwrap();
        for names in [
            &["part-0.parquet"][..],
            &["a=1/part-0.parquet", "part-1.parquet"],
            &["a=1/part-0.parquet", "b=1/part-1.parquet"],
            &["plain/part-0.parquet"],
        ] {
            assert!(
                partition_columns(&folder, &files("/data/out", names)).is_none(),
                "{names:?}"
            );
        }
    }
}
