//! The progress bar on stderr for queries that run longer than half a second.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rask::Progress;

/// How long a query runs before its bar appears.
const DELAY: Duration = Duration::from_millis(500);

/// Whether bars may be drawn: stderr is a terminal and `--no-progress` was not given.
pub fn wanted(disabled: bool) -> bool {
    !disabled && std::io::stderr().is_terminal()
}

/// Shows a bar for `progress` after [`DELAY`], until dropped (when the result prints).
pub struct Bar {
    task: tokio::task::JoinHandle<()>,
    bar: ProgressBar,
}

impl Bar {
    /// Starts watching `progress`; must be called inside the runtime.
    pub fn start(progress: Progress) -> Bar {
        let bar = match progress.total_rows() {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{bar:40} {percent:>3}% {human_pos}/{human_len} rows  {elapsed} elapsed, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} {human_pos} rows  {msg}{elapsed} elapsed")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let shown = bar.clone();
        let counts_rows = progress.total_rows().is_some();
        let task = tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            shown.set_draw_target(ProgressDrawTarget::stderr());
            loop {
                if let (false, Some((fetched, total))) = (counts_rows, progress.remote_bytes()) {
                    // Rows of remote CSV/JSON cannot be estimated; the bytes fetched can.
                    shown.set_message(format!(
                        "{} of {} fetched  ",
                        indicatif::HumanBytes(fetched),
                        indicatif::HumanBytes(total)
                    ));
                }
                shown.set_position(progress.rows_read());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Bar { task, bar }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
