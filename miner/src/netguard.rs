//! Where webhooks may go. A validator names the webhook URL in its challenge, so without a
//! guard any staked validator could make the miner POST into the operator's own network
//! (a router's admin page, a cloud metadata service, a database on localhost). By default
//! webhooks go only to public addresses over http(s); `MINER_WEBHOOK_ALLOW` lists the
//! networks that may be reached anyway (a local testnet, a validator on the same LAN).
//!
//! Literal addresses are checked when the challenge arrives (a clear 400) and again before
//! each delivery (the allow list may have changed since); host names are checked on every
//! connection, after DNS, so a name that resolves to a private address is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// A network such as `10.0.0.0/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Net {
    type Err = BadNetwork;

    fn from_str(text: &str) -> Result<Net, BadNetwork> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .map_err(|_| BadNetwork(format!("{text:?} is not an address or network")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                BadNetwork(format!(
                    "{text:?} has a prefix length that is not 0..={max}"
                ))
            })?,
        };
        // `::ffff:10.0.0.0/104` means 10.0.0.0/8: addresses are judged as IPv4 too.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Ok(Net {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Ok(Net { addr, prefix })
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// IPv4 addresses written as IPv6 (`::ffff:10.0.0.1`) are judged as the IPv4 they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, or None for a public one.
pub(crate) fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 0 => "unspecified",
        _ if a == 100 && (64..128).contains(&b) => "shared (carrier-grade NAT)",
        _ if ip.is_multicast() || ip.is_broadcast() => "multicast",
        _ if a >= 240 => "reserved",
        _ if a == 192 && b == 0 && ip.octets()[2] == 0 => "reserved (IETF protocol assignments)",
        _ if a == 198 && (b == 18 || b == 19) => "reserved (benchmarking)",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if s[0] & 0xfe00 == 0xfc00 => "private (unique local)",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if ip.is_multicast() => "multicast",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local",
        // NAT64 (64:ff9b::/96, the local-use 64:ff9b:1::/48) and IPv4-compatible (::/96)
        // addresses carry an IPv4 address: judge that one.
        _ if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            || s[..3] == [0x64, 0xff9b, 1]
            || s[..6] == [0, 0, 0, 0, 0, 0] =>
        {
            let o = ip.octets();
            return v4_kind(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
        }
        _ => return None,
    })
}

impl std::fmt::Display for WebhookGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("to public http(s) addresses only")?;
        if !self.allow.is_empty() {
            let nets: Vec<String> = self.allow.iter().map(Net::to_string).collect();
            write!(f, ", and to {} (MINER_WEBHOOK_ALLOW)", nets.join(", "))?;
        }
        Ok(())
    }
}

/// Why a delivery was not attempted: the target is in the operator's own network, or is no
/// http(s) URL.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Forbidden(pub String);

/// A `MINER_WEBHOOK_ALLOW` entry that is no address or network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadNetwork(String);

/// The rule for webhook targets: public addresses, plus the networks the operator allowed.
#[derive(Clone, Debug, Default)]
pub struct WebhookGuard {
    allow: Arc<Vec<Net>>,
}

impl WebhookGuard {
    pub fn new(allow: Vec<Net>) -> WebhookGuard {
        WebhookGuard {
            allow: Arc::new(allow),
        }
    }

    /// Why the miner will not connect to `ip`, or None when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let kind = private_kind(ip)?;
        if self.allow.iter().any(|n| n.contains(ip)) {
            return None;
        }
        Some(format!(
            "{ip} is a {kind} address; webhooks go only to public addresses unless \
             MINER_WEBHOOK_ALLOW lists the network (e.g. MINER_WEBHOOK_ALLOW={})",
            suggestion(ip)
        ))
    }

    /// Checks a webhook URL's scheme and, when its host is an address, the address.
    pub fn check_url(&self, url: &str) -> Result<(), Forbidden> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| Forbidden(format!("{url:?} is not an absolute http(s) URL")))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| Forbidden(format!("{url:?} has no host")))?;
        let Ok(ip) = host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
        else {
            return Ok(());
        };
        match self.refusal(ip) {
            Some(why) => Err(Forbidden(why)),
            None => Ok(()),
        }
    }
}

fn suggestion(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => format!("{v4}/32"),
        IpAddr::V6(v6) => format!("{v6}/128"),
    }
}

impl reqwest::dns::Resolve for WebhookGuard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match guard.refusal(a.ip()) {
                    Some(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                    None => true,
                })
                .collect();
            if usable.is_empty() {
                let why = refused.unwrap_or_else(|| "no address found".to_string());
                return Err(Box::new(Forbidden(format!("{host} resolves to {why}"))) as _);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `error` (or what caused it) is the guard refusing a target.
pub(crate) fn is_forbidden(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(f) = e.downcast_ref::<Forbidden>() {
            return Some(f.0.clone());
        }
        cause = e.source();
    }
    None
}

/// Parses `MINER_WEBHOOK_ALLOW`: networks or addresses separated by commas.
pub(crate) fn parse_allow(text: &str) -> Result<Vec<Net>, BadNetwork> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ok")
    }

    #[test]
    fn the_operator_s_own_networks_are_refused_and_public_ones_allowed() {
        let guard = WebhookGuard::default();
        for own in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.9",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "::127.0.0.1",
            "fec0::1",
            "192.0.0.8",
            "198.18.0.1",
        ] {
            assert!(guard.refusal(ip(own)).is_some(), "{own} was allowed");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(guard.refusal(ip(public)), None, "{public} was refused");
        }
        let why = guard.refusal(ip("169.254.169.254")).expect("ok");
        assert!(
            why.contains("link-local") && why.contains("MINER_WEBHOOK_ALLOW=169.254.169.254/32"),
            "{why}"
        );
    }

    #[test]
    fn allowed_networks_are_reached_and_only_those() {
        let guard = WebhookGuard::new(parse_allow("127.0.0.0/8, 10.0.0.5 ,fd00::/8").expect("ok"));
        assert_eq!(guard.refusal(ip("127.9.9.9")), None);
        assert_eq!(guard.refusal(ip("::ffff:127.0.0.1")), None);
        assert_eq!(guard.refusal(ip("10.0.0.5")), None);
        assert!(guard.refusal(ip("10.0.0.6")).is_some());
        assert_eq!(guard.refusal(ip("fd12::1")), None);
        let mapped = WebhookGuard::new(parse_allow("::ffff:10.0.0.0/104").expect("ok"));
        assert_eq!(mapped.refusal(ip("10.9.9.9")), None);
        assert!(mapped.refusal(ip("11.0.0.1")).is_none(), "public anyway");
        assert!(mapped.refusal(ip("192.168.0.1")).is_some());
        assert!(guard.refusal(ip("192.168.0.1")).is_some());
        assert!(
            parse_allow("10.0.0.0/33")
                .expect_err("an error")
                .to_string()
                .contains("prefix")
        );
        assert!(
            parse_allow("localhost")
                .expect_err("an error")
                .to_string()
                .contains("not an address")
        );
        assert_eq!(parse_allow("").expect("ok"), vec![]);
    }

    #[test]
    fn urls_are_http_only_and_literal_addresses_are_checked() {
        let guard = WebhookGuard::default();
        assert!(
            guard
                .check_url("http://203.0.113.7:10525/generative_callback")
                .is_ok()
        );
        assert!(guard.check_url("https://validator.example/cb").is_ok());
        assert!(guard.check_url("http://[::1]:10525/cb").is_err());
        assert!(
            guard
                .check_url("http://192.168.0.10/cb")
                .expect_err("an error")
                .to_string()
                .contains("private")
        );
        assert!(
            guard
                .check_url("file:///etc/passwd")
                .expect_err("an error")
                .to_string()
                .contains("http(s)")
        );
        assert!(guard.check_url("gopher://8.8.8.8/").is_err());
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_refused_after_dns() {
        use reqwest::dns::Resolve;
        let guard = WebhookGuard::default();
        let err = match guard.resolve("localhost".parse().expect("ok")).await {
            Ok(_) => panic!("localhost was resolved for a webhook"),
            Err(e) => e,
        };
        let why = is_forbidden(err.as_ref()).expect("a Forbidden error");
        assert!(
            why.contains("localhost resolves to") && why.contains("loopback"),
            "{why}"
        );
        let open = WebhookGuard::new(parse_allow("127.0.0.0/8,::1").expect("ok"));
        assert!(open.resolve("localhost".parse().expect("ok")).await.is_ok());
    }
}
