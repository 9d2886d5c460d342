//! ARCHITECTURE.md kept true: its code map is read here and held against the code.
//!
//! - Every module of `miner/src` is in the map's layer table, and every module the table names
//!   exists; so does every path a code-map heading names.
//! - A module imports (`crate::x`, `use crate::{x, …}`) only modules of lower layers: no
//!   import loop can form, and nothing reaches up.
//! - "Never imports" lines are obeyed.
//! - The console and the admin client know nothing of the miner: neither depends on the
//!   gas-miner crate, nor names it in its code.
//!
//! Plain text reading, no dependencies: it runs in a fraction of a second.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file of `miner/src` belongs to (`None` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("inside src");
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    match first.as_str() {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_string()),
    }
}

/// The code without comments (line comments and doc comments), so prose naming a module
/// is not read as an import.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let code = match line.find("//") {
                // `//` inside a string ("http://…") is code; good enough: cut only when
                // no quote comes before it.
                Some(at) if !line[..at].contains('"') => &line[..at],
                _ => line,
            };
            (i + 1, code.to_string())
        })
        .collect()
}

/// The crate modules a line refers to: `crate::x…` and each head of `crate::{x, y::z}`.
fn referenced(line: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() && head != "self" {
                    out.push(head);
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                out.push(head);
            }
        }
    }
    out
}

/// The code map's parts: module → layer, and module → modules it must never import.
struct Map {
    layers: BTreeMap<String, usize>,
    never: BTreeMap<String, Vec<String>>,
    paths: Vec<String>,
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn read_map() -> Map {
    let doc = read(&root().join("ARCHITECTURE.md"));
    let start = doc
        .find("\n## Code map")
        .expect("ARCHITECTURE.md has a '## Code map' section");
    let map = &doc[start..];
    let map = match map[1..].find("\n## ") {
        Some(end) => &map[..end + 1],
        None => map,
    };
    let mut layers = BTreeMap::new();
    let mut never: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut paths = Vec::new();
    let mut heading_module: Option<String> = None;
    for line in map.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4
            && let Ok(layer) = cells[1].parse::<usize>()
        {
            for m in backticked(cells[2]) {
                assert!(
                    layers.insert(m.clone(), layer).is_none(),
                    "ARCHITECTURE.md puts {m} in two layers"
                );
            }
        }
        if let Some(h) = line.strip_prefix("### ") {
            let named = backticked(h);
            heading_module = named.first().and_then(|p| {
                p.strip_prefix("miner/src/")
                    .map(|m| m.trim_end_matches('/').trim_end_matches(".rs").to_string())
            });
            paths.extend(named);
        }
        if let Some(list) = line.strip_prefix("Never imports:") {
            let module = heading_module
                .clone()
                .unwrap_or_else(|| panic!("'Never imports' outside a miner/src heading: {line}"));
            never.entry(module).or_default().extend(backticked(list));
        }
    }
    assert!(
        !layers.is_empty(),
        "ARCHITECTURE.md's code map has no layer table"
    );
    Map {
        layers,
        never,
        paths,
    }
}

#[test]
fn every_module_is_placed_and_every_named_one_exists() {
    let map = read_map();
    let src = root().join("miner/src");
    let modules: BTreeSet<String> = rust_files(&src)
        .iter()
        .filter_map(|f| module_of(&src, f))
        .collect();
    let unplaced: Vec<&String> = modules
        .iter()
        .filter(|m| !map.layers.contains_key(*m))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules of miner/src missing from ARCHITECTURE.md's layer table: {unplaced:?}"
    );
    let gone: Vec<&String> = map
        .layers
        .keys()
        .filter(|m| !modules.contains(*m))
        .collect();
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md's layer table names modules that do not exist: {gone:?}"
    );
    let missing: Vec<&String> = map
        .paths
        .iter()
        .filter(|p| !root().join(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map names paths that do not exist: {missing:?}"
    );
}

#[test]
fn modules_import_only_lower_layers_so_nothing_loops() {
    let map = read_map();
    let src = root().join("miner/src");
    let mut wrong = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for file in rust_files(&src) {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        let Some(&from_layer) = map.layers.get(&from) else {
            continue;
        };
        for (n, line) in code_lines(&read(&file)) {
            for to in referenced(&line, "crate::") {
                if to == from {
                    continue;
                }
                let Some(&to_layer) = map.layers.get(&to) else {
                    continue;
                };
                edges.insert((from.clone(), to.clone()));
                let rel = file.strip_prefix(root()).unwrap_or(&file).display();
                if to_layer >= from_layer {
                    wrong.push(format!(
                        "{rel}:{n}: {from} (layer {from_layer}) imports {to} (layer {to_layer})"
                    ));
                }
                if map.never.get(&from).is_some_and(|n| n.contains(&to)) {
                    wrong.push(format!(
                        "{rel}:{n}: {from} imports {to}, which ARCHITECTURE.md says it never does"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against ARCHITECTURE.md's code map:\n{}",
        wrong.join("\n")
    );
    // Strict layers leave no room for a loop; say so in terms of the graph too.
    let graph: BTreeMap<&str, Vec<&str>> = edges.iter().fold(BTreeMap::new(), |mut g, (a, b)| {
        g.entry(a.as_str()).or_default().push(b.as_str());
        g
    });
    fn visit<'a>(
        m: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(at) = path.iter().position(|p| *p == m) {
            panic!("import loop: {} → {m}", path[at..].join(" → "));
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_console_and_the_client_know_only_the_socket() {
    for krate in ["console", "client", "shared"] {
        let manifest = read(&root().join(krate).join("Cargo.toml"));
        assert!(
            !manifest
                .lines()
                .any(|l| l.trim_start().starts_with("gas-miner")),
            "{krate}/Cargo.toml depends on gas-miner: it must talk to a miner through its admin socket only"
        );
        for file in rust_files(&root().join(krate).join("src")) {
            for (n, line) in code_lines(&read(&file)) {
                assert!(
                    !line.contains("gas_miner::"),
                    "{}:{n} names the miner's code: {line}",
                    file.display()
                );
            }
        }
    }
    let shared = read(&root().join("shared/Cargo.toml"));
    for ours in ["gas-console", "gas-client", "gas-tests"] {
        assert!(
            !shared.lines().any(|l| l.trim_start().starts_with(ours)),
            "gas-shared depends on {ours}: it is the bottom of the workspace"
        );
    }
}

#[test]
fn the_reader_sees_imports_as_the_compiler_does() {
    assert_eq!(
        referenced("use crate::{clock::now_ms, store::Store, self};", "crate::"),
        vec!["clock", "store"]
    );
    assert_eq!(
        referenced(
            "let x = crate::text::truncate(a, 3) + gas_crate::y;",
            "crate::"
        ),
        vec!["text"]
    );
    assert!(
        code_lines("// crate::store is not an import")[0]
            .1
            .is_empty()
    );
    assert_eq!(
        code_lines("let u = \"http://x\"; // note")[0].1,
        "let u = \"http://x\"; // note"
    );
}
