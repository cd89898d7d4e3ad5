//! Inputs named on the command line: files, folders (recursive, in a stable order) and standard
//! input, opened as flow readers with compression and format handled.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use iotguard_flow::{FlowReader, OpenError, ReadOptions, RecordIter};

use crate::error::{Error, Result};

/// Zeek logs that are not conn logs, skipped when met inside a folder (never when named).
const NOT_CONN_LOGS: &[&str] = &[
    "analyzer",
    "capture_loss",
    "dce_rpc",
    "dhcp",
    "dns",
    "dpd",
    "files",
    "ftp",
    "http",
    "irc",
    "kerberos",
    "known_certs",
    "known_hosts",
    "known_services",
    "loaded_scripts",
    "modbus",
    "mysql",
    "notice",
    "ntlm",
    "ntp",
    "ocsp",
    "packet_filter",
    "pe",
    "radius",
    "rdp",
    "reporter",
    "rfb",
    "sip",
    "smb_files",
    "smb_mapping",
    "smtp",
    "snmp",
    "socks",
    "software",
    "ssh",
    "ssl",
    "stats",
    "syslog",
    "telemetry",
    "traceroute",
    "tunnel",
    "weird",
    "x509",
];

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (named `-`).
    Stdin,
    /// A file named on the command line: it must hold flow records.
    File(PathBuf),
    /// A file found inside a folder: if its content is no flow format (a README, a checksum
    /// list), it is skipped with a notice rather than failing the run.
    InFolder(PathBuf),
    /// The rows of one capture in a Parquet flow file that holds several (written by
    /// `convert --to parquet` from several inputs, with a `capture` column): each capture is an
    /// input of its own, so grouping by capture survives the conversion.
    Capture {
        /// The Parquet file.
        path: PathBuf,
        /// The value of its `capture` column.
        capture: String,
    },
    /// A simulated clean network, made in memory (training-only data: `train --augment-sim`).
    Simulated(crate::augment::SimulatedClean),
}

/// What expanding the command line's paths found.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The inputs to read, in order.
    pub inputs: Vec<Input>,
    /// Files inside folders that were passed over, with the reason.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

impl Input {
    /// Returns the input's name for reports and errors.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) | Input::InFolder(p) => p.display().to_string(),
            Input::Capture { path, capture } => format!("{}#{capture}", path.display()),
            Input::Simulated(s) => s.to_string(),
        }
    }

    /// Returns the input's size in bytes where known (for progress bars).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(p) | Input::InFolder(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            // Its share of the file is not known before reading.
            Input::Capture { .. } | Input::Simulated(_) => None,
        }
    }

    /// Returns the file the input reads, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin | Input::Simulated(_) => None,
            Input::File(p) | Input::InFolder(p) | Input::Capture { path: p, .. } => Some(p),
        }
    }

    /// Opens the input as a reader of flow records on `threads` threads; `bytes_read` counts the
    /// bytes taken from the file (before decompression), for progress.
    pub fn open(
        &self,
        options: &ReadOptions,
        threads: usize,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Box<dyn RecordIter>> {
        let name = self.name();
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::File(p) | Input::InFolder(p) => {
                let mut file = File::open(p).map_err(|e| Error::io(&name, e))?;
                let magic = magic(&mut file).map_err(|e| Error::io(&name, e))?;
                if &magic == b"PAR1" {
                    return crate::parquet_input::open(&name, file, None);
                }
                if crate::pcap_input::is_pcap(&magic) {
                    return crate::pcap_input::open(&name, file);
                }
                Box::new(file)
            }
            Input::Capture { path, capture } => {
                let file = File::open(path).map_err(|e| Error::io(&name, e))?;
                return crate::parquet_input::open(&name, file, Some(capture.clone()));
            }
            Input::Simulated(s) => return Ok(Box::new(s.open().map_err(Error::Invalid)?)),
        };
        let counted = CountingReader {
            inner: raw,
            count: bytes_read,
        };
        FlowReader::open_parallel(name.as_str(), counted, options, threads).map_err(|e| match e {
            OpenError::Io { source, .. } => Error::io(&name, source),
            other => Error::Open(other),
        })
    }
}

/// Turns command-line paths into inputs: `-` is standard input, a folder is walked recursively
/// in byte order of its paths (so runs are repeatable), hidden files and non-conn Zeek logs inside
/// folders are passed over and reported.
pub fn expand(paths: &[PathBuf]) -> Result<Expanded> {
    let mut out = Expanded::default();
    for path in paths {
        if path.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        let meta =
            std::fs::metadata(path).map_err(|e| Error::io(&path.display().to_string(), e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut out.skipped)?;
            files.sort();
            for file in files {
                push_file(&mut out.inputs, Input::InFolder(file))?;
            }
        } else {
            push_file(&mut out.inputs, Input::File(path.clone()))?;
        }
    }
    Ok(out)
}

/// Adds a file input, or one input per capture for a Parquet file holding several.
fn push_file(inputs: &mut Vec<Input>, input: Input) -> Result<()> {
    let Some(path) = input.path() else {
        inputs.push(input);
        return Ok(());
    };
    let captures = captures_of(path).map_err(|e| Error::io(&input.name(), e))?;
    match captures {
        Some(captures) if captures.len() > 1 => {
            inputs.extend(captures.into_iter().map(|capture| Input::Capture {
                path: path.to_path_buf(),
                capture,
            }));
        }
        _ => inputs.push(input),
    }
    Ok(())
}

/// The captures of a Parquet flow file with a `capture` column; `None` for any other file
/// (one that cannot be read as such is left for the reader to report).
#[cfg(feature = "parquet")]
fn captures_of(path: &Path) -> io::Result<Option<Vec<String>>> {
    let Ok(mut file) = File::open(path) else {
        return Ok(None);
    };
    if !is_parquet(&mut file)? {
        return Ok(None);
    }
    Ok(crate::parquet::captures_in(file).unwrap_or(None))
}

#[cfg(not(feature = "parquet"))]
fn captures_of(_path: &Path) -> io::Result<Option<Vec<String>>> {
    Ok(None)
}

fn walk(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(&dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir.display().to_string(), e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(&path.display().to_string(), e))?;
        if kind.is_dir() {
            walk(&path, files, skipped)?;
        } else if is_other_zeek_log(&name) {
            skipped.push((path, "a Zeek log other than conn"));
        } else if [".pcap", ".pcapng", ".cap"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            // A folder of captures often holds their conn logs too: reading both would count
            // every flow twice. A capture given by name is read (its packets into flows).
            skipped.push((
                path,
                "a packet capture (name the file itself to read its packets as flows)",
            ));
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// True for names like `dns.log`, `http.00:00:00-01:00:00.log.gz`, `ssl.log.zst`.
fn is_other_zeek_log(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    NOT_CONN_LOGS.contains(&stem) && name.contains(".log")
}

/// True if the file starts with Parquet's magic bytes; leaves the file at its start.
fn is_parquet(file: &mut File) -> io::Result<bool> {
    Ok(&magic(file)? == b"PAR1")
}

/// The file's first four bytes (zeros past its end); leaves the file at its start.
fn magic(file: &mut File) -> io::Result<[u8; 4]> {
    use std::io::{Seek, SeekFrom};
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        let k = file.read(&mut magic[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(magic)
}

/// Counts bytes as they are read.
struct CountingReader {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_recursively_in_order_and_skip_other_logs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/inner")).unwrap();
        for f in [
            "b/inner/conn.02.log.gz",
            "a.conn.log",
            "b/conn.01.log",
            "dns.log",
            ".hidden",
            "b/http.log",
            "x.pcap",
        ] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let e = expand(&[d.to_path_buf(), PathBuf::from("-")]).unwrap();
        let names: Vec<String> = e
            .inputs
            .iter()
            .map(|i| i.name().replace(&d.display().to_string(), ""))
            .collect();
        assert_eq!(
            names,
            [
                "/a.conn.log",
                "/b/conn.01.log",
                "/b/inner/conn.02.log.gz",
                "-"
            ]
        );
        assert_eq!(e.skipped.len(), 3);
        // A file named on the command line is read whatever its name.
        let e = expand(&[d.join("dns.log")]).unwrap();
        assert_eq!(e.inputs.len(), 1);
    }

    #[test]
    fn missing_path_is_a_clear_error() {
        let err = expand(&[PathBuf::from("/no/such/file")]).unwrap_err();
        assert!(err.to_string().starts_with("/no/such/file: "), "{err}");
    }
}
