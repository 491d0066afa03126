//! The connection task: the only owner of the socket and the subscription
//! table. It serves handle commands, answers server pings, notices a silent
//! server, and runs the reconnect loop with backoff until it is closed or
//! meets a terminal error.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use brain_ws_protocol::{ClientMessage, CloseCode, ServerMessage, should_reconnect};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

use crate::backoff::Schedule;
use crate::client::{Command, Shared};
use crate::error::{ConnectError, ConnectErrorKind};
use crate::options::Options;
use crate::table::{Effects, Table};
use crate::transport::{self, Socket, Ws};
use crate::{ConnectionEvent, ConnectionState};

/// How long to wait for the server's side of a closing handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How one connection ended.
enum End {
    /// Lost; reconnect.
    Lost {
        code: Option<CloseCode>,
        reason: String,
    },
    /// Ended in a way reconnecting cannot fix.
    Terminal(ConnectError),
    /// The application closed the client, or dropped every handle.
    Stop,
}

pub(crate) struct Driver {
    options: Arc<Options>,
    commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<ConnectionState>,
    events: broadcast::Sender<ConnectionEvent>,
    shared: Arc<Shared>,
    table: Table,
    /// The `close()` call to answer once stopped.
    close_reply: Option<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        options: Arc<Options>,
        commands: mpsc::UnboundedReceiver<Command>,
        state: watch::Sender<ConnectionState>,
        events: broadcast::Sender<ConnectionEvent>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            options,
            commands,
            state,
            events,
            shared,
            table: Table::new(),
            close_reply: None,
        }
    }

    /// Runs until closed; `first` is the connection `connect()` opened, if any.
    pub(crate) async fn run(mut self, first: Option<Socket>) {
        let error = self.reconnect_loop(first).await;
        if let Some(err) = &error {
            tracing::warn!(error = %err, "client stopped");
        }
        self.table.close_all();
        if let (Some(err), Ok(mut terminal)) = (&error, self.shared.terminal.lock()) {
            *terminal = Some(err.clone());
        }
        self.transition(ConnectionState::Closed, ConnectionEvent::Closed { error });
        if let Some(reply) = self.close_reply.take() {
            let _ = reply.send(());
        }
    }

    fn transition(&self, state: ConnectionState, event: ConnectionEvent) {
        self.state.send_replace(state);
        // No receivers is fine: nobody is listening.
        let _ = self.events.send(event);
    }

    /// Connect, serve, back off, repeat. Returns the terminal error, or
    /// `None` when asked to stop (`?` on `while_offline` does that).
    async fn reconnect_loop(&mut self, first: Option<Socket>) -> Option<ConnectError> {
        let options = self.options.clone();
        let mut schedule = Schedule::new(&options.backoff);
        let mut attempt = 0;
        let mut immediate = first.is_none();
        // `connect()` already reported the first connection (the state starts
        // as Connected, before anyone could listen for events).
        let mut announce = first.is_none();
        let mut next = first;
        loop {
            let socket = match next.take() {
                Some(socket) => socket,
                None => {
                    if !immediate {
                        attempt += 1;
                        let Some(delay) = schedule.next() else {
                            return Some(ConnectError::new(
                                ConnectErrorKind::RetriesExhausted,
                                format!("gave up after {} attempts", attempt - 1),
                            ));
                        };
                        self.transition(
                            ConnectionState::Reconnecting { attempt, delay },
                            ConnectionEvent::Reconnecting { attempt, delay },
                        );
                        self.while_offline(tokio::time::sleep(delay)).await?;
                    }
                    immediate = false;
                    self.transition(ConnectionState::Connecting, ConnectionEvent::Connecting);
                    match self.while_offline(transport::open(&options)).await? {
                        Ok(socket) => socket,
                        Err(err) if err.is_terminal() => return Some(err),
                        Err(err) => {
                            tracing::debug!(error = %err, attempt, "connect attempt failed");
                            continue;
                        }
                    }
                }
            };
            let connected_at = Instant::now();
            let end = self.serve(socket, announce).await;
            announce = true;
            match end {
                End::Stop => return None,
                End::Terminal(err) => return Some(err),
                End::Lost { code, reason } => {
                    tracing::info!(?code, %reason, "connection lost");
                    self.table.connection_lost();
                    if connected_at.elapsed() >= options.backoff.reset_period() {
                        schedule = Schedule::new(&options.backoff);
                        attempt = 0;
                    }
                    self.transition(
                        ConnectionState::Disconnected {
                            code,
                            reason: reason.clone(),
                        },
                        ConnectionEvent::Disconnected { code, reason },
                    );
                }
            }
        }
    }

    /// Awaits `work` while serving commands without a connection. `None`
    /// means stop (closed, or every handle dropped).
    async fn while_offline<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return Some(output),
                command = self.commands.recv() => {
                    let mut fx = Effects::default();
                    if !self.command(command, false, &mut fx) {
                        return None;
                    }
                    // Offline the table sends nothing; only events may result.
                    self.emit(fx.events);
                }
            }
        }
    }

    /// Applies one command to the table. Returns `false` to stop.
    fn command(&mut self, command: Option<Command>, online: bool, fx: &mut Effects) -> bool {
        match command {
            None => false,
            Some(Command::Close { reply }) => {
                self.close_reply = Some(reply);
                false
            }
            Some(Command::Subscribe {
                channel,
                sid,
                options,
                tx,
                reply,
            }) => {
                self.table.subscribe(
                    channel,
                    sid,
                    options.presence,
                    tx,
                    reply,
                    options.rewind,
                    online,
                    fx,
                );
                true
            }
            Some(Command::Unsubscribe {
                channel,
                sid,
                reply,
            }) => {
                self.table.unsubscribe(channel, sid, reply, online, fx);
                true
            }
            Some(Command::Events { tx }) => {
                self.table.add_inbox(tx);
                true
            }
        }
    }

    fn emit(&self, events: Vec<ConnectionEvent>) {
        for event in events {
            let _ = self.events.send(event);
        }
    }

    /// Serves one connection until it ends.
    async fn serve(&mut self, socket: Socket, announce: bool) -> End {
        let heartbeat_interval = socket.heartbeat_interval();
        let silence_limit =
            heartbeat_interval.map(|interval| interval + self.options.heartbeat_grace);
        let Socket { mut ws, welcome } = socket;
        tracing::debug!(connection_id = %welcome.connection_id, "connected");
        if announce {
            self.transition(
                ConnectionState::Connected {
                    connection_id: welcome.connection_id,
                },
                ConnectionEvent::Connected {
                    connection_id: welcome.connection_id,
                    user_id: welcome.user_id.clone(),
                    heartbeat_interval: heartbeat_interval.unwrap_or_default(),
                },
            );
        }
        let mut fx = Effects::default();
        self.table.resubscribe_all(&mut fx);
        if let Err(end) = self.apply(&mut ws, fx).await {
            return end;
        }
        let mut deadline = silence_limit.map(|limit| Instant::now() + limit);
        loop {
            let silent = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.commands.recv() => {
                    let mut fx = Effects::default();
                    if !self.command(command, true, &mut fx) {
                        close_socket(&mut ws).await;
                        return End::Stop;
                    }
                    if let Err(end) = self.apply(&mut ws, fx).await {
                        return end;
                    }
                }
                frame = ws.next() => {
                    if let Some(limit) = silence_limit {
                        deadline = Some(Instant::now() + limit);
                    }
                    let frame = match frame {
                        None => return lost(None, "the connection ended without a close frame"),
                        Some(Err(err)) => return lost(None, &err.to_string()),
                        Some(Ok(frame)) => frame,
                    };
                    match frame {
                        Frame::Text(text) => {
                            let mut fx = Effects::default();
                            self.on_text(&text, &mut fx);
                            if let Err(end) = self.apply(&mut ws, fx).await {
                                return end;
                            }
                        }
                        Frame::Close(frame) => return closed_by_server(&mut ws, frame).await,
                        // WebSocket pings are answered by tungstenite itself.
                        Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_) => {}
                        Frame::Binary(_) => tracing::debug!("ignoring a binary frame"),
                    }
                }
                () = silent => {
                    return lost(None, &format!(
                        "nothing received from the server for {:?} (heartbeat interval + grace)",
                        silence_limit.unwrap_or_default()
                    ));
                }
            }
        }
    }

    /// Handles one server message.
    fn on_text(&mut self, text: &str, fx: &mut Effects) {
        let message = match ServerMessage::from_json(text) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(error = %err, "ignoring an undecodable server message");
                return;
            }
        };
        match message {
            ServerMessage::Ping(_) => fx.frames.push(ClientMessage::Pong),
            ServerMessage::Pong(_) | ServerMessage::Connected(_) => {}
            ServerMessage::Subscribed(msg) => self.table.on_subscribed(msg, fx),
            ServerMessage::Unsubscribed(msg) => self.table.on_unsubscribed(&msg.channel),
            ServerMessage::Error(err) => {
                if let Some(err) = self.table.on_error(err, fx) {
                    tracing::warn!(code = %err.code, message = %err.message, "server error");
                    fx.events.push(ConnectionEvent::ServerError {
                        code: err.code,
                        message: err.message,
                    });
                }
            }
            ServerMessage::Event(envelope) => self.table.on_event(envelope, fx),
            ServerMessage::Join(join) => {
                self.table.on_presence(
                    &join.channel,
                    crate::SubscriptionEvent::Join(join.info),
                    fx,
                );
            }
            ServerMessage::Leave(leave) => {
                self.table.on_presence(
                    &leave.channel,
                    crate::SubscriptionEvent::Leave(leave.info),
                    fx,
                );
            }
        }
    }

    /// Sends the frames and emits the events a table operation produced.
    async fn apply(&self, ws: &mut Ws, fx: Effects) -> Result<(), End> {
        self.emit(fx.events);
        if fx.frames.is_empty() {
            return Ok(());
        }
        for frame in fx.frames {
            if let Err(err) = ws.feed(Frame::text(frame.to_json())).await {
                return Err(End::Lost {
                    code: None,
                    reason: err.to_string(),
                });
            }
        }
        ws.flush().await.map_err(|err| End::Lost {
            code: None,
            reason: err.to_string(),
        })
    }
}

fn lost(code: Option<CloseCode>, reason: &str) -> End {
    End::Lost {
        code,
        reason: reason.to_owned(),
    }
}

/// The server sent a close frame: reconnect or stop, by the shared rule.
async fn closed_by_server(ws: &mut Ws, frame: Option<CloseFrame>) -> End {
    // Reading on lets tungstenite send its half of the closing handshake.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async { while ws.next().await.is_some() {} }).await;
    let Some(frame) = frame else {
        return lost(None, "closed without a status code");
    };
    let code = CloseCode(u16::from(frame.code));
    let reason = frame.reason.to_string();
    if should_reconnect(code.0) {
        End::Lost {
            code: Some(code),
            reason,
        }
    } else {
        End::Terminal(
            ConnectError::new(
                ConnectErrorKind::TerminalClose,
                format!("the server closed the connection with {code}: {reason}"),
            )
            .with_close_code(code),
        )
    }
}

/// Our side of a clean close: 1000, then wait briefly for the server's reply.
async fn close_socket(ws: &mut Ws) {
    let frame = CloseFrame {
        code: WsCloseCode::Normal,
        reason: "client closed".into(),
    };
    if ws.close(Some(frame)).await.is_ok() {
        let _ =
            tokio::time::timeout(CLOSE_TIMEOUT, async { while ws.next().await.is_some() {} }).await;
    }
}
