//! How an error reaches the user: an `error: …` line, a `hint: …` line where one helps, and
//! the exit code its kind calls for.

use std::io;
use std::process::ExitCode;

use rask::{Error, ErrorKind};

/// A usage error (exit code 2) whose message says so, as clap's own usage errors do.
pub fn usage(message: impl std::fmt::Display) -> Error {
    Error::usage(format!("usage: {message}"))
}

/// Prints `error` on stderr as `error: ..` (and `hint: ..`).
pub fn print_error(error: &Error) {
    // A statement that failed may be quoted in its error, with the secrets it passed.
    eprintln!("error: {}", rask::redact_secrets(&error.to_string()));
    if let Some(excerpt) = error.excerpt() {
        eprintln!("{}", rask::redact_secrets(excerpt));
    }
    if let Some(hint) = error.hint() {
        eprintln!("hint: {hint}");
    }
}

/// Ends the command after `error`: printed, with the code its kind calls for.
pub fn fail(error: &Error) -> ExitCode {
    if error.io_kind() == Some(io::ErrorKind::BrokenPipe) {
        // The reader of our output went away (`query .. | head`): it has all it wanted.
        return ExitCode::SUCCESS;
    }
    print_error(error);
    ExitCode::from(exit_code(error.kind()))
}

/// Ends the command after clap refused its arguments: one `error:` line and a `hint:`, as
/// every other error, or the help and version text when those were asked for.
pub fn refused_arguments(refused: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as Refusal;
    match refused.kind() {
        Refusal::DisplayHelp | Refusal::DisplayVersion => {
            // Printing help into a closed pipe is no failure either.
            let _ = refused.print();
            return ExitCode::SUCCESS;
        }
        Refusal::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = refused.print();
            return ExitCode::from(2);
        }
        _ => {}
    }
    fail(&one_line(refused))
}

/// A clap error as Rask's: its first paragraph on one line (the value lists and argument
/// names clap indents below it included), clap's tips as the hint.
fn one_line(refused: &clap::Error) -> Error {
    let rendered = refused.render().to_string();
    let (tips, lines): (Vec<&str>, Vec<&str>) = rendered
        .trim_start_matches("error: ")
        .lines()
        .map(str::trim)
        .partition(|line| line.starts_with("tip: "));
    let message = lines
        .iter()
        .take_while(|line| !line.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let hint = match tips.is_empty() {
        true => "'query --help' lists the options, with examples".to_string(),
        false => tips
            .iter()
            .map(|tip| tip.trim_start_matches("tip: "))
            .collect::<Vec<_>>()
            .join("; "),
    };
    Error::usage(message).with_hint(hint)
}

/// 2 for usage errors, 130 or 143 (as a shell reports SIGINT or SIGTERM) for a cancel, 1 for
/// anything else.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => 2,
        ErrorKind::Cancelled => crate::interrupt::cancelled_exit_code(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_follows_the_kind_not_the_message() {
        assert_eq!(exit_code(usage("--workers must be at least 1").kind()), 2);
        assert_eq!(exit_code(Error::usage("no prefix").kind()), 2);
        assert_eq!(exit_code(Error::plan("usage: only the text").kind()), 1);
        assert_eq!(exit_code(Error::cancelled("query cancelled").kind()), 130);
        for kind in [
            ErrorKind::Syntax,
            ErrorKind::Plan,
            ErrorKind::Input,
            ErrorKind::Memory,
            ErrorKind::Output,
            ErrorKind::Execution,
        ] {
            assert_eq!(exit_code(kind), 1, "{kind:?}");
        }
    }

    #[test]
    fn clap_refusals_become_one_line_with_a_hint() {
        use clap::Parser;
        let refused =
            crate::args::Args::try_parse_from(["query", "--partitions", "-1"]).unwrap_err();
        let error = one_line(&refused);
        assert_eq!(error.kind(), ErrorKind::Usage);
        assert_eq!(
            error.message(),
            "invalid value '-1' for '--partitions <N>': expected a whole number from 1 to 1024"
        );
        assert!(!error.message().contains('\n'));
        assert_eq!(
            error.hint(),
            Some("'query --help' lists the options, with examples")
        );
        let unknown = crate::args::Args::try_parse_from(["query", "--nope"]).unwrap_err();
        let error = one_line(&unknown);
        assert_eq!(error.message(), "unexpected argument '--nope' found");
        assert!(
            error.hint().unwrap().contains("-- --nope"),
            "{:?}",
            error.hint()
        );
    }

    #[test]
    fn a_closed_pipe_ends_quietly_and_successfully() {
        let closed = Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(fail(&closed), ExitCode::SUCCESS);
        let unrelated = Error::output("Broken pipe, said a message");
        assert_eq!(fail(&unrelated), ExitCode::FAILURE);
    }
}
