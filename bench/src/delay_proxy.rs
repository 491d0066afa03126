//! A TCP proxy that adds a fixed delay each way (`bench-delay-proxy`, used
//! by `bench/cluster.sh` with `REDIS_RTT_MS`): the nodes talk to Redis
//! through it, so every round trip to Redis takes at least the added
//! time. It delays bytes, not connections' throughput: what arrives is
//! stamped and written out `delay` later, while the next bytes are already
//! being read. So a path that shares round trips among many publications
//! keeps its rate, and a path that waits for each reply before sending the
//! next falls to one request per round trip per connection.
//!
//! Bounded: each direction holds at most [`CHUNKS`] chunks of at most
//! [`CHUNK`] bytes in flight; beyond that it stops reading (TCP pushes back).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Chunks in flight per direction of one connection.
pub const CHUNKS: usize = 1024;
/// Most bytes read at once.
pub const CHUNK: usize = 64 * 1024;

/// Accepts on `listener` until it fails, and forwards each connection to
/// `upstream`, delaying every byte by `each_way` in both directions.
pub async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    each_way: Duration,
) -> std::io::Result<()> {
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let server = match TcpStream::connect(upstream).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("delay proxy: cannot reach {upstream}: {e}");
                    return;
                }
            };
            for s in [&client, &server] {
                let _ = s.set_nodelay(true);
            }
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                pipe(client_read, server_write, each_way),
                pipe(server_read, client_write, each_way),
            );
        });
    }
}

/// One direction: a reader stamping chunks with their arrival time and a
/// writer writing each at its time plus `delay`, in order. Ends when either
/// side closes, closing the write side in turn.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS);
    let read = async move {
        loop {
            let mut buf = vec![0u8; CHUNK];
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send((Instant::now() + delay, buf)).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let write = async move {
        while let Some((due, buf)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&buf).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trips through the proxy take the added time, and pipelined
    /// requests share it: ten requests written at once are all answered
    /// within about one added round trip, not ten.
    #[tokio::test]
    async fn adds_the_delay_each_way_and_keeps_pipelined_requests_together() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => s.write_all(&buf[..n]).await.unwrap(),
                        }
                    }
                });
            }
        });
        let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_addr = proxy.local_addr().unwrap();
        let each_way = Duration::from_millis(25);
        tokio::spawn(serve(proxy, echo_addr, each_way));

        let mut s = TcpStream::connect(proxy_addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let started = Instant::now();
        s.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        let one = started.elapsed();
        assert_eq!(&got, b"ping");
        assert!(one >= 2 * each_way, "one round trip took {one:?}");

        let started = Instant::now();
        for i in 0..10u8 {
            s.write_all(&[b'0' + i]).await.unwrap();
        }
        let mut got = [0u8; 10];
        s.read_exact(&mut got).await.unwrap();
        let ten = started.elapsed();
        assert_eq!(&got, b"0123456789");
        assert!(ten >= 2 * each_way, "ten pipelined took {ten:?}");
        assert!(ten < 4 * each_way, "ten pipelined took {ten:?}");
    }
}
