//! Planning on a stack of its own. The layers that plan a statement walk its trees
//! recursively, and only some of them grow the stack as they go (DataFusion's optimizer and
//! SQL planner do; expression display, the parser's visitors and Rask's rules do not). A
//! statement within [`NESTING_LIMIT`] needs more stack than a tokio worker thread (2 MiB) or
//! even a main thread (8 MiB) has when built without optimisations, so parsing and planning
//! run on a stack of [`PLANNING_STACK`] bytes, mapped lazily: only the pages a deep statement
//! touches are ever backed by memory.
//!
//! Running a plan recurses too: evaluating an expression walks its tree on the thread that
//! polls the stream, so the threads of a runtime that runs Rask's queries need a stack of
//! [`WORKER_STACK`] bytes; [`runtime`] builds one. Its threads have room for planning too, so
//! that planning there never moves: a move maps a stack for one poll and unmaps it after, and
//! unmapping flushes the TLB of every core the process runs on, which a virtual machine pays
//! for dearly (measured: a fifth of the CPU of planning a query over S3, whose planning is
//! polled once per request).
//!
//! [`NESTING_LIMIT`]: rask_planner::nesting::NESTING_LIMIT

use std::future::Future;

use crate::error::{Error, Result};

/// The stack of each thread of the runtimes Rask builds: enough to evaluate an expression
/// nested up to the limit without optimisations (tokio's default of 2 MiB is not), and to
/// plan on without moving to a stack of [`PLANNING_STACK`] bytes. Like the planning stack it
/// is reserved, not backed, until used.
pub const WORKER_STACK: usize = PLANNING_STACK + ENOUGH_LEFT;

/// A multi-threaded tokio runtime whose threads have [`WORKER_STACK`] bytes of stack. Programs
/// that build their own runtime to run deeply nested statements should give its threads as
/// much (`tokio::runtime::Builder::thread_stack_size`).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(WORKER_STACK)
        .enable_all()
        .build()
        .map_err(|e| Error::execution(format!("cannot start a runtime: {e}")))
}

/// The stack parsing and planning run on.
const PLANNING_STACK: usize = 256 << 20;

/// Work that finds less stack than this left moves to a new stack of [`PLANNING_STACK`]
/// bytes; work already on such a stack stays there.
const ENOUGH_LEFT: usize = 64 << 20;

/// Runs `work` with at least [`ENOUGH_LEFT`] bytes of stack.
pub(crate) fn deep<T>(work: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(ENOUGH_LEFT, PLANNING_STACK, work)
}

/// Runs `work` to completion, each of its polls with at least [`ENOUGH_LEFT`] bytes of stack.
pub(crate) async fn deep_async<F: Future>(work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| deep(|| work.as_mut().poll(cx))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recurses `depth` times with a frame of about 1 KiB that the compiler cannot elide.
    fn recurse(depth: usize) -> usize {
        let frame = std::hint::black_box([depth as u8; 1024]);
        if depth == 0 {
            return 0;
        }
        recurse(depth - 1) + usize::from(frame[1] == depth as u8)
    }

    #[test]
    fn work_that_needs_more_than_a_thread_has_runs_on_the_planning_stack() {
        // 32 MiB of frames: past any thread's default stack.
        let depth = 32 * 1024;
        let on_small_thread = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || deep(|| recurse(depth)))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(on_small_thread, depth);
    }

    #[tokio::test]
    async fn each_poll_of_deep_async_work_has_the_planning_stack() {
        let depth = 32 * 1024;
        let total = deep_async(async move {
            let first = recurse(depth);
            tokio::task::yield_now().await;
            first + recurse(depth)
        })
        .await;
        assert_eq!(total, 2 * depth);
    }
}
