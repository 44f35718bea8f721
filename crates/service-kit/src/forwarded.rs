//! Who the client is behind trusted proxies (`server.trusted_proxies`): the socket's
//! peer, unless the peer is a trusted proxy; then the right-most `X-Forwarded-For`
//! entry that is not a trusted proxy. Every entry trusted: the left-most. A malformed
//! entry met on the way: the peer (nothing after a forged entry is believed). Several
//! header lines count as one list, in order. An IPv4-mapped IPv6 address is its IPv4
//! address.

use std::net::IpAddr;

use ipnet::IpNet;
use session_core::settings::SettingsError;

/// The header proxies append the address they received a request from to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed. Empty: none, the peer is the client.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// An address as compared and shown: an IPv4-mapped IPv6 address as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// Parses `server.trusted_proxies`: IP addresses or CIDR ranges, separated by
    /// commas (or white space); anything else is refused, naming the key.
    pub fn parse(list: Option<&str>) -> Result<Self, SettingsError> {
        let mut nets = Vec::new();
        for entry in list
            .unwrap_or("")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(canonical(ip)),
                    Err(_) => {
                        return Err(SettingsError::Malformed {
                            key: "server.trusted_proxies".into(),
                            expected: "IP addresses or CIDR ranges, separated by commas",
                        });
                    }
                },
            };
            nets.push(net);
        }
        Ok(Self { nets })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with these `X-Forwarded-For` header values.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut entries = Vec::new();
        for line in forwarded_for {
            let Ok(text) = std::str::from_utf8(line) else {
                return peer;
            };
            entries.extend(text.split(',').map(str::trim));
        }
        let mut leftmost = None;
        for entry in entries.iter().rev() {
            let Ok(ip) = entry.parse::<IpAddr>() else {
                return peer;
            };
            let ip = canonical(ip);
            if !self.trusts(ip) {
                return ip;
            }
            leftmost = Some(ip);
        }
        leftmost.unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(trusted: &str, peer: &str, lines: &[&str]) -> String {
        let proxies = TrustedProxies::parse(Some(trusted)).unwrap();
        let peer: IpAddr = peer.parse().unwrap();
        proxies
            .client(peer, lines.iter().map(|l| l.as_bytes()))
            .to_string()
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", &["1.1.1.1, 2.2.2.2, 10.0.0.7"]),
            "2.2.2.2"
        );
        // An untrusted peer's header is not believed.
        assert_eq!(client("10.0.0.0/8", "3.3.3.3", &["1.1.1.1"]), "3.3.3.3");
        // Nothing trusted: the peer.
        assert_eq!(client("", "10.0.0.1", &["1.1.1.1"]), "10.0.0.1");
        // No header: the peer.
        assert_eq!(client("10.0.0.0/8", "10.0.0.1", &[]), "10.0.0.1");
    }

    #[test]
    fn every_entry_trusted_gives_the_left_most() {
        assert_eq!(
            client(
                "10.0.0.0/8, 127.0.0.1",
                "127.0.0.1",
                &["10.0.0.3, 10.0.0.2"]
            ),
            "10.0.0.3"
        );
    }

    #[test]
    fn a_malformed_entry_makes_the_peer_the_client() {
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", &["1.1.1.1, not-an-ip"]),
            "10.0.0.1"
        );
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", &["1.1.1.1:443"]),
            "10.0.0.1"
        );
    }

    #[test]
    fn several_lines_are_one_list_in_order() {
        assert_eq!(
            client("10.0.0.0/8", "10.0.0.1", &["1.1.1.1", "2.2.2.2, 10.0.0.9"]),
            "2.2.2.2"
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4() {
        assert_eq!(
            client("127.0.0.1", "::ffff:127.0.0.1", &["::ffff:5.5.5.5"]),
            "5.5.5.5"
        );
        assert_eq!(client("", "::ffff:9.9.9.9", &[]), "9.9.9.9");
    }

    #[test]
    fn a_malformed_list_is_refused_naming_the_key() {
        let err = TrustedProxies::parse(Some("10.0.0.0/8, nonsense")).unwrap_err();
        assert!(err.to_string().contains("server.trusted_proxies"), "{err}");
        assert!(TrustedProxies::parse(Some("10.0.0.0/33")).is_err());
        assert!(TrustedProxies::parse(Some(" 127.0.0.1 ,::1, 192.168.0.0/16")).is_ok());
    }
}
