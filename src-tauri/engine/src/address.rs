//! What kind of place an address points to: the public internet, this machine,
//! the local network, or a cloud metadata service. `check` and the import
//! review warn about the last three, because a shared plan should not reach them
//! silently (local servers are a legitimate use of one's own plans, so these are
//! warnings, never errors).
//!
//! Only what the address itself says is judged: a public name that resolves to a
//! private address is not caught here (that needs the resolver, at run time).

use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Where an address points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TargetClass {
    /// Anywhere else (or an address that cannot be read).
    Public,
    /// This machine: `localhost`, 127.0.0.0/8, `::1`, `0.0.0.0`.
    Loopback,
    /// The local network: 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, `.local` names.
    Private,
    /// Link-local addresses (169.254/16, fe80::/10), where cloud metadata services live.
    LinkLocal,
    /// A cloud metadata service (169.254.169.254, `metadata.google.internal`...),
    /// which hands out the machine's own cloud credentials.
    Metadata,
}

impl TargetClass {
    /// Whether a shared plan should say that it goes there.
    pub fn is_sensitive(self) -> bool {
        self != Self::Public
    }

    /// In words, for warnings: "a cloud metadata address".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "a public address",
            Self::Loopback => "this computer (a loopback address)",
            Self::Private => "the local network (a private address)",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "a cloud metadata service, which hands out this machine's cloud credentials",
        }
    }
}

/// Classify a URL (`http://10.0.0.5:8080/x`) or a bare host (`[::1]`,
/// `metadata.google.internal`, `localhost:11434`). IPv4 written in odd forms
/// (`2852039166`, `0xa9.0xfe.0xa9.0xfe`) and IPv4 inside IPv6
/// (`[::ffff:169.254.169.254]`) are read as the address they are.
pub fn classify(url_or_host: &str) -> TargetClass {
    match host_of(url_or_host) {
        Some(Host::V4(ip)) => classify_v4(ip),
        Some(Host::V6(ip)) => classify_v6(ip),
        Some(Host::Name(name)) => classify_name(&name),
        None => TargetClass::Public,
    }
}

enum Host {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    Name(String),
}

/// The host, read as a URL parser reads it (which also normalises IPv4 forms).
fn host_of(input: &str) -> Option<Host> {
    let input = input.trim();
    let url = if input.contains("://") {
        reqwest::Url::parse(input).ok()?
    } else {
        reqwest::Url::parse(&format!("http://{input}")).ok()?
    };
    let host = url.host_str()?;
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse().ok().map(Host::V6);
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(Host::V4(ip));
    }
    Some(Host::Name(host.trim_end_matches('.').to_ascii_lowercase()))
}

/// Metadata services by address: AWS, GCP, Azure, OpenStack (169.254.169.254),
/// AWS ECS task metadata (169.254.170.2), Alibaba Cloud (100.100.100.200).
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// AWS's IPv6 metadata endpoint.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Metadata services by name.
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

fn classify_v4(ip: Ipv4Addr) -> TargetClass {
    let [a, b, ..] = ip.octets();
    if METADATA_V4.contains(&ip) {
        TargetClass::Metadata
    } else if ip.is_loopback() || a == 0 {
        // 0.0.0.0/8 reaches this host on Linux.
        TargetClass::Loopback
    } else if ip.is_link_local() {
        TargetClass::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64/10: carrier-grade NAT, and VPNs such as Tailscale.
        TargetClass::Private
    } else {
        TargetClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> TargetClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip == METADATA_V6 {
        TargetClass::Metadata
    } else if ip.is_loopback() || ip.is_unspecified() {
        TargetClass::Loopback
    } else if segments[0] & 0xffc0 == 0xfe80 {
        TargetClass::LinkLocal
    } else if segments[0] & 0xfe00 == 0xfc00 {
        TargetClass::Private
    } else {
        TargetClass::Public
    }
}

fn classify_name(name: &str) -> TargetClass {
    let under = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
    if METADATA_NAMES.contains(&name) {
        TargetClass::Metadata
    } else if under("localhost") {
        TargetClass::Loopback
    } else if ["local", "lan", "home.arpa", "internal", "intranet"]
        .iter()
        .any(|s| under(s))
    {
        TargetClass::Private
    } else {
        TargetClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::TargetClass::*;
    use super::*;

    #[test]
    fn metadata_services_in_every_spelling() {
        for target in [
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
            "http://[::ffff:169.254.169.254]/",
            "[::ffff:a9fe:a9fe]",
            "http://2852039166/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://169.254.170.2/v2/credentials",
            "http://metadata.google.internal/computeMetadata/v1/",
            "METADATA.GOOGLE.INTERNAL.",
            "http://metadata/computeMetadata/v1/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert_eq!(classify(target), Metadata, "{target}");
        }
    }

    #[test]
    fn loopback_private_and_link_local() {
        for (target, class) in [
            ("http://localhost:11434/v1", Loopback),
            ("http://api.localhost/", Loopback),
            ("http://127.0.0.1:8080/x", Loopback),
            ("http://127.1/", Loopback),
            ("http://0.0.0.0:80/", Loopback),
            ("http://[::1]:3000/", Loopback),
            ("http://[::]/", Loopback),
            ("http://[::ffff:127.0.0.1]/", Loopback),
            ("localhost:1234", Loopback),
            ("http://10.0.0.5/", Private),
            ("http://172.16.0.1/", Private),
            ("http://172.31.255.255/", Private),
            ("http://192.168.1.10:8123/api", Private),
            ("http://100.64.0.1/", Private),
            ("http://[fd12:3456::1]/", Private),
            ("http://printer.local/", Private),
            ("http://nas.home.arpa/", Private),
            ("http://169.254.1.1/", LinkLocal),
            ("http://[fe80::1]/", LinkLocal),
        ] {
            assert_eq!(classify(target), class, "{target}");
        }
    }

    #[test]
    fn public_addresses_and_what_cannot_be_read() {
        for target in [
            "https://api.openai.com/v1/chat/completions",
            "https://example.com",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://8.8.8.8/",
            "http://[2001:db8::1]/",
            "http://localhost.example.com/",
            "http://metadata.example.com/",
            "",
            "not a url at all",
            "${steps.0.output}",
        ] {
            assert_eq!(classify(target), Public, "{target}");
        }
        assert!(!Public.is_sensitive() && Metadata.is_sensitive());
    }
}
