//! Trust anchors: the directory of PEM roots validators trust (`GAS_TRUST_ANCHORS`). Loading
//! checks every certificate; an empty or broken directory is an error that says how to fix
//! it. `gas-miner trust update` fetches the subnet's current list (a GitHub directory listing
//! of PEM files, or one PEM bundle), validates every certificate, and only then swaps the
//! directory in whole; a running miner picks the change up by itself.

use super::PreflightError;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where the subnet's validators keep their anchors (GitHub's listing of the directory).
pub const SUBNET_ANCHORS_URL: &str = "https://api.github.com/repos/BitMind-AI/bitmind-subnet/contents/gas/verification/trust_anchors?ref=main";

/// What was loaded from a directory.
#[derive(Debug, Clone)]
pub struct Anchors {
    pub dir: PathBuf,
    /// Every certificate, concatenated as one PEM bundle.
    pub pem: String,
    /// Subject of each certificate.
    pub subjects: Vec<String>,
    /// Names, sizes and times of the files, to notice a change.
    pub fingerprint: Vec<(String, u64, Option<SystemTime>)>,
}

impl Anchors {
    pub fn count(&self) -> usize {
        self.subjects.len()
    }

    /// When the newest file was written (unix ms).
    pub fn updated_ms(&self) -> Option<i64> {
        self.fingerprint
            .iter()
            .filter_map(|(_, _, t)| t.as_ref())
            .filter_map(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .max()
    }
}

pub(super) fn how_to_get(dir: &Path) -> String {
    format!(
        "run `gas-miner trust update` to download the subnet's trust anchors into {}, or point GAS_TRUST_ANCHORS (--trust-anchors) at a directory of PEM files",
        dir.display()
    )
}

/// The certificates in one PEM text, each checked; `Err` names what is wrong.
pub fn parse_pem(text: &str, name: &str) -> Result<Vec<(String, String)>, PreflightError> {
    let bad = |detail: String| PreflightError::Pem {
        name: name.to_string(),
        detail,
    };
    let mut out = Vec::new();
    for (i, block) in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()).enumerate() {
        let pem = block.map_err(|e| bad(format!("PEM block {} is malformed: {e}", i + 1)))?;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        let cert = pem
            .parse_x509()
            .map_err(|e| bad(format!("certificate {} is not valid X.509: {e}", i + 1)))?;
        let subject = cert.subject().to_string();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pem.contents);
        let mut armoured = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            armoured.push_str(&String::from_utf8_lossy(line));
            armoured.push('\n');
        }
        armoured.push_str("-----END CERTIFICATE-----\n");
        out.push((subject, armoured));
    }
    if out.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(out)
}

fn fingerprint(dir: &Path) -> Vec<(String, u64, Option<SystemTime>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| is_anchor_file(&e.path()))
        .map(|e| {
            let meta = e.metadata().ok();
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            )
        })
        .collect();
    files.sort();
    files
}

fn is_anchor_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pem" | "crt" | "cer")
    )
}

/// Loads every `*.pem`, `*.crt` and `*.cer` in `dir`.
pub fn load(dir: &Path) -> Result<Anchors, PreflightError> {
    // Taken first, so a change made while reading is seen by the next check.
    let before = fingerprint(dir);
    let entries = std::fs::read_dir(dir).map_err(|source| PreflightError::AnchorsUnreadable {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_anchor_file(p))
        .collect();
    paths.sort();
    let mut pem = String::new();
    let mut subjects = Vec::new();
    for path in &paths {
        let text =
            std::fs::read_to_string(path).map_err(|source| PreflightError::AnchorUnreadable {
                file: path.clone(),
                source,
            })?;
        for (subject, block) in parse_pem(&text, &path.display().to_string())
            .map_err(|e| PreflightError::BadAnchor(Box::new(e)))?
        {
            subjects.push(subject);
            pem.push_str(&block);
        }
    }
    if subjects.is_empty() {
        return Err(PreflightError::NoAnchors {
            dir: dir.to_path_buf(),
        });
    }
    Ok(Anchors {
        dir: dir.to_path_buf(),
        pem,
        subjects,
        fingerprint: before,
    })
}

/// Whether the directory changed since `anchors` was loaded.
pub fn changed(anchors: &Anchors) -> bool {
    fingerprint(&anchors.dir) != anchors.fingerprint
}

/// Fetches the list at `url` (a GitHub directory listing, or a PEM bundle), checks every
/// certificate, and replaces `dir` with it only if all are good. Returns the subjects.
pub async fn update(dir: &Path, url: &str) -> Result<Vec<String>, PreflightError> {
    let client = crate::tls::http_client()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("gas-miner/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PreflightError::Download(crate::text::error_chain(&e)))?;
    let get = |u: String| {
        let client = client.clone();
        async move {
            let fail = |e: reqwest::Error| {
                PreflightError::Download(format!(
                    "{} (check this machine's network access, or copy the PEM files into the anchors directory yourself)",
                    crate::text::without_queries(&crate::text::error_chain(&e))
                ))
            };
            let resp = client.get(&u).send().await.map_err(fail)?;
            let status = resp.status();
            let body = resp.text().await.map_err(fail)?;
            if !status.is_success() {
                return Err(PreflightError::Download(format!(
                    "{u} answered HTTP {}: {}",
                    status.as_u16(),
                    crate::text::truncate(body.trim(), 200)
                )));
            }
            Ok(body)
        }
    };
    let body = get(url.to_string()).await?;
    // (file name, PEM text) pairs to install.
    let mut files: Vec<(String, String)> = Vec::new();
    if let Ok(serde_json::Value::Array(listing)) = serde_json::from_str(&body) {
        for item in listing {
            let name = item["name"].as_str().unwrap_or_default().to_string();
            let Some(link) = item["download_url"].as_str() else {
                continue;
            };
            if !is_anchor_file(Path::new(&name)) || name.contains('/') || name.starts_with('.') {
                continue;
            }
            files.push((name, get(link.to_string()).await?));
        }
    } else {
        files.push(("subnet-anchors.pem".into(), body));
    }
    let mut subjects = Vec::new();
    for (name, text) in &files {
        for (subject, _) in parse_pem(text, &format!("{name} from {url}"))? {
            subjects.push(subject);
        }
    }
    if subjects.is_empty() {
        return Err(PreflightError::NothingListed {
            url: url.to_string(),
        });
    }
    install(dir, &files).map_err(|e| PreflightError::Install {
        dir: dir.to_path_buf(),
        source: Box::new(e),
    })?;
    Ok(subjects)
}

/// Writes `files` into a fresh directory beside `dir`, checks that the C2PA reader accepts
/// them, then swaps it in; on any failure the old directory stays (or is put back).
fn install(dir: &Path, files: &[(String, String)]) -> Result<(), PreflightError> {
    let io = |what: &'static str, source: std::io::Error| PreflightError::InstallStep {
        what,
        dir: dir.to_path_buf(),
        source,
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io("created", e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trust_anchors".into());
    let fresh = parent.join(format!(".{name}.new-{}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&fresh)?;
        for (file, text) in files {
            let mut f = std::fs::File::create(fresh.join(file))?;
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::File::open(&fresh)?.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(io("written", e));
    }
    if let Err(e) = super::Trusted::load(&fresh) {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(PreflightError::Refused(Box::new(e)));
    }
    let had_old = dir.exists();
    if had_old && let Err(e) = std::fs::rename(dir, &old) {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(io("moved aside", e));
    }
    if let Err(e) = std::fs::rename(&fresh, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(io("swapped", e));
    }
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_broken_directory_says_how_to_get_anchors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = load(dir.path()).expect_err("empty").to_string();
        assert!(e.contains("gas-miner trust update"), "{e}");
        std::fs::write(
            dir.path().join("bad.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = load(dir.path()).expect_err("broken").to_string();
        assert!(
            e.contains("bad.pem") && e.contains("not valid X.509"),
            "{e}"
        );
    }
}
