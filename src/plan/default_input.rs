//! What the exporter reads when nothing is asked for (no `--log.path`, `--journal`, sources,
//! listeners or mailboxes): `/var/log/mail.log`, else `/var/log/maillog`, else — where neither
//! exists and a systemd journal is there — the journal's mail facility, as `--journal` reads it.
//! Debian 12 and later log mail only to the journal unless rsyslog is installed, so without the
//! last step a fresh install would wait for a file that never comes. Decided once at start from
//! what is on disk ([`Probe`], injectable for tests), and said in the log with the reason.

use std::path::{Path, PathBuf};

/// What is on disk, for the choice.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Debian's and Ubuntu's mail log.
    pub mail_log: PathBuf,
    /// Red Hat's and friends' mail log.
    pub maillog: PathBuf,
    /// Where journald keeps journals (persistent and volatile).
    pub journal_dirs: Vec<PathBuf>,
    /// The `journalctl` the journal source would run (`--journalctl`, else from `PATH`); `None`
    /// where none is found.
    pub journalctl: Option<PathBuf>,
}

/// What to read, and why (for the start-up log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Follow this file (waited for if it does not exist yet).
    File { path: PathBuf, why: String },
    /// Read the journal's mail facility.
    Journal { why: String },
}

impl Probe {
    /// The machine's own paths; `journalctl`: the `--journalctl` flag, if given.
    pub fn system(journalctl: Option<&Path>) -> Probe {
        Probe {
            mail_log: PathBuf::from("/var/log/mail.log"),
            maillog: PathBuf::from("/var/log/maillog"),
            journal_dirs: vec![
                PathBuf::from("/var/log/journal"),
                PathBuf::from("/run/log/journal"),
            ],
            journalctl: match journalctl {
                Some(p) => Some(p.to_path_buf()),
                None => in_path("journalctl"),
            },
        }
    }

    /// The choice.
    pub fn choose(&self) -> Choice {
        if self.mail_log.exists() {
            return file(&self.mail_log, "it exists");
        }
        if self.maillog.exists() {
            let why = format!("it exists and {} does not", self.mail_log.display());
            return file(&self.maillog, &why);
        }
        let journal = self.journal_dirs.iter().find(|d| d.is_dir());
        match (journal, &self.journalctl) {
            (Some(dir), Some(_)) => Choice::Journal {
                why: format!(
                    "neither {} nor {} exists and a systemd journal is there ({}): mail is logged \
                     only to the journal (Debian 12 and later without rsyslog)",
                    self.mail_log.display(),
                    self.maillog.display(),
                    dir.display()
                ),
            },
            (Some(dir), None) => file(
                &self.mail_log,
                &format!(
                    "no mail log yet; a journal is there ({}) but no journalctl to read it: \
                     waiting for the file (install systemd's journalctl or give --log.path)",
                    dir.display()
                ),
            ),
            (None, _) => file(
                &self.mail_log,
                "no mail log and no systemd journal yet: waiting for the file (give --log.path \
                 or --journal to read another)",
            ),
        }
    }
}

fn file(path: &Path, why: &str) -> Choice {
    Choice::File {
        path: path.to_path_buf(),
        why: why.to_owned(),
    }
}

/// The first executable file named `name` in `PATH`.
fn in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe of paths under `dir`, with the files and directories named in `present`.
    fn probe(dir: &Path, present: &[&str], journalctl: bool) -> Probe {
        for p in present {
            let path = dir.join(p);
            if p.ends_with("journal") {
                std::fs::create_dir_all(&path).expect("mkdir");
            } else {
                std::fs::write(&path, "").expect("write");
            }
        }
        Probe {
            mail_log: dir.join("mail.log"),
            maillog: dir.join("maillog"),
            journal_dirs: vec![dir.join("var-journal"), dir.join("run-journal")],
            journalctl: journalctl.then(|| PathBuf::from("/usr/bin/journalctl")),
        }
    }

    fn chosen(present: &[&str], journalctl: bool) -> (String, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let choice = probe(dir.path(), present, journalctl).choose();
        let base = dir.path().display().to_string();
        match choice {
            Choice::File { path, why } => (path.display().to_string().replace(&base, ""), why),
            Choice::Journal { why } => ("journal".to_owned(), why.replace(&base, "")),
        }
    }

    #[test]
    fn the_debian_file_first() {
        let (what, why) = chosen(&["mail.log", "maillog", "var-journal"], true);
        assert_eq!((what.as_str(), why.as_str()), ("/mail.log", "it exists"));
    }

    #[test]
    fn the_red_hat_file_where_only_it_exists() {
        let (what, why) = chosen(&["maillog", "run-journal"], true);
        assert_eq!(what, "/maillog");
        assert!(why.contains("mail.log does not"), "{why}");
    }

    #[test]
    fn the_journal_where_no_file_exists() {
        for dir in ["var-journal", "run-journal"] {
            let (what, why) = chosen(&[dir], true);
            assert_eq!(what, "journal");
            assert!(why.contains(dir) && why.contains("Debian 12"), "{why}");
        }
    }

    #[test]
    fn nothing_there_waits_for_the_debian_file() {
        let (what, why) = chosen(&[], true);
        assert_eq!(what, "/mail.log");
        assert!(why.contains("waiting"), "{why}");
        // A journal but nothing to read it with: the file, and what to install.
        let (what, why) = chosen(&["var-journal"], false);
        assert_eq!(what, "/mail.log");
        assert!(why.contains("no journalctl"), "{why}");
    }

    #[test]
    fn journalctl_is_found_in_path() {
        assert!(in_path("sh").is_some());
        assert!(in_path("no-such-program-here").is_none());
    }
}
