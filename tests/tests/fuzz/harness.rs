//! The harness every target runs in: memory accounting (the counting allocator), the watchdog
//! and memory bounds, the corpus, the case counts and the proptest runner.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use std::fmt::Debug;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Counts every byte the process holds, and the peak since the last [`memory::start`].
pub mod memory {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    pub struct Counting;

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    fn grew(n: usize) {
        let now = LIVE.fetch_add(n, Relaxed) + n;
        PEAK.fetch_max(now, Relaxed);
    }

    fn shrank(n: usize) {
        LIVE.fetch_sub(n, Relaxed);
    }

    // A global allocator cannot be written without `unsafe`; this one only forwards to the
    // system allocator and counts.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc` is passed on unchanged.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation is).
            unsafe { System.dealloc(ptr, layout) };
            shrank(layout.size());
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`; the caller guarantees `new_size` is valid.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                if new_size >= layout.size() {
                    grew(new_size - layout.size());
                } else {
                    shrank(layout.size() - new_size);
                }
            }
            p
        }
    }

    /// Starts a measurement: the bytes held now.
    pub fn start() -> usize {
        let live = LIVE.load(Relaxed);
        PEAK.store(live, Relaxed);
        live
    }

    /// The most held above `base` since [`start`].
    pub fn peak_since(base: usize) -> usize {
        PEAK.load(Relaxed).saturating_sub(base)
    }
}

const MIB: usize = 1024 * 1024;

/// Longest one input may take. The slowest legitimate input (a signed seed through the full
/// pre-flight in a debug build) takes well under 100 ms; 5 s means a hang, even on a loaded
/// 2-core CI machine.
pub const WATCHDOG: Duration = Duration::from_secs(5);
/// Opening a `$NACL` wallet runs bittensor-wallet's Argon2i over 512 MiB: about 3 s by design.
pub const NACL_WATCHDOG: Duration = Duration::from_secs(30);

/// Memory bounds, above what the process held before the input.
///
/// Parsers of headers, JSON bodies (at most `BODY_LIMIT` = 1 MiB) and admin requests need a few
/// MiB; 64 MiB leaves room for sled's and tokio's buffers and flags anything that grows with a
/// claimed length rather than the real one.
pub const SMALL_INPUT_BOUND: usize = 64 * MIB;
/// Media: the pre-flight declares its own bound, `max_alloc` = 1 GiB for a decode, and refuses
/// pictures over PIL's decompression-bomb limit (178,956,970 pixels) before decoding. The
/// biggest header claim it lets through costs 854 MiB as a GIF (canvas and frame) and 683 MiB
/// as 8-bit RGBA; a legitimate 4K result costs 64 MiB. Anything over 1 GiB is a claim that was
/// believed past the pre-flight's own limit.
pub const MEDIA_BOUND: usize = 1024 * MIB;
/// `$NACL` wallets are opened with bittensor-wallet's Argon2i parameters: 512 MiB by design.
pub const NACL_BOUND: usize = 512 * MIB + SMALL_INPUT_BOUND;

/// The fuzz targets share one process and the allocator's peak: they take turns.
static TURN: Mutex<()> = Mutex::new(());

pub fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on its own thread: fails if it panics (the panic is passed on, so proptest
/// shrinks it), takes longer than [`WATCHDOG`], or holds more than `bound` bytes at its peak.
pub fn guarded<T: Send + 'static>(
    what: &str,
    bound: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    guarded_within(what, bound, WATCHDOG, f)
}

/// [`guarded`] with its own deadline, for the one input whose cost is set by design.
pub fn guarded_within<T: Send + 'static>(
    what: &str,
    bound: usize,
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let base = memory::start();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let worker = std::thread::Builder::new()
        .name(format!("fuzz {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a fuzz worker");
    let started = Instant::now();
    match rx.recv_timeout(deadline) {
        Ok(out) => {
            let _ = worker.join();
            let peak = memory::peak_since(base);
            if std::env::var_os("GAS_FUZZ_VERBOSE").is_some() {
                eprintln!(
                    "{what}: {} ms, peak {:.1} MiB",
                    started.elapsed().as_millis(),
                    peak as f64 / MIB as f64
                );
            }
            assert!(
                peak <= bound,
                "{what}: held {} MiB at its peak (bound {} MiB)",
                peak / MIB,
                bound / MIB
            );
            out
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "{what}: still running after {} s (a hang)",
                deadline.as_secs()
            )
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker ended without an answer or a panic"),
        },
    }
}

/// Every file of `tests/fuzz/corpus/<target>/`, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("read a corpus file");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

/// Generated cases per target by default: all together about 15 s in a debug build on 2 cores
/// (the CI run). `GAS_FUZZ_CASES` replaces every one of them.
pub struct Cases {
    pub epistula: u32,
    pub challenge: u32,
    pub challenge_params: u32,
    pub admin: u32,
    pub admin_messages: u32,
    pub wallet: u32,
    pub addresses: u32,
    pub media: u32,
}

pub const CASES: Cases = Cases {
    epistula: 1000,
    challenge: 1000,
    challenge_params: 1000,
    admin: 1000,
    admin_messages: 2000,
    wallet: 1000,
    addresses: 5000,
    media: 1000,
};

/// Below this many cases a target does not check how deep its inputs got (too few to judge).
pub const COVERAGE_CASES: usize = 500;

/// Generated cases per target: `GAS_FUZZ_CASES`, else the target's default.
pub fn cases(default: u32) -> u32 {
    std::env::var("GAS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `GAS_FUZZ_SEED`, else a fresh seed (printed with any failure, to replay it).
fn seed() -> u64 {
    std::env::var("GAS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        })
}

/// Runs `test` on `cases` inputs drawn from `strategy`; a failure is shrunk and reported with
/// the seed that replays it.
pub fn fuzz<S>(target: &str, default_cases: u32, strategy: S, test: impl Fn(S::Value))
where
    S: Strategy,
    S::Value: Debug,
{
    let seed = seed();
    let cases = cases(default_cases);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_time: 60_000,
        max_shrink_iters: 512,
        ..Config::default()
    });
    let started = Instant::now();
    match runner.run(&strategy, |input| {
        test(input);
        Ok(())
    }) {
        Ok(()) => eprintln!(
            "fuzz {target}: {cases} cases in {:.1} s (GAS_FUZZ_SEED={seed})",
            started.elapsed().as_secs_f64()
        ),
        Err(TestError::Fail(why, input)) => panic!(
            "fuzz {target} failed: {why}\nsmallest input: {input:?}\nreplay with GAS_FUZZ_SEED={seed} GAS_FUZZ_CASES={cases}"
        ),
        Err(TestError::Abort(why)) => panic!("fuzz {target} aborted: {why} (GAS_FUZZ_SEED={seed})"),
    }
}
