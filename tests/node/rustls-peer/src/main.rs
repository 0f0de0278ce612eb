//! rustls-peer: one TLS 1.3 exchange with rustls 0.20 + webpki 0.22, trusting only the dummy
//! issuer certificate, as the MPC node's rustls configuration does (crates/tls/src/tls.rs).
//!
//!   rustls-peer server <issuer.der> <leaf.der> <key.pk8>
//!       prints "PORT <n>", serves one request with "Hello, world!", prints
//!       "CLIENT <hex of the client's certificate DER>" (webpki accepted it) or "ERROR <why>".
//!   rustls-peer client <port> <issuer.der> <leaf.der> <key.pk8>
//!       connects to 127.0.0.1:<port> with server name "dummy", sends GET /hello, prints
//!       "RESPONSE <first line + body>" or "ERROR <why>".
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::{Certificate, PrivateKey, RootCertStore};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn roots(issuer: &str) -> RootCertStore {
    let mut r = RootCertStore::empty();
    r.add(&Certificate(read(issuer))).expect("issuer certificate");
    r
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn read_head<S: Read>(s: &mut S) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut one = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16384 {
        if s.read(&mut one)? == 0 {
            break;
        }
        buf.push(one[0]);
    }
    Ok(buf)
}

fn server(a: &[String]) -> Result<(), String> {
    let cfg = rustls::ServerConfig::builder()
        .with_safe_default_cipher_suites()
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(rustls::server::AllowAnyAuthenticatedClient::new(roots(&a[0])))
        .with_single_cert(vec![Certificate(read(&a[1]))], PrivateKey(read(&a[2])))
        .map_err(|e| e.to_string())?;
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    println!("PORT {}", l.local_addr().unwrap().port());
    let (mut sock, _) = l.accept().map_err(|e| e.to_string())?;
    let mut conn = rustls::ServerConnection::new(Arc::new(cfg)).map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let head = read_head(&mut tls).map_err(|e| e.to_string())?;
    let first = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
    let certs = tls.conn.peer_certificates().map(|c| c.to_vec()).unwrap_or_default();
    if certs.len() != 1 {
        return Err(format!("client sent {} certificates", certs.len()));
    }
    tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, world!")
        .map_err(|e| e.to_string())?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    println!("REQUEST {first}");
    println!("CLIENT {}", hex(&certs[0].0));
    Ok(())
}

fn client(a: &[String]) -> Result<(), String> {
    let cfg = rustls::ClientConfig::builder()
        .with_safe_default_cipher_suites()
        .with_safe_default_kx_groups()
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots(&a[1]))
        .with_single_cert(vec![Certificate(read(&a[2]))], PrivateKey(read(&a[3])))
        .map_err(|e| e.to_string())?;
    let name = "dummy".try_into().map_err(|_| "server name".to_string())?;
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect(format!("127.0.0.1:{}", a[0])).map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"GET /hello HTTP/1.1\r\nhost: dummy\r\nconnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    let _ = tls.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    let first = text.lines().next().unwrap_or("");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    println!("RESPONSE {first} | {body}");
    Ok(())
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let r = match a.first().map(String::as_str) {
        Some("server") if a.len() == 4 => server(&a[1..]),
        Some("client") if a.len() == 5 => client(&a[1..]),
        _ => Err("usage: rustls-peer server|client ...".to_string()),
    };
    if let Err(e) = r {
        println!("ERROR {e}");
        std::process::exit(1);
    }
}
