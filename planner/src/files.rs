//! From what a user typed (`'data_part_*.csv'`, `'logs/'`, `'trips.parquet'`) to an explicit,
//! sorted list of files and the format to read them with.
//!
//! Globs are expanded here, at planning time, and never again: the plan then names the exact
//! files, so a query means the same files wherever it later runs and `EXPLAIN` can show them.

use std::fs;
use std::path::{Path, PathBuf};

use datafusion::common::{plan_datafusion_err, plan_err, Result};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::CopyToStatement;
use datafusion::sql::sqlparser::ast::Value;
use url::Url;

use crate::stores::{bucket_url, is_url, redact, redact_url, store_for, StorageOptions, StoreKind};

/// The on-disk formats Rask reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormatKind {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON: one object per line.
    Json,
    /// Arrow IPC files (`.arrow`, `.feather`).
    Arrow,
}

impl FileFormatKind {
    /// The name users see in messages and accept in options.
    pub fn name(self) -> &'static str {
        match self {
            FileFormatKind::Csv => "csv",
            FileFormatKind::Tsv => "tsv",
            FileFormatKind::Parquet => "parquet",
            FileFormatKind::Json => "json",
            FileFormatKind::Arrow => "arrow",
        }
    }

    /// Whether two kinds are read by the same reader (CSV and TSV differ only by delimiter).
    fn same_reader(self, other: FileFormatKind) -> bool {
        let reader = |kind| match kind {
            FileFormatKind::Tsv => FileFormatKind::Csv,
            other => other,
        };
        reader(self) == reader(other)
    }
}

/// The format and compression a file name announces, e.g. `x.csv.gz` → (Csv, GZIP).
pub fn detect_format(path: &Path) -> Option<(FileFormatKind, FileCompressionType)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let (stem, compression) = split_compression(&name);
    let extension = stem.rsplit_once('.')?.1;
    let kind = match extension {
        "csv" => FileFormatKind::Csv,
        "tsv" | "tab" => FileFormatKind::Tsv,
        "parquet" | "pq" => FileFormatKind::Parquet,
        "json" | "ndjson" | "jsonl" => FileFormatKind::Json,
        "arrow" | "feather" | "ipc" => FileFormatKind::Arrow,
        _ => return None,
    };
    Some((kind, compression))
}

/// The compression a file name announces; the rest of the name is returned alongside.
pub fn split_compression(name: &str) -> (&str, FileCompressionType) {
    let suffixes = [
        (".gz", FileCompressionType::GZIP),
        (".zst", FileCompressionType::ZSTD),
        (".zstd", FileCompressionType::ZSTD),
        (".bz2", FileCompressionType::BZIP2),
        (".xz", FileCompressionType::XZ),
    ];
    for (suffix, compression) in suffixes {
        if name.len() > suffix.len() && name.to_ascii_lowercase().ends_with(suffix) {
            return (&name[..name.len() - suffix.len()], compression);
        }
    }
    (name, FileCompressionType::UNCOMPRESSED)
}

/// `COPY … TO` a file written as its name says, as `-o` writes it and as DuckDB does:
/// DataFusion finds no format for the extensions `tsv`, `ndjson`, `jsonl` or `gz`, and given
/// one (`STORED AS CSV`) writes plain text under a compressed name. Unless `STORED AS` and
/// the options say otherwise, the format comes from the extension before a compression
/// suffix (`.tsv` is CSV split by tabs), the compression from the suffix.
pub fn copy_as_named(copy: &mut CopyToStatement) -> Result<()> {
    let (named, compression) = match detect_format(Path::new(&copy.target)) {
        Some((kind, compression)) => (Some(kind), compression),
        None => (None, split_compression(&copy.target).1),
    };
    let format = match (&copy.stored_as, named) {
        (Some(stored_as), _) => stored_as.to_ascii_uppercase(),
        (None, Some(FileFormatKind::Csv | FileFormatKind::Tsv)) => "CSV".to_string(),
        (None, Some(FileFormatKind::Json)) => "JSON".to_string(),
        (None, Some(FileFormatKind::Parquet)) => "PARQUET".to_string(),
        (None, Some(FileFormatKind::Arrow)) => "ARROW".to_string(),
        (None, None) => return Ok(()),
    };
    let mut given = |keys: &[&str], value: &str| {
        if !copy
            .options
            .iter()
            .any(|(key, _)| keys.contains(&key.as_str()))
        {
            let value = Value::SingleQuotedString(value.to_string());
            copy.options.push((keys[0].to_string(), value));
        }
    };
    if named == Some(FileFormatKind::Tsv) && format == "CSV" {
        given(&["format.delimiter", "delimiter"], "\t");
    }
    if compression.is_compressed() {
        if matches!(format.as_str(), "PARQUET" | "ARROW") {
            return plan_err!("{}", compressed_twice(&redact(&copy.target)));
        }
        let codec = compression.get_variant().to_string().to_ascii_lowercase();
        given(&["format.compression", "compression"], &codec);
    }
    copy.stored_as = Some(format);
    Ok(())
}

/// The refusal of a file name asking a format that compresses internally to be compressed
/// once more (`out.parquet.gz`).
pub fn compressed_twice(name: &str) -> String {
    let (uncompressed, _) = split_compression(name);
    format!(
        "cannot write '{name}': Parquet and Arrow files compress internally; name it without '{}'",
        &name[uncompressed.len()..]
    )
}

/// Whether a table name in SQL is meant as a file path rather than a registered table.
///
/// Bare identifiers (`trips`) stay table names so that a missing table gets DataFusion's
/// "table not found"; anything with a path separator, a glob character or a known file
/// extension is a path.
pub fn looks_like_path(name: &str) -> bool {
    name.contains(['/', '\\', '*', '?', '['])
        || name.starts_with('~')
        || detect_format(Path::new(name)).is_some()
}

/// `path` made absolute with its `.` and `..` segments resolved by name, as the shell
/// shows it: object-store paths (which DataFusion reads local files through) refuse `..`.
pub(crate) fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let mut resolved = PathBuf::new();
    for component in std::path::absolute(path)?.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => resolved.push(other),
        }
    }
    Ok(resolved)
}

pub(crate) fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn expand_home(pattern: &str) -> String {
    match (pattern.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest).to_string_lossy().into_owned(),
        _ => pattern.to_string(),
    }
}

/// Files a directory listing skips, as Dask, Spark and DataFusion do (`_SUCCESS`, `.crc`).
pub(crate) fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.') || name.starts_with('_'))
}

/// One file of a table: where it is and how many bytes it holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceFile {
    /// `file:///abs/path` for local files, the object's URL otherwise.
    pub url: Url,
    /// Size in bytes, when resolved.
    pub size: u64,
    /// When a listing saw the object last change, and its entity tag: with them, readers
    /// need not ask the store again.
    pub listed: Option<(chrono::DateTime<chrono::Utc>, Option<String>)>,
}

impl SourceFile {
    /// The local file at absolute `path`, sized from its metadata.
    pub fn local(path: &Path) -> Result<SourceFile> {
        let opened = fs::File::open(path).and_then(|f| f.metadata());
        let meta =
            opened.map_err(|e| plan_datafusion_err!("cannot read '{}': {e}", path.display()))?;
        let url = Url::from_file_path(path)
            .map_err(|()| plan_datafusion_err!("'{}' is not an absolute path", path.display()))?;
        Ok(SourceFile {
            url,
            size: meta.len(),
            listed: None,
        })
    }

    /// The file's path, for local files.
    pub fn local_path(&self) -> Option<PathBuf> {
        match self.url.scheme() {
            "file" => self.url.to_file_path().ok(),
            _ => None,
        }
    }

    /// The last segment of its path: what the format is told from.
    pub fn name(&self) -> String {
        let path = self.location();
        path.filename().unwrap_or_default().to_string()
    }

    /// How messages name it: the path for local files, the URL (without secrets) otherwise.
    pub fn shown(&self) -> String {
        match self.local_path() {
            Some(path) => path.display().to_string(),
            None => redact_url(&self.url),
        }
    }

    /// The object's key within its store.
    pub fn location(&self) -> object_store::path::Path {
        match self.local_path() {
            Some(path) => object_store::path::Path::from_absolute_path(&path)
                .unwrap_or_else(|_| object_store::path::Path::from(self.url.path())),
            None => object_store::path::Path::from_url_path(self.url.path())
                .unwrap_or_else(|_| object_store::path::Path::from(self.url.path())),
        }
    }

    /// The store it lives in (`s3://bucket`, `file://`).
    pub fn store_url(&self) -> Result<ObjectStoreUrl> {
        match self.url.scheme() {
            "file" => Ok(ObjectStoreUrl::local_filesystem()),
            _ => ObjectStoreUrl::parse(bucket_url(&self.url)),
        }
    }

    /// The object's metadata as a listing gave it, if one did.
    pub fn listed_meta(&self) -> Option<object_store::ObjectMeta> {
        let (last_modified, e_tag) = self.listed.clone()?;
        Some(object_store::ObjectMeta {
            location: self.location(),
            last_modified,
            size: self.size,
            e_tag,
            version: None,
        })
    }

    /// The file as DataFusion's listing tables name it.
    pub fn listing_url(&self) -> Result<ListingTableUrl> {
        ListingTableUrl::try_new(self.url.clone(), None)
    }
}

/// How messages name the object at `location` in the store at `store_url` (as an
/// `ObjectStoreUrl` writes it: `file:///`, `s3://bucket/`): a path for local files, the
/// object's URL otherwise.
pub fn shown_object(store_url: &str, location: &str) -> String {
    match store_url.strip_prefix("file://") {
        Some(_) => format!("/{location}"),
        None => format!("{}/{location}", store_url.trim_end_matches('/')),
    }
}

/// A table's files, resolved once at planning time.
#[derive(Debug, Clone)]
pub struct FileSet {
    /// What the user wrote, for messages.
    pub pattern: String,
    /// The files, sorted.
    pub files: Vec<SourceFile>,
}

impl FileSet {
    /// Expands a path or URL like [`FileSet::resolve`], listing object stores with the
    /// session's stores (built from `options` when there are any).
    pub async fn resolve_in(
        state: &SessionState,
        pattern: &str,
        options: &StorageOptions,
    ) -> Result<FileSet> {
        if !is_url(pattern) {
            return FileSet::resolve(pattern);
        }
        // Split by hand: in a glob, `?` is a wildcard, not the start of a query string.
        let (scheme, rest) = pattern.split_once("://").unwrap_or((pattern, ""));
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        let root = Url::parse(&format!("{scheme}://{authority}"))
            .map_err(|e| plan_datafusion_err!("invalid URL '{}': {e}", redact(pattern)))?;
        let kind = StoreKind::of(&root)?;
        if kind == StoreKind::Local {
            return FileSet::resolve(&format!("/{key}"));
        }
        let store = store_for(state, &root, options)?;
        let files = crate::remote::list(store.as_ref(), &root, key, kind).await?;
        Ok(FileSet {
            pattern: format!("{}/{key}", bucket_url(&root)),
            files,
        })
    }

    /// Expands a file path, a directory (all files below it, hidden ones skipped) or a glob
    /// (`*`, `?`, `[..]`, and `**` for any depth) into a sorted list of readable files.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for name in ["b.csv", "a.csv", "notes.txt"] { std::fs::write(dir.path().join(name), "x\n1\n").unwrap(); }
    /// let pattern = format!("{}/*.csv", dir.path().display());
    /// let set = rask_planner::files::FileSet::resolve(&pattern).unwrap();
    /// let names: Vec<_> = set.files.iter().map(|f| f.name()).collect();
    /// assert_eq!(names, ["a.csv", "b.csv"]);
    /// ```
    pub fn resolve(pattern: &str) -> Result<FileSet> {
        if is_url(pattern) {
            return plan_err!(
                "'{}' is a URL; it is read through a session (SQL, or a DataFrame reader)",
                redact(pattern)
            );
        }
        let expanded = expand_home(pattern);
        let paths = if has_glob(&expanded) {
            glob_files(pattern, &expanded)?
        } else {
            let path = Path::new(&expanded);
            match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => directory_files(pattern, path)?,
                Ok(_) => vec![path.to_path_buf()],
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return plan_err!("file not found: '{pattern}'");
                }
                Err(e) => return plan_err!("cannot read '{pattern}': {e}"),
            }
        };
        let mut files = paths
            .iter()
            .map(|file| {
                let absolute = absolute(file).map_err(|e| {
                    plan_datafusion_err!("cannot resolve '{}': {e}", file.display())
                })?;
                SourceFile::local(&absolute)
            })
            .collect::<Result<Vec<_>>>()?;
        files.sort();
        files.dedup();
        Ok(FileSet {
            pattern: pattern.to_string(),
            files,
        })
    }

    /// The one format all files share, from their extensions; an error names the odd one out.
    pub fn format(&self) -> Result<(FileFormatKind, FileCompressionType)> {
        let mut found: Option<(FileFormatKind, FileCompressionType, &SourceFile)> = None;
        for file in &self.files {
            let Some((kind, compression)) = detect_format(Path::new(&file.name())) else {
                return plan_err!(
                    "cannot tell the format of '{}' from its extension; read it with read_csv(..), read_parquet(..) or read_json(..)",
                    file.shown()
                );
            };
            match found {
                None => found = Some((kind, compression, file)),
                Some((first, first_compression, first_file))
                    if !first.same_reader(kind) || first_compression != compression =>
                {
                    return plan_err!(
                        "'{}' mixes formats: '{}' is {} but '{}' is {}; narrow it with a glob such as '*.{}'",
                        self.pattern,
                        first_file.shown(),
                        describe(first, first_compression),
                        file.shown(),
                        describe(kind, compression),
                        first.name()
                    );
                }
                Some(_) => {}
            }
        }
        found
            .map(|(kind, compression, _)| (kind, compression))
            .ok_or_else(|| plan_datafusion_err!("'{}' holds no files", self.pattern))
    }

    /// The compression of the files, from their extensions, for readers told the format.
    pub fn compression(&self) -> Result<FileCompressionType> {
        let mut compressions = self
            .files
            .iter()
            .map(|file| split_compression(&file.name()).1);
        let first = compressions
            .next()
            .unwrap_or(FileCompressionType::UNCOMPRESSED);
        if compressions.any(|c| c != first) {
            return plan_err!(
                "'{}' mixes compressions (e.g. .gz with .zst or with plain files); narrow it with a glob",
                self.pattern
            );
        }
        Ok(first)
    }
}

fn describe(kind: FileFormatKind, compression: FileCompressionType) -> String {
    if compression.is_compressed() {
        format!("{} ({})", kind.name(), compression.get_variant())
    } else {
        kind.name().to_string()
    }
}

/// How globs match, on disk and in object stores alike: `*` stays within one directory and
/// does not match a leading dot.
pub(crate) const GLOB_MATCHING: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

fn glob_files(pattern: &str, expanded: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob_with(expanded, GLOB_MATCHING)
        .map_err(|e| plan_datafusion_err!("invalid glob '{pattern}': {e}"))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| plan_datafusion_err!("cannot read '{pattern}': {e}"))?;
        if path.is_file() {
            files.push(path);
        }
        if files.len() > MAX_LISTED {
            return plan_err!("'{pattern}' matches more than {MAX_LISTED} files; narrow the glob");
        }
    }
    if files.is_empty() {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        return plan_err!("no files match '{pattern}' (relative to {cwd})");
    }
    Ok(files)
}

/// The most entries (files and directories) a directory table lists, and the most files a
/// glob matches: past them the walk stops with an error rather than list a whole disk.
pub const MAX_LISTED: usize = 1_000_000;

fn directory_files(pattern: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    walk(pattern, dir, MAX_LISTED)
}

/// Every file below `dir`, hidden ones skipped. Symbolic links to directories are not
/// followed (a link to an ancestor would never end); more than `limit` entries is an error.
fn walk(pattern: &str, dir: &Path, limit: usize) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut listed = 0usize;
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| plan_datafusion_err!("cannot read '{}': {e}", dir.display()))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| plan_datafusion_err!("cannot read '{}': {e}", dir.display()))?;
            let path = entry.path();
            if is_hidden(&path) {
                continue;
            }
            listed += 1;
            if listed > limit {
                return plan_err!(
                    "directory '{pattern}' holds more than {limit} files and directories; name a smaller directory or a glob such as '{pattern}/*.parquet'"
                );
            }
            let linked_dir = || entry.file_type().is_ok_and(|t| t.is_symlink()) && path.is_dir();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else if !linked_dir() {
                files.push(path);
            }
        }
    }
    if files.is_empty() {
        return plan_err!("directory '{pattern}' holds no files");
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_segments_are_resolved() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("x.csv"), "v\n1\n").unwrap();
        let pattern = format!("{}/a/../x.csv", dir.path().display());
        let files = FileSet::resolve(&pattern).unwrap();
        assert_eq!(
            files.files[0].local_path().unwrap(),
            dir.path().join("x.csv")
        );
        let glob = format!("{}/a/../*.csv", dir.path().display());
        assert_eq!(FileSet::resolve(&glob).unwrap().files.len(), 1);
    }

    #[test]
    fn a_walk_stops_at_its_limit_and_does_not_follow_links_to_directories() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        for name in ["a.csv", "b.csv", "sub/c.csv"] {
            fs::write(dir.path().join(name), "x\n1\n").unwrap();
        }
        // A link back to the top: followed, the walk would never end.
        std::os::unix::fs::symlink(dir.path(), sub.join("loop")).unwrap();
        let pattern = dir.path().to_str().unwrap();
        let mut files = walk(pattern, dir.path(), 10).unwrap();
        files.sort();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(dir.path()).unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.csv", "b.csv", "sub/c.csv"]);
        let refused = walk(pattern, dir.path(), 4).unwrap_err().strip_backtrace();
        assert!(
            refused.contains("holds more than 4 files and directories"),
            "{refused}"
        );
    }

    #[test]
    fn formats_come_from_extensions() {
        let detect =
            |name: &str| detect_format(Path::new(name)).map(|(k, c)| (k, c.is_compressed()));
        assert_eq!(detect("a.csv"), Some((FileFormatKind::Csv, false)));
        assert_eq!(detect("dir/A.CSV.GZ"), Some((FileFormatKind::Csv, true)));
        assert_eq!(detect("x.csv.zst"), Some((FileFormatKind::Csv, true)));
        assert_eq!(detect("x.parquet"), Some((FileFormatKind::Parquet, false)));
        assert_eq!(detect("x.jsonl"), Some((FileFormatKind::Json, false)));
        assert_eq!(detect("x.ndjson"), Some((FileFormatKind::Json, false)));
        assert_eq!(detect("x.tsv"), Some((FileFormatKind::Tsv, false)));
        assert_eq!(detect("x.feather"), Some((FileFormatKind::Arrow, false)));
        assert_eq!(detect("x.gz"), None);
        assert_eq!(detect("README"), None);
    }

    #[test]
    fn table_names_versus_paths() {
        assert!(!looks_like_path("trips"));
        assert!(looks_like_path("trips.csv"));
        assert!(looks_like_path("data/"));
        assert!(looks_like_path("data_part_*"));
        assert!(looks_like_path("~/x"));
    }

    #[test]
    fn globs_expand_sorted_and_recursive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("logs/2024/b")).unwrap();
        for name in [
            "p_10.csv",
            "p_2.csv",
            "p_1.csv",
            "other.csv",
            "logs/2024/b/x.parquet",
            "logs/y.parquet",
            "_SUCCESS",
        ] {
            fs::write(root.join(name), "a\n1\n").unwrap();
        }
        let names = |set: FileSet| -> Vec<String> {
            set.files
                .iter()
                .map(|f| {
                    let path = f.local_path().unwrap();
                    path.strip_prefix(root).unwrap().display().to_string()
                })
                .collect()
        };
        let set = FileSet::resolve(&format!("{}/p_*.csv", root.display())).unwrap();
        assert_eq!(names(set), ["p_1.csv", "p_10.csv", "p_2.csv"]);
        let set = FileSet::resolve(&format!("{}/logs/**/*.parquet", root.display())).unwrap();
        assert_eq!(names(set), ["logs/2024/b/x.parquet", "logs/y.parquet"]);
        let set = FileSet::resolve(&format!("{}/", root.display())).unwrap();
        assert_eq!(set.files.len(), 6, "hidden _SUCCESS is skipped");
        let err = FileSet::resolve(&format!("{}/nothing_*.csv", root.display())).unwrap_err();
        assert!(err.to_string().contains("no files match"), "{err}");
        let err = FileSet::resolve(&format!("{}/missing.csv", root.display())).unwrap_err();
        assert!(err.to_string().contains("file not found"), "{err}");
    }

    #[test]
    fn mixed_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.csv"), "a\n1\n").unwrap();
        fs::write(dir.path().join("b.parquet"), "x").unwrap();
        let set = FileSet::resolve(&dir.path().display().to_string()).unwrap();
        let err = set.format().unwrap_err().to_string();
        assert!(err.contains("mixes formats"), "{err}");
    }
}
