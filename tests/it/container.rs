//! Container log wrappers (`--log.wrapper docker|cri|auto|none`, a source's `wrapper:`): real
//! Postfix lines as Docker's json-file driver and the CRI runtimes store them
//! (`tests/fixtures/container/`), unwrapped and joined before the Postfix parser, counted
//! exactly; and the recipes of `deploy/kubernetes/daemonset-container-logs.yaml` and
//! `deploy/container/postfix-stdout.sh`, run as written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::harness;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::exporter::binary;
use harness::exporter::Exporter;
use harness::feed::{expected, postfix_fixture, rendered};
use harness::metrics::{http_get, parse_exposition};
use harness::util::{wait_for, TestDir};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/container")
        .join(name)
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// What every wrapped fixture must count: the replies of the Postfix fixture, and its lines
/// plus the 4 unrecognised ones of the wrapping (fixtures/container/README.md).
fn want_lines() -> BTreeMap<String, f64> {
    [
        ("counted".to_owned(), 872.0),
        ("ignored".to_owned(), 2211.0),
        ("unrecognised".to_owned(), 4.0),
    ]
    .into()
}

fn replay(args: &[&str]) -> harness::metrics::Samples {
    let out = Command::new(binary())
        .arg("replay")
        .args(["--format", "prometheus"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_exposition(&String::from_utf8(out.stdout).unwrap()).unwrap()
}

fn lines_of(samples: &harness::metrics::Samples, source: &str) -> BTreeMap<String, f64> {
    harness::metrics::series(samples, "smtp_status_exporter_lines_total")
        .into_iter()
        .filter(|(l, _)| l["source"] == source)
        .map(|(l, v)| (l["result"].clone(), v))
        .collect()
}

#[test]
fn docker_and_cri_files_count_what_the_postfix_log_counts() {
    let want = expected(&postfix_fixture().1);
    for (wrapper, file) in [
        ("docker", "docker-json.log"),
        ("cri", "cri.log"),
        ("auto", "docker-json.log"),
        ("auto", "cri.log"),
    ] {
        let path = fixture(file);
        let s = replay(&["--log.wrapper", wrapper, path.to_str().unwrap()]);
        assert_eq!(rendered(&s, "postfix", "postfix"), want, "{wrapper} {file}");
        assert_eq!(lines_of(&s, "postfix"), want_lines(), "{wrapper} {file}");
    }
}

/// Without the wrapper, the wrapped lines are not Postfix lines: nothing is counted, every
/// line is unrecognised (the default for a path outside /var/log/containers is `none`).
#[test]
fn without_a_wrapper_nothing_is_counted() {
    let s = replay(&[fixture("cri.log").to_str().unwrap()]);
    assert_eq!(lines_of(&s, "postfix")["counted"], 0.0);
    let out = Command::new(binary())
        .args(["replay", "--log.wrapper", "podman", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log.wrapper"));
}

/// Appends `text` to `path` in pieces that cut lines, as a runtime writing a live file.
fn append_in_pieces(path: &Path, text: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for piece in text.chunks(64 * 1024 - 7) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
    }
}

#[test]
fn a_followed_cri_file_is_counted_exactly() {
    let dir = TestDir::new("sse-cri-");
    let log = dir.path().join("0.log");
    std::fs::write(&log, b"").unwrap();
    let fed = Exporter::fed(
        dir.path(),
        &["--log.path", log.to_str().unwrap(), "--log.wrapper", "cri"],
    )
    .unwrap();
    let ready = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        (fed.get("/-/ready").0 == 200).then_some(())
    });
    assert!(ready.is_some(), "{}", fed.stderr_text());
    append_in_pieces(&log, &std::fs::read(fixture("cri.log")).unwrap());
    fed.wait_lines("postfix", 3087.0, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fed.lines("postfix"), want_lines());
    assert_eq!(
        rendered(&fed.samples(), "postfix", "postfix"),
        expected(&postfix_fixture().1)
    );
}

#[test]
fn the_kubernetes_daemonset_recipe_reads_the_runtime_files() {
    let manifest =
        std::fs::read_to_string(repo("deploy/kubernetes/daemonset-container-logs.yaml")).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&manifest)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .and_then(|d| d["data"]["config.yaml"].as_str())
        .expect("a ConfigMap with config.yaml")
        .to_owned();
    let ds = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet")
        .expect("a DaemonSet");
    let args: Vec<String> = ds["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();

    // The node's /var/log/containers, in a temp dir: two Postfix pods (one on a containerd
    // node, one on a dockershim node: the symlinks point at json-file logs there) and a pod
    // of another namespace, which the glob must leave alone.
    let dir = TestDir::new("sse-k8s-");
    let containers = dir.subdir("containers");
    let files = [
        ("postfix-7d9f5_mail_postfix-0a1b2c.log", Some("cri.log")),
        (
            "postfix-8e1a6_mail_postfix-3d4e5f.log",
            Some("docker-json.log"),
        ),
        ("coredns-5d78c_kube-system_coredns-6a7b8c.log", None),
    ];
    for (name, _) in &files {
        std::fs::write(containers.join(name), b"").unwrap();
    }
    let config = config.replace(
        "/var/log/containers/",
        &format!("{}/", containers.display()),
    );
    assert!(config.contains(containers.to_str().unwrap()), "{config}");
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, &config).unwrap();
    let mut run: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config.file" => {
                it.next();
                run.extend(["--config.file".into(), config_path.display().to_string()]);
            }
            // Exporter::fed gives its own loopback address.
            "--web.listen-address" => {
                it.next();
            }
            _ => run.push(a.clone()),
        }
    }
    let run: Vec<&str> = run.iter().map(String::as_str).collect();
    let fed = Exporter::fed(dir.path(), &run).unwrap();
    let ready = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        (fed.get("/-/ready").0 == 200).then_some(())
    });
    assert!(ready.is_some(), "{}", fed.stderr_text());
    for (name, content) in &files {
        let text = match content {
            Some(f) => std::fs::read(fixture(f)).unwrap(),
            None => {
                b"2026-11-23T02:16:56.1Z stdout F [INFO] plugin/reload: Running configuration\n"
                    .to_vec()
            }
        };
        append_in_pieces(&containers.join(name), &text);
    }
    let want = expected(&postfix_fixture().1);
    for (name, content) in &files {
        let source = format!("postfix/{name}");
        if content.is_none() {
            assert!(
                fed.lines(&source).is_empty(),
                "{name} is read, but the glob names other pods"
            );
            continue;
        }
        fed.wait_lines(&source, 3087.0, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(fed.lines(&source), want_lines(), "{name}");
        assert_eq!(rendered(&fed.samples(), &source, "postfix"), want, "{name}");
    }
}

/// The shell recipe, run as it is with a real Postfix log as the container's output
/// (`LOGS_CMD`); killed with its process group.
struct Recipe {
    child: Child,
    stderr: PathBuf,
}

impl Drop for Recipe {
    fn drop(&mut self) {
        let pgid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn the_stdout_pipe_recipe_counts_the_container_log() {
    let dir = TestDir::new("sse-pipe-");
    let (log, want) = postfix_fixture();
    let stderr = dir.path().join("recipe.stderr");
    let child = Command::new("sh")
        .arg(repo("deploy/container/postfix-stdout.sh"))
        .env("LOGS_CMD", format!("cat {}", log.display()))
        .env("EXPORTER", binary())
        .env("STATE_FILE", dir.path().join("state.json"))
        .env("LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
        .process_group(0)
        .spawn()
        .unwrap();
    let recipe = Recipe { child, stderr };
    let text = || std::fs::read_to_string(&recipe.stderr).unwrap_or_default();
    let addr = wait_for(Duration::from_secs(30), Duration::from_millis(20), || {
        text()
            .split("listening on http://")
            .nth(1)?
            .split('/')
            .next()?
            .parse::<std::net::SocketAddr>()
            .ok()
    })
    .unwrap_or_else(|| panic!("the recipe's exporter did not listen: {}", text()));
    let ended = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        let r = http_get(addr, "/-/ready").ok()?;
        (r.status == 200 && String::from_utf8_lossy(&r.body).contains("end of input")).then_some(())
    });
    assert!(ended.is_some(), "{}", text());
    let body = String::from_utf8(http_get(addr, "/metrics").unwrap().body).unwrap();
    let samples = parse_exposition(&body).unwrap();
    assert_eq!(rendered(&samples, "postfix", "postfix"), expected(&want));
    assert_eq!(
        lines_of(&samples, "postfix"),
        harness::feed::lines_of_file(&log)
    );
}
