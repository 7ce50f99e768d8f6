//! Requests katalog makes to addresses others give it — webhook deliveries
//! and partner bundle fetches — reach public addresses only, unless the
//! configuration allows a host by name (`[outbound] allow_hosts`).
//!
//! A URL pointing at loopback, a private network, link-local addresses
//! (cloud metadata services) or the like would let whoever registers it
//! probe and read the inside of the network katalog runs in. The address
//! is checked where the connection is made: a host name by the resolver
//! every fenced client uses, which hands the connector only public
//! addresses (so the address checked is the address connected to, and a
//! name that resolves to `127.0.0.1` is refused); a literal IP address,
//! which is never resolved, when a request is made and on every redirect.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a request was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("address {0} is not public (allow its host in [outbound] allow_hosts to reach it)")]
    NotPublic(IpAddr),
    #[error("not a valid http(s) URL")]
    NotHttp,
}

/// The hosts allowed beyond the public internet; none by default.
#[derive(Clone, Debug, Default)]
pub struct Fence {
    allowed: Arc<BTreeSet<String>>,
}

impl Fence {
    /// Allows `hosts` (names or IP addresses as written in URLs) whatever
    /// their addresses.
    pub fn allowing<S: AsRef<str>>(hosts: &[S]) -> Fence {
        Fence { allowed: Arc::new(hosts.iter().map(|host| normalised(host.as_ref())).filter(|host| !host.is_empty()).collect()) }
    }

    fn allows(&self, host: &str) -> bool {
        self.allowed.contains(&normalised(host))
    }

    /// Whether a request to `url` may be made as far as the URL alone
    /// tells: an http(s) URL whose host, if an IP address, is public or
    /// allowed. Host names are checked when they are resolved.
    pub fn check(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::NotHttp);
        }
        // The URL parser writes an IPv4 address in any notation as a.b.c.d
        // and an IPv6 one in brackets.
        let host = url.host_str().ok_or(Refused::NotHttp)?;
        let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else { return Ok(()) };
        if is_public(address) || self.allows(&address.to_string()) { Ok(()) } else { Err(Refused::NotPublic(address)) }
    }

    /// A client that resolves host names through the fence, follows at
    /// most `max_redirects` redirects (each checked like the first URL),
    /// and ignores proxy settings of the environment (a proxy would
    /// resolve the host itself, past the fence). `configure` adds the
    /// caller's timeouts and headers.
    pub fn client(&self, max_redirects: usize, configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder) -> Result<Client, reqwest::Error> {
        crate::use_ring_for_tls();
        let fence = self.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if max_redirects == 0 {
                return attempt.stop();
            }
            if attempt.previous().len() > max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            match fence.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let builder = reqwest::Client::builder().dns_resolver(FencedResolver { fence: self.clone() }).redirect(redirects).no_proxy();
        Ok(Client { http: configure(builder).build()?, fence: self.clone() })
    }
}

/// Host names compare without case and trailing dot, IPv6 addresses without brackets.
fn normalised(host: &str) -> String {
    host.trim().trim_end_matches('.').trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// An HTTP client whose every request passes the fence.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    fence: Fence,
}

impl Client {
    /// A request to `url`, unless the fence refuses it already.
    pub fn request(&self, method: reqwest::Method, url: &Url) -> Result<reqwest::RequestBuilder, Refused> {
        self.fence.check(url)?;
        Ok(self.http.request(method, url.clone()))
    }
}

/// Resolves through the system resolver and keeps the public addresses
/// (all of them for an allowed host).
struct FencedResolver {
    fence: Fence,
}

impl Resolve for FencedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.fence.allows(&host);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found.iter().copied().filter(|address| allowed || is_public(address.ip())).collect();
            match (usable.is_empty(), found.first()) {
                (true, Some(first)) => Err(Box::new(Refused::NotPublic(first.ip())) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(usable.into_iter()) as Addrs),
            }
        })
    }
}

/// Whether an address is on the public internet: not loopback, private
/// (RFC 1918), shared (CGNAT), link-local, unique-local, unspecified,
/// multicast, broadcast, documentation, benchmarking or reserved — and,
/// for IPv6 forms that carry an IPv4 address, whether that one is.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let s = address.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match s {
        // IPv4-compatible (::a.b.c.d, deprecated), and :: and ::1 among them.
        [0, 0, 0, 0, 0, 0, high, low] => high != 0 && is_public_v4(embedded(high, low)),
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it carries.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded(high, low)),
        // 6to4 (2002::/16) likewise.
        [0x2002, high, low, ..] => is_public_v4(embedded(high, low)),
        _ => {
            !(address.is_multicast()
            || address.is_unique_local()
            || address.is_unicast_link_local()
            // site-local (fec0::/10, deprecated), documentation (2001:db8::/32),
            // and IETF protocol assignments with Teredo (2001::/23).
            || (s[0] & 0xffc0) == 0xfec0
            || (s[0] == 0x2001 && s[1] == 0x0db8)
            || (s[0] == 0x2001 && s[1] < 0x0200))
        }
    }
}

/// `url` as messages show it: without user name and password.
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// A short cause of a failed request, for messages: what the fence
/// refused, a timeout, a connection failure or a status code — never
/// what the remote side sent.
pub fn cause(error: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(error);
    let mut io = None;
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        if io.is_none() {
            io = cause.downcast_ref::<std::io::Error>().map(|e| e.kind());
        }
        source = cause.source();
    }
    if error.is_timeout() {
        "no answer in time".into()
    } else if let Some(status) = error.status() {
        format!("answered HTTP {}", status.as_u16())
    } else if error.is_redirect() {
        "too many redirects".into()
    } else if error.is_connect() {
        match io {
            Some(kind) => format!("cannot connect ({kind})"),
            None => "cannot connect".into(),
        }
    } else if error.is_body() || error.is_decode() {
        "the answer broke off".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2001::1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2a00:1450:4001:81b::200e",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn literal_addresses_are_checked_and_allowed_by_name() {
        let url = |text: &str| Url::parse(text).unwrap();
        let closed = Fence::default();
        assert_eq!(closed.check(&url("http://127.0.0.1:8080/hook")), Err(Refused::NotPublic("127.0.0.1".parse().unwrap())));
        assert_eq!(closed.check(&url("http://[::ffff:7f00:1]/")), Err(Refused::NotPublic("::ffff:127.0.0.1".parse().unwrap())));
        assert_eq!(closed.check(&url("http://0x7f000001/")), Err(Refused::NotPublic("127.0.0.1".parse().unwrap())), "written otherwise, the same address");
        assert_eq!(closed.check(&url("ftp://8.8.8.8/")), Err(Refused::NotHttp));
        assert_eq!(closed.check(&url("https://8.8.8.8/")), Ok(()));
        assert_eq!(closed.check(&url("https://localhost/")), Ok(()), "names are checked when resolved");
        let open = Fence::allowing(&["127.0.0.1", "[::1]", "Partner.Internal."]);
        assert_eq!(open.check(&url("http://127.0.0.1:8080/hook")), Ok(()));
        assert_eq!(open.check(&url("http://[::1]:8080/hook")), Ok(()));
        assert!(open.allows("partner.internal"));
        assert_eq!(open.check(&url("http://10.0.0.1/")), Err(Refused::NotPublic("10.0.0.1".parse().unwrap())));
    }

    #[test]
    fn credentials_are_not_shown() {
        assert_eq!(shown(&Url::parse("https://user:secret@example.org/bundle/").unwrap()), "https://example.org/bundle/");
    }
}
