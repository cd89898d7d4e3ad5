//! What the user sees on the terminal: messages, progress bars, tables.

#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints an error message to standard error.
pub(crate) fn error(msg: &str) {
    eprintln!("iotguard: error: {msg}");
}

/// Prints a warning to standard error.
pub(crate) fn warn(msg: &str) {
    eprintln!("iotguard: warning: {msg}");
}

/// Prints an informational message to standard error.
pub(crate) fn info(msg: &str) {
    eprintln!("iotguard: {msg}");
}

/// Prints a line to standard output.
///
/// A reader that closed standard output (`| head`, a test that read only the first line) has
/// chosen to stop reading: that is not an error and must not abort a run that is stopping cleanly.
pub(crate) fn out(line: &str) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            warn(&format!("writing to standard output: {e}"));
        }
    }
}

/// A byte-progress bar on standard error that updates from a shared counter, shown only when
/// standard error is a terminal and the input is large enough to be worth it.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub(crate) fn start(total: Option<u64>, counter: Arc<AtomicU64>) -> Progress {
        let big = total.is_none_or(|t| t > 32 * 1024 * 1024);
        if !std::io::stderr().is_terminal() || !big {
            return Progress {
                bar: None,
                stop: Arc::default(),
                thread: None,
            };
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, s) = (bar.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                b.set_position(counter.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Progress {
            bar: Some(bar),
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
