//! What the user sees on the terminal: messages, progress bars, tables.

#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints an error message to standard error.
pub(crate) fn error(msg: &str) {
    err_line(format_args!("iotguard: error: {msg}"));
}

/// An error and its causes on one line, `outer: cause: root`, each said once.
///
/// Many errors already write their source into their own message (`{path}: {source}`), so
/// printing the whole chain would repeat it ("No such file or directory (os error 2): No such
/// file or directory (os error 2)"): a cause whose text the line already holds is left out.
pub(crate) fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// A score or threshold for people: four significant digits, trailing zeros dropped (0.48,
/// not 0.47999998927116394; 0.0004359, not 0.0000; 1.401e-45 below 0.0001). JSON output keeps
/// full precision.
pub(crate) fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if magnitude < -4 {
        let text = format!("{x:.3e}");
        return match text.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => text,
        };
    }
    // Digits after the point that give four significant ones (none for 1000 and above).
    let decimals = usize::try_from(3 - magnitude).unwrap_or(0);
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Prints a warning to standard error.
pub(crate) fn warn(msg: &str) {
    err_line(format_args!("iotguard: warning: {msg}"));
}

/// Prints an informational message to standard error.
pub(crate) fn info(msg: &str) {
    err_line(format_args!("iotguard: {msg}"));
}

/// Writes a line to standard error. Unlike `eprintln!`, a closed standard error
/// (`iotguard ... 2>&1 | head -1`) is not a panic: there is nobody left to tell.
fn err_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
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

/// Whether an output path is `-`, the usual spelling of standard output.
pub(crate) fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// An alert sink that prints one JSON alert document per line on standard output
/// (`detect --print-alerts`, `--alerts-jsonl -`).
///
/// A reader that closes the pipe (`| head -1`) has seen what it wanted: the sink then sets the
/// shutdown flag so the run stops as after Ctrl-C, drops what follows, and reports no error.
pub(crate) struct StdoutAlerts {
    line: Vec<u8>,
    shutdown: Arc<std::sync::atomic::AtomicBool>,
    closed: bool,
}

impl StdoutAlerts {
    pub(crate) fn new(shutdown: Arc<std::sync::atomic::AtomicBool>) -> StdoutAlerts {
        StdoutAlerts {
            line: Vec::new(),
            shutdown,
            closed: false,
        }
    }

    /// Maps a write result: a closed pipe stops the run quietly, anything else is an error.
    fn check(&mut self, r: std::io::Result<()>) -> Result<(), iotguard_detect::sink::SinkError> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                self.shutdown.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(iotguard_detect::sink::SinkError::io("standard output", e)),
        }
    }
}

impl iotguard_detect::AlertSink for StdoutAlerts {
    fn name(&self) -> &str {
        "stdout"
    }

    fn send(
        &mut self,
        alerts: &[iotguard_detect::Alert],
    ) -> Result<(), iotguard_detect::sink::SinkError> {
        use std::io::Write;
        if self.closed {
            return Ok(());
        }
        self.line.clear();
        for alert in alerts {
            serde_json::to_writer(&mut self.line, alert)?;
            self.line.push(b'\n');
        }
        let r = std::io::stdout().lock().write_all(&self.line);
        self.check(r)
    }

    fn send_events(
        &mut self,
        events: &[iotguard_detect::EventDocument],
    ) -> Result<(), iotguard_detect::sink::SinkError> {
        use std::io::Write;
        if self.closed {
            return Ok(());
        }
        self.line.clear();
        for event in events {
            serde_json::to_writer(&mut self.line, event)?;
            self.line.push(b'\n');
        }
        let r = std::io::stdout().lock().write_all(&self.line);
        self.check(r)
    }

    fn flush(&mut self) -> Result<(), iotguard_detect::sink::SinkError> {
        use std::io::Write;
        if self.closed {
            return Ok(());
        }
        let r = std::io::stdout().lock().flush();
        self.check(r)
    }
}
