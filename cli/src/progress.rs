//! The progress bar on stderr for queries that run longer than half a second.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rask::Progress;

/// How long a query runs before its bar appears.
const DELAY: Duration = Duration::from_millis(500);

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Whether bars may be drawn: stderr is a terminal and `--no-progress` was not given.
pub fn wanted(disabled: bool) -> bool {
    !disabled && std::io::stderr().is_terminal()
}

/// Shows a bar for `progress` after [`DELAY`], until dropped (when the result prints). It is
/// drawn from a thread of its own: the runtime's timers fire only between the query's
/// tasks, which keep every worker busy, so a bar timed by them came seconds late.
pub struct Bar {
    stop: Arc<AtomicBool>,
    drawer: Option<std::thread::JoinHandle<()>>,
    bar: ProgressBar,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Bar {
    /// Starts watching `progress`.
    pub fn start(progress: Progress) -> Bar {
        let hidden = ProgressDrawTarget::hidden;
        // CSV and JSON count the bytes read of their files; Parquet and generators rows.
        let bar = match (progress.bytes(), progress.total_rows()) {
            (Some((_, size)), _) => ProgressBar::with_draw_target(Some(size), hidden()).with_style(style(
                "{bar:40} {percent:>3}% {binary_bytes}/{binary_total_bytes}  {msg} rows  {elapsed} elapsed, ETA {eta}",
            )),
            (None, Some(total)) => ProgressBar::with_draw_target(Some(total), hidden()).with_style(style(
                "{bar:40} {percent:>3}% {human_pos}/{human_len} rows  {elapsed} elapsed, ETA {eta}",
            )),
            (None, None) => ProgressBar::with_draw_target(None, hidden())
                .with_style(style("{spinner} {human_pos} rows  {elapsed} elapsed")),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (shown, stopped) = (bar.clone(), Arc::clone(&stop));
        let drawer = std::thread::Builder::new()
            .name("rask-progress".into())
            .spawn(move || {
                let started = Instant::now();
                while !stopped.load(Ordering::Relaxed) {
                    if started.elapsed() >= DELAY {
                        if shown.is_hidden() {
                            shown.set_draw_target(ProgressDrawTarget::stderr());
                        }
                        match progress.bytes() {
                            Some((read, _)) => {
                                shown.set_position(read);
                                shown.set_message(progress.rows_read().to_string());
                            }
                            None => shown.set_position(progress.rows_read()),
                        }
                    }
                    std::thread::park_timeout(TICK);
                }
            })
            .ok();
        Bar { stop, drawer, bar }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            drawer.thread().unpark();
            let _ = drawer.join();
        }
        self.bar.finish_and_clear();
    }
}
