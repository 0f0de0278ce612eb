//! rustls-node: a blocking TLS 1.3 server that authenticates its clients the way the NEAR MPC
//! node's migration web server does, for interop tests of mpc-backup's client:
//!
//! * TLS 1.3 only; the server presents its own node-style leaf (`--cert`, `--key`);
//! * a client certificate is required and verified by rustls's webpki-based client verifier
//!   with the dummy issuer's self-signed certificate (`--root`) as the only trust anchor;
//! * after the handshake the client must have presented exactly one certificate whose raw
//!   Ed25519 public key equals `--client-key`; otherwise the connection is dropped without
//!   an HTTP response (and without close_notify, as the node drops its stream);
//! * then minimal HTTP/1.1: `GET /hello` answers 200 `Hello, world!`, anything else 404.
//!
//! No SNI check and no ALPN, as in the node. Connections are served one after another.
//! Stdout: `PORT <n>` once listening. Stderr: one line per connection, either
//! `accepted client ed25519:<base58> (sni ..., ...)` or `rejected client <who>: <reason>`.
//! The process exits when its stdin reaches end of file (keep a pipe open) or on SIGTERM.
//!
//! Usage: rustls-node --port N --cert FILE --key FILE --root FILE --client-key ed25519:<b58>

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustls::server::AllowAnyAuthenticatedClient;
use rustls::{Certificate, PrivateKey, RootCertStore, ServerConfig, ServerConnection};

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const MAX_HEADER: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

fn die(msg: &str) -> ! {
    eprintln!("rustls-node: {}", msg);
    process::exit(2);
}

fn b58_encode(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new(); // base 58, least significant first
    for &b in bytes {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut s = String::new();
    for _ in bytes.iter().take_while(|&&b| b == 0) {
        s.push('1');
    }
    for &d in digits.iter().rev() {
        s.push(B58[d as usize] as char);
    }
    s
}

fn b58_decode(s: &str) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new(); // base 256, least significant first
    for c in s.bytes() {
        let mut carry = B58.iter().position(|&x| x == c)? as u32;
        for b in bytes.iter_mut() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    for _ in s.bytes().take_while(|&c| c == b'1') {
        bytes.push(0);
    }
    bytes.reverse();
    Some(bytes)
}

fn key_string(key: &[u8]) -> String {
    format!("ed25519:{}", b58_encode(key))
}

fn parse_key(s: &str) -> Option<[u8; 32]> {
    let rest = s.strip_prefix("ed25519:")?;
    let v = b58_decode(rest)?;
    if v.len() != 32 || b58_encode(&v) != rest {
        return None;
    }
    let mut k = [0u8; 32];
    k.copy_from_slice(&v);
    Some(k)
}

/// One DER TLV at the start of `d`: (tag, contents, rest).
fn der_tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    if d.len() < 2 {
        return None;
    }
    let tag = d[0];
    let (len, hdr) = match d[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 if d.len() >= 3 => (d[2] as usize, 3),
        0x82 if d.len() >= 4 => (((d[2] as usize) << 8) | d[3] as usize, 4),
        0x83 if d.len() >= 5 => (
            ((d[2] as usize) << 16) | ((d[3] as usize) << 8) | d[4] as usize,
            5,
        ),
        _ => return None,
    };
    if d.len() - hdr < len {
        return None;
    }
    Some((tag, &d[hdr..hdr + len], &d[hdr + len..]))
}

/// The raw Ed25519 public key of a certificate's SubjectPublicKeyInfo (OID 1.3.101.112,
/// 32-byte BIT STRING). The node reads the same field with x509-parser and compares the bytes.
fn cert_ed25519_key(cert: &[u8]) -> Result<[u8; 32], String> {
    let bad = |what: &str| format!("invalid certificate ({})", what);
    let (tag, c, _) = der_tlv(cert).ok_or_else(|| bad("Certificate"))?;
    if tag != 0x30 {
        return Err(bad("Certificate"));
    }
    let (tag, mut tbs, _) = der_tlv(c).ok_or_else(|| bad("TBSCertificate"))?;
    if tag != 0x30 {
        return Err(bad("TBSCertificate"));
    }
    // [0] version (optional), serial, signature, issuer, validity, subject, then the SPKI.
    let mut skip = 5;
    if tbs.first() == Some(&0xa0) {
        skip += 1;
    }
    for _ in 0..skip {
        tbs = der_tlv(tbs).ok_or_else(|| bad("TBSCertificate field"))?.2;
    }
    let (tag, spki, _) = der_tlv(tbs).ok_or_else(|| bad("SubjectPublicKeyInfo"))?;
    if tag != 0x30 {
        return Err(bad("SubjectPublicKeyInfo"));
    }
    let (tag, alg, rest) = der_tlv(spki).ok_or_else(|| bad("AlgorithmIdentifier"))?;
    if tag != 0x30 {
        return Err(bad("AlgorithmIdentifier"));
    }
    if alg != [0x06, 0x03, 0x2b, 0x65, 0x70] {
        return Err("unexpected public key type (not Ed25519)".to_string());
    }
    let (tag, bits, _) = der_tlv(rest).ok_or_else(|| bad("subjectPublicKey"))?;
    if tag != 0x03 || bits.len() != 33 || bits[0] != 0 {
        return Err("public key of unexpected length".to_string());
    }
    let mut k = [0u8; 32];
    k.copy_from_slice(&bits[1..]);
    Ok(k)
}

fn read_pem(path: &str, what: &str, keys: bool) -> Vec<Vec<u8>> {
    let f = File::open(path).unwrap_or_else(|e| die(&format!("{} {}: {}", what, path, e)));
    let mut rd = BufReader::new(f);
    let items = if keys {
        rustls_pemfile::pkcs8_private_keys(&mut rd)
    } else {
        rustls_pemfile::certs(&mut rd)
    }
    .unwrap_or_else(|e| die(&format!("{} {}: {}", what, path, e)));
    if items.is_empty() {
        die(&format!("{} {}: no PEM item found", what, path));
    }
    items
}

struct Args {
    port: u16,
    cert: String,
    key: String,
    root: String,
    client_key: [u8; 32],
}

fn parse_args() -> Args {
    let usage = "usage: rustls-node [--port N] --cert FILE --key FILE --root FILE \
                 --client-key ed25519:<base58>";
    let mut port = 0u16;
    let (mut cert, mut key, mut root, mut client_key) = (None, None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_else(|| die(usage));
        match a.as_str() {
            "--port" => port = v.parse().unwrap_or_else(|_| die("bad --port")),
            "--cert" => cert = Some(v),
            "--key" => key = Some(v),
            "--root" => root = Some(v),
            "--client-key" => {
                client_key = Some(parse_key(&v).unwrap_or_else(|| die("bad --client-key")))
            }
            _ => die(usage),
        }
    }
    match (cert, key, root, client_key) {
        (Some(cert), Some(key), Some(root), Some(client_key)) => Args {
            port,
            cert,
            key,
            root,
            client_key,
        },
        _ => die(usage),
    }
}

fn server_config(a: &Args) -> Arc<ServerConfig> {
    let mut roots = RootCertStore::empty();
    for der in read_pem(&a.root, "root", false) {
        roots
            .add(&Certificate(der))
            .unwrap_or_else(|e| die(&format!("root {}: {:?}", a.root, e)));
    }
    let certs: Vec<Certificate> = read_pem(&a.cert, "cert", false)
        .into_iter()
        .map(Certificate)
        .collect();
    let key = PrivateKey(read_pem(&a.key, "key", true).remove(0));
    let cfg = ServerConfig::builder()
        .with_safe_default_cipher_suites()
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap_or_else(|e| die(&format!("protocol versions: {}", e)))
        .with_client_cert_verifier(AllowAnyAuthenticatedClient::new(roots))
        .with_single_cert(certs, key)
        .unwrap_or_else(|e| die(&format!("server identity: {}", e)));
    Arc::new(cfg)
}

/// After the handshake: the node's check (exactly one certificate, its Ed25519 key equal to
/// the expected one). Ok(key) to serve, Err((who, reason)) to drop the connection.
fn authenticate(conn: &ServerConnection, expected: &[u8; 32]) -> Result<[u8; 32], (String, String)> {
    let unknown = "(unidentified)".to_string();
    let certs = match conn.peer_certificates() {
        Some(c) if !c.is_empty() => c,
        _ => return Err((unknown, "connection without peer identity".to_string())),
    };
    let key = cert_ed25519_key(&certs[0].0).map_err(|r| (unknown.clone(), r))?;
    let who = key_string(&key);
    if certs.len() != 1 {
        return Err((
            who,
            format!(
                "unexpected number of certificates: {} (the webpki verifier accepted the chain; \
                 the node's post-handshake check rejects it)",
                certs.len()
            ),
        ));
    }
    if &key != expected {
        return Err((
            who,
            format!("public key mismatch, expected {}", key_string(expected)),
        ));
    }
    Ok(key)
}

/// Why a handshake failed: rustls's own error if it is one (e.g. a webpki verdict).
fn handshake_error(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(te) => format!("handshake failed: {} [{:?}]", te, te),
        None => format!("handshake failed: {}", e),
    }
}

/// Minimal HTTP/1.1 on an authenticated stream: requests until the client closes or asks to.
fn serve_http<S: Read + Write>(s: &mut S) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > MAX_HEADER {
                return Ok(());
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let request = lines.next().unwrap_or("");
        let mut parts = request.split(' ');
        let (method, path, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let mut body_len = 0usize;
        let mut close = version != "HTTP/1.1";
        for l in lines {
            if let Some((name, value)) = l.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    body_len = value.parse().unwrap_or(usize::MAX);
                } else if name == "connection" && value.eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        if body_len > MAX_BODY {
            return Ok(());
        }
        while buf.len() < end + body_len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..end + body_len);
        let (status, body) = if method == "GET" && path == "/hello" {
            ("200 OK", "Hello, world!")
        } else {
            ("404 Not Found", "Not found")
        };
        let resp = format!(
            "HTTP/1.1 {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}\r\n{}",
            status,
            body.len(),
            if close { "connection: close\r\n" } else { "" },
            body
        );
        s.write_all(resp.as_bytes())?;
        s.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn handle(cfg: &Arc<ServerConfig>, mut sock: TcpStream, expected: &[u8; 32]) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    let mut conn = match ServerConnection::new(cfg.clone()) {
        Ok(c) => c,
        Err(e) => die(&format!("ServerConnection: {}", e)),
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            eprintln!("rejected client (unverified): {}", handshake_error(&e));
            return;
        }
    }
    match authenticate(&conn, expected) {
        Err((who, reason)) => {
            // As the node: drop the stream, no HTTP response, no close_notify.
            eprintln!("rejected client {}: {}", who, reason);
        }
        Ok(key) => {
            eprintln!(
                "accepted client {} (sni {}, {:?}, alpn {})",
                key_string(&key),
                conn.sni_hostname().unwrap_or("none"),
                conn.protocol_version(),
                match conn.alpn_protocol() {
                    Some(p) => String::from_utf8_lossy(p).into_owned(),
                    None => "none".to_string(),
                }
            );
            let _ = serve_http(&mut rustls::Stream::new(&mut conn, &mut sock));
            conn.send_close_notify();
            let _ = conn.complete_io(&mut sock);
        }
    }
}

fn main() {
    let args = parse_args();
    let cfg = server_config(&args);
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .unwrap_or_else(|e| die(&format!("bind 127.0.0.1:{}: {}", args.port, e)));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| die(&format!("local_addr: {}", e)))
        .port();
    {
        let out = io::stdout();
        let mut out = out.lock();
        let _ = writeln!(out, "PORT {}", port);
        let _ = out.flush();
    }
    // Never outlive the test that started us: stdin's end of file ends the process.
    thread::spawn(|| {
        let mut b = [0u8; 256];
        let mut stdin = io::stdin();
        loop {
            match stdin.read(&mut b) {
                Ok(0) | Err(_) => process::exit(0),
                Ok(_) => {}
            }
        }
    });
    for sock in listener.incoming() {
        match sock {
            Ok(s) => handle(&cfg, s, &args.client_key),
            Err(e) => eprintln!("rustls-node: accept: {}", e),
        }
    }
}
