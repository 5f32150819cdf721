//! The panic boundary. DataFusion, arrow, parquet and Rask itself still have inputs that make
//! them panic; a user must see one `error: internal error in …` line (and the shell must carry
//! on), never an abort. Planning and every poll of a query's stream run inside [`contain`] /
//! [`contain_async`]; a panic there becomes an [`Error`] naming where it happened, and what the
//! query held (memory reservations, spill files, temporary output) is released as its state is
//! dropped.
//!
//! Panics in DataFusion's spawned tasks are resumed in the task that polls their output, so
//! the boundary around the stream catches them too; the site is recorded by a panic hook in
//! the thread that panicked, since a resumed panic carries only its message.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use futures::FutureExt;

use crate::error::{Error, Result};

/// Where the most recent panic happened, as `file:line`: for a panic resumed in another
/// thread than the one it happened in.
static LAST_SITE: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// Where the most recent panic of this thread happened: a panic caught in the thread it
    /// happened in is told by it, whatever other threads panicked meanwhile.
    static SITE_HERE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Whether the hook leaves panics unprinted: set by programs (the CLI) that report them as
/// errors themselves.
static QUIET: AtomicBool = AtomicBool::new(false);

static HOOK: Once = Once::new();

/// Makes panics inside Rask's boundary silent: they are told only as the errors they become.
/// Without it (the default for an embedding program) the program's own panic hook still
/// prints them. `RUST_BACKTRACE` set to anything but `0` keeps them printed, to debug.
pub fn report_panics_as_errors() {
    let debugging = std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0");
    QUIET.store(!debugging, Ordering::Relaxed);
    install_hook();
}

/// Records the site of every panic, then hands it to the hook that was there before unless
/// panics are [quiet](report_panics_as_errors).
pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(location) = info.location() {
                let site = site_of(location);
                SITE_HERE.with(|here| *here.borrow_mut() = Some(site.clone()));
                if let Ok(mut last) = LAST_SITE.lock() {
                    *last = Some(site);
                }
            }
            if !QUIET.load(Ordering::Relaxed) {
                previous(info);
            }
        }));
    });
}

/// Runs `work`, turning a panic into an error.
pub fn contain<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| Err(error(payload)))
}

/// Runs `work` to completion, turning a panic in any of its polls into an error.
pub async fn contain_async<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    caught(work).await?
}

/// Runs `work` to completion: its output, or the error a panic in one of its polls became.
pub(crate) async fn caught<F: Future>(work: F) -> Result<F::Output> {
    AssertUnwindSafe(work).catch_unwind().await.map_err(error)
}

/// The error a panic with `payload` becomes: `internal error in <site>: <message>`.
pub(crate) fn error(payload: Box<dyn Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    at_last_site(message)
}

/// The error a panic in a task that DataFusion spawned and joined becomes, from what tokio
/// says of it (`task 12 panicked with message "…"`); `None` for any other error.
pub(crate) fn in_task(said: &str) -> Option<Error> {
    let (_, message) = said.split_once(" panicked with message ")?;
    Some(at_last_site(message.trim_matches('"').to_string()))
}

fn at_last_site(message: String) -> Error {
    let here = SITE_HERE.with(|here| here.borrow_mut().take());
    let last = LAST_SITE.lock().ok().and_then(|mut site| site.take());
    let site = here
        .or(last)
        .unwrap_or_else(|| "an unknown place".to_string());
    Error::internal(site, message)
}

/// `crate path/in/crate.rs:line` for a location in a dependency
/// (`…/datafusion-functions-55.2.0/src/unicode/rpad.rs` → `datafusion-functions
/// unicode/rpad.rs:83`), the path as it is for Rask's own files.
fn site_of(location: &Location<'_>) -> String {
    let file = location.file().replace('\\', "/");
    let site = match file.rsplit_once("/src/") {
        Some((package, inside)) => {
            let package = package.rsplit('/').next().unwrap_or(package);
            format!("{} {inside}", without_version(package))
        }
        None => file,
    };
    format!("{site}:{}", location.line())
}

/// `datafusion-functions` for the registry's folder name `datafusion-functions-55.2.0`.
fn without_version(package: &str) -> &str {
    match package.rsplit_once('-') {
        Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => name,
        _ => package,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_joined_task_is_an_internal_error_too() {
        let error = in_task(r#"task 12 panicked with message "buffer not large enough""#).unwrap();
        assert!(
            error.message().starts_with("internal error in ")
                && error.message().ends_with(": buffer not large enough"),
            "{}",
            error.message()
        );
        assert!(in_task("task 12 was cancelled").is_none());
    }

    #[test]
    fn a_panic_becomes_an_internal_error_naming_its_site() {
        install_hook();
        let caught = contain::<()>(|| panic!("capacity overflow"));
        let error = caught.unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Execution);
        let message = error.message();
        assert!(
            message.starts_with("internal error in engine panics.rs:"),
            "{message}"
        );
        assert!(message.ends_with(": capacity overflow"), "{message}");
        assert!(error.hint().is_some());
    }

    #[test]
    fn registry_folders_name_their_crate_without_its_version() {
        assert_eq!(
            without_version("datafusion-functions-55.2.0"),
            "datafusion-functions"
        );
        assert_eq!(without_version("parquet-59.0.0"), "parquet");
        assert_eq!(without_version("rask-planner"), "rask-planner");
        assert_eq!(without_version("engine"), "engine");
    }

    #[tokio::test]
    async fn a_panic_in_a_poll_becomes_an_error_and_later_work_runs() {
        install_hook();
        let caught = contain_async::<u8>(async {
            tokio::task::yield_now().await;
            let empty: Vec<u8> = Vec::new();
            Ok(empty[usize::from(empty.is_empty())])
        })
        .await;
        assert!(caught
            .unwrap_err()
            .message()
            .contains("index out of bounds"));
        assert_eq!(contain_async(async { Ok(7) }).await.unwrap(), 7);
    }
}
