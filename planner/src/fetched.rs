//! What passes through the stores: bytes fetched from object stores, counted as they
//! arrive, so that progress can be told for remote files whose rows cannot be estimated (CSV,
//! JSON) without another request; and the bytes of CSV files read split at line breaks,
//! local or remote, searched for quotes (see [`crate::quotes`]).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
    UploadPart,
};

use crate::stores::readable_reply;

/// Bytes every remote store of this process has delivered so far.
static FETCHED: AtomicU64 = AtomicU64::new(0);

/// Bytes fetched from object stores by this process so far; a query's share is the
/// difference between two readings.
pub fn bytes_fetched() -> u64 {
    FETCHED.load(Ordering::Relaxed)
}

fn count(bytes: usize) {
    FETCHED.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// Remote objects as a listing or HEAD that resolved a statement's files saw them, by store
/// URL and key, with when: DataFusion asks a HEAD of every file it scans, a question the
/// resolution has just answered. One request fewer per file.
static RESOLVED: LazyLock<Mutex<Resolved>> = LazyLock::new(Default::default);

/// An object's store URL and key.
type ObjectKey = (String, String);

#[derive(Default)]
struct Resolved {
    objects: HashMap<ObjectKey, (ObjectMeta, Instant)>,
    /// How many were kept when the expired ones were last dropped: they are dropped again
    /// once twice as many are kept, so that a glob of many files is kept in linear time.
    kept: usize,
}

/// How long what resolution saw of an object answers for it: the few moments between
/// resolving a statement's files and planning their scans. A statement resolves its files
/// anew, so no statement after it gets an older answer than its own resolution.
const RESOLVED_FOR: Duration = Duration::from_secs(5);

/// Keeps `meta`, an object of the remote store at `store_url` as resolution saw it, to answer
/// DataFusion's HEAD of it.
pub(crate) fn resolved(store_url: &str, meta: &ObjectMeta) {
    if let Ok(mut resolved) = RESOLVED.lock() {
        let now = Instant::now();
        if resolved.objects.len() >= 2 * resolved.kept.max(1024) {
            resolved
                .objects
                .retain(|_, (_, seen)| now.duration_since(*seen) < RESOLVED_FOR);
            resolved.kept = resolved.objects.len();
        }
        let key = (store_url.to_string(), meta.location.to_string());
        resolved.objects.insert(key, (meta.clone(), now));
    }
}

/// What resolution saw of the object at `location` of the store at `store_url`, if it did
/// within [`RESOLVED_FOR`].
fn resolved_meta(store_url: &str, location: &Path) -> Option<ObjectMeta> {
    let resolved = RESOLVED.lock().ok()?;
    let key = (store_url.to_string(), location.to_string());
    let (meta, seen) = resolved.objects.get(&key)?;
    (seen.elapsed() < RESOLVED_FOR).then(|| meta.clone())
}

/// Whether `options` ask only for an object's metadata, unconditionally.
fn plain_head(options: &GetOptions) -> bool {
    options.head
        && options.range.is_none()
        && options.version.is_none()
        && options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
}

/// The last write a store refused, as `cannot write 'x': cause`. DataFusion's file sinks
/// tell a write that fails as a file is finished (a full disk) without its cause or the file
/// ("Error encountered while finalizing writes"), so the message takes them from here.
static REFUSED_WRITE: Mutex<Option<String>> = Mutex::new(None);

/// The last write a store refused since this was last asked, as `cannot write 'x': cause`.
pub fn take_refused_write() -> Option<String> {
    REFUSED_WRITE.lock().ok()?.take()
}

/// `result` of writing to the object `shown`, its failure kept for [`take_refused_write`].
fn kept_if_refused<T>(shown: &str, result: Result<T>) -> Result<T> {
    if let Err(error) = &result {
        let mut cause: &dyn std::error::Error = error;
        while let Some(deeper) = cause.source() {
            cause = deeper;
        }
        if let Ok(mut refused) = REFUSED_WRITE.lock() {
            *refused = Some(format!(
                "cannot write '{shown}': {}",
                readable_reply(&cause.to_string())
            ));
        }
    }
    result
}

/// A multipart upload whose refused parts and completion are kept (see [`take_refused_write`]).
#[derive(Debug)]
struct KeptIfRefused {
    inner: Box<dyn MultipartUpload>,
    shown: String,
}

#[async_trait]
impl MultipartUpload for KeptIfRefused {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let shown = self.shown.clone();
        let part = self.inner.put_part(data);
        Box::pin(async move { kept_if_refused(&shown, part.await) })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        kept_if_refused(&self.shown, self.inner.complete().await)
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}

/// `inner`, the store at `store_url` (`s3://bucket/`, `file:///`), whose reads of watched
/// CSV files pass their quote watch, whose refused writes are kept for the message, and whose
/// delivered bytes are counted if it is remote.
#[derive(Debug)]
pub(crate) struct Observed {
    inner: Arc<dyn ObjectStore>,
    store_url: String,
    remote: bool,
}

impl Observed {
    /// The remote store `inner`, serving `store_url`.
    pub(crate) fn remote(inner: Arc<dyn ObjectStore>, store_url: &str) -> Arc<dyn ObjectStore> {
        let store_url = store_url.to_string();
        Arc::new(Observed {
            inner,
            store_url,
            remote: true,
        })
    }

    /// How messages name the object at `location`.
    fn shown(&self, location: &Path) -> String {
        crate::files::shown_object(&self.store_url, location.as_ref())
    }

    /// The local filesystem.
    pub(crate) fn local() -> Arc<dyn ObjectStore> {
        Arc::new(Observed {
            inner: Arc::new(object_store::local::LocalFileSystem::new()),
            store_url: ObjectStoreUrl::local_filesystem().as_str().to_string(),
            remote: false,
        })
    }
}

/// Bytes read from a local file at a time when its reads are watched: allocated at their
/// exact size and below glibc's threshold for mapping allocations of their own, so that
/// freed chunks are reused rather than left to fragment the heap.
const LOCAL_CHUNK_BYTES: u64 = 64 * 1024;

/// Bytes `range` of the open local `file`, in chunks read as they are polled (a page-cache
/// read of one chunk is shorter than handing it to a blocking thread).
fn local_chunks(
    mut file: std::fs::File,
    path: std::path::PathBuf,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes>> {
    let unreadable = move |source: std::io::Error| object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("cannot read '{}': {source}", path.display()).into(),
    };
    if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
        return futures::stream::once(async move { Err(unreadable(e)) }).boxed();
    }
    let start = (file, range.end - range.start);
    futures::stream::try_unfold(start, move |(mut file, remaining)| {
        let unreadable = unreadable.clone();
        async move {
            let wanted = remaining.min(LOCAL_CHUNK_BYTES);
            let mut chunk = Vec::with_capacity(wanted as usize);
            (&mut file)
                .take(wanted)
                .read_to_end(&mut chunk)
                .map_err(unreadable)?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let remaining = remaining - chunk.len() as u64;
            Ok(Some((Bytes::from(chunk), (file, remaining))))
        }
    })
    .boxed()
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl ObjectStore for Observed {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let written = self.inner.put_opts(location, payload, opts).await;
        kept_if_refused(&self.shown(location), written)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let shown = self.shown(location);
        let inner = kept_if_refused(&shown, self.inner.put_multipart_opts(location, opts).await)?;
        Ok(Box::new(KeptIfRefused { inner, shown }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if self.remote && plain_head(&options) {
            if let Some(meta) = resolved_meta(&self.store_url, location) {
                return Ok(GetResult {
                    payload: GetResultPayload::Stream(futures::stream::empty().boxed()),
                    range: 0..meta.size,
                    meta,
                    attributes: Default::default(),
                });
            }
        }
        let result = self.inner.get_opts(location, options).await?;
        let watch = crate::quotes::watched(&self.store_url, location);
        if !self.remote && watch.is_none() {
            return Ok(result);
        }
        let GetResult {
            payload,
            meta,
            range,
            attributes,
        } = result;
        let mut bytes = match payload {
            GetResultPayload::Stream(stream) => stream,
            GetResultPayload::File(file, path) => local_chunks(file, path, range.clone()),
        };
        if self.remote {
            bytes = bytes.inspect_ok(|bytes| count(bytes.len())).boxed();
        }
        if let Some(watch) = watch {
            bytes = watch.over(
                bytes,
                (range.clone(), meta.size),
                Arc::clone(&self.inner),
                location.clone(),
            );
        }
        Ok(GetResult {
            payload: GetResultPayload::Stream(bytes),
            meta,
            range,
            attributes,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let fetched = self.inner.get_ranges(location, ranges).await?;
        if self.remote {
            count(fetched.iter().map(Bytes::len).sum());
        }
        Ok(fetched)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;

    use super::*;

    #[tokio::test]
    async fn reads_are_counted_once_whichever_way_they_come() {
        let store = Observed::remote(Arc::new(InMemory::new()), "memory:///");
        let location = Path::from("x.csv");
        store
            .put(&location, PutPayload::from(vec![b'a'; 1000]))
            .await
            .unwrap();
        let before = bytes_fetched();
        store.get(&location).await.unwrap().bytes().await.unwrap();
        store.get_range(&location, 0..10).await.unwrap();
        store
            .get_ranges(&location, &[0..100, 200..300])
            .await
            .unwrap();
        // No other test of this crate reads through a remote store.
        assert_eq!(bytes_fetched() - before, 1000 + 10 + 200);
        store.head(&location).await.unwrap();
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[tokio::test]
    async fn a_head_of_a_file_just_resolved_is_answered_without_asking_the_store() {
        let inner = Arc::new(InMemory::new());
        let store = Observed::remote(inner.clone(), "memory://resolved/");
        let (seen, unseen) = (Path::from("seen.csv"), Path::from("unseen.csv"));
        for location in [&seen, &unseen] {
            store
                .put(location, PutPayload::from(vec![b'a'; 10]))
                .await
                .unwrap();
        }
        let mut meta = inner.head(&seen).await.unwrap();
        // Rewritten since: a store asked again would say 20 bytes.
        inner
            .put(&seen, PutPayload::from(vec![b'a'; 20]))
            .await
            .unwrap();
        resolved("memory://resolved/", &meta);
        assert_eq!(store.head(&seen).await.unwrap().size, 10);
        // Only plain HEADs: a HEAD with a condition goes to the store. (No read here: the
        // test above counts every byte read through a remote store.)
        let conditional = GetOptions::new()
            .with_head(true)
            .with_if_none_match(Some("x".to_string()));
        let asked = store.get_opts(&seen, conditional).await.unwrap();
        assert_eq!(asked.meta.size, 20);
        assert_eq!(store.head(&unseen).await.unwrap().size, 10);
        // Another store's object of the same key is not that one.
        meta.location = unseen.clone();
        resolved("memory://elsewhere/", &meta);
        inner
            .put(&unseen, PutPayload::from(vec![b'a'; 30]))
            .await
            .unwrap();
        assert_eq!(store.head(&unseen).await.unwrap().size, 30);
    }
}
