//! Running the engine's async work from Python: on one runtime for the process, with the
//! GIL released, watching for Ctrl-C.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::Notify;

use crate::errors;

/// How often a waiting call looks for a signal: Ctrl-C cancels within this.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = rask::stack::runtime().map_err(errors::to_python)?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// Runs `work` to its end with the GIL released (partition functions written in Python
/// take it as they run). KeyboardInterrupt (or any signal handler raising) drops `work`,
/// which cancels the query it runs and frees what it held.
///
/// `work` is polled on this thread, so an interrupt drops it here and now. The ticks that
/// wake it to look for signals come from a thread of their own: the runtime's timers are
/// driven by its workers between tasks, which a query's long-running tasks can hold off for
/// minutes.
pub fn wait<T: Send>(
    py: Python<'_>,
    work: impl Future<Output = rask::Result<T>> + Send,
) -> PyResult<T> {
    let runtime = runtime()?;
    let ticks = ticks();
    let outcome = py.detach(|| {
        runtime.block_on(async {
            tokio::pin!(work);
            loop {
                tokio::select! {
                    done = &mut work => return Outcome::Done(done),
                    () = ticks.notified() => {
                        if let Err(raised) = Python::attach(|py| py.check_signals()) {
                            return Outcome::Signalled(raised);
                        }
                    }
                }
            }
        })
    });
    match outcome {
        Outcome::Done(done) => done.map_err(errors::to_python),
        Outcome::Signalled(raised) => Err(raised),
    }
}

/// Notified every [`SIGNAL_CHECK`] by a thread started on first use.
fn ticks() -> &'static Notify {
    static TICKS: OnceLock<Notify> = OnceLock::new();
    TICKS.get_or_init(|| {
        // Should the thread not start, computations still end; Ctrl-C waits for them.
        let _ = std::thread::Builder::new()
            .name("rask-signal-ticks".to_string())
            .spawn(|| loop {
                std::thread::sleep(SIGNAL_CHECK);
                ticks().notify_waiters();
            });
        Notify::new()
    })
}

/// Runs `f` inside the runtime, for engine calls that spawn tasks on it.
pub fn enter<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    let _inside = runtime()?.enter();
    Ok(f())
}

enum Outcome<T> {
    Done(rask::Result<T>),
    Signalled(PyErr),
}
