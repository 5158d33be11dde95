#![allow(clippy::unwrap_used)]

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limits(max: usize, per_client: usize, exempt: &[&str]) -> Limits {
    Limits::new(
        max,
        per_client,
        exempt.iter().map(|n| net(n).unwrap()).collect(),
    )
    .unwrap()
}

fn admit_n(a: &Arc<Admission>, from: &str, n: usize, l: &Limits) -> Vec<Ticket> {
    (0..n)
        .map(|_| a.admit(ip(from), l).ok().unwrap().ticket)
        .collect()
}

fn refused(a: &Admission) -> [u64; 2] {
    a.refused().map(|(_, n)| n)
}

#[test]
fn one_address_is_held_to_its_share_and_others_still_get_in() {
    let a = Arc::new(Admission::default());
    let l = limits(8, 3, &[]);
    let _held = admit_n(&a, "127.0.0.2", 3, &l);
    assert_eq!(a.admit(ip("127.0.0.2"), &l).err(), Some(Reason::PerClient));
    assert!(a.admit(ip("127.0.0.1"), &l).is_ok());
    assert_eq!(refused(&a), [1, 0]);
}

#[test]
fn a_slot_is_given_back_when_its_connection_ends() {
    let a = Arc::new(Admission::default());
    let l = limits(8, 2, &[]);
    let mut held = admit_n(&a, "127.0.0.2", 2, &l);
    held.pop();
    assert_eq!(a.held(), 1);
    assert!(a.admit(ip("127.0.0.2"), &l).is_ok());
}

#[test]
fn when_full_the_biggest_holder_makes_room_for_a_small_one() {
    let a = Arc::new(Admission::default());
    let l = limits(4, 3, &[]);
    let big = admit_n(&a, "127.0.0.2", 3, &l);
    let _one = admit_n(&a, "127.0.0.3", 1, &l);
    let t = a.admit(ip("127.0.0.1"), &l).ok().unwrap();
    assert_eq!(a.held(), 4, "the bound still holds");
    assert_eq!(refused(&a), [0, 1]);
    // The oldest connection of the biggest holder was told to close; its end frees nothing twice
    // and tells the accept loop it is gone.
    let mut big = big.into_iter();
    let evicted = big.next().unwrap();
    poll_ready(evicted.evicted());
    drop(evicted);
    poll_ready(t.evicted.unwrap().closed());
    drop(big);
    drop(t.ticket);
    assert_eq!(a.held(), 1);
}

/// Polls a future once without a runtime: it must be ready.
fn poll_ready(f: impl std::future::Future<Output = ()>) {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    assert!(f.as_mut().poll(&mut cx).is_ready(), "not evicted");
}

#[test]
fn equal_holders_do_not_close_each_other() {
    let a = Arc::new(Admission::default());
    let l = limits(4, 4, &[]);
    let _t: Vec<_> = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
        .iter()
        .map(|s| a.admit(ip(s), &l).ok().unwrap().ticket)
        .collect();
    assert_eq!(a.admit(ip("127.0.0.1"), &l).err(), Some(Reason::Global));
    assert_eq!(refused(&a), [0, 1]);
}

#[test]
fn a_connection_being_answered_is_never_closed_to_make_room() {
    let a = Arc::new(Admission::default());
    let l = limits(3, 3, &[]);
    let big = admit_n(&a, "127.0.0.2", 3, &l);
    let _busy: Vec<Busy> = big.iter().map(Ticket::busy).collect();
    assert_eq!(a.admit(ip("127.0.0.1"), &l).err(), Some(Reason::Global));
    drop(_busy);
    assert!(a.admit(ip("127.0.0.1"), &l).is_ok());
}

#[test]
fn exempt_addresses_pass_the_share_evict_anyone_and_have_a_reserve() {
    let a = Arc::new(Admission::default());
    let l = limits(2, 1, &["10.0.0.0/8", "2001:db8::1"]);
    let mut prom = admit_n(&a, "10.1.2.3", 2, &l);
    // Full with exempt connections only: a stranger is refused, Prometheus uses the reserve.
    assert_eq!(a.admit(ip("127.0.0.2"), &l).err(), Some(Reason::Global));
    prom.extend(admit_n(&a, "10.1.2.3", EXEMPT_RESERVE, &l));
    assert_eq!(a.admit(ip("10.1.2.3"), &l).err(), Some(Reason::Global));
    drop(prom);
    // Two strangers holding one each: an exempt newcomer closes one of them.
    let _s = (
        admit_n(&a, "127.0.0.2", 1, &l),
        admit_n(&a, "127.0.0.3", 1, &l),
    );
    let _p = a.admit(ip("2001:db8::1"), &l).ok().unwrap();
    assert_eq!(a.held(), 2);
    assert_eq!(
        refused(&a),
        [0, 3],
        "two turned away, one closed to make room"
    );
}

#[test]
fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
    let a = Arc::new(Admission::default());
    let l = limits(8, 2, &[]);
    let _t = admit_n(&a, "2001:db8:1:2::1", 1, &l);
    let _u = admit_n(&a, "2001:db8:1:2:ffff::9", 1, &l);
    assert_eq!(
        a.admit(ip("2001:db8:1:2::77"), &l).err(),
        Some(Reason::PerClient)
    );
    assert!(a.admit(ip("2001:db8:1:3::1"), &l).is_ok());
    let _v = admit_n(&a, "127.0.0.9", 2, &l);
    assert_eq!(
        a.admit(ip("::ffff:127.0.0.9"), &l).err(),
        Some(Reason::PerClient)
    );
    assert_eq!(
        Client::of(ip("2001:db8:1:2::1")).to_string(),
        "2001:db8:1:2::/64"
    );
}

#[test]
fn limits_are_checked() {
    assert!(Limits::new(0, 1, vec![]).is_err());
    assert!(Limits::new(5000, 1, vec![]).is_err());
    let e = Limits::new(10, 11, vec![]).unwrap_err();
    assert!(e.contains("connection_limits.per_client"), "{e}");
    assert!(Limits::new(10, 10, vec![]).is_ok());
}

#[test]
fn refusals_are_logged_at_most_once_a_minute_and_all_counted() {
    let a = Arc::new(Admission::default());
    let l = limits(8, 1, &[]);
    let _t = admit_n(&a, "127.0.0.2", 1, &l);
    for _ in 0..3 {
        assert_eq!(a.admit(ip("127.0.0.2"), &l).err(), Some(Reason::PerClient));
    }
    assert_eq!(refused(&a), [3, 0]);
    // The first was logged; the next two wait for the next message, a minute later at least.
    let u = a.unlogged.lock().unwrap();
    assert_eq!(u.counts, [2, 0]);
    assert!(u.last_logged.is_some());
}
