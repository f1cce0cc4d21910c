//! `state/daemon.json`: the running daemon's address, token and pid, readable only by the user
//! (mode 0600). The CLI reads it to find and authenticate to the daemon.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::Paths;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// `host:port` the API listens on.
    pub address: String,
    /// Bearer token every request must carry.
    pub token: String,
    pub pid: u32,
    pub started_at_ms: i64,
    pub version: String,
    /// The Hugging Face cache the daemon's servers and pulls use (absent in files written by
    /// daemons older than this field).
    #[serde(default)]
    pub hf_hub_cache: Option<PathBuf>,
}

/// Where the runtime file lives.
pub fn runtime_file(paths: &Paths) -> PathBuf {
    paths.state_dir.join("daemon.json")
}

/// Write the runtime file atomically with mode 0600.
pub fn write(path: &Path, info: &DaemonInfo) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(
        serde_json::to_string_pretty(info)
            .map_err(std::io::Error::other)?
            .as_bytes(),
    )?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Read the runtime file, `None` when there is none.
pub fn read(path: &Path) -> Option<DaemonInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// A fresh random token (128 bits from the OS).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    let mut random = std::fs::File::open("/dev/urandom")?;
    std::io::Read::read_exact(&mut random, &mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn runtime_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/daemon.json");
        let info = DaemonInfo {
            address: "127.0.0.1:1234".into(),
            token: new_token().unwrap(),
            pid: 42,
            started_at_ms: 1,
            version: "0.1.0".into(),
            hf_hub_cache: Some(PathBuf::from("/cache/hub")),
        };
        assert_eq!(info.token.len(), 32);
        write(&path, &info).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path), Some(info));
    }
}
