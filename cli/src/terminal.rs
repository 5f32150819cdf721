//! The terminal standard output is on: its size, and the pager for results taller than it.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

use rask::{Error, Result};

/// Columns and rows of the terminal on standard output as it reports them (0 for unknown),
/// if it is one.
fn reported_size() -> Option<(usize, usize)> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills the `winsize` it is given and reads nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    Some(if status == 0 {
        (usize::from(size.ws_col), usize::from(size.ws_row))
    } else {
        (0, 0)
    })
}

/// A size from the environment (`COLUMNS`, `LINES`), as curses reads it when the terminal
/// does not say.
fn from_environment(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

/// Text columns a table printed to standard output may take: the terminal's width, else
/// `COLUMNS` when set, else no limit (output to a pipe is not cut unless `COLUMNS` says).
pub fn width() -> usize {
    reported_size()
        .map(|(columns, _)| columns)
        .filter(|&columns| columns > 0)
        .or_else(|| from_environment("COLUMNS"))
        .unwrap_or(usize::MAX)
}

/// Whether standard output is a terminal and `text` needs more of its lines than it has
/// (with room for the prompt); its height is `LINES` when it does not report one.
pub fn taller_than_screen(text: &str) -> bool {
    let Some((_, rows)) = reported_size() else {
        return false;
    };
    let rows = Some(rows)
        .filter(|&r| r > 0)
        .or_else(|| from_environment("LINES"));
    rows.is_some_and(|rows| text.lines().count() + 1 > rows)
}

/// Shows `text` in `$PAGER` (`less -S` when unset), lines unwrapped so that wide tables
/// scroll sideways; without a pager to start, the text is printed.
pub fn page(text: &str) -> Result<()> {
    let mut command = match std::env::var("PAGER") {
        Ok(pager) if !pager.trim().is_empty() => {
            let mut shell = Command::new("sh");
            shell.arg("-c").arg(pager);
            shell
        }
        _ => {
            let mut less = Command::new("less");
            less.args(["-S", "-R"]);
            less
        }
    };
    let Ok(mut child) = command.stdin(Stdio::piped()).spawn() else {
        println!("{text}");
        return Ok(());
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit before reading everything closes the pipe: not an error.
        let _ = writeln!(stdin, "{text}");
    }
    child
        .wait()
        .map_err(|e| Error::execution(format!("the pager failed: {e}")))?;
    Ok(())
}
