//! Waiting for the next request awake, for a moment after each reply, while requests come in bursts.
//!
//! A FUSE round trip wakes a sleeping daemon thread, and the scheduler puts it on an idle CPU: on a virtual machine
//! that CPU is halted, and waking it costs more than the request (measured here: an ioctl round trip takes 11 µs
//! with the caller and the daemon on one CPU, 66 µs on two). A program doing one system call after another (`cp -r`,
//! `tar x`, a build) gives the daemon a few tens of microseconds between a reply and its next request, so a thread
//! that stays awake for that long picks the request up without any wake-up. How long it stays awake adapts as
//! haltpoll's does: the window grows while requests come just after it closed, shrinks when they come later, and is
//! zero for a mount that is idle or used now and then, so an idle daemon never polls. It yields its CPU at every
//! turn, so anything runnable there goes first; the polling still costs CPU time (15–25% more of the daemon's during
//! 10,000 creates, for 20% less elapsed time; see the README's Benchmarks).
//!
//! `SPACEFS_POLL_US` sets the longest window (default 200, as haltpoll's; 0 turns polling off), for measuring what
//! it gains.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The window a burst starts with.
const START: Duration = Duration::from_micros(25);
/// Below this, a shrinking window closes.
const MIN: Duration = Duration::from_micros(5);

/// The longest window: requests further apart than this are not a burst.
fn longest() -> Duration {
    static LONGEST: OnceLock<Duration> = OnceLock::new();
    *LONGEST.get_or_init(|| {
        let us = std::env::var("SPACEFS_POLL_US").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
        Duration::from_micros(us)
    })
}

/// One thread's window and how its last one went.
#[derive(Clone, Copy)]
struct Window {
    length: Duration,
    /// When this thread last replied, and whether a request came while it polled.
    last: Option<(Instant, bool)>,
}

thread_local! {
    static WINDOW: Cell<Window> = const { Cell::new(Window { length: Duration::ZERO, last: None }) };
}

/// The FUSE device the requests arrive on, shared by the file system's threads (set once the session exists).
#[derive(Clone)]
pub struct Device(Arc<AtomicI32>);

impl Default for Device {
    /// No device yet (-1): nothing is polled until `set`.
    fn default() -> Device {
        Device::new()
    }
}

impl Device {
    pub fn new() -> Device {
        Device(Arc::new(AtomicI32::new(-1)))
    }

    /// The session's device: any of its clones shows the one queue of pending requests.
    pub fn set(&self, fd: RawFd) {
        self.0.store(fd, Ordering::Relaxed);
    }

    /// Call when a request arrives; the guard polls, when dropped, after the reply was sent.
    pub fn request(&self) -> AfterReply<'_> {
        WINDOW.with(|cell| {
            let mut window = cell.get();
            if let Some((replied, false)) = window.last {
                window.length = next_length(window.length, replied.elapsed(), longest());
                window.last = None;
                cell.set(window);
            }
        });
        AfterReply(self)
    }

    fn poll_after_reply(&self) {
        let fd = self.0.load(Ordering::Relaxed);
        let replied = Instant::now();
        let mut window = WINDOW.with(Cell::get);
        let came = fd >= 0 && !window.length.is_zero() && wait_awake(fd, replied, window.length);
        window.last = Some((replied, came));
        WINDOW.with(|cell| cell.set(window));
    }
}

/// The window after one that closed `gap` before the next request came: wider if the request was part of a burst
/// (it came within `longest`), narrower if not, and closed once it is narrower than `MIN`.
fn next_length(length: Duration, gap: Duration, longest: Duration) -> Duration {
    if gap <= longest {
        (length * 2).clamp(START.min(longest), longest)
    } else if length / 2 >= MIN {
        length / 2
    } else {
        Duration::ZERO
    }
}

/// Polls `fd` until a request is pending (or the connection ends) or `length` has passed since `from`.
fn wait_awake(fd: RawFd, from: Instant, length: Duration) -> bool {
    loop {
        let mut pending = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: poll on one valid pollfd, without waiting; the device outlives the session's threads.
        if unsafe { libc::poll(&mut pending, 1, 0) } != 0 {
            return true;
        }
        if from.elapsed() >= length {
            return false;
        }
        // Anything runnable on this CPU (the caller itself, the writer) goes first.
        // SAFETY: no arguments; it cannot fail on Linux.
        unsafe { libc::sched_yield() };
    }
}

/// Polls for the next request when dropped: at the end of a request's handler, after its reply.
pub struct AfterReply<'a>(&'a Device);

impl Drop for AfterReply<'_> {
    fn drop(&mut self) {
        self.0.poll_after_reply();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    const LONGEST: Duration = Duration::from_micros(100);

    #[test]
    fn the_window_opens_for_a_burst_and_closes_when_requests_stop_coming_soon() {
        // Requests 60 µs apart: the window grows until it covers the gap, and no further than the longest.
        let mut length = Duration::ZERO;
        let mut lengths = Vec::new();
        for _ in 0..4 {
            length = next_length(length, Duration::from_micros(60), LONGEST);
            lengths.push(length.as_micros());
        }
        assert_eq!(lengths, [25, 50, 100, 100]);
        // Then requests a millisecond apart: it halves at each one and closes.
        let mut closed_after = 0;
        while !length.is_zero() {
            length = next_length(length, Duration::from_millis(1), LONGEST);
            closed_after += 1;
        }
        assert_eq!(closed_after, 5, "100, 50, 25, 12, 6 µs, then closed");
        // Polling turned off stays off, whatever the gaps.
        assert_eq!(next_length(Duration::ZERO, Duration::from_micros(1), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn polling_ends_when_something_arrives_or_the_window_closes() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let start = Instant::now();
        assert!(!wait_awake(reader.as_raw_fd(), start, Duration::from_micros(200)));
        assert!(start.elapsed() >= Duration::from_micros(200));
        writer.write_all(b"x").unwrap();
        assert!(wait_awake(reader.as_raw_fd(), Instant::now(), Duration::from_secs(3600)));
    }
}
