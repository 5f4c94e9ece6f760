//! The one way tests and the stack print diagnostics: [`log!`](crate::log!), a line on stderr.
//!
//! The workspace bans `println!`/`eprintln!` outside output modules (clippy's `disallowed-macros`); test
//! code routes its progress notes and timings through here instead. The line goes through `eprintln!` on
//! purpose: the test harness captures that (a passing test stays quiet, a failing one shows its notes),
//! while a write to `std::io::stderr()` would bypass the capture.

use std::fmt;

/// Prints one diagnostic line to stderr, captured by the test harness. Use it through [`log!`](crate::log!).
#[allow(clippy::disallowed_macros)] // the single place test code prints
pub fn line(args: fmt::Arguments<'_>) {
    eprintln!("{args}");
}

/// `testkit::log!("started in {:?}", elapsed)`: a diagnostic line on stderr, `format!` syntax.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(::std::format_args!($($arg)*))
    };
}
