//! Quoted CSV fields that are never closed, or that hold line breaks where a file is read
//! split at line breaks.
//!
//! The CSV decoder ends a quoted field at the end of its input without complaint, so a file
//! with one stray opening quote reads as fewer rows than it has, the rest of the file (or of
//! the byte range a partition reads) folded into one value: a wrong answer, silently. The
//! files are walked with the decoder's rules: a quote opens a field only at the field's start,
//! a doubled quote or an escaped one inside it is a literal quote, comment lines are skipped.
//!
//! - Files whose first bytes quote values (the only ones read with quoted newlines allowed,
//!   see [`listing`](crate::listing)) are walked when their table is created, and a field still
//!   open at the end is an error naming the file, line and column where it opened.
//! - The others are read in byte ranges split at line breaks, with no walk up front (it would
//!   cost a whole read of every file). They are [`watch`]ed instead: their bytes are searched
//!   for the quote character as they come from the store (see [`crate::fetched`]), and the
//!   first quote found has the whole file walked, once per statement. A field that is never
//!   closed, or a quoted line break (which a split read cuts in two), fails the read.
//! - Compressed files are read whole, from their first byte to their last, and their bytes
//!   cannot be searched for a quote. They are watched too: what the query reads is also
//!   decompressed and walked beside it, on a blocking thread, and the read ends with an error
//!   if a field is still open at the end (quoted line breaks are fine in a whole read).

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// The dialect of a CSV file, as far as quoting goes.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The field separator.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// The character that makes the next quote inside a quoted field literal.
    pub escape: Option<u8>,
    /// The first character of lines to skip.
    pub comment: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// At the start of a record, where a comment character starts a comment line.
    RecordStart,
    Unquoted,
    Quoted,
    /// After a quote inside a quoted field: another quote is a literal one, else it closed.
    QuoteInQuoted,
    /// After an escape character inside a quoted field.
    Escaped,
    Comment,
}

/// Where a quoted field opens: 1-based line and column (in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenQuote {
    /// The line of the opening quote.
    pub line: u64,
    /// Its column.
    pub column: u64,
}

impl OpenQuote {
    /// The error for the file named `shown` whose quoted field opening here never closes.
    pub fn never_closed(&self, shown: &str) -> String {
        format!(
            "{shown}:{}:{}: malformed CSV: a quoted field opens here and is never closed",
            self.line, self.column
        )
    }
}

/// What walking a file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuoteScan {
    /// The quoted field still open at the end, if one is.
    pub unclosed: Option<OpenQuote>,
    /// The first quoted field holding a line break.
    pub line_break: Option<OpenQuote>,
}

/// Reads `input` to its end and tells where quoted fields that hold line breaks, or are
/// still open at the end, begin.
pub fn scan_quotes(input: impl Read, dialect: Dialect) -> std::io::Result<QuoteScan> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut state = State::RecordStart;
    let (mut line, mut column) = (1u64, 0u64);
    let mut opened = OpenQuote { line: 1, column: 1 };
    let mut line_break = None;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        for &byte in chunk {
            column += 1;
            state = match state {
                State::Quoted if byte == dialect.quote => State::QuoteInQuoted,
                State::Quoted if Some(byte) == dialect.escape => State::Escaped,
                State::Quoted | State::Escaped => State::Quoted,
                State::QuoteInQuoted if byte == dialect.quote => State::Quoted,
                State::Comment if byte != b'\n' => State::Comment,
                State::RecordStart if Some(byte) == dialect.comment => State::Comment,
                State::FieldStart | State::RecordStart if byte == dialect.quote => {
                    opened = OpenQuote { line, column };
                    State::Quoted
                }
                _ if byte == b'\n' => State::RecordStart,
                _ if byte == dialect.delimiter => State::FieldStart,
                _ => State::Unquoted,
            };
            if byte == b'\n' {
                if state == State::Quoted {
                    line_break.get_or_insert(opened);
                }
                line += 1;
                column = 0;
            }
        }
        let read = chunk.len();
        reader.consume(read);
    }
    Ok(QuoteScan {
        unclosed: matches!(state, State::Quoted | State::Escaped).then_some(opened),
        line_break,
    })
}

/// A file read split at line breaks, and what walking it found once a quote turned up; or a
/// compressed file read whole.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    dialect: Dialect,
    compression: FileCompressionType,
    shown: String,
    verdict: Arc<tokio::sync::OnceCell<Result<(), String>>>,
}

/// A watched file's watch, and how many running scans hold it (see [`hold`]).
struct Entry {
    watch: Watch,
    holders: usize,
    /// Set by its table when it was created: kept until the table is created again.
    kept: bool,
    /// The size and modification time of the file a scan held it for, if one did.
    version: Option<(u64, i64)>,
}

#[derive(Default)]
struct Watched {
    entries: HashMap<String, Entry>,
    /// Keys of watches no scan holds any more, oldest first: kept for the next scan of the
    /// same file, up to [`IDLE_WATCHES`].
    idle: std::collections::VecDeque<String>,
}

/// The most watches kept with no scan holding them.
const IDLE_WATCHES: usize = 4096;

/// The watched files, by store URL (`file:///`, `s3://bucket/`) and key.
static WATCHED: LazyLock<Mutex<Watched>> = LazyLock::new(Default::default);

fn watch_key(store_url: &str, location: &Path) -> String {
    format!("{store_url}{location}")
}

/// Watches the file at `location` (named `shown` in messages) while it is read with `dialect`
/// split at line breaks, or whole through `compression`; or stops watching it (`None`): its
/// table is read with quoted line breaks allowed and was checked whole. Each table creation
/// starts afresh, so a file changed since is walked again.
pub(crate) fn watch(
    store_url: &str,
    location: &Path,
    shown: String,
    dialect: Option<Dialect>,
    compression: FileCompressionType,
) {
    let key = watch_key(store_url, location);
    let Ok(mut watched) = WATCHED.lock() else {
        return;
    };
    match dialect {
        Some(dialect) => {
            let entry = Entry {
                watch: Watch::new(dialect, compression, shown),
                holders: 0,
                kept: true,
                version: None,
            };
            watched.entries.insert(key, entry);
        }
        None => {
            watched.entries.remove(&key);
        }
    }
}

/// The watch on the file at `location` of the store at `store_url`, if it is watched.
pub(crate) fn watched(store_url: &str, location: &Path) -> Option<Watch> {
    let watched = WATCHED.lock().ok()?;
    watched
        .entries
        .get(&watch_key(store_url, location))
        .map(|entry| entry.watch.clone())
}

/// A file a scan reads: its store's URL, its location and its version (size and
/// modification time in nanoseconds).
pub(crate) type ScannedFile = (String, Path, (u64, i64));

/// Watches `files` of a scan while the returned [`Held`] lives: for scans running in a
/// process that did not create their tables (a cluster's worker). Scans of the same version
/// of a file share its walk, as do later scans while the file is among the last
/// [`IDLE_WATCHES`] watched; a changed file is walked afresh.
pub(crate) fn hold(
    files: impl IntoIterator<Item = ScannedFile>,
    dialect: Dialect,
    compression: FileCompressionType,
) -> Held {
    let Ok(mut watched) = WATCHED.lock() else {
        return Held { keys: Vec::new() };
    };
    let keys = files
        .into_iter()
        .map(|(store_url, location, version)| {
            let key = watch_key(&store_url, &location);
            let fresh = || Entry {
                watch: Watch::new(
                    dialect,
                    compression,
                    crate::files::shown_object(&store_url, location.as_ref()),
                ),
                holders: 0,
                kept: false,
                version: Some(version),
            };
            let entry = watched.entries.entry(key.clone()).or_insert_with(fresh);
            if entry.holders == 0 && !entry.kept && entry.version != Some(version) {
                *entry = fresh();
            }
            entry.holders += 1;
            key
        })
        .collect();
    Held { keys }
}

/// The watches a running scan holds; see [`hold`].
#[derive(Debug)]
pub(crate) struct Held {
    keys: Vec<String>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Ok(mut watched) = WATCHED.lock() else {
            return;
        };
        let Watched { entries, idle } = &mut *watched;
        for key in self.keys.drain(..) {
            if let Some(entry) = entries.get_mut(&key) {
                entry.holders = entry.holders.saturating_sub(1);
                if entry.holders == 0 && !entry.kept {
                    idle.push_back(key);
                }
            }
        }
        while idle.len() > IDLE_WATCHES {
            let Some(oldest) = idle.pop_front() else {
                break;
            };
            if entries
                .get(&oldest)
                .is_some_and(|entry| entry.holders == 0 && !entry.kept)
            {
                entries.remove(&oldest);
            }
        }
    }
}

impl Watch {
    fn new(dialect: Dialect, compression: FileCompressionType, shown: String) -> Self {
        Watch {
            dialect,
            compression,
            shown,
            verdict: Arc::default(),
        }
    }

    /// `bytes` of the watched file from `store`, its `range` of `size` bytes: failing at
    /// the first chunk holding a quote if the whole file, walked then, has a field that is
    /// never closed or a quoted line break; or, compressed and read whole, failing at the end
    /// if a field is still open there.
    pub(crate) fn over(
        self,
        bytes: BoxStream<'static, object_store::Result<Bytes>>,
        (range, size): (std::ops::Range<u64>, u64),
        store: Arc<dyn ObjectStore>,
        location: Path,
    ) -> BoxStream<'static, object_store::Result<Bytes>> {
        if self.compression.is_compressed() {
            // Compressed bytes decode only from the start, and only a read to the end can
            // tell whether a field is left open there.
            return if range == (0..size) {
                self.beside(bytes, size)
            } else {
                bytes
            };
        }
        let quote = self.dialect.quote;
        let watched = Arc::new((self, store, location));
        bytes
            .and_then(move |chunk| {
                // Only a chunk holding a quote takes the watch along (most never do).
                let quoted = memchr::memchr(quote, &chunk).map(|_| Arc::clone(&watched));
                async move {
                    if let Some(watched) = quoted {
                        let (watch, store, location) = &*watched;
                        watch.walk_once(Arc::clone(store), location.clone()).await?;
                    }
                    Ok(chunk)
                }
            })
            .boxed()
    }

    /// `bytes`, `length` of them, passed on as they come and also decompressed and walked
    /// on a blocking thread; the last is an error instead if a field is still open at the
    /// end. (Decoders stop at the end of their data: the stream's own end may never be
    /// asked for.)
    fn beside(
        self,
        bytes: BoxStream<'static, object_store::Result<Bytes>>,
        length: u64,
    ) -> BoxStream<'static, object_store::Result<Bytes>> {
        // A few chunks of slack: the walk goes at the pace of the read, the read no faster
        // than the walk.
        let (copies, received) = futures::channel::mpsc::channel::<std::io::Result<Bytes>>(4);
        let received = tokio_util::io::StreamReader::new(received);
        let reader = tokio_util::io::SyncIoBridge::new(received);
        let (dialect, compression) = (self.dialect, self.compression);
        let walk = tokio::task::spawn_blocking(move || {
            scan_quotes(compression.convert_read(reader)?, dialect)
        });
        let shown = Arc::new(self.shown);
        let mut watched = WatchedRead {
            copies: Some(copies),
            walk: Some(walk),
            left: length,
        };
        bytes
            .then(move |chunk| {
                let shown = Arc::clone(&shown);
                let verdict = match &chunk {
                    Ok(chunk) => Some(watched.pass(chunk.clone())),
                    Err(_) => {
                        // Cut short, the walk would find the file ending inside a field.
                        watched.give_up();
                        None
                    }
                };
                async move {
                    let open = match verdict {
                        Some(verdict) => verdict.await,
                        None => None,
                    };
                    match open {
                        Some(open) => Err(object_store::Error::Generic {
                            store: "CSV",
                            source: open.never_closed(&shown).into(),
                        }),
                        None => chunk,
                    }
                }
            })
            .boxed()
    }

    async fn walk_once(
        &self,
        store: Arc<dyn ObjectStore>,
        location: Path,
    ) -> object_store::Result<()> {
        let verdict = self
            .verdict
            .get_or_init(|| self.walk(store, location))
            .await;
        verdict
            .clone()
            .map_err(|message| object_store::Error::Generic {
                store: "CSV",
                source: message.into(),
            })
    }

    async fn walk(&self, store: Arc<dyn ObjectStore>, location: Path) -> Result<(), String> {
        let shown = self.shown.clone();
        let object = store
            .get(&location)
            .await
            .map_err(|e| format!("cannot read '{shown}': {e}"))?;
        let reader = crate::remote::sync_reader(object);
        let dialect = self.dialect;
        let scan = tokio::task::spawn_blocking(move || scan_quotes(reader, dialect))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read '{shown}': {e}"))?;
        if let Some(open) = scan.unclosed {
            return Err(open.never_closed(&shown));
        }
        if let Some(open) = scan.line_break {
            return Err(format!(
                "{shown}:{}:{}: a quoted field holding a line break opens here; a file whose \
                 first {} KiB quote no field is read in parts cut at line breaks, which would \
                 cut this field",
                open.line,
                open.column,
                crate::listing::QUOTE_SAMPLE_BYTES / 1024,
            ));
        }
        Ok(())
    }
}

/// The walk beside the read of a compressed file.
struct WatchedRead {
    /// Where copies of the chunks go to be decompressed and walked; `None` once the walk is
    /// over or given up.
    copies: Option<futures::channel::mpsc::Sender<std::io::Result<Bytes>>>,
    walk: Option<tokio::task::JoinHandle<std::io::Result<QuoteScan>>>,
    /// Bytes of the file not passed on yet.
    left: u64,
}

impl WatchedRead {
    /// Passes a copy of `chunk` to the walk; after the last chunk, where the field still
    /// open at the end, if any, opens.
    fn pass(&mut self, chunk: Bytes) -> impl Future<Output = Option<OpenQuote>> + use<> {
        self.left = self.left.saturating_sub(chunk.len() as u64);
        let mut copies = self.copies.clone();
        // The last chunk: the walk gets no more, and its verdict is awaited.
        let walk = if self.left == 0 {
            self.copies = None;
            self.walk.take()
        } else {
            None
        };
        async move {
            if let Some(copies) = &mut copies {
                // A walk that could not decompress leaves that to the read to tell.
                if copies.send(Ok(chunk)).await.is_err() {
                    return None;
                }
            }
            drop(copies);
            match walk?.await {
                Ok(Ok(scan)) => scan.unclosed,
                _ => None,
            }
        }
    }

    /// Stops the walk: the read failed.
    fn give_up(&mut self) {
        self.copies = None;
        if let Some(walk) = self.walk.take() {
            walk.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<(u64, u64)> {
        let dialect = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            comment: Some(b'#'),
        };
        scan_quotes(text.as_bytes(), dialect)
            .unwrap()
            .unclosed
            .map(|open| (open.line, open.column))
    }

    #[test]
    fn a_field_left_open_is_found_where_it_opens() {
        assert_eq!(check("a,b\n1,\"x\n2,y\n3,z\n"), Some((2, 3)));
        assert_eq!(check("a,b\n1,x\n2,\"y\n"), Some((3, 3)));
        assert_eq!(check("\"a"), Some((1, 1)));
    }

    #[test]
    fn closed_doubled_and_mid_field_quotes_are_not_open() {
        // A quoted newline, a doubled quote, an inch mark inside an unquoted field, a quote
        // in a comment line, and a quoted field followed by more text.
        assert_eq!(check("a,b\n1,\"x\n2,y\"\n3,z\n"), None);
        assert_eq!(check("a,b\n1,\"say \"\"hi\"\"\"\n"), None);
        assert_eq!(check("a,b\n1,5\"\n2,6\"\n"), None);
        assert_eq!(check("# it's \"quoted\n1,2\n"), None);
        assert_eq!(check("\"ab\"c,d\n"), None);
        assert_eq!(check(""), None);
    }

    #[test]
    fn the_first_quoted_line_break_is_found_where_its_field_opens() {
        let dialect = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: None,
            comment: None,
        };
        let line_break = |text: &str| scan_quotes(text.as_bytes(), dialect).unwrap().line_break;
        assert_eq!(
            line_break("a,b\n1,\"x,y\"\n2,\"p\nq\"\n3,\"r\ns\"\n"),
            Some(OpenQuote { line: 3, column: 3 })
        );
        assert_eq!(
            line_break("a,b\n1,\"x\"\"\n\"\n"),
            Some(OpenQuote { line: 2, column: 3 })
        );
        assert_eq!(line_break("a,b\n1,\"x\"\n2,5\"\n"), None);
    }

    #[test]
    fn an_escaped_quote_keeps_the_field_open() {
        let dialect = Dialect {
            delimiter: b',',
            quote: b'"',
            escape: Some(b'\\'),
            comment: None,
        };
        let open = |text: &str| scan_quotes(text.as_bytes(), dialect).unwrap().unclosed;
        assert_eq!(open("1,\"a\\\"b\"\n"), None);
        assert_eq!(open("1,\"a\\\"\n"), Some(OpenQuote { line: 1, column: 3 }));
    }
}
