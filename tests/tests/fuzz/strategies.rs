//! What the fuzzer feeds: byte mutations that reach into structure (length and dimension
//! fields, box and chunk tags), arbitrary JSON with the keys the miner reads, and edits of a
//! JSON document.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// One change to a byte string. Positions are taken modulo the length, so every mutation
/// applies to every input and shrinks towards the start.
#[derive(Debug, Clone)]
pub enum Mutation {
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

pub fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
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
pub fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![
        2 => vec(mutation(), 1..2),
        1 => vec(mutation(), 2..max.max(3)),
    ]
}

/// Arbitrary JSON, nested a few levels, with the keys the miner looks for mixed in.
pub fn json_value() -> impl Strategy<Value = Value> {
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

pub fn json_key() -> impl Strategy<Value = String> {
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
pub fn interesting_text() -> impl Strategy<Value = String> {
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
pub enum JsonEdit {
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

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
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

pub fn edit_json(doc: &Value, edit: &JsonEdit) -> Value {
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
