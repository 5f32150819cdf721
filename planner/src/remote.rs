//! Files in object stores: globs expanded by listing their longest literal prefix and
//! matched with the rules of local paths, and the reads that planning-time checks (format
//! sniffing, schema inference) make of any file, local or remote.

use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::common::{plan_datafusion_err, plan_err, Result};
use datafusion::execution::session_state::SessionState;
use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use url::Url;

use crate::files::{has_glob, is_hidden, SourceFile, GLOB_MATCHING, MAX_LISTED};
use crate::stores::{bucket_url, store_error, StoreKind};

/// The files `key` names in the bucket (or host) `url`: one object, every object below a
/// "directory" (hidden ones skipped), or the objects a glob in it matches, sorted.
pub(crate) async fn list(
    store: &dyn ObjectStore,
    url: &Url,
    key: &str,
    kind: StoreKind,
) -> Result<Vec<SourceFile>> {
    let shown = format!("{}/{key}", bucket_url(url));
    let started = Instant::now();
    let failed = |e| store_error(&shown, e, started);
    let as_file = |meta: ObjectMeta| file_at(url, meta);
    let mut files = if has_glob(key) {
        if !kind.can_list() && key.contains('?') {
            return plan_err!(
                "'{shown}': http(s) URLs with a query string are not supported (Rask takes `?` in a path as a glob); download the file first"
            );
        }
        if !kind.can_list() {
            return plan_err!(
                "'{shown}': an http(s) URL names a single file; globs and directories need a store that lists keys (s3://, gs://, az://)"
            );
        }
        let pattern = glob::Pattern::new(key)
            .map_err(|e| plan_datafusion_err!("invalid glob '{shown}': {e}"))?;
        let literal = &key[..key.find(['*', '?', '[']).unwrap_or(key.len())];
        let prefix = &literal[..literal.rfind('/').map_or(0, |slash| slash + 1)];
        let (listed, matched) = listed_under(store, prefix, &shown, |location| {
            pattern.matches_with(location, GLOB_MATCHING)
        })
        .await
        .map_err(failed)??;
        if matched.is_empty() {
            return plan_err!(
                "no files match '{shown}' (listed {}/{prefix}: {listed} object(s))",
                bucket_url(url)
            );
        }
        matched
            .into_iter()
            .map(as_file)
            .collect::<Result<Vec<_>>>()?
    } else if key.is_empty() || key.ends_with('/') {
        directory(store, url, key, &shown).await?
    } else {
        match store.head(&Key::from(key)).await {
            Ok(meta) => vec![as_file(meta)?],
            Err(object_store::Error::NotFound { .. }) if kind.can_list() => {
                // Not an object: maybe a folder, or a bucket that is not there.
                match directory(store, url, &format!("{key}/"), &shown).await {
                    Ok(files) => files,
                    Err(e) if e.to_string().contains("holds no files") => {
                        return plan_err!("file not found: '{shown}'")
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(object_store::Error::NotFound { .. }) => {
                return plan_err!("file not found: '{shown}'")
            }
            Err(e) => return Err(failed(e)),
        }
    };
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every object below `dir` (a key ending in `/`, or empty for the whole bucket), without
/// those inside hidden folders or named as hidden files (`_SUCCESS`, `.crc`).
async fn directory(
    store: &dyn ObjectStore,
    url: &Url,
    dir: &str,
    shown: &str,
) -> Result<Vec<SourceFile>> {
    let started = Instant::now();
    let visible = |location: &str| {
        let below = location.strip_prefix(dir).unwrap_or(location);
        !below.split('/').any(|part| is_hidden(Path::new(part)))
    };
    let (_, found) = listed_under(store, dir, shown, visible)
        .await
        .map_err(|e| store_error(shown, e, started))??;
    if found.is_empty() {
        return plan_err!("directory '{shown}' holds no files");
    }
    found.into_iter().map(|meta| file_at(url, meta)).collect()
}

/// Lists the objects under `prefix` and keeps those `keep` accepts; returns how many were
/// listed too. More than [`MAX_LISTED`] is an error rather than a listing without end.
async fn listed_under(
    store: &dyn ObjectStore,
    prefix: &str,
    shown: &str,
    keep: impl Fn(&str) -> bool,
) -> std::result::Result<Result<(usize, Vec<ObjectMeta>)>, object_store::Error> {
    let prefix = Key::from(prefix.trim_end_matches('/'));
    let mut objects = store.list(Some(&prefix));
    let (mut listed, mut kept) = (0usize, Vec::new());
    while let Some(meta) = objects.try_next().await? {
        listed += 1;
        if listed > MAX_LISTED {
            return Ok(plan_err!(
                "'{shown}' lists more than {MAX_LISTED} objects; narrow the prefix"
            ));
        }
        if keep(meta.location.as_ref()) {
            kept.push(meta);
        }
    }
    Ok(Ok((listed, kept)))
}

fn file_at(url: &Url, meta: ObjectMeta) -> Result<SourceFile> {
    let mut file_url = Url::parse(&bucket_url(url))
        .map_err(|e| plan_datafusion_err!("invalid URL '{}': {e}", bucket_url(url)))?;
    file_url.set_path(meta.location.as_ref());
    let file = SourceFile {
        url: file_url,
        size: meta.size,
        listed: Some((meta.last_modified, meta.e_tag.clone())),
    };
    crate::fetched::resolved(file.store_url()?.as_str(), &meta);
    Ok(file)
}

/// The store `file` lives in, from the session's registry.
pub(crate) fn store_of(state: &SessionState, file: &SourceFile) -> Result<Arc<dyn ObjectStore>> {
    state.runtime_env().object_store(file.store_url()?)
}

/// Bytes `range` of `file` (clamped to its size).
pub(crate) async fn read_range(
    state: &SessionState,
    file: &SourceFile,
    range: Range<u64>,
) -> Result<bytes::Bytes> {
    let range = range.start.min(file.size)..range.end.min(file.size);
    if let Some(path) = file.local_path() {
        use std::io::{Seek, SeekFrom};
        let mut opened = std::fs::File::open(&path)?;
        opened.seek(SeekFrom::Start(range.start))?;
        let mut bytes = Vec::new();
        opened
            .take(range.end - range.start)
            .read_to_end(&mut bytes)?;
        return Ok(bytes.into());
    }
    let started = Instant::now();
    store_of(state, file)?
        .get_range(&file.location(), range)
        .await
        .map_err(|e| store_error(&file.shown(), e, started))
}

/// A blocking reader of the first `bytes` (at most [`SAMPLE_BYTES`]) of `file`, cut after
/// the last newline in them, for samples of the first rows of uncompressed text. A remote
/// object's sample is one ranged GET, shared by every sample taken of the same version of
/// it (see [`first_bytes`]); a whole-object stream dropped part-way may cost the server all
/// of it.
pub(crate) async fn sample_reader(
    state: &SessionState,
    file: &SourceFile,
    bytes: u64,
) -> Result<Box<dyn Read + Send>> {
    if file.local_path().is_some() || bytes >= file.size {
        return blocking_reader(state, file).await;
    }
    let first = first_bytes(state, file).await?;
    let mut sample = first.slice(..first.len().min(bytes as usize));
    if let Some(last) = sample.iter().rposition(|&b| b == b'\n') {
        sample.truncate(last + 1);
    }
    Ok(Box::new(std::io::Cursor::new(sample)))
}

/// The most bytes sampled from the start of a remote text file.
pub(crate) const SAMPLE_BYTES: u64 = 1 << 20;

/// Samples kept: a statement's quote check and type inference, and the next statements over
/// the same unchanged objects, fetch each once.
const KEPT_SAMPLES: usize = 64;

/// The first [`SAMPLE_BYTES`] of a remote `file`, kept by URL, size, modification time and
/// ETag (as its listing gave them), so that a changed object is fetched again.
async fn first_bytes(state: &SessionState, file: &SourceFile) -> Result<bytes::Bytes> {
    use std::sync::Mutex;
    type Kept = std::collections::VecDeque<(SourceFile, bytes::Bytes)>;
    static KEPT: Mutex<Kept> = Mutex::new(Kept::new());
    let versioned = file.listed.is_some();
    if versioned {
        let kept = KEPT.lock().ok().and_then(|kept| {
            kept.iter()
                .find(|(seen, _)| seen == file)
                .map(|(_, bytes)| bytes.clone())
        });
        if let Some(bytes) = kept {
            return Ok(bytes);
        }
    }
    let bytes = read_range(state, file, 0..SAMPLE_BYTES).await?;
    if let (true, Ok(mut kept)) = (versioned, KEPT.lock()) {
        if kept.len() == KEPT_SAMPLES {
            kept.pop_front();
        }
        kept.push_back((file.clone(), bytes.clone()));
    }
    Ok(bytes)
}

/// A blocking reader of `file` from its start, to be read inside `spawn_blocking`: remote
/// objects stream in as they are read, and dropping the reader ends the request.
pub(crate) async fn blocking_reader(
    state: &SessionState,
    file: &SourceFile,
) -> Result<Box<dyn Read + Send>> {
    if let Some(path) = file.local_path() {
        let opened = std::fs::File::open(&path)
            .map_err(|e| plan_datafusion_err!("cannot read '{}': {e}", path.display()))?;
        return Ok(Box::new(opened));
    }
    let started = Instant::now();
    let object = store_of(state, file)?
        .get(&file.location())
        .await
        .map_err(|e| store_error(&file.shown(), e, started))?;
    Ok(sync_reader(object))
}

/// The bytes of `object` as a blocking reader, to be read inside `spawn_blocking` (a stream
/// is bridged from the runtime this is called on).
pub(crate) fn sync_reader(object: object_store::GetResult) -> Box<dyn Read + Send> {
    match object.payload {
        object_store::GetResultPayload::File(file, _) => Box::new(file),
        object_store::GetResultPayload::Stream(bytes) => {
            let bytes = bytes.map_err(std::io::Error::other);
            let reader = tokio_util::io::StreamReader::new(bytes);
            Box::new(tokio_util::io::SyncIoBridge::new(reader))
        }
    }
}
