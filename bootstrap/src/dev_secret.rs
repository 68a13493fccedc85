//! Dev mode's signing secret, kept across runs (CONTRACT §1): a random
//! HS256 secret made on the first dev-mode run and kept in a file of mode
//! 0600 beside the SQLite database (in the working directory for
//! PostgreSQL), so development tokens, and the identities in them, survive
//! a restart. An in-memory database keeps nothing, and neither does this:
//! its secret is the run's own.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The secret file's name beside `quickconnect.db`: `quickconnect.db.dev-secret`.
const SUFFIX: &str = ".dev-secret";

/// For PostgreSQL (no file of our own to stand beside), in the working
/// directory.
const POSTGRES_FILE: &str = "quickconnect.dev-secret";

/// Where dev mode keeps its secret for `database_url`; `None` for an
/// in-memory database.
pub fn path_for(database_url: &str) -> Option<PathBuf> {
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Some(PathBuf::from(POSTGRES_FILE));
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() || path == ":memory:" || query.split('&').any(|q| q == "mode=memory") {
        return None;
    }
    let mut file = PathBuf::from(path).into_os_string();
    file.push(SUFFIX);
    Some(PathBuf::from(file))
}

/// Whether [`load_or_create`] made the file or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Created,
    Reused,
}

/// The secret in `path`, or a new one written there (mode 0600).
///
/// # Errors
/// When the file cannot be read or written, or does not hold a secret
/// this wrote (the message says to delete it).
pub fn load_or_create(path: &Path) -> anyhow::Result<(Vec<u8>, Origin)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = decode(text.trim()).with_context(|| {
                format!(
                    "the dev-mode secret file {} is not one this server wrote; delete it to make a new one \
                     (development tokens made with it stop working)",
                    path.display()
                )
            })?;
            Ok((secret, Origin::Reused))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = rand::random::<[u8; 32]>().to_vec();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).with_context(|| {
                format!("cannot create the dev-mode secret file {}", path.display())
            })?;
            writeln!(file, "{}", encode(&secret))
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok((secret, Origin::Created))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(hex: &str) -> anyhow::Result<Vec<u8>> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected 64 hex digits");
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).context("hex"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_stands_beside_the_sqlite_database_or_in_the_working_directory() {
        assert_eq!(
            path_for("sqlite://quickconnect.db?mode=rwc"),
            Some(PathBuf::from("quickconnect.db.dev-secret"))
        );
        assert_eq!(
            path_for("sqlite:///var/lib/qc/chat.db"),
            Some(PathBuf::from("/var/lib/qc/chat.db.dev-secret"))
        );
        assert_eq!(
            path_for("postgres://postgres@127.0.0.1/test"),
            Some(PathBuf::from("quickconnect.dev-secret"))
        );
        assert_eq!(path_for("sqlite::memory:"), None);
        assert_eq!(path_for("sqlite://x.db?mode=memory&cache=shared"), None);
    }

    #[test]
    fn a_secret_is_made_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db.dev-secret");
        let (first, origin) = load_or_create(&path).unwrap();
        assert_eq!((first.len(), origin), (32, Origin::Created));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_create(&path).unwrap(), (first, Origin::Reused));
    }

    #[test]
    fn a_file_that_is_not_a_secret_stops_the_start_and_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db.dev-secret");
        std::fs::write(&path, "not a secret").unwrap();
        let e = format!("{:#}", load_or_create(&path).unwrap_err());
        assert!(e.contains("delete it"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "not a secret",
            "left alone"
        );
    }
}
