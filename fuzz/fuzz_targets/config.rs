//! The configuration loader (`--config.file`): YAML, strict, with user regexes compiled.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(file) = smtp_status_exporter::config::parse(&text) {
        // A configuration that loads names parsers that exist.
        for s in &file.sources {
            if let Some(f) = &s.format {
                let _ = smtp_status_exporter::config::parser_named(f, &file);
            }
        }
    }
});
