//! Bytes fetched from object stores, counted as they arrive, so that progress can be told
//! for remote files whose rows cannot be estimated (CSV, JSON) without another request.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

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

/// `inner`, counting the bytes its reads deliver.
#[derive(Debug)]
pub(crate) struct Counted {
    inner: Arc<dyn ObjectStore>,
}

impl Counted {
    pub(crate) fn wrap(inner: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(Counted { inner })
    }
}

impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl ObjectStore for Counted {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let mut result = self.inner.get_opts(location, options).await?;
        if let GetResultPayload::Stream(stream) = result.payload {
            let counted = stream.inspect_ok(|bytes| count(bytes.len()));
            result.payload = GetResultPayload::Stream(counted.boxed());
        }
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let fetched = self.inner.get_ranges(location, ranges).await?;
        count(fetched.iter().map(Bytes::len).sum());
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
        let store = Counted::wrap(Arc::new(InMemory::new()));
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
}
