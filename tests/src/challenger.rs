//! A validator's side of the conversation with the miner: signed challenges and requests
//! (`Challenger`), with bodies written as Python writes JSON (`python_json`).

use crate::{MINER_PHRASE, key};
use gas_miner::clock::now_ms;
use gas_miner::epistula::{sha256_hex, sign_headers};
use gas_miner::identity::Hotkey;
use serde_json::Value;
use std::time::Duration;

/// Signs and sends like a validator. `tweak` may change headers after signing.
pub struct Challenger {
    pub client: reqwest::Client,
    pub key: Hotkey,
    pub miner: String,
    pub base: String,
}

impl Challenger {
    pub fn new(base: &str, phrase: &str) -> Challenger {
        Challenger {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            key: key(phrase),
            miner: key(MINER_PHRASE).ss58().to_string(),
            base: base.to_string(),
        }
    }

    pub fn headers(&self, body: &[u8], ts: i64) -> Vec<(String, String)> {
        sign_headers(&self.key, &sha256_hex(body), Some(&self.miner), ts)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// POSTs `body` to `path` with `headers` as given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        self.try_send(req).await.expect("request reached the miner")
    }

    async fn try_send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// A correctly signed challenge, or the transport error (a miner that is stopping).
    pub async fn try_challenge(
        &self,
        path: &str,
        body: &Value,
        webhook: &str,
    ) -> Result<(u16, Value), reqwest::Error> {
        let bytes = python_json(body);
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("X-Webhook-URL", webhook);
        for (k, v) in self.headers(&bytes, now_ms()) {
            req = req.header(k, v);
        }
        self.try_send(req.body(bytes)).await
    }

    /// A correctly signed challenge with the webhook header.
    pub async fn challenge(&self, path: &str, body: &Value, webhook: &str) -> (u16, Value) {
        let bytes = python_json(body);
        let mut headers = self.headers(&bytes, now_ms());
        headers.push(("Content-Type".into(), "application/json".into()));
        headers.push(("X-Webhook-URL".into(), webhook.into()));
        self.send(reqwest::Method::POST, path, bytes, &headers)
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let headers = self.headers(b"", now_ms());
        self.send(reqwest::Method::GET, path, Vec::new(), &headers)
            .await
    }

    /// The task's `/status` once its state is `state`, or the last answer after `within`.
    /// The webhook reaches the validator before the miner has recorded its reply, so a
    /// test that saw the webhook waits here for the record rather than racing it.
    pub async fn task_in_state(&self, task_id: &str, state: &str, within: Duration) -> Value {
        let path = format!("/status/{task_id}");
        let start = std::time::Instant::now();
        loop {
            let (_, task) = self.get(&path).await;
            if task["state"] == state || start.elapsed() > within {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators).
pub fn python_json(v: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, val)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    write(val, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, val) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(val, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s.into_bytes()
}
