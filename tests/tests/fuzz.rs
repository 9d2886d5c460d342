//! Fuzzing (issue 8): everything the miner reads from outside — Epistula headers, the challenge
//! JSON, the admin protocol, wallet files, and the media pre-flight — fed hostile input: no
//! panic, no hang, bounded memory, and the right answer (refused with a reason, or accepted
//! exactly when it should be).
//!
//! Each target first replays every file of its corpus (`tests/fuzz/corpus/<target>/`: hand-made
//! malformed cases and regressions), then runs proptest mutations of valid seeds and of the
//! corpus. Every input runs on its own thread under a watchdog ([`WATCHDOG`]) with a counting
//! global allocator measuring its peak. `GAS_FUZZ_CASES` sets the generated cases per target,
//! `GAS_FUZZ_SEED` replays a run; `bench/fuzz.sh` runs long. See `tests/fuzz/README.md`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use gas_miner::chain::{Metagraph, MetagraphCache, Neuron};
use gas_miner::epistula::{self, ReplayCache, Verifier, sha256_hex, sign_headers};
use gas_miner::identity::{self, Hotkey, IdentityError, decode_hex, ss58_decode, ss58_encode};
use gas_miner::preflight::media::{decode_image, probe_video, synthetic_mp4};
use gas_miner::preflight::signer::{Claim, Holder, TestCa};
use gas_miner::preflight::{self, Preflight};
use gas_miner::providers::params::{Params, nearest_ratio, parse_ratio};
use gas_miner::providers::{Generated, Job, Plan, Provider, ProviderError, Tuning};
use gas_miner::store::{Store, TaskRecord};
use gas_shared::admin::*;
use gas_shared::{Modality, Tier};
use http_body_util::BodyExt;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};
use serde_json::{Value, json};
use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The harness: memory accounting, the watchdog, the corpus, the runner and the mutations.
// ---------------------------------------------------------------------------------------------

/// Counts every byte the process holds, and the peak since the last [`memory::start`].
mod memory {
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

#[global_allocator]
static ALLOCATOR: memory::Counting = memory::Counting;

const MIB: usize = 1024 * 1024;

/// Longest one input may take. The slowest legitimate input (a signed seed through the full
/// pre-flight in a debug build) takes well under 100 ms; 5 s means a hang, even on a loaded
/// 2-core CI machine.
const WATCHDOG: Duration = Duration::from_secs(5);
/// Opening a `$NACL` wallet runs bittensor-wallet's Argon2i over 512 MiB: about 3 s by design.
const NACL_WATCHDOG: Duration = Duration::from_secs(30);

/// Memory bounds, above what the process held before the input.
///
/// Parsers of headers, JSON bodies (at most `BODY_LIMIT` = 1 MiB) and admin requests need a few
/// MiB; 64 MiB leaves room for sled's and tokio's buffers and flags anything that grows with a
/// claimed length rather than the real one.
const SMALL_INPUT_BOUND: usize = 64 * MIB;
/// Media: the pre-flight declares its own bound, `max_alloc` = 1 GiB for a decode, and refuses
/// pictures over PIL's decompression-bomb limit (178,956,970 pixels) before decoding. The
/// biggest header claim it lets through costs 854 MiB as a GIF (canvas and frame) and 683 MiB
/// as 8-bit RGBA; a legitimate 4K result costs 64 MiB. Anything over 1 GiB is a claim that was
/// believed past the pre-flight's own limit.
const MEDIA_BOUND: usize = 1024 * MIB;
/// `$NACL` wallets are opened with bittensor-wallet's Argon2i parameters: 512 MiB by design.
const NACL_BOUND: usize = 512 * MIB + SMALL_INPUT_BOUND;

/// The fuzz targets share one process and the allocator's peak: they take turns.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on its own thread: fails if it panics (the panic is passed on, so proptest
/// shrinks it), takes longer than [`WATCHDOG`], or holds more than `bound` bytes at its peak.
fn guarded<T: Send + 'static>(
    what: &str,
    bound: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    guarded_within(what, bound, WATCHDOG, f)
}

/// [`guarded`] with its own deadline, for the one input whose cost is set by design.
fn guarded_within<T: Send + 'static>(
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
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
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
struct Cases {
    epistula: u32,
    challenge: u32,
    challenge_params: u32,
    admin: u32,
    admin_messages: u32,
    wallet: u32,
    addresses: u32,
    media: u32,
}

const CASES: Cases = Cases {
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
const COVERAGE_CASES: usize = 500;

/// Generated cases per target: `GAS_FUZZ_CASES`, else the target's default.
fn cases(default: u32) -> u32 {
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
fn fuzz<S>(target: &str, default_cases: u32, strategy: S, test: impl Fn(S::Value))
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

/// One change to a byte string. Positions are taken modulo the length, so every mutation
/// applies to every input and shrinks towards the start.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Byte {
        at: usize,
        value: u8,
    },
    Cut {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    Repeat {
        at: usize,
        len: usize,
        times: u8,
    },
    /// Overwrites a length or dimension field: `width` bytes at `offset` from the `anchor`-th
    /// tag (four ASCII letters: an MP4 box type, a PNG chunk type, `VP8X`) or JPEG marker.
    Field {
        anchor: usize,
        offset: i8,
        width: u8,
        big_endian: bool,
        value: u64,
    },
}

/// Where structure starts: box and chunk types, JPEG markers, EBML ids.
fn anchors(b: &[u8]) -> Vec<usize> {
    let tag = |w: &[u8]| w.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ');
    let mut out: Vec<usize> = b
        .windows(4)
        .enumerate()
        .filter(|(_, w)| tag(w) || (w[0] == 0xFF && (0xC0..0xFF).contains(&w[1])))
        .map(|(i, _)| i)
        .collect();
    // EBML ids: the WebM header and Segment.
    for id in [[0x1A, 0x45, 0xDF, 0xA3], [0x18, 0x53, 0x80, 0x67]] {
        out.extend(
            b.windows(4)
                .enumerate()
                .filter(|(_, w)| *w == id)
                .map(|(i, _)| i),
        );
    }
    out
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let n = b.len();
        match m {
            Mutation::Flip { at, bit } if n > 0 => b[at % n] ^= 1 << (bit % 8),
            Mutation::Byte { at, value } if n > 0 => b[at % n] = *value,
            Mutation::Cut { at } => b.truncate(at % (n + 1)),
            Mutation::Insert { at, bytes } => {
                let at = at % (n + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, len } if n > 0 => {
                let at = at % n;
                b.drain(at..(at + len).min(n));
            }
            Mutation::Repeat { at, len, times } if n > 0 => {
                let at = at % n;
                let chunk = b[at..(at + len).min(n)].to_vec();
                for _ in 0..*times {
                    b.splice(at..at, chunk.iter().copied());
                }
            }
            Mutation::Field {
                anchor,
                offset,
                width,
                big_endian,
                value,
            } => {
                let found = anchors(&b);
                if found.is_empty() {
                    continue;
                }
                let at = found[anchor % found.len()] as i64 + i64::from(*offset);
                let width = usize::from(*width).clamp(1, 8);
                let bytes = if *big_endian {
                    value.to_be_bytes()[8 - width..].to_vec()
                } else {
                    value.to_le_bytes()[..width].to_vec()
                };
                if at >= 0 && at as usize + width <= b.len() {
                    let at = at as usize;
                    b[at..at + width].copy_from_slice(&bytes);
                }
            }
            _ => {}
        }
    }
    b
}

/// Values that break length and size arithmetic.
fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => select(vec![
            0u64,
            1,
            2,
            7,
            8,
            9,
            15,
            16,
            0x7F,
            0x80,
            0xFF,
            0x100,
            0x3FFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            16_383,
            16_384,
            16_385,
            100_000,
            0xFF_FFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x1_0000_0000,
            i64::MAX as u64,
            u64::MAX,
        ]),
        1 => any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
        1 => any::<usize>().prop_map(|at| Mutation::Cut { at }),
        1 => (any::<usize>(), vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        1 => (any::<usize>(), 1usize..64, 1u8..8)
            .prop_map(|(at, len, times)| Mutation::Repeat { at, len, times }),
        4 => (
            any::<usize>(),
            -8i8..16,
            select(vec![1u8, 2, 3, 4, 8]),
            any::<bool>(),
            interesting_u64()
        )
            .prop_map(|(anchor, offset, width, big_endian, value)| Mutation::Field {
                anchor,
                offset,
                width,
                big_endian,
                value,
            }),
    ]
}

/// Mostly one change (an input that is nearly valid gets deepest), sometimes several.
fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![
        2 => vec(mutation(), 1..2),
        1 => vec(mutation(), 2..max.max(3)),
    ]
}

/// Arbitrary JSON, nested a few levels, with the keys the miner looks for mixed in.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        interesting_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "prompt", "parameters", "resolution", "model", "seed", "duration", "seconds",
            "aspect_ratio", "ratio", "width", "height", "size", "quality", "generate_audio",
            "negative_prompt", "format", "image", "video", "reset", "secretPhrase", "secretSeed",
            "privateKey", "publicKey", "ss58Address", "accountId", "type",
        ])
        .prop_map(str::to_string),
        1 => interesting_text(),
    ]
}

/// Text that trips parsers: numbers at the edges, unit suffixes, ratios, tiers, Unicode,
/// whitespace and long runs.
fn interesting_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "", " ", "0", "-1", "1e309", "NaN", "inf", "-inf", "6s", "16:9", "0:0", "1:0",
            "-16:9", "1e308:1e-308", "16x9x4", "1K", "2k", "4K", "480p", "720P", "1080p", "8K",
            "true", "yes", "no", "none", "null", "openai", "runway", "sd3.5-large", "sora-2",
            "9223372036854775807", "-9223372036854775808", "18446744073709551616", "0x10",
            "\u{0}", "é", "🦀", "\u{202e}", "\r\n",
        ])
        .prop_map(str::to_string),
        2 => any::<String>(),
        1 => ("[a-z0-9:x ]{0,3}", 1usize..3000).prop_map(|(s, n)| s.repeat(n.min(3000 / s.len().max(1)))),
    ]
}

/// A JSON edit somewhere in a document: the `nth` node (pre-order) replaced, removed, or given
/// a new member.
#[derive(Debug, Clone)]
enum JsonEdit {
    Replace {
        nth: usize,
        with: Value,
    },
    Remove {
        nth: usize,
    },
    Insert {
        nth: usize,
        key: String,
        with: Value,
    },
    /// A new value of the same kind (text for text, a number for a number): the document
    /// keeps its shape, so it gets past the parser to the values' own limits.
    Same {
        nth: usize,
        text: String,
        number: serde_json::Number,
    },
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        3 => (any::<usize>(), json_value()).prop_map(|(nth, with)| JsonEdit::Replace { nth, with }),
        1 => any::<usize>().prop_map(|nth| JsonEdit::Remove { nth }),
        1 => (any::<usize>(), json_key(), json_value())
            .prop_map(|(nth, key, with)| JsonEdit::Insert { nth, key, with }),
        3 => (any::<usize>(), interesting_text(), interesting_number())
            .prop_map(|(nth, text, number)| JsonEdit::Same { nth, text, number }),
    ]
}

/// Numbers at the edges of the integer types and of f64.
fn interesting_number() -> impl Strategy<Value = serde_json::Number> {
    prop_oneof![
        interesting_u64().prop_map(serde_json::Number::from),
        select(vec![-1i64, i64::MIN, -65_536, i64::from(i32::MIN)])
            .prop_map(serde_json::Number::from),
        select(vec![0.5, -0.0, 1e308, -1e308, 5e-324, 65_535.5])
            .prop_filter_map("finite", serde_json::Number::from_f64),
    ]
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn edit_json(doc: &Value, edit: &JsonEdit) -> Value {
    /// Applies `f` to the node numbered `*left` (counting down), pre-order.
    fn visit(v: &mut Value, left: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
        if *left == 0 {
            f(v);
            return true;
        }
        *left -= 1;
        match v {
            Value::Array(a) => a.iter_mut().any(|c| visit(c, left, f)),
            Value::Object(o) => o.values_mut().any(|c| visit(c, left, f)),
            _ => false,
        }
    }
    let mut out = doc.clone();
    let n = count_nodes(&out);
    match edit {
        JsonEdit::Replace { nth, with } => {
            visit(&mut out, &mut (nth % n), &mut |v| *v = with.clone());
        }
        JsonEdit::Remove { nth } => {
            // Removing the node means removing it from its parent: blank a member instead.
            visit(&mut out, &mut (nth % n), &mut |v| match v {
                Value::Object(o) => {
                    let first = o.keys().next().cloned();
                    if let Some(k) = first {
                        o.remove(&k);
                    }
                }
                Value::Array(a) => {
                    a.pop();
                }
                other => *other = Value::Null,
            });
        }
        JsonEdit::Insert { nth, key, with } => {
            visit(&mut out, &mut (nth % n), &mut |v| {
                if let Value::Object(o) = v {
                    o.insert(key.clone(), with.clone());
                }
            });
        }
        JsonEdit::Same { nth, text, number } => {
            visit(&mut out, &mut (nth % n), &mut |v| match v {
                Value::String(s) => *s = text.clone(),
                Value::Number(x) => *x = number.clone(),
                Value::Bool(b) => *b = !*b,
                _ => {}
            });
        }
    }
    out
}

/// Whether `text` shows any 8-character piece of `secret` (a leak, however partial).
fn leaks(text: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(8)
        .any(|w| text.contains(&w.iter().collect::<String>()))
}

// ---------------------------------------------------------------------------------------------
// Target 1: Epistula headers.
// ---------------------------------------------------------------------------------------------

struct Keys {
    miner: Hotkey,
    validator: Hotkey,
    outsider: Hotkey,
    graph: Metagraph,
}

fn keys() -> Arc<Keys> {
    static KEYS: OnceLock<Arc<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let miner = gas_tests::key(gas_tests::MINER_PHRASE);
        let validator = gas_tests::key(gas_tests::VALIDATOR_PHRASE);
        let outsider = gas_tests::key(gas_tests::OUTSIDER_PHRASE);
        let graph = Metagraph::new(
            34,
            vec![
                Neuron {
                    uid: 0,
                    hotkey: validator.ss58().to_string(),
                    stake: 50_000.0,
                    validator_permit: true,
                    axon: None,
                },
                Neuron {
                    uid: 1,
                    hotkey: miner.ss58().to_string(),
                    stake: 0.0,
                    validator_permit: false,
                    axon: None,
                },
            ],
        );
        Arc::new(Keys {
            miner,
            validator,
            outsider,
            graph,
        })
    })
    .clone()
}

/// The headers an Epistula request carries, lowercase, in the order edits refer to them.
const EPISTULA_HEADERS: [&str; 7] = [
    epistula::H_VERSION,
    epistula::H_TIMESTAMP,
    epistula::H_UUID,
    epistula::H_SIGNED_BY,
    epistula::H_SIGNED_FOR,
    epistula::H_SIGNATURE,
    "epistula-secret-signature-0",
];

/// One change to a freshly signed header set.
#[derive(Debug, Clone)]
enum HeaderEdit {
    Remove(usize),
    Set(usize, Vec<u8>),
    Mutate(usize, Vec<Mutation>),
    /// A second value under the same name (the verifier reads the first).
    Append(usize, Vec<u8>),
    /// The body changed after signing.
    Body(Vec<Mutation>),
}

fn odd_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(vec![
            "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "-9223372036854760808", "+1", "++1", " 1 ", "0", "-0", "1e3", "0x10", "1.5",
            "99999999999999999999999999999", "2", "1", "", " ", "0x", "0x0", "0xzz",
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV",
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzW",
            "1111111111111111111111111111111111111111111111111",
            "00000000-0000-0000-0000-000000000000", "{00000000-0000-0000-0000-000000000000}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => vec(any::<u8>(), 0..80),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => (any::<u8>(), 1usize..65_536).prop_map(|(b, n)| vec![b'a' + b % 26; n]),
        1 => vec(select(b"0123456789abcdefABCDEFx".to_vec()), 0..140),
    ]
}

fn header_edit() -> impl Strategy<Value = HeaderEdit> {
    let which = 0..EPISTULA_HEADERS.len();
    prop_oneof![
        1 => which.clone().prop_map(HeaderEdit::Remove),
        3 => (which.clone(), odd_value()).prop_map(|(i, v)| HeaderEdit::Set(i, v)),
        3 => (which.clone(), mutations(4)).prop_map(|(i, m)| HeaderEdit::Mutate(i, m)),
        1 => (which, odd_value()).prop_map(|(i, v)| HeaderEdit::Append(i, v)),
        1 => mutations(3).prop_map(HeaderEdit::Body),
    ]
}

#[derive(Debug, Clone)]
struct EpistulaCase {
    body: Vec<u8>,
    /// Our clock against the signature's timestamp.
    skew_ms: i64,
    /// Signed by the registered validator, else by a key not in the metagraph.
    registered: bool,
    edits: Vec<HeaderEdit>,
}

fn header_map(pairs: &[(HeaderName, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        // Bytes no HTTP peer could send (control characters) are not sendable: skipped.
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.append(name.clone(), v);
        }
    }
    map
}

/// What a request claims, read as the verifier reads it.
#[derive(Debug, PartialEq)]
struct Claims {
    signed_by: Option<String>,
    uuid: Option<String>,
    timestamp: Option<i64>,
    signature: Option<Vec<u8>>,
}

fn claims(h: &HeaderMap) -> Claims {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    Claims {
        signed_by: get(epistula::H_SIGNED_BY).map(str::to_string),
        uuid: get(epistula::H_UUID).map(str::to_string),
        timestamp: get(epistula::H_TIMESTAMP)
            .and_then(|t| t.trim().trim_start_matches('+').parse().ok()),
        signature: get(epistula::H_SIGNATURE).and_then(|s| decode_hex(s).ok()),
    }
}

/// Signs, edits, and checks: a request is accepted only when everything it claims is what
/// was signed, only once, and only when fresh.
fn epistula_case(case: &EpistulaCase, overrides: Option<&serde_json::Map<String, Value>>) {
    let k = keys();
    let signer = if case.registered {
        &k.validator
    } else {
        &k.outsider
    };
    let signed_at = epistula::now_ms();
    let now = signed_at + case.skew_ms;
    let signed: Vec<(HeaderName, Vec<u8>)> = sign_headers(
        signer,
        &sha256_hex(&case.body),
        Some(k.miner.ss58()),
        signed_at,
    )
    .into_iter()
    .map(|(n, v)| {
        (
            HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()).expect("header name"),
            v.into_bytes(),
        )
    })
    .collect();
    let mut pairs = signed.clone();
    let mut body = case.body.clone();
    let slot = |pairs: &[(HeaderName, Vec<u8>)], i: usize| {
        pairs
            .iter()
            .position(|(n, _)| n.as_str() == EPISTULA_HEADERS[i])
    };
    for edit in &case.edits {
        match edit {
            HeaderEdit::Remove(i) => pairs.retain(|(n, _)| n.as_str() != EPISTULA_HEADERS[*i]),
            HeaderEdit::Set(i, v) => match slot(&pairs, *i) {
                Some(at) => pairs[at].1 = v.clone(),
                None => pairs.push((HeaderName::from_static(EPISTULA_HEADERS[*i]), v.clone())),
            },
            HeaderEdit::Mutate(i, m) => {
                if let Some(at) = slot(&pairs, *i) {
                    pairs[at].1 = mutate(&pairs[at].1, m);
                }
            }
            HeaderEdit::Append(i, v) => {
                pairs.push((HeaderName::from_static(EPISTULA_HEADERS[*i]), v.clone()))
            }
            HeaderEdit::Body(m) => body = mutate(&body, m),
        }
    }
    if let Some(overrides) = overrides {
        for (name, value) in overrides {
            if name == "$body" {
                body = value.as_str().unwrap_or_default().as_bytes().to_vec();
                continue;
            }
            if name.starts_with('$') {
                continue;
            }
            let name = HeaderName::from_bytes(name.as_bytes()).expect("corpus header name");
            pairs.retain(|(n, _)| *n != name);
            if let Some(v) = value.as_str() {
                pairs.push((name, v.as_bytes().to_vec()));
            }
        }
    }
    let original = header_map(&signed);
    let edited = header_map(&pairs);
    let replay = ReplayCache::default();
    let verifier = Verifier {
        own_hotkey: k.miner.ss58(),
        metagraph: &k.graph,
        force_validator_permit: true,
        replay: &replay,
    };
    let fresh = case.skew_ms.abs() <= epistula::ALLOWED_DELTA_MS;
    let same = claims(&edited) == claims(&original) && body == case.body;

    let verdict = verifier.check(&edited, &body, now);
    let proven = verifier.signed_by_claimed_key(&edited, &body, now);
    match &verdict {
        Ok(who) => {
            assert!(
                same && fresh && case.registered,
                "accepted a request that is not what was signed: {:?} vs {:?}",
                claims(&edited),
                claims(&original)
            );
            assert_eq!(who.hotkey, k.validator.ss58());
            assert_eq!(
                edited
                    .get(epistula::H_SIGNED_FOR)
                    .and_then(|v| v.to_str().ok()),
                Some(k.miner.ss58())
            );
        }
        Err(r) => {
            assert!(!r.detail.is_empty());
            assert!(
                r.status.is_client_error(),
                "{} for {:?}",
                r.status,
                r.detail
            );
        }
    }
    if proven {
        // Only the signed message proves the key: same signer, uuid, time, body, signature.
        let (a, b) = (claims(&edited), claims(&original));
        assert!(
            a.signed_by == b.signed_by
                && a.uuid == b.uuid
                && a.timestamp == b.timestamp
                && a.signature == b.signature
                && body == case.body
                && fresh,
            "signed_by_claimed_key accepted {a:?} for {b:?}"
        );
    }

    // The untouched request: accepted once when fresh and registered (not again if the edited
    // one, necessarily the same request, already was), and refused with the right reason.
    let again = verifier.check(&original, &case.body, now);
    match (case.registered, fresh, verdict.is_ok()) {
        (true, true, false) => {
            let signer = again.expect("a correctly signed fresh request is accepted");
            assert_eq!(signer.uid, 0);
        }
        (true, true, true) => {
            let r = again.expect_err("the same request twice");
            assert!(r.detail.starts_with("Replayed request"), "{}", r.detail);
        }
        (true, false, _) => {
            let r = again.expect_err("stale or future");
            assert!(
                r.detail.contains("too stale") || r.detail.contains("in the future"),
                "{}",
                r.detail
            );
        }
        (false, _, _) => {
            let r = again.expect_err("not in the metagraph");
            assert_eq!(r.detail, "Signer not in metagraph");
            assert_eq!(
                verifier.signed_by_claimed_key(&original, &case.body, now),
                fresh,
                "an unknown but honest caller proves its key when fresh"
            );
        }
    }
}

fn epistula_case_strategy() -> impl Strategy<Value = EpistulaCase> {
    (
        prop_oneof![
            Just(br#"{"prompt": "a kite"}"#.to_vec()),
            vec(any::<u8>(), 0..256),
        ],
        prop_oneof![
            4 => -14_000i64..14_000,
            1 => select(vec![-15_001i64, -15_000, 15_000, 15_001, -86_400_000, 86_400_000]),
        ],
        prop::bool::weighted(0.85),
        vec(header_edit(), 0..4),
    )
        .prop_map(|(body, skew_ms, registered, edits)| EpistulaCase {
            body,
            skew_ms,
            registered,
            edits,
        })
}

#[test]
fn fuzz_epistula_headers() {
    let _turn = turn();
    for (name, bytes) in corpus("epistula") {
        let doc: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("corpus epistula/{name}: {e}"));
        let overrides = doc
            .as_object()
            .cloned()
            .expect("an object of header overrides");
        let registered = !overrides.contains_key("$outsider");
        guarded(&format!("epistula/{name}"), SMALL_INPUT_BOUND, move || {
            let case = EpistulaCase {
                body: br#"{"prompt": "a kite"}"#.to_vec(),
                skew_ms: 0,
                registered,
                edits: Vec::new(),
            };
            epistula_case(&case, Some(&overrides));
        });
    }
    fuzz(
        "epistula",
        CASES.epistula,
        epistula_case_strategy(),
        |case| {
            guarded("epistula", SMALL_INPUT_BOUND, move || {
                epistula_case(&case, None)
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Target 2: the challenge JSON, through the real router (Epistula guard, body limit, handler),
// and the parameter parsing every provider plans with.
// ---------------------------------------------------------------------------------------------

/// A provider that never finishes: accepted tasks stay queued, nothing leaves the machine.
struct Idle;

impl Provider for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }

    fn supports(&self, _: Modality) -> bool {
        true
    }

    fn plan(&self, task: &TaskRecord) -> Plan {
        Plan {
            model: "idle".into(),
            delivers: task.tier,
            params: json!({}),
            cost_usd: 0.0,
        }
    }

    // What `#[async_trait]` writes, by hand (this crate does not depend on async-trait).
    fn generate<'a, 'b, 'c, 'async_trait>(
        &'a self,
        _job: &'b Job<'c>,
    ) -> Pin<Box<dyn Future<Output = Result<Generated, ProviderError>> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        'c: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(std::future::pending())
    }
}

/// A directory of trust anchors (one test root) and the CA behind it.
fn test_ca(dir: &Path) -> (TestCa, PathBuf) {
    let ca = TestCa::new("GAS Fuzz Root").expect("test CA");
    let anchors = dir.join("anchors");
    std::fs::create_dir_all(&anchors).expect("anchors dir");
    std::fs::write(anchors.join("fuzz-root.pem"), &ca.root_pem).expect("anchor");
    (ca, anchors)
}

/// The miner's own pieces, in-process: a store in a temp dir, a pipeline with idle
/// providers, and the validator-facing router.
struct ApiRig {
    rt: tokio::runtime::Runtime,
    router: Router,
    store: Store,
    providers: Vec<Arc<dyn Provider>>,
    _dir: tempfile::TempDir,
}

const PROVIDER_KEY: &str = "sk-fuzz-secret-key-0123456789";

/// What the in-process rigs start from: a temp dir, a runtime, trust anchors holding the test
/// CA, and the keys.
fn rig_basics() -> (
    tempfile::TempDir,
    tokio::runtime::Runtime,
    PathBuf,
    Arc<Keys>,
) {
    gas_tests::install_crypto();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_, anchors) = test_ca(dir.path());
    (dir, rt, anchors, keys())
}

impl ApiRig {
    fn new() -> ApiRig {
        let (dir, rt, anchors, k) = rig_basics();
        let store = rt
            .block_on(async { Store::open(&dir.path().join("state")) })
            .expect("store");
        let preflight = Arc::new(Preflight::new(&anchors).expect("preflight"));
        let stats = Arc::new(gas_miner::stats::Stats::load(store.clone()));
        let mut chains = gas_miner::pipeline::Chains::new();
        for m in Modality::ALL {
            chains.insert(m, vec![Arc::new(Idle) as Arc<dyn Provider>]);
        }
        let hour = Duration::from_secs(3600);
        let pipeline = gas_miner::pipeline::Pipeline::new(
            store.clone(),
            chains,
            preflight,
            stats.clone(),
            1,
            (hour, hour),
            Arc::default(),
            None,
        );
        let state = Arc::new(gas_miner::api::ApiState {
            store: store.clone(),
            pipeline,
            metagraph: MetagraphCache::new(k.graph.clone(), "fuzz".into(), false),
            stats,
            key: Arc::new(gas_tests::key(gas_tests::MINER_PHRASE)),
            replay: ReplayCache::default(),
            force_validator_permit: true,
            webhook_deadline: hour,
            max_concurrent_tasks: 1,
            task_timeout: hour,
            started: Instant::now(),
            webhook_guard: gas_miner::netguard::WebhookGuard::default(),
        });
        let router = gas_miner::api::router(state);
        let t = Tuning::default;
        let base = "http://127.0.0.1:9";
        use gas_miner::providers::{openai, openrouter, runway, stability};
        let mut providers: Vec<Arc<dyn Provider>> = vec![
            Arc::new(openai::OpenAi::new(base, PROVIDER_KEY, t(), None, None)),
            Arc::new(openai::OpenAi::new(
                base,
                PROVIDER_KEY,
                t(),
                Some("gpt-image-1-mini"),
                Some("sora-2-pro"),
            )),
            Arc::new(openrouter::OpenRouter::new(
                base,
                PROVIDER_KEY,
                t(),
                None,
                None,
            )),
            Arc::new(stability::Stability::new(base, PROVIDER_KEY, t(), None)),
            Arc::new(runway::Runway::new(base, PROVIDER_KEY, t(), None)),
        ];
        for m in openrouter::VIDEO_MODELS {
            providers.push(Arc::new(openrouter::OpenRouter::new(
                base,
                PROVIDER_KEY,
                t(),
                Some("google/gemini-3-pro-image-preview"),
                Some(m.id),
            )));
        }
        for m in stability::MODELS {
            providers.push(Arc::new(stability::Stability::new(
                base,
                PROVIDER_KEY,
                t(),
                Some(m.0),
            )));
        }
        for m in runway::MODELS {
            providers.push(Arc::new(runway::Runway::new(
                base,
                PROVIDER_KEY,
                t(),
                Some(m.id),
            )));
        }
        ApiRig {
            rt,
            router,
            store,
            providers,
            _dir: dir,
        }
    }

    /// Sends a signed POST to the router; returns the status and the body.
    fn post(&self, path: &str, body: Vec<u8>, webhook: Option<&HeaderValue>) -> (u16, Vec<u8>) {
        let k = keys();
        let mut req = Request::builder().method("POST").uri(path);
        for (name, value) in sign_headers(
            &k.validator,
            &sha256_hex(&body),
            Some(k.miner.ss58()),
            epistula::now_ms(),
        ) {
            req = req.header(name, value);
        }
        if let Some(w) = webhook {
            req = req.header("x-webhook-url", w.clone());
        }
        req = req.header("content-type", "application/json");
        let req = req.body(Body::from(body)).expect("request");
        let service = hyper_util::service::TowerToHyperService::new(self.router.clone());
        self.rt.block_on(async move {
            let resp = hyper::service::Service::call(&service, req)
                .await
                .expect("the router answers");
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .expect("response body")
                .to_bytes()
                .to_vec();
            (status, bytes)
        })
    }
}

#[derive(Debug, Clone)]
enum ChallengeBody {
    Doc(Value),
    Bytes(Vec<u8>),
    Edited(usize, Vec<JsonEdit>),
    Mutated(usize, Vec<Mutation>),
}

#[derive(Debug, Clone)]
struct ChallengeCase {
    video: bool,
    body: ChallengeBody,
    webhook: Option<Vec<u8>>,
}

fn challenge_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        json!({"prompt": "a red kite over a hill", "parameters": {"resolution": "2K", "aspect_ratio": "16:9", "seed": 42}}),
        json!({"prompt": "a wren", "parameters": {"resolution": "720p", "duration": "8s", "ratio": "1280:720", "generate_audio": "true"}}),
        json!({"prompt": "a heron", "parameters": {"width": 1792, "height": 1024, "model": "sd3.5-large", "negative_prompt": "blur"}}),
        json!({"prompt": "an owl"}),
    ]
    .iter()
    .map(gas_tests::python_json)
    .collect();
    seeds.extend(corpus("challenge").into_iter().map(|(_, b)| b));
    seeds
}

fn webhook() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        6 => Just(Some(b"https://validator.example/hook".to_vec())),
        2 => select(vec![
            "", "http://127.0.0.1:9/x", "https://10.1.2.3/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest", "ftp://validator.example/", "validator.example/hook",
            "https://", "http://0/", "http://2130706433/", "https://validator.example:99999/",
            "http://[fe80::1%25eth0]/", "https://xn--nxasmq6b.example/",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => vec(any::<u8>(), 0..64).prop_map(Some),
        1 => Just(None),
    ]
}

fn challenge_case(seeds: usize) -> impl Strategy<Value = ChallengeCase> {
    let doc = (
        prop::option::weighted(
            0.8,
            prop_oneof![
                3 => interesting_text().prop_map(Value::String),
                1 => json_value(),
            ],
        ),
        prop::option::weighted(
            0.7,
            prop_oneof![
                3 => btree_map(json_key(), json_value(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1 => json_value(),
            ],
        ),
        btree_map(json_key(), json_value(), 0..3),
    )
        .prop_map(|(prompt, parameters, extra)| {
            let mut o: serde_json::Map<String, Value> = extra.into_iter().collect();
            if let Some(p) = prompt {
                o.insert("prompt".into(), p);
            }
            if let Some(p) = parameters {
                o.insert("parameters".into(), p);
            }
            Value::Object(o)
        });
    let body = prop_oneof![
        3 => doc.prop_map(ChallengeBody::Doc),
        1 => json_value().prop_map(ChallengeBody::Doc),
        1 => vec(any::<u8>(), 0..128).prop_map(ChallengeBody::Bytes),
        2 => (0..seeds, vec(json_edit(), 1..4)).prop_map(|(s, e)| ChallengeBody::Edited(s, e)),
        2 => (0..seeds, mutations(6)).prop_map(|(s, m)| ChallengeBody::Mutated(s, m)),
    ];
    (any::<bool>(), body, webhook()).prop_map(|(video, body, webhook)| ChallengeCase {
        video,
        body,
        webhook,
    })
}

/// What the handler must answer: created with exactly this, or refused with this reason.
#[derive(Debug, PartialEq)]
enum Expect {
    Created {
        prompt: String,
        parameters: Value,
        tier: Tier,
    },
    Refused(&'static str),
}

fn expected(body: &[u8], webhook: Option<&HeaderValue>, modality: Modality) -> Expect {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Expect::Refused("Invalid JSON body: ");
    };
    let Some(doc) = doc.as_object() else {
        return Expect::Refused("Invalid JSON body: expected a JSON object");
    };
    let prompt = match doc.get("prompt") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Expect::Refused("Missing required field: prompt");
        }
        Some(_) => return Expect::Refused("Invalid field: prompt must be a string"),
    };
    let Some(url) = webhook
        .and_then(|w| w.to_str().ok())
        .filter(|w| !w.is_empty())
    else {
        return Expect::Refused("Missing required header: X-Webhook-URL");
    };
    if gas_miner::netguard::WebhookGuard::default()
        .check_url(url)
        .is_err()
    {
        return Expect::Refused("Invalid X-Webhook-URL: ");
    }
    let parameters = match doc.get("parameters") {
        None | Some(Value::Null) => json!({}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Expect::Refused("Invalid field: parameters must be a JSON object"),
    };
    let tier = parameters
        .get("resolution")
        .and_then(Value::as_str)
        .and_then(Tier::parse)
        .filter(|t| t.modality() == modality)
        .unwrap_or_else(|| Tier::default_for(modality));
    Expect::Created {
        prompt,
        parameters,
        tier,
    }
}

fn task(modality: Modality, prompt: &str, parameters: Value, tier: Tier) -> TaskRecord {
    let now = epistula::now_ms();
    TaskRecord {
        webhook_url: "https://validator.example/hook".into(),
        validator: keys().validator.ss58().to_string(),
        ..TaskRecord::accepted(
            uuid_like(now),
            modality,
            prompt.to_string(),
            parameters,
            tier,
            (now, now + 3_600_000),
        )
    }
}

fn uuid_like(n: i64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", n.rem_euclid(1 << 48))
}

/// Every provider plans any parameters without panicking, within its modality, at a real
/// price, and never puts its key in what it would send.
fn plans_are_sane(rig: &ApiRig, modality: Modality, parameters: &Value, tier: Tier) {
    let t = task(modality, "a fuzzed prompt", parameters.clone(), tier);
    for p in rig.providers.iter().filter(|p| p.supports(modality)) {
        let plan = p.plan(&t);
        assert_eq!(plan.delivers.modality(), modality, "{}: {plan:?}", p.name());
        assert!(
            plan.cost_usd.is_finite() && plan.cost_usd >= 0.0,
            "{}: cost {}",
            p.name(),
            plan.cost_usd
        );
        assert!(!plan.params.to_string().contains(PROVIDER_KEY));
    }
    let params = Params(parameters);
    if let Some(d) = params.duration() {
        assert!(d.is_finite() && d > 0.0, "duration {d}");
    }
    if let Some(s) = params.seed() {
        assert!(s < 4_290_000_000, "seed {s}");
    }
    if let Some(r) = params.shape() {
        assert!(!r.is_nan() && r >= 0.0, "shape {r}");
    }
    let _ = (params.model(), params.flag("generate_audio"));
    let _ = params.one_of("quality", &["low", "medium", "high"]);
    let _ = nearest_ratio(&["1:1", "16:9", "9:16", "3:2"], params.shape(), "1:1");
    for name in ["aspect_ratio", "ratio", "size"] {
        if let Some(r) = params.str(name).and_then(parse_ratio) {
            assert!(!r.is_nan() && r >= 0.0, "{name} gives {r}");
        }
    }
}

fn challenge_body(case: &ChallengeCase, seeds: &[Vec<u8>]) -> Vec<u8> {
    match &case.body {
        ChallengeBody::Doc(v) => serde_json::to_vec(v).expect("serialise"),
        ChallengeBody::Bytes(b) => b.clone(),
        ChallengeBody::Edited(s, edits) => {
            let seed = &seeds[s % seeds.len()];
            match serde_json::from_slice::<Value>(seed) {
                Ok(mut doc) => {
                    for e in edits {
                        doc = edit_json(&doc, e);
                    }
                    serde_json::to_vec(&doc).expect("serialise")
                }
                Err(_) => seed.clone(),
            }
        }
        ChallengeBody::Mutated(s, m) => mutate(&seeds[s % seeds.len()], m),
    }
}

/// Sends one challenge and checks the answer against [`expected`]; an accepted one must be
/// stored exactly as sent.
fn challenge_round(
    rig: &ApiRig,
    video: bool,
    body: Vec<u8>,
    webhook: Option<Vec<u8>>,
) -> &'static str {
    let modality = if video {
        Modality::Video
    } else {
        Modality::Image
    };
    let webhook = webhook.and_then(|w| HeaderValue::from_bytes(&w).ok());
    let want = expected(&body, webhook.as_ref(), modality);
    let (status, reply) = rig.post(&format!("/gen_{modality}"), body, webhook.as_ref());
    let reply: Value = serde_json::from_slice(&reply).expect("every answer is JSON");
    match want {
        Expect::Refused(why) => {
            assert_eq!(status, 400, "{reply} (expected: {why})");
            let error = reply["error"].as_str().expect("an error text");
            assert!(error.starts_with(why), "{error:?} should start {why:?}");
            why
        }
        Expect::Created {
            prompt,
            parameters,
            tier,
        } => {
            assert_eq!(status, 201, "{reply}");
            assert_eq!(reply["status"], "submitted");
            let id = reply["task_id"].as_str().expect("task_id");
            let stored = rig.store.get(id).expect("store").expect("stored");
            assert_eq!(stored.prompt, prompt);
            // Exactly, floats included (serde_json's `float_roundtrip`).
            assert_eq!(stored.parameters, parameters);
            assert_eq!(stored.tier, tier);
            assert_eq!(stored.modality, modality);
            assert_eq!(stored.validator, keys().validator.ss58());
            plans_are_sane(rig, modality, &parameters, tier);
            "created"
        }
    }
}

#[test]
fn fuzz_challenge_json() {
    let _turn = turn();
    let rig = Arc::new(ApiRig::new());
    let hook = Some(b"https://validator.example/hook".to_vec());
    for (name, bytes) in corpus("challenge") {
        for video in [false, true] {
            let (rig, hook) = (rig.clone(), hook.clone());
            let bytes = bytes.clone();
            guarded(&format!("challenge/{name}"), SMALL_INPUT_BOUND, move || {
                challenge_round(&rig, video, bytes, hook)
            });
        }
    }
    // The body limit, at its edge: a valid challenge padded to exactly 1 MiB is taken, one
    // byte more is refused before any parsing.
    let limit = gas_miner::api::BODY_LIMIT;
    let mut padded = br#"{"prompt": "a padded kite"}"#.to_vec();
    padded.resize(limit, b' ');
    let (r, h) = (rig.clone(), hook.clone());
    let edge = padded.clone();
    guarded("challenge/at-the-limit", SMALL_INPUT_BOUND, move || {
        challenge_round(&r, false, edge, h)
    });
    padded.push(b' ');
    let r = rig.clone();
    let (status, _) = guarded("challenge/over-the-limit", SMALL_INPUT_BOUND, move || {
        r.post("/gen_image", padded, None)
    });
    assert_eq!(status, 413);

    let seeds = Arc::new(challenge_seeds());
    let answers = Mutex::new(std::collections::BTreeMap::<&str, usize>::new());
    fuzz(
        "challenge",
        CASES.challenge,
        challenge_case(seeds.len()),
        |case| {
            let (rig, seeds) = (rig.clone(), seeds.clone());
            let answer = guarded("challenge", SMALL_INPUT_BOUND, move || {
                let body = challenge_body(&case, &seeds);
                challenge_round(&rig, case.video, body, case.webhook.clone())
            });
            *answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(answer)
                .or_default() += 1;
        },
    );
    // Every answer must be reached, acceptance included, or the generator is too narrow.
    let answers = answers.into_inner().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz challenge answers: {answers:?}");
    if answers.values().sum::<usize>() >= COVERAGE_CASES {
        assert!(
            answers.get("created").copied().unwrap_or(0) >= 10,
            "{answers:?}"
        );
        assert!(answers.len() >= 6, "too few kinds of answer: {answers:?}");
    }
    // Arbitrary parameters straight into every provider's planner, also as a video.
    fuzz(
        "challenge-params",
        CASES.challenge_params,
        (json_value(), any::<bool>()),
        |(p, video)| {
            let rig = rig.clone();
            guarded("challenge-params", SMALL_INPUT_BOUND, move || {
                let modality = if video {
                    Modality::Video
                } else {
                    Modality::Image
                };
                let tiers = match modality {
                    Modality::Image => [Tier::K1, Tier::K2, Tier::K4],
                    Modality::Video => [Tier::P480, Tier::P720, Tier::P1080],
                };
                for tier in tiers {
                    plans_are_sane(&rig, modality, &p, tier);
                }
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Target 3: the admin protocol — the socket served in-process, and every message type.
// ---------------------------------------------------------------------------------------------

struct AdminRig {
    rt: tokio::runtime::Runtime,
    socket: PathBuf,
    store: Store,
    env_chains: (Vec<String>, Vec<String>),
    task_ids: Vec<String>,
    _dir: tempfile::TempDir,
}

impl AdminRig {
    fn new() -> AdminRig {
        let (dir, rt, anchors, k) = rig_basics();
        let graph_file = dir.path().join("metagraph.json");
        std::fs::write(
            &graph_file,
            json!({"netuid": 34, "neurons": [
                {"uid": 0, "hotkey": k.validator.ss58(), "stake": 50000.0, "validator_permit": true},
                {"uid": 1, "hotkey": k.miner.ss58(), "stake": 0.0},
            ]})
            .to_string(),
        )
        .expect("metagraph file");
        let path = |p: &Path| Some(p.display().to_string());
        let socket = dir.path().join("admin.sock");
        let config = gas_miner::config::Settings {
            state_dir: path(&dir.path().join("state")),
            trust_anchors: path(&anchors),
            metagraph_file: path(&graph_file),
            admin_socket: path(&socket),
            openai_api_key: Some(PROVIDER_KEY.into()),
            open_router_api_key: Some(PROVIDER_KEY.into()),
            stability_api_key: Some(PROVIDER_KEY.into()),
            runwayml_api_key: Some(PROVIDER_KEY.into()),
            openai_base_url: Some("http://127.0.0.1:9".into()),
            open_router_base_url: Some("http://127.0.0.1:9".into()),
            stability_base_url: Some("http://127.0.0.1:9".into()),
            runway_base_url: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_or_else(|p| panic!("settings: {}", p.join("; ")));
        let names = |c: &[gas_miner::config::ProviderSettings]| {
            c.iter()
                .map(|p| p.service.name().to_string())
                .collect::<Vec<_>>()
        };
        let env_chains = (names(&config.image_chain), names(&config.video_chain));
        let _enter = rt.enter();
        let store = Store::open(&config.state_dir).expect("store");
        let preflight = Arc::new(Preflight::new(&anchors).expect("preflight"));
        let stats = Arc::new(gas_miner::stats::Stats::load(store.clone()));
        let hour = Duration::from_secs(3600);
        let pipeline = gas_miner::pipeline::Pipeline::new(
            store.clone(),
            gas_miner::daemon::build_chains(&config),
            preflight.clone(),
            stats.clone(),
            1,
            (hour, hour),
            Arc::default(),
            None,
        );
        let mut task_ids = Vec::new();
        for (i, (modality, prompt)) in [
            (Modality::Image, "a kite"),
            (Modality::Video, "a wren in flight"),
            (Modality::Image, "ÉTÉ 🦀 summer"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = task(modality, prompt, json!({}), Tier::default_for(modality));
            t.task_id = uuid_like(i as i64 + 1);
            store.insert_new(&t).expect("insert a task");
            task_ids.push(t.task_id);
        }
        let admin = Arc::new(gas_miner::admin::Admin {
            store: store.clone(),
            pipeline,
            preflight,
            metagraph: MetagraphCache::new(k.graph.clone(), "fuzz".into(), false),
            key: Arc::new(gas_tests::key(gas_tests::MINER_PHRASE)),
            stats,
            logs: gas_miner::logs::LogRing::default(),
            config,
            started_ms: epistula::now_ms(),
            socket: socket.clone(),
            stop: tokio::sync::watch::channel(false).0,
            demo: false,
        });
        admin.logs.push("a log line for the tail");
        let listener = rt
            .block_on(gas_miner::admin::bind(&socket))
            .expect("admin socket");
        rt.spawn(gas_miner::admin::serve(
            listener,
            admin,
            std::future::pending(),
        ));
        drop(_enter);
        AdminRig {
            rt,
            socket,
            store,
            env_chains,
            task_ids,
            _dir: dir,
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Vec<u8>) {
        let (status, bytes) = self
            .rt
            .block_on(gas_console::net::request(&self.socket, method, path, body))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (status, bytes.to_vec())
    }

    fn services(&self) -> Services {
        let (status, body) = self.request("GET", "/services", None);
        assert_eq!(status, 200);
        serde_json::from_slice(&body).expect("Services")
    }
}

/// The chain a selection gives for `modality`, or `Err` when the miner must refuse it (every
/// service here has a key and its default model).
fn expected_chain(text: &str, modality: Modality) -> Result<Vec<String>, ()> {
    let text = if text.trim().is_empty() { "none" } else { text };
    let names: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if names.iter().any(|n| n == "none") {
        return if names.len() > 1 { Err(()) } else { Ok(vec![]) };
    }
    let mut chain = Vec::new();
    for n in names {
        let serves = match n.as_str() {
            "openai" | "openrouter" => true,
            "stabilityai" => modality == Modality::Image,
            "runway" => modality == Modality::Video,
            _ => false,
        };
        if !serves || chain.contains(&n) {
            return Err(());
        }
        chain.push(n);
    }
    Ok(chain)
}

#[derive(Debug, Clone)]
enum AdminCase {
    Services(Vec<u8>),
    Query(&'static str, String),
    Raw(String, String, Vec<u8>),
    Mutated(usize, Vec<Mutation>),
}

fn chain_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => select(vec![
            "openai", "openrouter", "stabilityai", "runway", "none", "", " OpenAI ", "RUNWAY",
            "dalle", "stability", "openai ", "\topenrouter",
        ])
        .prop_map(str::to_string),
        1 => interesting_text(),
    ];
    (vec(token, 0..5), select(vec![",", ", ", ",,", ";"])).prop_map(|(t, sep)| t.join(sep))
}

fn services_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (
            prop::option::of(chain_text()),
            prop::option::of(chain_text()),
            prop::bool::weighted(0.1)
        )
            .prop_map(|(image, video, reset)| {
                serde_json::to_vec(&ServicesUpdate { image, video, reset }).expect("serialise")
            }),
        2 => json_value().prop_map(|v| serde_json::to_vec(&v).expect("serialise")),
        1 => vec(any::<u8>(), 0..64),
    ]
}

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "queued", "generating", "delivered", "failed", "expired", "QUEUED", "image", "video",
            "passed", "c2pa_failed", "any", "0", "1", "50", "1000", "1001", "-1",
            "18446744073709551615", "18446744073709551616", "99999999999999999999999", "1.5",
            "", "%", "%zz", "%00", "%FF", "a+b", "%F0%9F%A6%80", "00000000-0000-4000-8000-000000000001",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Z0-9%+._~-]{0,24}",
    ]
}

fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => select(vec![
            "state", "modality", "provider", "verdict", "q", "limit", "before", "n",
        ])
        .prop_map(str::to_string),
        1 => "[a-z%=&]{0,6}",
    ];
    vec((key, query_value(), any::<bool>()), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v, eq)| if eq { format!("{k}={v}") } else { k })
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn raw_request(ids: Vec<String>) -> impl Strategy<Value = (String, String, Vec<u8>)> {
    let method = select(vec![
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW",
    ]);
    let segment = prop_oneof![
        3 => select(vec![
            "status", "tasks", "services", "trust", "reload", "logs", "metrics", "verify",
            "shutdown", "..", ".", "", "%2e%2e", "%2F", "tasks%2F", "a%00b",
        ])
        .prop_map(str::to_string),
        2 => select(ids),
        1 => "[a-zA-Z0-9%._~-]{0,40}",
        1 => (1usize..4096).prop_map(|n| "x".repeat(n)),
    ];
    (
        method,
        vec(segment, 0..4),
        prop::option::of(query_string()),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(|(m, segs, q, body)| {
            let mut path = format!("/{}", segs.join("/"));
            if let Some(q) = q {
                path.push('?');
                path.push_str(&q);
            }
            (m.to_string(), path, body)
        })
}

/// `key=value` pairs of a query string, when each key appears once and nothing is escaped.
fn plain_pairs(q: &str) -> Option<std::collections::HashMap<&str, &str>> {
    let mut out = std::collections::HashMap::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if part.contains(['%', '+']) || out.insert(k, v).is_some() {
            return None;
        }
    }
    Some(out)
}

/// What a round reached: the request kind and the answer's status.
type Outcome = String;

fn admin_services_round(rig: &AdminRig, body: Vec<u8>) -> Outcome {
    let before = rig.services();
    let (status, reply) = rig.request("PUT", "/services", Some(body.clone()));
    let after = rig.services();
    let Ok(update) = serde_json::from_slice::<ServicesUpdate>(&body) else {
        assert!(
            (400..500).contains(&status),
            "a body that is no ServicesUpdate gets {status}"
        );
        assert_eq!((&after.image, &after.video), (&before.image, &before.video));
        return format!("services, not an update: {status}");
    };
    let want = if update.reset {
        Ok(rig.env_chains.clone())
    } else {
        let pick = |text: &Option<String>, current: &Vec<String>, m| match text {
            None => Ok(current.clone()),
            Some(t) => expected_chain(t, m),
        };
        pick(&update.image, &before.image, Modality::Image)
            .and_then(|i| pick(&update.video, &before.video, Modality::Video).map(|v| (i, v)))
    };
    match want {
        Ok((image, video)) => {
            assert_eq!(
                status,
                200,
                "{update:?}: {}",
                String::from_utf8_lossy(&reply)
            );
            let shown: Services = serde_json::from_slice(&reply).expect("Services");
            assert_eq!((&shown.image, &shown.video), (&image, &video), "{update:?}");
            assert_eq!((&after.image, &after.video), (&image, &video), "{update:?}");
            let saved = rig.store.setting("services").expect("settings");
            if update.reset {
                assert_eq!(saved, None, "a reset forgets the saved selection");
            } else {
                assert_eq!(
                    saved,
                    Some(json!({"image": image.join(","), "video": video.join(",")}))
                );
            }
            format!("services: {status}")
        }
        Err(()) => {
            assert_eq!(
                status,
                400,
                "{update:?}: {}",
                String::from_utf8_lossy(&reply)
            );
            let e: ErrorReply = serde_json::from_slice(&reply).expect("ErrorReply");
            assert!(e.error.starts_with("selection refused: "), "{}", e.error);
            assert_eq!(
                (&after.image, &after.video),
                (&before.image, &before.video),
                "a refused selection changes nothing"
            );
            format!("services: {status}")
        }
    }
}

fn admin_query_round(rig: &AdminRig, endpoint: &str, query: &str) -> Outcome {
    let path = format!("{endpoint}?{query}");
    if axum::http::Uri::try_from(path.as_str()).is_err() {
        return "unsendable".into();
    }
    let (status, reply) = rig.request("GET", &path, None);
    assert!(
        status == 200 || status == 400,
        "{path}: {status} {}",
        String::from_utf8_lossy(&reply)
    );
    // The query the miner sees: a `#` ends it.
    let pairs = plain_pairs(query.split('#').next().unwrap_or_default());
    let outcome = format!("{endpoint}: {status}");
    if status != 200 {
        return outcome;
    }
    if endpoint == "/logs" {
        let tail: LogTail = serde_json::from_slice(&reply).expect("LogTail");
        assert!(tail.lines.len() <= 5000);
        return outcome;
    }
    let page: TaskPage = serde_json::from_slice(&reply).expect("TaskPage");
    let Some(pairs) = pairs else {
        return outcome;
    };
    if let Some(limit) = pairs.get("limit").and_then(|l| l.parse::<usize>().ok()) {
        assert!(page.tasks.len() <= limit.clamp(1, 1000), "{path}");
    }
    if let Some(state) = pairs.get("state") {
        assert!(
            page.tasks.iter().all(|t| t.state.as_str() == *state),
            "{path}"
        );
    }
    if let Some(m) = pairs.get("modality") {
        assert!(
            page.tasks.iter().all(|t| t.modality.as_str() == *m),
            "{path}"
        );
    }
    outcome
}

fn admin_raw_round(rig: &AdminRig, method: &str, path: &str, body: Vec<u8>) -> Outcome {
    if path.contains("events")
        || axum::http::Method::from_bytes(method.as_bytes()).is_err()
        || axum::http::Uri::try_from(path).is_err()
    {
        // `/events` streams forever; unsendable requests never reach the miner.
        return "unsendable".into();
    }
    let (status, reply) = rig.request(method, path, Some(body));
    assert!(
        status < 500,
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&reply)
    );
    // The path the miner sees (a `#` ends it).
    let uri = axum::http::Uri::try_from(path).expect("checked above");
    let route = uri.path();
    for id in &rig.task_ids {
        if route == format!("/tasks/{id}") && method == "GET" {
            assert_eq!(status, 200);
            let detail: TaskDetail = serde_json::from_slice(&reply).expect("TaskDetail");
            assert_eq!(&detail.summary.task_id, id);
        }
        if route == format!("/tasks/{id}/verify") && method == "POST" {
            assert_eq!(status, 409, "no media kept: nothing to verify");
        }
    }
    if method == "GET"
        && let Some(id) = route.strip_prefix("/tasks/")
        && !id.is_empty()
        && !id.contains('/')
        && !rig.task_ids.iter().any(|t| t == id)
        && status == 404
    {
        let e: ErrorReply = serde_json::from_slice(&reply).expect("ErrorReply");
        assert!(e.error.starts_with("no task "), "{}", e.error);
    }
    // (An answer to HEAD has no body.)
    if status == 404 && method != "HEAD" {
        let e: Result<ErrorReply, _> = serde_json::from_slice(&reply);
        assert!(
            e.is_ok_and(|e| !e.error.is_empty()),
            "{method} {path}: a 404 that does not say why: {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    format!("other: {status}")
}

/// Corpus requests: `METHOD path` on the first line, the body after it.
fn parse_admin_request(bytes: &[u8]) -> (String, String, Vec<u8>) {
    let (line, body) = match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => (&bytes[..i], bytes[i + 1..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let line = String::from_utf8_lossy(line);
    let (method, path) = line.trim_end().split_once(' ').unwrap_or(("GET", "/"));
    (method.to_string(), path.to_string(), body)
}

/// A request in its most specific round: selections and task queries are checked closely.
fn admin_request_round(rig: &AdminRig, method: &str, path: &str, body: Vec<u8>) -> Outcome {
    match (method, path.split_once('?')) {
        ("PUT", _) if path == "/services" => admin_services_round(rig, body),
        ("GET", Some(("/tasks", q))) => admin_query_round(rig, "/tasks", q),
        ("GET", Some(("/logs", q))) => admin_query_round(rig, "/logs", q),
        _ => admin_raw_round(rig, method, path, body),
    }
}

fn admin_round(rig: &AdminRig, case: AdminCase, seeds: &[Vec<u8>]) -> Outcome {
    match case {
        AdminCase::Services(body) => admin_services_round(rig, body),
        AdminCase::Query(endpoint, q) => admin_query_round(rig, endpoint, &q),
        AdminCase::Raw(m, p, b) => admin_raw_round(rig, &m, &p, b),
        AdminCase::Mutated(seed, muts) => {
            let bytes = mutate(&seeds[seed % seeds.len()], &muts);
            let (m, p, b) = parse_admin_request(&bytes);
            admin_request_round(rig, &m, &p, b)
        }
    }
}

/// Tries `bytes` as every admin message; whatever parses survives a round trip unchanged.
fn admin_messages(bytes: &[u8]) -> Vec<&'static str> {
    fn round<T>(bytes: &[u8], name: &'static str, parsed: &mut Vec<&'static str>)
    where
        T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + Debug,
    {
        if let Ok(x) = serde_json::from_slice::<T>(bytes) {
            let v = serde_json::to_value(&x).expect("serialise");
            let back: T = serde_json::from_value(v.clone()).expect("reads back what it wrote");
            assert_eq!(serde_json::to_value(&back).expect("serialise"), v, "{name}");
            parsed.push(name);
        }
    }
    let mut parsed = Vec::new();
    let p = &mut parsed;
    round::<Status>(bytes, "Status", p);
    round::<Services>(bytes, "Services", p);
    round::<ServicesUpdate>(bytes, "ServicesUpdate", p);
    round::<TaskQuery>(bytes, "TaskQuery", p);
    round::<TaskPage>(bytes, "TaskPage", p);
    round::<TaskDetail>(bytes, "TaskDetail", p);
    round::<TaskSummary>(bytes, "TaskSummary", p);
    round::<LogTail>(bytes, "LogTail", p);
    round::<TrustReload>(bytes, "TrustReload", p);
    round::<Event>(bytes, "Event", p);
    round::<ErrorReply>(bytes, "ErrorReply", p);
    round::<gas_shared::verdict::Verdict>(bytes, "Verdict", p);
    parsed
}

#[test]
fn fuzz_admin_protocol() {
    let _turn = turn();
    let rig = Arc::new(AdminRig::new());
    let seeds: Vec<Vec<u8>> = corpus("admin").into_iter().map(|(_, b)| b).collect();
    for (name, bytes) in corpus("admin") {
        let r = rig.clone();
        guarded(&format!("admin/{name}"), SMALL_INPUT_BOUND, move || {
            let (m, p, b) = parse_admin_request(&bytes);
            admin_request_round(&r, &m, &p, b)
        });
    }
    let seeds = Arc::new(seeds);
    let case = prop_oneof![
        3 => services_body().prop_map(AdminCase::Services),
        2 => (select(vec!["/tasks", "/logs"]), query_string())
            .prop_map(|(e, q)| AdminCase::Query(e, q)),
        2 => raw_request(rig.task_ids.clone()).prop_map(|(m, p, b)| AdminCase::Raw(m, p, b)),
        2 => (0..seeds.len(), mutations(5)).prop_map(|(s, m)| AdminCase::Mutated(s, m)),
    ];
    let outcomes = Mutex::new(std::collections::BTreeMap::<Outcome, usize>::new());
    fuzz("admin", CASES.admin, case, |case| {
        let (rig, seeds) = (rig.clone(), seeds.clone());
        let outcome = guarded("admin", SMALL_INPUT_BOUND, move || {
            admin_round(&rig, case, &seeds)
        });
        *outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome)
            .or_default() += 1;
    });
    let outcomes = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz admin outcomes: {outcomes:?}");
    if outcomes.values().sum::<usize>() >= COVERAGE_CASES {
        for needed in [
            "services: 200",
            "services: 400",
            "/tasks: 200",
            "/tasks: 400",
            "other: 404",
        ] {
            assert!(
                outcomes.contains_key(needed),
                "never {needed}: {outcomes:?}"
            );
        }
    }

    // The messages themselves, seeded with what this miner really sends.
    let mut messages: Vec<Vec<u8>> = [
        "/status",
        "/services",
        "/tasks",
        "/logs",
        &format!("/tasks/{}", rig.task_ids[0]),
    ]
    .iter()
    .map(|p| rig.request("GET", p, None).1)
    .collect();
    let page: TaskPage = serde_json::from_slice(&messages[2]).expect("TaskPage");
    let status: Status = serde_json::from_slice(&messages[0]).expect("Status");
    for event in [
        Event::Snapshot {
            status: Box::new(status.clone()),
            tasks: page.tasks.clone(),
        },
        Event::Task(Box::new(page.tasks[0].clone())),
        Event::Status(Box::new(status)),
        Event::Log {
            line: "a line".into(),
        },
    ] {
        messages.push(serde_json::to_vec(&event).expect("serialise"));
    }
    messages.push(serde_json::to_vec(&gas_shared::verdict::Verdict::default()).expect("serialise"));
    messages.push(
        serde_json::to_vec(&TaskQuery {
            limit: Some(5),
            q: Some("kite".into()),
            ..TaskQuery::default()
        })
        .expect("serialise"),
    );
    let messages = Arc::new(messages);
    let input = prop_oneof![
        2 => (0..messages.len(), vec(json_edit(), 1..4)).prop_map(|(s, e)| (s, Some(e), None)),
        2 => (0..messages.len(), mutations(6)).prop_map(|(s, m)| (s, None, Some(m))),
        1 => vec(any::<u8>(), 0..128).prop_map(|b| (usize::MAX, None, Some(vec![Mutation::Insert { at: 0, bytes: b }]))),
    ];
    let parsed = Mutex::new(std::collections::BTreeMap::<&str, usize>::new());
    fuzz(
        "admin-messages",
        CASES.admin_messages,
        input,
        |(seed, edits, muts)| {
            let messages = messages.clone();
            let kinds = guarded("admin-messages", SMALL_INPUT_BOUND, move || {
                let mut bytes = if seed == usize::MAX {
                    Vec::new()
                } else {
                    messages[seed % messages.len()].clone()
                };
                if let Some(edits) = edits
                    && let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes)
                {
                    for e in &edits {
                        doc = edit_json(&doc, e);
                    }
                    bytes = serde_json::to_vec(&doc).expect("serialise");
                }
                if let Some(m) = muts {
                    bytes = mutate(&bytes, &m);
                }
                admin_messages(&bytes)
            });
            let mut parsed = parsed.lock().unwrap_or_else(|p| p.into_inner());
            for k in kinds {
                *parsed.entry(k).or_default() += 1;
            }
        },
    );
    // Mutations of real messages must still reach the deep types, not only fail to parse.
    let parsed = parsed.into_inner().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz admin-messages parsed: {parsed:?}");
    if cases(CASES.admin_messages) as usize >= COVERAGE_CASES {
        for kind in ["Status", "TaskPage", "TaskDetail", "Event", "Verdict"] {
            assert!(
                parsed.contains_key(kind),
                "no {kind} ever parsed: {parsed:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target 4: wallet files, SS58 addresses and hex.
// ---------------------------------------------------------------------------------------------

/// A wallet file and the secrets it holds (which no error may show).
#[derive(Debug, Clone)]
struct WalletSeed {
    bytes: Vec<u8>,
    secrets: Vec<String>,
}

fn wallet_seeds() -> Vec<WalletSeed> {
    let dir = tempfile::tempdir().expect("tempdir");
    let phrase = gas_tests::MINER_PHRASE;
    identity::write_plain_hotkey(dir.path(), "w", "h", phrase).expect("plain wallet");
    let plain = std::fs::read(dir.path().join("w/hotkeys/h")).expect("read wallet");
    let mut seeds = vec![WalletSeed {
        bytes: plain,
        secrets: vec![phrase.to_string()],
    }];
    // A `secretSeed` wallet and a `privateKey` wallet, as older btcli versions wrote them.
    let seed: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let from_seed = Hotkey::from_seed(&seed).expect("seed key");
    let seed_hex = format!("0x{}", hex::encode(&seed));
    seeds.push(WalletSeed {
        bytes: json!({
            "secretSeed": seed_hex,
            "publicKey": format!("0x{}", hex::encode(from_seed.public_key())),
            "ss58Address": from_seed.ss58(),
        })
        .to_string()
        .into_bytes(),
        secrets: vec![seed_hex[2..].to_string()],
    });
    let mut private: Vec<u8> = (0u8..64)
        .map(|i| i.wrapping_mul(53).wrapping_add(7))
        .collect();
    private[31] &= 0x0F; // a canonical scalar
    let from_private = Hotkey::from_private_key(&private).expect("private key");
    let private_hex = hex::encode(&private);
    seeds.push(WalletSeed {
        bytes: json!({
            "privateKey": format!("0x{private_hex}"),
            "ss58Address": from_private.ss58(),
        })
        .to_string()
        .into_bytes(),
        secrets: vec![private_hex],
    });
    for (_, bytes) in corpus("wallet") {
        seeds.push(WalletSeed {
            bytes,
            secrets: Vec::new(),
        });
    }
    seeds
}

#[derive(Debug, Clone)]
struct WalletCase {
    seed: usize,
    prefix: Option<&'static str>,
    edits: Vec<JsonEdit>,
    mutations: Vec<Mutation>,
}

fn wallet_case(seeds: usize) -> impl Strategy<Value = WalletCase> {
    (
        0..seeds,
        prop::option::weighted(
            0.15,
            select(vec![
                "$NACL",
                "$BT",
                "$BITTENSOR",
                "gAAAAA",
                "$ANSIBLE_VAULT;1.1;AES256\n",
                " \n\t",
                "\u{feff}",
                "[",
                "\"",
            ]),
        ),
        vec(json_edit(), 0..3),
        prop_oneof![2 => Just(Vec::new()), 1 => mutations(5)],
    )
        .prop_map(|(seed, prefix, edits, mutations)| WalletCase {
            seed,
            prefix,
            edits,
            mutations,
        })
}

/// Loads `bytes` as a hotkey file: an error is an `Err` that shows no secret; a key is one the
/// file's own public key (if it states one) agrees with.
fn wallet_round(bytes: Vec<u8>, secrets: &[String], password: Option<&'static str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let hotkeys = dir.path().join("w/hotkeys");
    std::fs::create_dir_all(&hotkeys).expect("mkdir");
    std::fs::write(hotkeys.join("h"), &bytes).expect("write wallet");
    let asked = std::sync::atomic::AtomicBool::new(false);
    let ask = || {
        asked.store(true, std::sync::atomic::Ordering::SeqCst);
        password.map(str::to_string)
    };
    let loaded = Hotkey::load(dir.path(), "w", "h", &ask);
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        bytes.starts_with(b"$NACL"),
        "a password is asked for exactly for $NACL files"
    );
    match loaded {
        Ok(key) => {
            let doc: Value = serde_json::from_slice(&bytes).expect("only JSON loads here");
            let stated = doc
                .get("publicKey")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|pk| decode_hex(pk).expect("a loaded file's public key is hex"))
                .or_else(|| {
                    doc.get("ss58Address")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(|a| ss58_decode(a).expect("a loaded file's address").to_vec())
                });
            if let Some(stated) = stated {
                assert_eq!(stated, key.public_key(), "the key the file says it holds");
            }
            let shown = format!("{key:?}");
            for s in secrets {
                assert!(
                    !leaks(&shown, s),
                    "Debug of a key shows its secret: {shown}"
                );
            }
        }
        Err(e) => {
            let (text, debug) = (e.to_string(), format!("{e:?}"));
            assert!(!text.is_empty());
            for s in secrets {
                assert!(!leaks(&text, s), "error shows a secret: {text}");
                assert!(!leaks(&debug, s), "error shows a secret: {debug}");
            }
            if bytes.starts_with(b"$NACL") {
                assert!(
                    matches!(
                        e,
                        IdentityError::NoPassword { .. } | IdentityError::WrongPassword { .. }
                    ),
                    "{e}"
                );
            }
        }
    }
}

fn apply_wallet_case(case: &WalletCase, seeds: &[WalletSeed]) -> Vec<u8> {
    let seed = &seeds[case.seed % seeds.len()];
    let mut bytes = seed.bytes.clone();
    if !case.edits.is_empty()
        && let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes)
    {
        for e in &case.edits {
            doc = edit_json(&doc, e);
        }
        bytes = serde_json::to_vec(&doc).expect("serialise");
    }
    bytes = mutate(&bytes, &case.mutations);
    if let Some(p) = case.prefix {
        bytes.splice(0..0, p.bytes());
    }
    bytes
}

#[test]
fn fuzz_wallet_files() {
    let _turn = turn();
    let seeds = Arc::new(wallet_seeds());
    // The valid wallets load, as the key they state.
    for seed in seeds.iter().filter(|s| !s.secrets.is_empty()) {
        let bytes = seed.bytes.clone();
        let secrets = seed.secrets.clone();
        guarded("wallet/valid", SMALL_INPUT_BOUND, move || {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("w/hotkeys")).expect("mkdir");
            std::fs::write(dir.path().join("w/hotkeys/h"), &bytes).expect("write");
            Hotkey::load(dir.path(), "w", "h", &|| None).expect("a valid wallet loads");
            wallet_round(bytes, &secrets, None);
        });
    }
    for (name, bytes) in corpus("wallet") {
        // `$NACL` files big enough to be opened cost bittensor's Argon2i (512 MiB, about 3 s):
        // once each, with a wrong password, which must still be an answer and not a hang.
        let password = name.contains("nacl").then_some("not the password");
        let (bound, deadline) = if password.is_some() {
            (NACL_BOUND, NACL_WATCHDOG)
        } else {
            (SMALL_INPUT_BOUND, WATCHDOG)
        };
        let secrets = vec![gas_tests::MINER_PHRASE.to_string()];
        guarded_within(&format!("wallet/{name}"), bound, deadline, move || {
            wallet_round(bytes, &secrets, password)
        });
    }
    fuzz("wallet", CASES.wallet, wallet_case(seeds.len()), |case| {
        let seeds = seeds.clone();
        guarded("wallet", SMALL_INPUT_BOUND, move || {
            let bytes = apply_wallet_case(&case, &seeds);
            let secrets = seeds[case.seed % seeds.len()].secrets.clone();
            wallet_round(bytes, &secrets, None)
        })
    });
}

#[test]
fn fuzz_addresses_and_hex() {
    let _turn = turn();
    let valid = keys().validator.ss58().to_string();
    let text = prop_oneof![
        2 => mutations(4).prop_map(move |m| String::from_utf8_lossy(&mutate(valid.as_bytes(), &m)).into_owned()),
        1 => interesting_text(),
        1 => "[1-9A-HJ-NP-Za-km-z]{0,60}",
        1 => "(0x)?[0-9a-fA-F]{0,130}",
    ];
    fuzz(
        "addresses",
        CASES.addresses,
        (text, any::<[u8; 32]>()),
        |(text, public)| {
            guarded("addresses", SMALL_INPUT_BOUND, move || {
                // Every key's address reads back as that key.
                assert_eq!(ss58_decode(&ss58_encode(&public)), Ok(public));
                match ss58_decode(&text) {
                    Ok(pk) => {
                        assert_eq!(ss58_decode(&ss58_encode(&pk)), Ok(pk));
                    }
                    Err(e) => assert!(!e.is_empty()),
                }
                match decode_hex(&text) {
                    Ok(bytes) => assert!(
                        hex::encode(&bytes)
                            .eq_ignore_ascii_case(text.strip_prefix("0x").unwrap_or(&text))
                    ),
                    Err(e) => assert!(!e.to_string().is_empty()),
                }
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Target 5: the media pre-flight on malformed images and videos.
// ---------------------------------------------------------------------------------------------

fn webm(width: u16, height: u16, blocks: usize) -> Vec<u8> {
    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.push(0x80 | body.len() as u8);
        v.extend_from_slice(body);
        v
    }
    let video = el(
        &[0xE0],
        &[
            el(&[0xB0], &width.to_be_bytes()),
            el(&[0xBA], &height.to_be_bytes()),
        ]
        .concat(),
    );
    let entry = el(
        &[0xAE],
        &[el(&[0xD7], &[1]), el(&[0x83], &[1]), video].concat(),
    );
    let tracks = el(&[0x16, 0x54, 0xAE, 0x6B], &entry);
    let block = el(&[0xA3], &[0x81, 0, 0, 0x80, 9]);
    let cluster = el(&[0x1F, 0x43, 0xB6, 0x75], &block.repeat(blocks));
    let segment = el(&[0x18, 0x53, 0x80, 0x67], &[tracks, cluster].concat());
    [
        el(
            &[0x1A, 0x45, 0xDF, 0xA3],
            &[0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'],
        ),
        segment,
    ]
    .concat()
}

/// Recomputes every PNG chunk's CRC, so that a mutation reaches the decoder instead of
/// stopping at the checksum.
fn fix_png_crcs(b: &mut [u8]) {
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return;
    }
    let mut at = 8;
    while at + 12 <= b.len() {
        let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|e| e + 4 <= b.len()) else {
            return;
        };
        let crc = gas_tests::fixtures::crc32(&b[at + 4..end]);
        b[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// Where the picture or the video data is: PNG `IDAT` chunk data, MP4 `mdat` box bodies.
fn payload(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let be32 = |at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut at = 8;
        while let Some(len) = be32(at) {
            let end = at + 8 + len as usize;
            if b.get(at + 4..at + 8) == Some(b"IDAT") && end <= b.len() {
                out.push(at + 8..end);
            }
            at = end + 4;
        }
    } else if b.get(4..8) == Some(b"ftyp") {
        let mut at = 0;
        while let Some(size) = be32(at) {
            let size = size as usize;
            if size < 8 || at + size > b.len() {
                break;
            }
            if b.get(at + 4..at + 8) == Some(b"mdat") {
                out.push(at + 8..at + size);
            }
            at += size;
        }
    }
    out
}

struct MediaRig {
    preflight: Preflight,
    seeds: Vec<Vec<u8>>,
    /// Seeds that must pass the whole pre-flight.
    signed: Vec<usize>,
    /// Seeds before this index are valid media (the corpus follows).
    valid: usize,
    _dir: tempfile::TempDir,
}

impl MediaRig {
    fn new() -> MediaRig {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, anchors) = test_ca(dir.path());
        let preflight = Preflight::new(&anchors).expect("preflight");
        let signer = ca.signer(&Holder::valid("Google LLC")).expect("signer");
        let claim = Claim {
            generator: "Google Gemini".into(),
            when: time::OffsetDateTime::now_utc(),
            ai_generated: true,
        };
        use gas_tests::fixtures::picture;
        use image::ImageFormat;
        let mut seeds = vec![
            signer
                .sign(&picture(ImageFormat::Png, 3), "image/png", &claim)
                .expect("sign a PNG"),
            signer
                .sign(&synthetic_mp4(640, 480, 24, &[7; 512]), "video/mp4", &claim)
                .expect("sign an MP4"),
        ];
        let signed = vec![0, 1];
        for i in &signed {
            assert!(
                !payload(&seeds[*i]).is_empty(),
                "signed seed {i} has no payload"
            );
        }
        seeds.extend([
            picture(ImageFormat::Png, 5),
            picture(ImageFormat::Jpeg, 6),
            picture(ImageFormat::WebP, 7),
            picture(ImageFormat::Gif, 8),
            synthetic_mp4(1280, 720, 48, &[3; 256]),
            webm(640, 480, 3),
        ]);
        let valid = seeds.len();
        seeds.extend(corpus("media").into_iter().map(|(_, b)| b));
        MediaRig {
            preflight,
            seeds,
            signed,
            valid,
            _dir: dir,
        }
    }
}

/// How deep one input got: decoded as an image, parsed as a video, a manifest read, passed.
#[derive(Debug, Default, Clone, Copy)]
struct Depth {
    inputs: usize,
    decoded: usize,
    probed: usize,
    manifests: usize,
    passed: usize,
}

impl std::ops::AddAssign for Depth {
    fn add_assign(&mut self, o: Depth) {
        self.inputs += o.inputs;
        self.decoded += o.decoded;
        self.probed += o.probed;
        self.manifests += o.manifests;
        self.passed += o.passed;
    }
}

/// Every pre-flight step on `bytes`: a verdict always comes, consistent with the steps it is
/// made of; an error always says why.
fn media_round(rig: &MediaRig, bytes: &[u8], must_pass: bool) -> Depth {
    let mut depth = Depth {
        inputs: 1,
        ..Depth::default()
    };
    let head = &bytes[..bytes.len().min(32)];
    let ct = preflight::content_type(head);
    for modality in Modality::ALL {
        match preflight::check(head, modality) {
            Ok(found) => {
                assert_eq!(Some(found), ct);
                assert!(found.starts_with(modality.as_str()));
            }
            Err(e) => assert!(!e.is_empty()),
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("media");
    std::fs::write(&path, bytes).expect("write media");
    let image = decode_image(&path);
    match &image {
        Ok((m, img)) => {
            assert!(m.width > 0 && m.height > 0);
            assert_eq!((img.width(), img.height()), (m.width, m.height));
            assert!(u64::from(m.width) * u64::from(m.height) <= 16_384 * 16_384);
        }
        Err(e) => assert!(!e.is_empty()),
    }
    depth.decoded = usize::from(image.is_ok());
    for container in ["video/mp4", "video/quicktime", "video/webm"] {
        match probe_video(&path, container) {
            Ok(m) => {
                assert!(m.width > 0 && m.height > 0 && m.frames != Some(0), "{m:?}");
                depth.probed = 1;
            }
            Err(e) => assert!(!e.is_empty()),
        }
    }
    let modality = match ct {
        Some(t) if t.starts_with("video") => Modality::Video,
        _ => Modality::Image,
    };
    let t = task(
        modality,
        "a fuzzed kite",
        json!({}),
        Tier::default_for(modality),
    );
    let verdict = rig.preflight.judge(&path, &t, "fuzz");
    assert_eq!(verdict.passed, verdict.reasons.is_empty());
    assert_eq!(verdict.media.bytes, bytes.len() as u64);
    if verdict.passed {
        assert!(verdict.media.decodes && verdict.c2pa.verified && verdict.c2pa.is_trusted_issuer);
    }
    if modality == Modality::Image && ct.is_some() {
        assert_eq!(verdict.media.decodes, image.is_ok(), "{:?}", verdict.media);
    }
    if must_pass {
        assert!(
            verdict.passed,
            "a valid signed seed fails: {:?}",
            verdict.reasons
        );
    }
    depth.manifests = usize::from(verdict.c2pa.manifest_present);
    depth.passed = usize::from(verdict.passed);
    depth
}

#[test]
fn fuzz_media_preflight() {
    let _turn = turn();
    let rig = Arc::new(MediaRig::new());
    // The valid seeds: each decodes or parses, and the signed ones pass.
    for (i, seed) in rig.seeds[..rig.valid].iter().cloned().enumerate() {
        let r = rig.clone();
        let must_pass = rig.signed.contains(&i);
        let depth = guarded(&format!("media/seed {i}"), MEDIA_BOUND, move || {
            media_round(&r, &seed, must_pass)
        });
        assert!(
            depth.decoded + depth.probed > 0,
            "seed {i} neither decodes nor parses"
        );
    }
    for (name, bytes) in corpus("media") {
        let r = rig.clone();
        guarded(&format!("media/{name}"), MEDIA_BOUND, move || {
            media_round(&r, &bytes, false)
        });
    }
    let (valid, n) = (rig.valid, rig.seeds.len());
    let seed = prop_oneof![3 => 0..valid, 1 => valid..n];
    let reached = Arc::new(Mutex::new(Depth::default()));
    let case = (seed, mutations(4), prop::bool::weighted(0.7));
    fuzz("media", CASES.media, case, |(seed, muts, fix_crcs)| {
        let r = rig.clone();
        let depth = guarded("media", MEDIA_BOUND, move || {
            let mut bytes = mutate(&r.seeds[seed], &muts);
            if fix_crcs {
                fix_png_crcs(&mut bytes);
            }
            let depth = media_round(&r, &bytes, false);
            // Unsigned bytes (the manifest's padding, `ftyp`) may change; the picture or the
            // video data never without failing.
            let original = &r.seeds[seed];
            let tampered = r.signed.contains(&seed)
                && bytes.len() == original.len()
                && payload(original)
                    .into_iter()
                    .any(|p| bytes[p.clone()] != original[p]);
            assert!(
                !(tampered && depth.passed == 1),
                "media changed after signing passes the pre-flight"
            );
            depth
        });
        *reached.lock().unwrap_or_else(|p| p.into_inner()) += depth;
    });
    // A fuzzer whose inputs all die at the magic bytes tests nothing: enough of them must get
    // through each decoder and to the C2PA reader.
    let d = *reached.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!("fuzz media reached: {d:?}");
    if d.inputs >= COVERAGE_CASES {
        assert!(d.decoded * 20 >= d.inputs, "too few decoded: {d:?}");
        assert!(d.probed * 30 >= d.inputs, "too few videos parsed: {d:?}");
        assert!(
            d.manifests * 100 >= d.inputs,
            "too few manifests read: {d:?}"
        );
    }
}
