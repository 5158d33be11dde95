//! Host names of the test's own for one MTA: a hosts file the test writes, seen as
//! `/etc/hosts` by that MTA's processes only. The MTA is started in a mount namespace of its
//! own (`unshare --mount`, private propagation) where the file is bind-mounted over
//! `/etc/hosts`; its daemons and their children inherit the namespace, nothing else sees it,
//! and the machine's `/etc/hosts` is never written. Needs root, like the MTAs.
//!
//! This lets a scenario give the sink a provider's real MX host name (`127.0.0.2
//! gmail-smtp-in.l.google.com`): the MTA resolves it with the system resolver (`files` first in
//! `nsswitch.conf`), connects to the sink, and logs the name, as it would for the provider.

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::require_tool;

/// The sink's addresses under providers' real MX host names, for the end-to-end tests.
pub const PROVIDER_MX: [(Ipv4Addr, &str); 2] = [
    (Ipv4Addr::new(127, 0, 0, 2), "gmail-smtp-in.l.google.com"),
    (
        Ipv4Addr::new(127, 0, 0, 3),
        "contoso-com.mail.protection.outlook.com",
    ),
];

/// The `provider` label the end-to-end tests expect of a reply to a sink domain, where
/// `d1.test`'s and `d2.test`'s sinks are reached under [`PROVIDER_MX`]'s names: those names
/// decide it; the other sinks are loopback addresses, hops that name no provider, so the
/// recipient's domain decides (none of the table's: `other`); inbound refusals have none.
pub fn provider_of(direction: &str, domain: &str) -> &'static str {
    match (direction, domain) {
        ("inbound", _) => "",
        (_, "d1.test") => "google",
        (_, "d2.test") => "microsoft",
        _ => "other",
    }
}

/// A hosts file of the test's own.
pub struct PrivateHosts {
    path: PathBuf,
}

impl PrivateHosts {
    /// Writes `dir/hosts`: `localhost` and `entries`.
    pub fn write(dir: &Path, entries: &[(Ipv4Addr, &str)]) -> Result<PrivateHosts, String> {
        let mut text = String::from("127.0.0.1\tlocalhost\n");
        for (ip, name) in entries {
            let _ = writeln!(text, "{ip}\t{name}");
        }
        let path = dir.join("hosts");
        fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        // Read by the MTA's own users too (Debian-exim, _smtpd, …).
        super::util::set_mode(&path, 0o644);
        Ok(PrivateHosts { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `program` (its arguments to be added) run in a mount namespace of its own, where
    /// `/etc/hosts` is this file; a daemon it starts stays in that namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(require_tool("unshare"));
        c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/hosts && exec "$@""#)
            .arg(&self.path)
            .arg(program);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::util::{self, run, TestDir};

    /// The names resolve inside the namespace only.
    #[test]
    #[ignore = "needs root: run by scripts/test"]
    fn names_resolve_for_the_wrapped_program_only() {
        util::require_root();
        let dir = TestDir::new("hosts");
        let hosts = PrivateHosts::write(dir.path(), &PROVIDER_MX).unwrap();
        let getent = require_tool("getent");
        let (ok, out) = run(hosts
            .command(&getent)
            .args(["hosts", "gmail-smtp-in.l.google.com"]));
        assert!(ok && out.starts_with("127.0.0.2"), "{out}");
        let (_, out) = run(Command::new(&getent).args(["hosts", PROVIDER_MX[1].1]));
        assert!(
            !out.contains("127.0.0.3"),
            "the machine's /etc/hosts: {out}"
        );
    }
}
