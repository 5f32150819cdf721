//! The terminal standard output is on: its size, and the pager for results taller than it.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

use rask::{Error, Result};

/// Columns and rows of the terminal on standard output, if it is one.
fn size() -> Option<(usize, usize)> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills the `winsize` it is given and reads nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (status == 0 && size.ws_col > 0 && size.ws_row > 0)
        .then(|| (usize::from(size.ws_col), usize::from(size.ws_row)))
}

/// Text columns a table printed to standard output may take: the terminal's width, else
/// `COLUMNS` when set, else no limit (output to a file or a pipe is not cut).
pub fn width() -> usize {
    size()
        .map(|(columns, _)| columns)
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(usize::MAX)
}

/// Whether `text` needs more lines than the terminal shows (with room for the prompt).
pub fn taller_than_screen(text: &str) -> bool {
    size().is_some_and(|(_, rows)| text.lines().count() + 1 > rows)
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
