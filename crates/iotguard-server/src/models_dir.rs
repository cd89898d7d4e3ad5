//! The models directory `POST /api/v1/models/activate` may load from: a requested path is
//! resolved inside it and opened only when it is a regular file there, read with a size cap.
//! Every refusal is the same message, so the answer says nothing about what lies outside the
//! directory (whether a file exists, what it holds, whether it is a FIFO).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::ApiError;

/// The largest model file activation reads (bytes).
pub const MAX_MODEL_BYTES: u64 = 256 << 20;

/// The one answer to a path that is not a regular file inside the models directory.
pub(crate) const REFUSED: &str =
    "refused: the path must name a regular model file inside the server's models directory \
     (a name relative to it, or an absolute path inside it)";

fn refused() -> ApiError {
    ApiError::unprocessable(REFUSED)
}

/// Resolves `requested` inside `dir`: relative paths are taken from `dir`; a path with `..`,
/// one that does not exist, one whose real location (symlinks followed) is outside `dir`, and
/// anything but a regular file are refused alike. Returns the real path.
pub(crate) fn resolve(dir: &Path, requested: &Path) -> Result<PathBuf, ApiError> {
    if requested.as_os_str().is_empty()
        || requested
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(refused());
    }
    let root = std::fs::canonicalize(dir).map_err(|_| refused())?;
    let candidate = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        root.join(requested)
    };
    let real = std::fs::canonicalize(&candidate).map_err(|_| refused())?;
    if !real.starts_with(&root) || real == root {
        return Err(refused());
    }
    // `metadata` (stat) does not open the file, so a FIFO cannot block here.
    let meta = std::fs::metadata(&real).map_err(|_| refused())?;
    if !meta.is_file() {
        return Err(refused());
    }
    Ok(real)
}

/// Reads the regular file `real` (from [`resolve`]), at most [`MAX_MODEL_BYTES`].
pub(crate) fn read_capped(real: &Path) -> Result<Vec<u8>, ApiError> {
    let file = std::fs::File::open(real).map_err(|_| refused())?;
    // Checked again on the open file: it may have been replaced since `resolve`.
    if !file.metadata().map_err(|_| refused())?.is_file() {
        return Err(refused());
    }
    let mut bytes = Vec::new();
    file.take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| refused())?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(ApiError::unprocessable(format!(
            "the model file is larger than {} MiB, the most activation reads",
            MAX_MODEL_BYTES >> 20
        )));
    }
    Ok(bytes)
}
