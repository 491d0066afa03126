//! The physical floor: the least work this machine can do to fan a broadcast
//! out over WebSockets. One thread, one mio poll, every socket in one `Vec`;
//! the handshake is parsed and answered by hand; a broadcast is one
//! pre-encoded unmasked text frame written to every subscriber in a plain
//! loop, one `write` per socket. No WebSocket library, no tasks, no queues.
//!
//! The only buffering is the slow path a correct server cannot avoid: when a
//! socket's kernel buffer is full the unwritten rest is kept and flushed when
//! the socket turns writable (it never happens with idle subscribers).
//! Bytes clients send on an upgraded socket (pongs) are read and discarded.
//!
//! With `threads` > 1 the same write loop is split over scoped threads for
//! large broadcasts: a floor for time-to-last-delivery on a multi-core box,
//! where a single-threaded loop would be beaten by any server using two cores.

use std::collections::HashMap;
use std::io::{self, Read as _, Write as _};

use brain_ws_protocol::ChannelName;
use brain_ws_protocol::http::BroadcastRequest;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::envelope;
use crate::wire;

const LISTENER: Token = Token(usize::MAX);
/// Requests larger than this are refused, like the server's body limit.
const MAX_REQUEST: usize = 1 << 20;

/// A broadcast to fewer members than this is written by the event-loop
/// thread alone: starting threads would cost more than it saves.
const PARALLEL_MIN: usize = 512;

/// Binds the floor's listener the way tokio (and so axum and our server)
/// does, through mio: the same listen backlog (128) for all three servers.
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves the floor on `listener` until an I/O error on the poll itself.
/// `threads` > 1 splits each large broadcast's write loop over that many
/// scoped threads (the same writes, in parallel); 1 is the plain loop.
pub fn serve(listener: TcpListener, threads: usize) -> io::Result<()> {
    let mut floor = Floor {
        poll: Poll::new()?,
        listener,
        conns: Vec::new(),
        free: Vec::new(),
        channels: HashMap::new(),
        dead: Vec::new(),
        threads: threads.max(1),
    };
    floor
        .poll
        .registry()
        .register(&mut floor.listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    loop {
        match floor.poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => floor.accept_all(),
                Token(i) => {
                    if event.is_readable() || event.is_read_closed() {
                        floor.on_readable(i);
                    }
                    if event.is_writable() {
                        floor.flush(i);
                    }
                }
            }
            floor.reap();
        }
    }
}

enum State {
    /// Reading HTTP requests (the upgrade, or the broadcast API).
    Http { inbuf: Vec<u8> },
    /// An upgraded WebSocket subscribed to `channel`, at `pos` in its member list.
    Ws { channel: String, pos: usize },
}

struct Conn {
    stream: TcpStream,
    state: State,
    /// Bytes the kernel did not take yet (slow path only).
    pending: Vec<u8>,
}

struct Floor {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    channels: HashMap<String, Vec<usize>>,
    dead: Vec<usize>,
    threads: usize,
}

impl Floor {
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let idx = self.free.pop().unwrap_or(self.conns.len());
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, Token(idx), interest)
                        .is_err()
                    {
                        self.free.push(idx);
                        continue;
                    }
                    let conn = Conn {
                        stream,
                        state: State::Http { inbuf: Vec::new() },
                        pending: Vec::new(),
                    };
                    if idx == self.conns.len() {
                        self.conns.push(Some(conn));
                    } else {
                        self.conns[idx] = Some(conn);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of fds or similar: the backlog keeps the rest for later.
                Err(_) => return,
            }
        }
    }

    fn on_readable(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        let mut scratch = [0u8; 4096];
        loop {
            match conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.dead.push(i);
                    return;
                }
                Ok(n) => {
                    if let State::Http { inbuf } = &mut conn.state {
                        inbuf.extend_from_slice(&scratch[..n]);
                        if inbuf.len() > MAX_REQUEST {
                            self.dead.push(i);
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead.push(i);
                    return;
                }
            }
        }
        if matches!(conn.state, State::Http { .. }) {
            self.serve_http(i);
        }
    }

    /// Answers every complete request in connection `i`'s buffer.
    fn serve_http(&mut self, i: usize) {
        loop {
            let Some(Some(Conn {
                state: State::Http { inbuf },
                ..
            })) = self.conns.get_mut(i)
            else {
                return;
            };
            let parsed = match parse_request(inbuf) {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(()) => {
                    self.respond(
                        i,
                        400,
                        &envelope::error_body("bad_request", "malformed request"),
                    );
                    self.dead.push(i);
                    return;
                }
            };
            let body = inbuf[parsed.head_len..parsed.head_len + parsed.content_length].to_vec();
            inbuf.drain(..parsed.head_len + parsed.content_length);
            let path = parsed.path.split('?').next().unwrap_or("").to_owned();
            if parsed.method == "GET"
                && let Some(channel) = path.strip_prefix("/ws/channel/")
            {
                self.upgrade(i, channel, parsed.ws_key.as_deref());
                return;
            }
            if parsed.method == "POST" && path == "/api/ws/broadcast" {
                self.broadcast(i, &body);
            } else {
                self.respond(i, 404, &envelope::error_body("not_found", "no such route"));
            }
            if parsed.close {
                self.dead.push(i);
                return;
            }
        }
    }

    fn upgrade(&mut self, i: usize, channel: &str, key: Option<&str>) {
        let (Some(key), Ok(name)) = (key, ChannelName::new(channel)) else {
            self.respond(
                i,
                400,
                &envelope::error_body("invalid_channel", "bad upgrade"),
            );
            self.dead.push(i);
            return;
        };
        let mut out = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            wire::accept_key(key)
        )
        .into_bytes();
        out.extend(wire::encode_frame(
            wire::OP_TEXT,
            envelope::connected_json().as_bytes(),
            None,
        ));
        out.extend(wire::encode_frame(
            wire::OP_TEXT,
            envelope::subscribed_json(&name).as_bytes(),
            None,
        ));
        let members = self.channels.entry(channel.to_owned()).or_default();
        let pos = members.len();
        members.push(i);
        if let Some(Some(conn)) = self.conns.get_mut(i) {
            conn.state = State::Ws {
                channel: channel.to_owned(),
                pos,
            };
        }
        self.send(i, &out);
    }

    /// The measured path: encode once, then one write per subscriber.
    fn broadcast(&mut self, i: usize, body: &[u8]) {
        let request: BroadcastRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                self.respond(
                    i,
                    422,
                    &envelope::error_body("invalid_request", &e.to_string()),
                );
                return;
            }
        };
        let frame = wire::encode_frame(
            wire::OP_TEXT,
            envelope::event_json(&request).as_bytes(),
            None,
        );
        let Floor {
            conns,
            channels,
            dead,
            threads,
            ..
        } = self;
        let members = channels
            .get(request.channel.as_str())
            .map_or(&[][..], Vec::as_slice);
        // Sockets whose write did not complete: finished serially below.
        let leftovers: Vec<(usize, Leftover)> = if *threads > 1 && members.len() >= PARALLEL_MIN {
            let chunk = members.len().div_ceil(*threads);
            let shared: &[Option<Conn>] = conns;
            std::thread::scope(|scope| {
                let handles: Vec<_> = members
                    .chunks(chunk)
                    .map(|part| scope.spawn(|| write_all_members(shared, part, &frame)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        } else {
            write_all_members(conns, members, &frame)
        };
        for (m, leftover) in leftovers {
            let Some(Some(conn)) = conns.get_mut(m) else {
                continue;
            };
            let kept = match leftover {
                Leftover::Unsent(from) => conn.write_or_keep(&frame[from..]),
                Leftover::Dead => Err(io::ErrorKind::BrokenPipe.into()),
            };
            if kept.is_err() {
                dead.push(m);
            }
        }
        let count = members.len();
        self.respond(
            i,
            200,
            &envelope::broadcast_response_json(&request.channel, count),
        );
    }

    fn respond(&mut self, i: usize, status: u16, body: &str) {
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Unprocessable Entity",
        };
        let out = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.send(i, out.as_bytes());
    }

    fn send(&mut self, i: usize, bytes: &[u8]) {
        if let Some(Some(conn)) = self.conns.get_mut(i)
            && conn.write_or_keep(bytes).is_err()
        {
            self.dead.push(i);
        }
    }

    fn flush(&mut self, i: usize) {
        if let Some(Some(conn)) = self.conns.get_mut(i)
            && conn.flush_pending().is_err()
        {
            self.dead.push(i);
        }
    }

    /// Closes every connection that failed, keeping channel lists dense.
    fn reap(&mut self) {
        while let Some(i) = self.dead.pop() {
            let Some(mut conn) = self.conns.get_mut(i).and_then(Option::take) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut conn.stream);
            if let State::Ws { channel, pos } = conn.state
                && let Some(members) = self.channels.get_mut(&channel)
            {
                members.swap_remove(pos);
                if let Some(&moved) = members.get(pos)
                    && let Some(Some(Conn {
                        state: State::Ws { pos: p, .. },
                        ..
                    })) = self.conns.get_mut(moved)
                {
                    *p = pos;
                }
                if members.is_empty() {
                    self.channels.remove(&channel);
                }
            }
            self.free.push(i);
        }
    }
}

/// What is left of a frame after the fast path.
enum Leftover {
    /// Bytes from this offset were not written (or a backlog must stay ordered).
    Unsent(usize),
    /// The socket failed.
    Dead,
}

/// The fast path: one `write` of the frame per member, through a shared
/// reference so several threads can split the members. Members with a
/// backlog, and partial writes, are returned for the serial slow path.
fn write_all_members(
    conns: &[Option<Conn>],
    members: &[usize],
    frame: &[u8],
) -> Vec<(usize, Leftover)> {
    let mut leftovers = Vec::new();
    for &m in members {
        let Some(Some(conn)) = conns.get(m) else {
            continue;
        };
        if !conn.pending.is_empty() {
            leftovers.push((m, Leftover::Unsent(0)));
            continue;
        }
        match (&conn.stream).write(frame) {
            Ok(n) if n == frame.len() => {}
            Ok(n) => leftovers.push((m, Leftover::Unsent(n))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                leftovers.push((m, Leftover::Unsent(0)))
            }
            Err(_) => leftovers.push((m, Leftover::Dead)),
        }
    }
    leftovers
}

impl Conn {
    /// One `write` of the whole frame; keeps what the kernel refused.
    fn write_or_keep(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(bytes);
            return Ok(());
        }
        match self.stream.write(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(n) => {
                self.pending.extend_from_slice(&bytes[n..]);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending.extend_from_slice(bytes);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending = Vec::new();
        Ok(())
    }
}

struct Parsed {
    method: String,
    path: String,
    head_len: usize,
    content_length: usize,
    ws_key: Option<String>,
    close: bool,
}

/// One complete request (head and Content-Length body) at the start of `buf`.
fn parse_request(buf: &[u8]) -> Result<Option<Parsed>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let mut parsed = Parsed {
        method: req.method.unwrap_or("").to_owned(),
        path: req.path.unwrap_or("").to_owned(),
        head_len,
        content_length: 0,
        ws_key: None,
        close: false,
    };
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| ())?.trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            parsed.content_length = value.parse().map_err(|_| ())?;
        } else if h.name.eq_ignore_ascii_case("sec-websocket-key") {
            parsed.ws_key = Some(value.to_owned());
        } else if h.name.eq_ignore_ascii_case("connection") {
            parsed.close = value.eq_ignore_ascii_case("close");
        }
    }
    if parsed.content_length > MAX_REQUEST {
        return Err(());
    }
    if buf.len() < head_len + parsed.content_length {
        return Ok(None);
    }
    Ok(Some(parsed))
}
