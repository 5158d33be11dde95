//! Following real files: rotation by rename, copytruncate, partial lines, a restart from the
//! saved position. Polls are driven by the test, not by timers, so nothing here sleeps.

// A test crate: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use smtp_status_exporter::aggregate::SourceId;
use smtp_status_exporter::aggregate::{Aggregator, Bounds, Counters};
use smtp_status_exporter::parse::Format;
use smtp_status_exporter::source::tail::{Resume, Tailer};

fn aggregator() -> Counters {
    Counters::new(Aggregator::new(
        vec![("postfix".into(), "postfix".into())],
        &Bounds {
            domains_max: 100,
            ..Bounds::default()
        },
    ))
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines(n: std::ops::Range<usize>) -> String {
    n.map(|i| format!("Nov 22 22:50:40 mx postfix/qmgr[1]: Q{i}: removed\n"))
        .collect()
}

/// A tailer already following an empty `mail.log` in a new temporary directory.
fn following_empty_log() -> (tempfile::TempDir, std::path::PathBuf, Counters, Tailer) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    fs::write(&log, "").unwrap();
    let agg = aggregator();
    let mut t = Tailer::new(SourceId(0), log.clone(), Format::Postfix, None);
    t.poll(&agg);
    (dir, log, agg, t)
}

/// Lines read, whatever their result.
fn total(agg: &Counters) -> u64 {
    agg.lock().total_lines().iter().sum()
}

#[test]
fn first_start_follows_from_the_end_and_skips_a_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    append(&log, &lines(0..10));
    append(&log, "Nov 22 22:50:40 mx postfix/qmgr[1]: half a li");
    let agg = aggregator();
    let mut t = Tailer::new(SourceId(0), log.clone(), Format::Postfix, None);
    t.poll(&agg);
    assert_eq!(total(&agg), 0);
    append(&log, "ne\n");
    append(&log, &lines(10..13));
    t.poll(&agg);
    assert_eq!(
        total(&agg),
        3,
        "the tail of the line in progress is not a line"
    );
}

#[test]
fn a_line_is_held_until_its_newline_arrives() {
    let (_dir, log, agg, mut t) = following_empty_log();
    let line = lines(0..1);
    for b in line.as_bytes().chunks(7) {
        append(&log, std::str::from_utf8(b).unwrap());
        t.poll(&agg);
    }
    assert_eq!(total(&agg), 1);
}

#[test]
fn rename_rotation_with_a_tiny_old_file_loses_nothing() {
    let (dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..2));
    // Rotate before the exporter has seen the last lines, keep writing to the old file after
    // the rename (as syslog does until it is told to reopen), then write the new file.
    fs::rename(&log, dir.path().join("mail.log.1")).unwrap();
    append(&dir.path().join("mail.log.1"), &lines(2..3));
    append(&log, &lines(3..53));
    t.poll(&agg);
    assert_eq!(total(&agg), 53);
    append(&dir.path().join("mail.log.1"), &lines(53..54));
    append(&log, &lines(54..60));
    t.poll(&agg);
    assert_eq!(total(&agg), 60);
    let a = agg.lock();
    assert_eq!(a.sources[0].rotation_counts(), [1, 0]);
}

#[test]
fn copytruncate_reads_again_from_the_start() {
    let (dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..20));
    t.poll(&agg);
    fs::copy(&log, dir.path().join("mail.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, &lines(20..25));
    t.poll(&agg);
    assert_eq!(total(&agg), 25);
    assert_eq!(agg.lock().sources[0].rotation_counts(), [0, 1]);
}

#[test]
fn a_file_missing_at_start_is_waited_for_and_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    let agg = aggregator();
    let mut t = Tailer::new(SourceId(0), log.clone(), Format::Postfix, None);
    t.poll(&agg);
    assert_eq!(
        agg.lock().sources[0].state,
        smtp_status_exporter::aggregate::SourceState::Waiting
    );
    append(&log, &lines(0..4));
    t.poll(&agg);
    assert_eq!(total(&agg), 4);
}

#[test]
fn restart_resumes_at_the_saved_position() {
    let (_dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..5));
    append(&log, "Nov 22 22:50:40 mx postfix/qmgr[1]: Q5: rem");
    t.poll(&agg);
    let snap = agg.lock().snapshot();
    drop(t);

    // Down: more lines are written, the partial line is completed.
    append(&log, "oved\n");
    append(&log, &lines(6..9));

    let (agg2, mut t2) = restart(&snap, &log);
    t2.poll(&agg2);
    assert_eq!(total(&agg2), 9, "5 before, the completed line and 3 after");
}

/// A new run from a saved snapshot, as `serve` builds it.
fn restart(
    snap: &smtp_status_exporter::aggregate::snapshot::Snapshot,
    log: &Path,
) -> (Counters, Tailer) {
    let agg = aggregator();
    agg.lock().restore(snap).unwrap();
    let resume = {
        let a = agg.lock();
        Resume {
            position: a.sources[0].reading.position,
            draining: a.sources[0].reading.draining.clone(),
            saved_at: a.sources[0].reading.saved_at,
        }
    };
    let t = Tailer::new(
        SourceId(0),
        log.to_path_buf(),
        Format::Postfix,
        Some(resume),
    );
    (agg, t)
}

/// Runs a tailer from its first poll to the end of what is there, then takes a snapshot.
fn run_and_snapshot(
    t: &mut Tailer,
    agg: &Counters,
) -> smtp_status_exporter::aggregate::snapshot::Snapshot {
    t.poll(agg);
    agg.lock().snapshot()
}

fn gzip(from: &Path, to: &Path) {
    let mut enc =
        flate2::write::GzEncoder::new(fs::File::create(to).unwrap(), flate2::Compression::fast());
    enc.write_all(&fs::read(from).unwrap()).unwrap();
    enc.finish().unwrap();
    fs::remove_file(from).unwrap();
}

#[test]
fn rotation_while_down_finishes_the_old_file_first() {
    for compress in [false, true] {
        let (dir, log, agg, mut t) = following_empty_log();
        append(&log, &lines(0..10));
        let snap = run_and_snapshot(&mut t, &agg);
        drop(t);

        // Down: the old file gets more lines, is rotated (and compressed), a new one begins.
        append(&log, &lines(10..15));
        let rotated = dir.path().join("mail.log.1");
        fs::rename(&log, &rotated).unwrap();
        if compress {
            gzip(&rotated, &dir.path().join("mail.log.1.gz"));
        }
        append(&log, &lines(15..18));

        let (agg2, mut t2) = restart(&snap, &log);
        t2.poll(&agg2);
        assert_eq!(total(&agg2), 18, "compressed: {compress}");
        let [rename, truncate] = agg2.lock().sources[0].rotation_counts();
        if compress {
            // Compressing deleted the renamed file, so the new mail.log may have got its inode
            // back: then it looks like a copytruncate. Either way one rotation, no line lost.
            assert_eq!(rename + truncate, 1);
        } else {
            assert_eq!((rename, truncate), (1, 0));
        }
    }
}

#[test]
fn a_crash_while_draining_a_rotated_file_resumes_both_files() {
    let (dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..4));
    fs::rename(&log, dir.path().join("mail.log.1")).unwrap();
    append(&log, &lines(4..6));
    // Reads the old file to its end, notices the rotation, starts on the new file: the old one
    // is now draining (a writer may still append to it).
    let snap = run_and_snapshot(&mut t, &agg);
    assert_eq!(snap.sources[0].draining.len(), 1);
    drop(t); // SIGKILL: nothing after the snapshot is saved

    append(&dir.path().join("mail.log.1"), &lines(6..8));
    append(&log, &lines(8..9));
    let (agg2, mut t2) = restart(&snap, &log);
    t2.poll(&agg2);
    assert_eq!(total(&agg2), 9);
}

#[test]
fn truncation_while_down_regrown_past_the_old_offset_reads_from_the_start() {
    let (_dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..3));
    let snap = run_and_snapshot(&mut t, &agg);
    drop(t);
    // copytruncate while down, then more lines than before: same inode, larger than the saved
    // offset; only the fingerprint tells.
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, &lines(100..110));
    let (agg2, mut t2) = restart(&snap, &log);
    t2.poll(&agg2);
    assert_eq!(total(&agg2), 13);
    assert_eq!(agg2.lock().sources[0].rotation_counts(), [0, 1]);
}

#[test]
fn a_long_copytruncate_rewrite_between_polls_is_noticed() {
    let (_dir, log, agg, mut t) = following_empty_log();
    append(&log, &lines(0..3));
    t.poll(&agg);
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, &lines(200..220));
    t.poll(&agg);
    t.poll(&agg);
    assert_eq!(total(&agg), 23);
}

/// The file the state was saved in is gone at the restart (rotated, then deleted by
/// `rotate N`): its unread end is lost and counted as one missed file; the rotated file written
/// since the save (here zstd-compressed) is read whole, then the live file. An older rotated
/// file, last written before the save, is not read again. A state file that does not say when
/// it was saved (an earlier version's) reads only the live file.
#[test]
fn the_saved_file_gone_the_rotations_since_the_save_are_read_once() {
    for timed in [true, false] {
        let (dir, log, agg, mut t) = following_empty_log();
        let older = dir.path().join("mail.log.2");
        append(&older, &lines(900..905));
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&older)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        append(&log, &lines(0..10));
        t.poll(&agg);
        let mut snap = agg.lock().marked_snapshot().1;
        if !timed {
            snap.saved_unix = None;
        }
        drop(t);

        // Down: two rotations, and the first rotated file deleted.
        append(&log, &lines(10..12));
        fs::rename(&log, dir.path().join("mail.log.1")).unwrap();
        fs::remove_file(dir.path().join("mail.log.1")).unwrap();
        append(&log, &lines(12..20));
        let text = fs::read(&log).unwrap();
        fs::write(
            dir.path().join("mail.log.1.zst"),
            zstd::encode_all(&text[..], 3).unwrap(),
        )
        .unwrap();
        fs::remove_file(&log).unwrap();
        append(&log, &lines(20..23));

        let (agg2, mut t2) = restart(&snap, &log);
        t2.poll(&agg2);
        let want = if timed { 10 + 8 + 3 } else { 10 + 3 };
        assert_eq!(total(&agg2), want, "state saved with its time: {timed}");
        let a = agg2.lock();
        assert_eq!(a.sources[0].rotated_missed, 1, "timed: {timed}");
        let rotations: u64 = a.sources[0].rotation_counts().iter().sum();
        assert_eq!(rotations, if timed { 2 } else { 1 }, "timed: {timed}");
    }
}
