//! Where an address points: the public internet, this machine, a private
//! network, a link-local network, or a cloud provider's metadata service.
//!
//! A plan shared by someone else should not reach the last four silently: a
//! request to `169.254.169.254` reads cloud credentials, one to `127.0.0.1` or
//! `192.168.1.1` talks to services that trust everything on their network. They
//! are legitimate in one's own plans (a local model server, a NAS), so callers
//! turn a class into a *warning* with a location, never into an error.
//!
//! Hosts are read the way the URL parser (and so the HTTP client) reads them:
//! `http://2852039166/`, `http://0xA9.0xFE.0xA9.0xFE/` and
//! `http://[::ffff:169.254.169.254]/` are all the metadata address.

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of place a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetClass {
    /// An address on the internet (or a name we cannot place, which DNS decides).
    Public,
    /// This machine: `localhost`, 127.0.0.0/8, `::1`.
    Loopback,
    /// A private network: 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade
    /// NAT), fc00::/7, and names that only resolve inside one (`.local`, `.internal`, `.lan`, `.home.arpa`).
    Private,
    /// A link-local address (169.254/16, fe80::/10): the machine's own segment.
    LinkLocal,
    /// A cloud provider's instance metadata service (169.254.169.254,
    /// `metadata.google.internal`, fd00:ec2::254...), which hands out credentials.
    Metadata,
    /// `0.0.0.0` or `::`: on most systems, this machine.
    Unspecified,
}

impl TargetClass {
    /// Whether a shared plan may reach it without a second look.
    pub fn is_public(self) -> bool {
        self == Self::Public
    }

    /// The class in words, for a warning: "a cloud metadata service".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "the internet",
            Self::Loopback => "this computer (loopback)",
            Self::Private => "a private network",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "a cloud metadata service, which hands out credentials",
            Self::Unspecified => "an unspecified address (this computer)",
        }
    }
}

/// Host names of metadata services (compared without case and a trailing dot).
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
];

/// Name suffixes that only resolve inside a private network.
const PRIVATE_SUFFIXES: &[&str] = &[".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp"];

/// The class of an IP address. IPv4 addresses inside IPv6 (mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`) are classed as the IPv4 address they carry.
pub fn classify_ip(ip: IpAddr) -> TargetClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> TargetClass {
    let [a, b, c, d] = ip.octets();
    match (a, b, c, d) {
        // AWS, GCP, Azure, OpenStack; AWS ECS task metadata; Alibaba Cloud.
        (169, 254, 169, 254) | (169, 254, 170, 2) | (100, 100, 100, 200) => TargetClass::Metadata,
        (169, 254, ..) => TargetClass::LinkLocal,
        (127, ..) => TargetClass::Loopback,
        (0, ..) => TargetClass::Unspecified,
        (10, ..) | (192, 168, ..) => TargetClass::Private,
        (172, b, ..) if (16..=31).contains(&b) => TargetClass::Private,
        (100, b, ..) if (64..=127).contains(&b) => TargetClass::Private,
        _ => TargetClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> TargetClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (RFC 6052): the last 32 bits are an IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return TargetClass::Metadata; // AWS's IPv6 instance metadata address
    }
    if ip.is_loopback() {
        TargetClass::Loopback
    } else if ip.is_unspecified() {
        TargetClass::Unspecified
    } else if segments[0] & 0xffc0 == 0xfe80 {
        TargetClass::LinkLocal
    } else if segments[0] & 0xfe00 == 0xfc00 {
        TargetClass::Private
    } else {
        TargetClass::Public
    }
}

/// The class of a host as it appears in a URL: a name, an IPv4 address in any
/// form the URL parser accepts, or a bracketed IPv6 literal. Text that is not a
/// host at all is [`TargetClass::Public`]: it cannot reach anything.
pub fn classify_host(host: &str) -> TargetClass {
    match Url::parse(&format!("http://{host}/")) {
        Ok(url) => classify_parsed(&url),
        Err(_) => TargetClass::Public,
    }
}

/// The class of a URL's host; `None` when the text is not a URL with a host.
pub fn classify_url(url: &str) -> Option<TargetClass> {
    let url = Url::parse(url.trim()).ok()?;
    url.host()?;
    Some(classify_parsed(&url))
}

fn classify_parsed(url: &Url) -> TargetClass {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => classify_v4(ip),
        Some(url::Host::Ipv6(ip)) => classify_v6(ip),
        Some(url::Host::Domain(name)) => classify_name(name),
        None => TargetClass::Public,
    }
}

fn classify_name(name: &str) -> TargetClass {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if METADATA_NAMES.contains(&name.as_str()) {
        TargetClass::Metadata
    } else if name == "localhost" || name.ends_with(".localhost") {
        TargetClass::Loopback
    } else if PRIVATE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        TargetClass::Private
    } else {
        TargetClass::Public
    }
}

/// A warning for a URL a shared plan should not reach silently, in words:
/// "http://169.254.169.254/latest reaches a cloud metadata service, which hands
/// out credentials". `None` for a public address or text that is not a URL.
pub fn warning(url: &str) -> Option<String> {
    let class = classify_url(url)?;
    (!class.is_public()).then(|| format!("{} reaches {}", url.trim(), class.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_addresses_in_every_spelling() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://2852039166/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0251.0376.0251.0376/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./x",
            "http://[fd00:ec2::254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://169.254.170.2/v2/credentials",
        ] {
            assert_eq!(classify_url(url), Some(TargetClass::Metadata), "{url}");
        }
    }

    #[test]
    fn loopback_private_and_link_local() {
        let cases = [
            ("http://127.0.0.1:8080/", TargetClass::Loopback),
            ("http://127.1/", TargetClass::Loopback),
            ("http://2130706433/", TargetClass::Loopback),
            ("http://localhost:11434/v1", TargetClass::Loopback),
            ("http://api.localhost/", TargetClass::Loopback),
            ("http://[::1]:3000/", TargetClass::Loopback),
            ("http://[::ffff:127.0.0.1]/", TargetClass::Loopback),
            ("http://0.0.0.0:8000/", TargetClass::Unspecified),
            ("http://[::]/", TargetClass::Unspecified),
            ("http://10.0.0.7/", TargetClass::Private),
            ("http://172.16.0.1/", TargetClass::Private),
            ("http://172.31.255.255/", TargetClass::Private),
            ("http://192.168.1.1/admin", TargetClass::Private),
            ("http://100.64.0.1/", TargetClass::Private),
            ("http://[fd12:3456::1]/", TargetClass::Private),
            ("http://nas.local/", TargetClass::Private),
            ("http://printer.lan/", TargetClass::Private),
            ("http://169.254.1.1/", TargetClass::LinkLocal),
            ("http://[fe80::1]/", TargetClass::LinkLocal),
        ];
        for (url, class) in cases {
            assert_eq!(classify_url(url), Some(class), "{url}");
        }
    }

    #[test]
    fn public_addresses_and_non_urls() {
        for url in [
            "https://api.openai.com/v1",
            "https://8.8.8.8/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://[2606:4700::1111]/",
            "https://metadata.example.com/",
            "https://localhost.example.com/",
        ] {
            assert_eq!(classify_url(url), Some(TargetClass::Public), "{url}");
        }
        assert_eq!(classify_url("not a url"), None);
        assert_eq!(classify_url("mailto:a@b.c"), None);
        assert_eq!(warning("https://api.github.com/repos"), None);
        let w = warning("http://169.254.169.254/latest").unwrap();
        assert!(w.contains("metadata service"), "{w}");
    }

    #[test]
    fn hosts_alone_are_read_like_urls() {
        assert_eq!(classify_host("169.254.169.254"), TargetClass::Metadata);
        assert_eq!(classify_host("[::1]"), TargetClass::Loopback);
        assert_eq!(classify_host("localhost:8080"), TargetClass::Loopback);
        assert_eq!(classify_host("example.com"), TargetClass::Public);
        assert_eq!(classify_host("bad host name"), TargetClass::Public);
    }
}
