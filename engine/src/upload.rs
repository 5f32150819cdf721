//! Results written to object stores. The rows are staged in a local file first, then sent as
//! a multipart upload that is completed only once every part has arrived, and aborted when
//! the write fails or is cancelled: the destination shows the old object or the complete new
//! one, never a part.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::stream::FuturesUnordered;
use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};
use rask_planner::stores::{is_url, redact_url, store_error, StoreKind};
use url::Url;

use crate::error::{Error, Result};

/// Bytes per part: S3 needs at least 5 MiB in every part but the last.
const PART_BYTES: usize = 8 << 20;

/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// An object to write, in the store its URL names.
pub(crate) struct RemoteTarget {
    store: Arc<dyn ObjectStore>,
    location: Key,
    url: Url,
    shown: String,
}

fn cannot_write(shown: &str, why: impl std::fmt::Display) -> Error {
    crate::staged::cannot_write(Path::new(shown), why)
}

/// The object `destination` names when it is a URL of an object store; `None` for a local
/// path (`file://` URLs included).
pub(crate) fn remote_target(
    destination: &Path,
    stores: &dyn ObjectStoreRegistry,
) -> Result<Option<RemoteTarget>> {
    let text = destination.to_string_lossy();
    if !is_url(&text) {
        return Ok(None);
    }
    let url = Url::parse(&text).map_err(|e| cannot_write(&text, e))?;
    let shown = redact_url(&url);
    match StoreKind::of(&url)? {
        StoreKind::Local => return Ok(None),
        StoreKind::Http => return Err(cannot_write(&shown, "http(s) URLs are read-only")),
        _ => {}
    }
    let key = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    let key = key.trim_start_matches('/');
    if key.is_empty() {
        return Err(cannot_write(
            &shown,
            "the URL names a bucket, not an object",
        ));
    }
    Ok(Some(RemoteTarget {
        store: stores.get_store(&url)?,
        location: Key::from(key),
        url,
        shown,
    }))
}

/// The local path `destination` names, for `file://` URLs; `destination` otherwise.
pub(crate) fn local_path(destination: &Path) -> std::path::PathBuf {
    let text = destination.to_string_lossy();
    Url::parse(&text)
        .ok()
        .filter(|url| url.scheme() == "file")
        .and_then(|url| url.to_file_path().ok())
        .unwrap_or_else(|| destination.to_path_buf())
}

impl RemoteTarget {
    /// The object `relative` names below this one, as a folder.
    pub(crate) fn child(&self, relative: &str) -> RemoteTarget {
        let location = Key::from(format!("{}/{relative}", self.location));
        let mut url = self.url.clone();
        url.set_path(location.as_ref());
        RemoteTarget {
            store: Arc::clone(&self.store),
            shown: redact_url(&url),
            location,
            url,
        }
    }

    /// The error of a failed write to it.
    pub(crate) fn cannot_write(&self, why: impl std::fmt::Display) -> Error {
        cannot_write(&self.shown, why)
    }

    /// Sends the bytes of `staged` from its start as the parts of an upload that is not yet
    /// completed.
    pub(crate) async fn send(&self, staged: &std::fs::File) -> Result<PendingUpload> {
        let started = Instant::now();
        let failed = |e| Error::from(store_error(&self.shown, e, started));
        let upload = self
            .store
            .put_multipart(&self.location)
            .await
            .map_err(failed)?;
        let mut pending = PendingUpload {
            upload: Some(upload),
            shown: self.shown.clone(),
        };
        let mut reader = staged
            .try_clone()
            .map_err(|e| cannot_write(&self.shown, e))?;
        use std::io::Seek;
        reader.rewind().map_err(|e| cannot_write(&self.shown, e))?;
        let mut in_flight = FuturesUnordered::new();
        let mut sent_any = false;
        loop {
            let (chunk, back) = tokio::task::spawn_blocking(move || {
                let mut chunk = Vec::with_capacity(PART_BYTES);
                let read = (&mut reader)
                    .take(PART_BYTES as u64)
                    .read_to_end(&mut chunk);
                (read.map(|_| chunk), reader)
            })
            .await
            .map_err(|e| cannot_write(&self.shown, e))?;
            reader = back;
            let chunk = chunk.map_err(|e| cannot_write(&self.shown, e))?;
            if chunk.is_empty() && sent_any {
                break;
            }
            let last = chunk.len() < PART_BYTES;
            let upload = pending.upload.as_mut().expect("the upload is open");
            in_flight.push(upload.put_part(PutPayload::from(chunk)));
            sent_any = true;
            if in_flight.len() >= PARTS_IN_FLIGHT {
                in_flight.try_next().await.map_err(failed)?;
            }
            if last {
                break;
            }
        }
        while in_flight.try_next().await.map_err(failed)?.is_some() {}
        Ok(pending)
    }

    /// Deletes the objects below this one (as a folder) that `keep` does not name: what a
    /// previous write left that the new one replaced.
    pub(crate) async fn remove_others(&self, keep: &[Key]) -> Result<()> {
        let started = Instant::now();
        let failed = |e| Error::from(store_error(&self.shown, e, started));
        let prefix = self.location.clone();
        let stale: Vec<Key> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_filter(|location| std::future::ready(!keep.contains(location)))
            .try_collect()
            .await
            .map_err(failed)?;
        for location in stale {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(())
    }

    /// The object's key.
    pub(crate) fn location(&self) -> &Key {
        &self.location
    }
}

/// An upload whose parts have all arrived: [`complete`](Self::complete) makes the object
/// visible; dropping it aborts the upload, so the store keeps no parts.
pub(crate) struct PendingUpload {
    upload: Option<Box<dyn MultipartUpload>>,
    shown: String,
}

impl PendingUpload {
    /// Publishes the object.
    pub(crate) async fn complete(mut self) -> Result<()> {
        let started = Instant::now();
        let mut upload = self.upload.take().expect("the upload is open");
        if let Err(e) = upload.complete().await {
            let _ = upload.abort().await;
            return Err(store_error(&self.shown, e, started).into());
        }
        Ok(())
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if let (Some(mut upload), Ok(runtime)) =
            (self.upload.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}
