//! Ctrl-C (SIGINT) and SIGTERM, from the first instant of the process to the last. The
//! handlers are installed before anything else runs, so a signal never meets the default
//! action (which would leave a half-written temporary file); a signal cancels what runs
//! (the statement's future is dropped: its temporary output and spill files go with it) and
//! the command ends with 130 (SIGINT) or 143 (SIGTERM). Outside the shell, a statement that
//! does not yield to the cancel within a grace period (a long stretch of work without an
//! await) is not waited for: the process removes its scratch files and exits.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use rask::{Error, Result};
use tokio::sync::Notify;

/// Signals received so far.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
/// The last signal received.
static LAST: AtomicI32 = AtomicI32::new(0);
static ARRIVED: Notify = Notify::const_new();

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// How long a cancelled one-shot command may take to wind down before it is ended.
const GRACE: Duration = Duration::from_secs(2);

/// Installs the handlers; `shell` tells whether a signal must leave the process running (the
/// shell cancels the statement and carries on). Call from inside the runtime.
pub fn listen(shell: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        for (kind, number) in [
            (SignalKind::interrupt(), SIGINT),
            (SignalKind::terminate(), SIGTERM),
        ] {
            let mut stream = signal(kind)
                .map_err(|e| Error::execution(format!("cannot handle signals: {e}")))?;
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    arrived(number, shell);
                }
            });
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            arrived(SIGINT, shell);
        }
    });
    Ok(())
}

fn arrived(number: i32, shell: bool) {
    LAST.store(number, Ordering::SeqCst);
    RECEIVED.fetch_add(1, Ordering::SeqCst);
    ARRIVED.notify_waiters();
    if !shell || number == SIGTERM {
        std::thread::spawn(move || {
            std::thread::sleep(GRACE);
            rask::scratch::remove_all();
            std::process::exit(exit_code(number).into());
        });
    }
}

/// A point in the stream of signals: what runs from now on is cancelled by the next one.
#[derive(Clone, Copy)]
pub struct Mark(u64);

/// The signals received up to now.
pub fn mark() -> Mark {
    Mark(RECEIVED.load(Ordering::SeqCst))
}

/// Completes with the cancellation error once a signal arrives after `since`.
pub async fn after(since: Mark) -> Error {
    loop {
        let arrival = ARRIVED.notified();
        if RECEIVED.load(Ordering::SeqCst) > since.0 {
            return cancelled();
        }
        arrival.await;
    }
}

/// The error a signal ends a statement with.
fn cancelled() -> Error {
    match LAST.load(Ordering::SeqCst) {
        SIGTERM => Error::cancelled("terminated"),
        _ => Error::cancelled("query cancelled"),
    }
}

/// What a command ended by a signal exits with: 128 + its number, as a shell reports it.
pub fn exit_code(number: i32) -> u8 {
    u8::try_from(128 + number).unwrap_or(130)
}

/// The code for a cancelled command: that of the last signal (SIGINT when none arrived, as
/// for a cancel from the shell's own Ctrl-C key).
pub fn cancelled_exit_code() -> u8 {
    match LAST.load(Ordering::SeqCst) {
        0 => exit_code(SIGINT),
        number => exit_code(number),
    }
}
