//! The web configuration loader (`--web.config.file`): YAML in the exporter-toolkit format,
//! strict, with bcrypt hashes. Only the checks that read no file (certificate files named by a
//! fuzzed path could be devices).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_status_exporter::http::webconfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(file) = webconfig::read(&text) {
        let _ = webconfig::check(&file, std::path::Path::new("/nonexistent"));
    }
});
