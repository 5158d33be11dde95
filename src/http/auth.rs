//! `basic_auth_users`: HTTP basic authentication against bcrypt hashes.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), too slow to pay on every
//! scrape, so credentials that verified once are remembered: by an HMAC of user and password
//! under a key drawn at random when the configuration is loaded, never the password itself.
//! A lookup reveals nothing through its timing (the tags are unpredictable without the key),
//! the cache is bounded, and a reload (new hashes) starts a new one. Wrong credentials are never
//! cached: each costs a full bcrypt, and an unknown user costs the same as a known one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use base64::Engine;
use ring::hmac;

/// Most remembered credentials; beyond, the cache starts again (scrapers use one or two).
const CACHE_MAX: usize = 64;

pub struct Users {
    hashes: BTreeMap<String, String>,
    key: hmac::Key,
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Credentials as sent in `Authorization: Basic …`.
pub struct Credentials {
    pub user: String,
    pub password: Vec<u8>,
}

impl Users {
    /// Checks every hash; the error names the user whose hash is wrong.
    pub fn new(users: &BTreeMap<String, String>) -> Result<Users, String> {
        for (user, hash) in users {
            if user.is_empty() {
                return Err("basic_auth_users: empty user name".into());
            }
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users.{user}: a user name cannot contain `:` in basic auth"
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(format!(
                    "basic_auth_users.{user}: not a bcrypt hash (like $2y$10$…, 60 \
                     characters): make one with `htpasswd -nBC 10 {user}` and keep the part \
                     after the colon"
                ));
            }
        }
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "basic_auth_users: no randomness for the credential cache".to_owned())?;
        Ok(Users {
            hashes: users.clone(),
            key,
            verified: Mutex::new(HashSet::new()),
        })
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    fn tag(&self, c: &Credentials) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(&(c.user.len() as u64).to_be_bytes());
        ctx.update(c.user.as_bytes());
        ctx.update(&c.password);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Whether these credentials verified before (cheap: no bcrypt).
    pub fn remembered(&self, c: &Credentials) -> bool {
        let tag = self.tag(c);
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&tag)
    }

    /// Verifies with bcrypt (slow: run it off the async workers) and remembers a success.
    pub fn verify(&self, c: &Credentials) -> bool {
        // An unknown user is checked against another user's hash, so that the time taken does
        // not tell which user names exist.
        let (known, hash) = match self.hashes.get(&c.user) {
            Some(h) => (true, h),
            None => match self.hashes.values().next() {
                Some(h) => (false, h),
                None => return false,
            },
        };
        let ok = bcrypt::verify(&c.password, hash).unwrap_or(false) && known;
        if ok {
            let tag = self.tag(c);
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(tag);
        }
        ok
    }
}

/// The credentials of an `Authorization` header value, if it is well-formed basic auth.
pub fn parse_basic(header: &[u8]) -> Option<Credentials> {
    let header = std::str::from_utf8(header).ok()?.trim();
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(raw.get(..colon)?.to_vec()).ok()?;
    let password = raw.get(colon + 1..)?.to_vec();
    Some(Credentials { user, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        let mut m = BTreeMap::new();
        m.insert("alice".to_owned(), bcrypt::hash("right", 4).unwrap());
        m.insert("bob".to_owned(), bcrypt::hash("other", 4).unwrap());
        Users::new(&m).unwrap()
    }

    fn creds(user: &str, pw: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: pw.into(),
        }
    }

    #[test]
    fn right_wrong_unknown() {
        let u = users();
        assert!(!u.remembered(&creds("alice", "right")));
        assert!(u.verify(&creds("alice", "right")));
        assert!(u.remembered(&creds("alice", "right")));
        assert!(!u.verify(&creds("alice", "wrong")));
        assert!(!u.remembered(&creds("alice", "wrong")));
        // Bob's password is not Alice's.
        assert!(!u.verify(&creds("alice", "other")));
        assert!(!u.verify(&creds("carol", "right")));
        assert!(!u.verify(&creds("", "")));
        // The tag binds user and password together: no shifting of bytes between them.
        assert_ne!(u.tag(&creds("ab", "c")), u.tag(&creds("a", "bc")));
    }

    #[test]
    fn cache_is_bounded() {
        let mut m = BTreeMap::new();
        m.insert("u".to_owned(), bcrypt::hash("pw", 4).unwrap());
        let u = Users::new(&m).unwrap();
        for _ in 0..3 {
            assert!(u.verify(&creds("u", "pw")));
        }
        // Only successes enter it; wrong guesses never grow it.
        for i in 0..10 {
            assert!(!u.verify(&creds("u", &format!("guess{i}"))));
        }
        assert_eq!(u.verified.lock().unwrap().len(), 1);
    }

    #[test]
    fn basic_header() {
        let c = parse_basic(b"Basic YWxpY2U6cmk6Z2h0").unwrap(); // alice:ri:ght
        assert_eq!(
            (c.user.as_str(), c.password.as_slice()),
            ("alice", &b"ri:ght"[..])
        );
        assert!(parse_basic(b"basic YWxpY2U6").is_some());
        for bad in [
            &b"Bearer abc"[..],
            b"Basic",
            b"Basic !!!",
            b"Basic YWxpY2U=", // no colon
            b"\xff\xfe",
        ] {
            assert!(parse_basic(bad).is_none(), "{bad:?}");
        }
    }
}
