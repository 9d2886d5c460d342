//! Target 3: the admin protocol: the socket served in-process (`PUT /services` selections,
//! task and log queries, arbitrary methods and paths), and every admin message type.

use crate::harness::{
    CASES, COVERAGE_CASES, SMALL_INPUT_BOUND, cases, corpus, fuzz, guarded, turn,
};
use crate::setup::{rig_basics, settings, task, uuid_like};
use crate::strategies::{
    Mutation, edit_json, interesting_text, json_edit, json_value, mutate, mutations,
};
use gas_miner::testing::{InProcess, Store};
use gas_shared::admin::*;
use gas_shared::{Modality, Tier};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

struct AdminRig {
    rt: tokio::runtime::Runtime,
    socket: PathBuf,
    store: Store,
    env_chains: (Vec<String>, Vec<String>),
    task_ids: Vec<String>,
    _miner: InProcess,
    _dir: tempfile::TempDir,
}

impl AdminRig {
    fn new() -> AdminRig {
        let (dir, rt, anchors, k) = rig_basics();
        let socket = dir.path().join("admin.sock");
        let _enter = rt.enter();
        let miner = InProcess::start(
            &settings(dir.path(), &anchors),
            gas_tests::key(gas_tests::MINER_PHRASE),
            k.graph.clone(),
            None,
        )
        .unwrap_or_else(|e| panic!("in-process miner: {e}"));
        let env_chains = (
            miner.configured_services(Modality::Image),
            miner.configured_services(Modality::Video),
        );
        let store = miner.store().clone();
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
        miner.log("a log line for the tail");
        rt.block_on(miner.serve_admin()).expect("admin socket");
        drop(_enter);
        AdminRig {
            rt,
            socket,
            store,
            env_chains,
            task_ids,
            _miner: miner,
            _dir: dir,
        }
    }

    fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> (u16, Vec<u8>) {
        let (status, bytes) = self
            .rt
            .block_on(gas_client::request(&self.socket, method, path, body))
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
