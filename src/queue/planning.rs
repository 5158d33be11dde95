//! Which queues to read: a source's `queue:` in the configuration file and the `--queue.*`
//! flags, checked once into a list of [`QueueSpec`]s.

use std::path::PathBuf;

use super::{exim, opensmtpd, postfix, Kind, QueueConfig, QueueSpec};

/// Flags of the queue reader.
#[derive(Debug, Clone, Default)]
pub struct QueueFlags {
    pub postfix_config_dir: Option<PathBuf>,
    pub postqueue: Option<PathBuf>,
    pub disable: bool,
    /// `--queue.exim`: the exim binary.
    pub exim: Option<PathBuf>,
    /// `--queue.exim-config`: its configuration file (`-C`), for a private instance.
    pub exim_config: Option<PathBuf>,
    /// `--queue.smtpctl`: read the OpenSMTPD queue with this program.
    pub smtpctl: Option<PathBuf>,
}

/// One log source as the queue planner sees it.
#[derive(Debug, Clone)]
pub struct SourceQueue {
    pub name: String,
    pub mta: String,
    /// Its `queue:` in the configuration file; `what` says where, for messages.
    pub config: Option<QueueConfig>,
    pub what: String,
}

/// The mistakes a source's `queue:` can hold for a source of `mta` (the `mta` label): an MTA
/// whose queue cannot be read, or a key of another MTA's. The message starts at the key
/// (`queue.smtpctl: …`); `check-config` and [`plan`] put the source in front.
pub fn check_config(c: &QueueConfig, mta: &str) -> Result<(), String> {
    let shown = if mta.is_empty() {
        "of no known MTA"
    } else {
        mta
    };
    if !matches!(mta, "postfix" | "exim" | "opensmtpd") {
        return Err(format!(
            "queue: only Postfix, Exim and OpenSMTPD queues can be read so far (this source is {shown})"
        ));
    }
    // Each key belongs to one MTA: the wrong one is a mistake to name, not to ignore.
    for (key, given, owner) in [
        (
            "postfix_config_dir",
            c.postfix_config_dir.is_some(),
            "postfix",
        ),
        ("exim_config", c.exim_config.is_some(), "exim"),
        ("smtpctl", c.smtpctl.is_some(), "opensmtpd"),
    ] {
        if given && owner != mta {
            return Err(format!(
                "queue.{key}: only for a source of {owner} (this source is {shown})"
            ));
        }
    }
    Ok(())
}

/// Which queues to read.
///
/// - `--queue.disable`: none.
/// - A source with `queue:` in the configuration file: its queue (Postfix, Exim or OpenSMTPD).
/// - `--queue.postfix-config-dir DIR`: the queue of that instance, for the first Postfix source.
/// - Nothing said anywhere: the default Postfix instance's queue for the one Postfix source,
///   when there is exactly one and a default Postfix is installed here (`postqueue` found and
///   `/etc/postfix/main.cf` present). Off otherwise: a guess between several sources, or a
///   machine without Postfix, would only produce read errors.
/// - Exim only when asked for (`queue:` on an Exim source, `--queue.exim` or
///   `--queue.exim-config`, which go to the first Exim source): Exim lists its queue only for
///   an admin user, so a guess would mostly produce read errors.
/// - OpenSMTPD only when asked (`queue:` of its source, or `--queue.smtpctl PATH` for the first
///   OpenSMTPD source): `smtpctl show queue` answers only root, so a default would mostly fail.
pub fn plan(sources: &[SourceQueue], flags: &QueueFlags) -> Result<Vec<QueueSpec>, String> {
    if flags.disable {
        return Ok(Vec::new());
    }
    let mut out = from_config(sources, flags)?;
    exim_flags(&mut out, sources, flags)?;
    smtpctl_flag(&mut out, sources, flags)?;
    if let Some(dir) = &flags.postfix_config_dir {
        postfix_config_dir_flag(&mut out, sources, flags, dir)?;
    } else {
        default_postfix(&mut out, sources, flags)?;
    }
    Ok(out)
}

/// `--queue.postqueue`, else the `postqueue` found here.
fn postqueue_path(flags: &QueueFlags) -> PathBuf {
    flags
        .postqueue
        .clone()
        .or_else(postfix::default_postqueue)
        // Not found: the reads fail and say so (a self-metric), rather than refusing to start.
        .unwrap_or_else(|| PathBuf::from("postqueue"))
}

/// `--queue.exim`, else the `exim` found here.
fn exim_path(flags: &QueueFlags) -> PathBuf {
    flags
        .exim
        .clone()
        .or_else(exim::default_exim)
        .unwrap_or_else(|| PathBuf::from("exim"))
}

fn spec(s: &SourceQueue, kind: Kind) -> QueueSpec {
    QueueSpec {
        source: s.name.clone(),
        mta: s.mta.clone(),
        kind,
    }
}

/// The queues of the sources with a `queue:` (not disabled) in the configuration file.
fn from_config(sources: &[SourceQueue], flags: &QueueFlags) -> Result<Vec<QueueSpec>, String> {
    let mut out = Vec::new();
    for s in sources {
        let Some(c) = &s.config else { continue };
        if c.disabled {
            continue;
        }
        check_config(c, &s.mta).map_err(|e| format!("{}.{e}", s.what))?;
        let kind = match s.mta.as_str() {
            "postfix" => Kind::Postfix {
                postqueue: postqueue_path(flags),
                config_dir: c.postfix_config_dir.clone(),
            },
            "exim" => Kind::Exim {
                exim: exim_path(flags),
                config: c.exim_config.clone(),
            },
            "opensmtpd" => Kind::OpenSmtpd {
                smtpctl: c
                    .smtpctl
                    .clone()
                    .or_else(|| flags.smtpctl.clone())
                    .unwrap_or_else(opensmtpd::default_smtpctl),
            },
            // Refused by `check_config` above.
            _ => continue,
        };
        out.push(spec(s, kind));
    }
    Ok(out)
}

/// `--queue.exim` and `--queue.exim-config`: the queue of the first Exim source.
fn exim_flags(
    out: &mut Vec<QueueSpec>,
    sources: &[SourceQueue],
    flags: &QueueFlags,
) -> Result<(), String> {
    if flags.exim.is_none() && flags.exim_config.is_none() {
        return Ok(());
    }
    let Some(first) = sources.iter().find(|s| s.mta == "exim") else {
        return Err(
            "--queue.exim, --queue.exim-config: no Exim log source to read a queue for".into(),
        );
    };
    let planned = out.iter().any(|q| q.source == first.name);
    let disabled = first.config.as_ref().is_some_and(|c| c.disabled);
    // The flag's configuration file replaces the source's; the binary alone only adds a
    // read where the configuration file said nothing.
    if flags.exim_config.is_some() || (!planned && !disabled) {
        out.retain(|q| q.source != first.name);
        out.push(spec(
            first,
            Kind::Exim {
                exim: exim_path(flags),
                config: flags.exim_config.clone(),
            },
        ));
    }
    Ok(())
}

/// `--queue.smtpctl`: the queue of the first OpenSMTPD source, unless its `queue:` said
/// otherwise.
fn smtpctl_flag(
    out: &mut Vec<QueueSpec>,
    sources: &[SourceQueue],
    flags: &QueueFlags,
) -> Result<(), String> {
    let Some(smtpctl) = &flags.smtpctl else {
        return Ok(());
    };
    let Some(first) = sources.iter().find(|s| s.mta == "opensmtpd") else {
        return Err("--queue.smtpctl: no OpenSMTPD log source to read a queue for".into());
    };
    let disabled = first.config.as_ref().is_some_and(|c| c.disabled);
    if !disabled && !out.iter().any(|q| q.source == first.name) {
        out.push(spec(
            first,
            Kind::OpenSmtpd {
                smtpctl: smtpctl.clone(),
            },
        ));
    }
    Ok(())
}

/// `--queue.postfix-config-dir DIR`: that instance's queue, for the first Postfix source.
fn postfix_config_dir_flag(
    out: &mut Vec<QueueSpec>,
    sources: &[SourceQueue],
    flags: &QueueFlags,
    dir: &std::path::Path,
) -> Result<(), String> {
    let Some(first) = sources.iter().find(|s| s.mta == "postfix") else {
        return Err(
            "--queue.postfix-config-dir: no Postfix log source to attach the queue to".into(),
        );
    };
    out.retain(|q| q.source != first.name);
    out.push(spec(
        first,
        Kind::Postfix {
            postqueue: postqueue_path(flags),
            config_dir: Some(dir.to_path_buf()),
        },
    ));
    Ok(())
}

/// Nothing said in the configuration file: the default instance's queue for the one Postfix
/// source, when `--queue.postqueue` is given or a default Postfix is installed here.
fn default_postfix(
    out: &mut Vec<QueueSpec>,
    sources: &[SourceQueue],
    flags: &QueueFlags,
) -> Result<(), String> {
    let postfix_sources: Vec<&SourceQueue> =
        sources.iter().filter(|s| s.mta == "postfix").collect();
    if sources.iter().any(|s| s.config.is_some()) {
        return Ok(());
    }
    if flags.postqueue.is_some() && postfix_sources.is_empty() {
        return Err("--queue.postqueue: no Postfix log source to read a queue for".into());
    }
    // A guess between several Postfix sources would only produce read errors.
    let [s] = postfix_sources.as_slice() else {
        return Ok(());
    };
    let explicit = flags.postqueue.is_some();
    let found = postfix::default_postqueue().is_some() && postfix::default_instance_exists();
    if explicit || found {
        out.push(spec(
            s,
            Kind::Postfix {
                postqueue: postqueue_path(flags),
                config_dir: None,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, mta: &str, config: Option<QueueConfig>) -> SourceQueue {
        SourceQueue {
            name: name.into(),
            mta: mta.into(),
            config,
            what: format!("sources[{name}]"),
        }
    }

    #[test]
    fn planning() {
        let flags = QueueFlags {
            postqueue: Some("/x/postqueue".into()),
            ..QueueFlags::default()
        };
        // One Postfix source and a postqueue given: its default instance.
        let p = plan(&[src("postfix", "postfix", None)], &flags).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind.describe(), "/x/postqueue -j");
        // Disabled.
        let off = QueueFlags {
            disable: true,
            ..flags.clone()
        };
        assert!(plan(&[src("postfix", "postfix", None)], &off)
            .unwrap()
            .is_empty());
        // Per source, from the config file.
        let cfg = QueueConfig {
            postfix_config_dir: Some("/etc/postfix-out".into()),
            ..QueueConfig::default()
        };
        let p = plan(
            &[
                src("in", "postfix", None),
                src("out", "postfix", Some(cfg.clone())),
            ],
            &flags,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].source.as_str(), p[0].kind.describe()),
            ("out", "/x/postqueue -c /etc/postfix-out -j".to_owned())
        );
        // Not for another MTA.
        let e = plan(&[src("ex", "exchange", Some(cfg))], &flags).unwrap_err();
        assert!(e.contains("sources[ex].queue"), "{e}");
        // The flag needs a Postfix source.
        let dir = QueueFlags {
            postfix_config_dir: Some("/etc/postfix".into()),
            ..flags
        };
        assert!(plan(&[src("ex", "exchange", None)], &dir).is_err());
    }

    #[test]
    fn planning_exim() {
        let e = |f: &QueueFlags, s: &[SourceQueue]| -> Vec<(String, String)> {
            plan(s, f)
                .unwrap()
                .into_iter()
                .map(|q| (q.source, q.kind.describe()))
                .collect()
        };
        let sources = [src("postfix", "postfix", None), src("exim", "exim", None)];
        // Off unless asked for.
        assert!(e(&QueueFlags::default(), &sources[1..]).is_empty());
        let flags = QueueFlags {
            exim: Some("/x/exim4".into()),
            exim_config: Some("/x/exim.conf".into()),
            ..QueueFlags::default()
        };
        assert_eq!(
            e(&flags, &sources),
            [(
                "exim".to_owned(),
                "/x/exim4 -C /x/exim.conf -bpr".to_owned()
            )]
        );
        // From the configuration file; the binary flag keeps its configuration file.
        let cfg = QueueConfig {
            exim_config: Some("/etc/exim-out.conf".into()),
            ..QueueConfig::default()
        };
        let binary = QueueFlags {
            exim: Some("/x/exim4".into()),
            ..QueueFlags::default()
        };
        assert_eq!(
            e(&binary, &[src("out", "exim", Some(cfg.clone()))]),
            [(
                "out".to_owned(),
                "/x/exim4 -C /etc/exim-out.conf -bpr".to_owned()
            )]
        );
        // Not for a Postfix source, and the flags need an Exim source.
        let err = plan(&[src("p", "postfix", Some(cfg))], &binary).unwrap_err();
        assert!(err.contains("sources[p].queue.exim_config"), "{err}");
        let err = plan(&sources[..1], &binary).unwrap_err();
        assert!(err.contains("no Exim log source"), "{err}");
    }

    #[test]
    fn planning_opensmtpd() {
        let none = QueueFlags::default();
        // Not read unless asked (smtpctl show queue answers only root).
        assert!(plan(&[src("opensmtpd", "opensmtpd", None)], &none)
            .unwrap()
            .is_empty());
        // The flag: the first OpenSMTPD source, beside a default Postfix plan.
        let flag = QueueFlags {
            smtpctl: Some("/x/smtpctl".into()),
            ..QueueFlags::default()
        };
        let p = plan(
            &[src("pf", "postfix", None), src("os", "opensmtpd", None)],
            &flag,
        )
        .unwrap();
        let os: Vec<_> = p.iter().filter(|q| q.source == "os").collect();
        assert_eq!(os.len(), 1);
        assert_eq!(os[0].kind.describe(), "/x/smtpctl show queue");
        assert!(!os[0].kind.has_sizes());
        assert!(plan(&[src("pf", "postfix", None)], &flag)
            .unwrap_err()
            .contains("--queue.smtpctl"));
        // The config file's `queue:` with its own smtpctl wins over the flag.
        let cfg = QueueConfig {
            smtpctl: Some("/y/smtpctl".into()),
            ..QueueConfig::default()
        };
        let p = plan(&[src("os", "opensmtpd", Some(cfg.clone()))], &flag).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind.describe(), "/y/smtpctl show queue");
        // Keys of the other MTA are refused, naming the source.
        let e = plan(&[src("pf", "postfix", Some(cfg))], &none).unwrap_err();
        assert!(e.contains("sources[pf].queue.smtpctl"), "{e}");
        let pcfg = QueueConfig {
            postfix_config_dir: Some("/etc/postfix".into()),
            ..QueueConfig::default()
        };
        let e = plan(&[src("os", "opensmtpd", Some(pcfg))], &none).unwrap_err();
        assert!(e.contains("sources[os].queue.postfix_config_dir"), "{e}");
    }
}
