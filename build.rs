//! Records the git revision and rustc version for `smtp_status_exporter_build_info`.
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let revision = std::env::var("SSE_GIT_REVISION")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SSE_GIT_REVISION={revision}");
    println!("cargo:rustc-env=SSE_RUSTC_VERSION={rustc_version}");
    // Where HEAD and the branches live: `.git/` in a clone, elsewhere in a worktree (where
    // `.git` is a file; watching a path that never exists would rebuild at every build).
    for what in ["HEAD", "refs/heads"] {
        let path = output("git", &["rev-parse", "--git-path", what])
            .unwrap_or_else(|| format!(".git/{what}"));
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=SSE_GIT_REVISION");
}
