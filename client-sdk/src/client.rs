//! [`Client`]: the cheap, cloneable handle. Every operation is a [`Command`]
//! sent to the one task that owns the socket (see `driver`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use brain_ws_protocol::ChannelName;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::driver::Driver;
use crate::error::{ConnectError, SubscribeError, SubscribeErrorKind};
use crate::options::Options;
use crate::transport::Socket;
use crate::{
    ClientBuilder, ConnectionEvent, ConnectionEvents, ConnectionState, Events, Message,
    SubscribeOptions, Subscription, SubscriptionEvent,
};

/// What a handle asks of the connection task.
pub(crate) enum Command {
    /// Add a subscriber to `channel`; answer once the server confirmed it.
    Subscribe {
        channel: ChannelName,
        sid: u64,
        options: SubscribeOptions,
        tx: mpsc::Sender<SubscriptionEvent>,
        reply: oneshot::Sender<Result<(), SubscribeError>>,
    },
    /// Remove subscriber `sid`; `reply` is `None` when a subscription is dropped.
    Unsubscribe {
        channel: ChannelName,
        sid: u64,
        reply: Option<oneshot::Sender<Result<(), SubscribeError>>>,
    },
    /// Deliver events without a channel to `tx` too.
    Events { tx: mpsc::Sender<Message> },
    /// Close with 1000 and stop.
    Close { reply: oneshot::Sender<()> },
}

/// State shared by the handles and the task.
pub(crate) struct Shared {
    next_sid: AtomicU64,
    /// Why the client stopped, when it was not asked to.
    pub(crate) terminal: Mutex<Option<ConnectError>>,
    /// Kept so every handle can make a new receiver; the task owns the sender,
    /// so the streams end when it does.
    events: broadcast::Receiver<ConnectionEvent>,
    subscription_capacity: usize,
}

/// A connection to a BRAiN WebSocket server that stays connected.
///
/// Cloning is cheap: every clone talks to the same background task, which
/// owns the socket, answers pings, watches for a dead server, reconnects
/// with backoff and renews subscriptions. The task stops when
/// [`close`](Client::close) is called, on a terminal error, or when every
/// `Client` and [`Subscription`] is dropped.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use brain_ws_client::{Client, SubscriptionEvent};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder("ws://127.0.0.1:8000").connect().await?;
/// let mut missions = client.subscribe("missions").await?;
/// while let Some(SubscriptionEvent::Event(message)) = missions.next().await {
///     println!("{:?}", message.event);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ConnectionState>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client for `url`: `ws://host:port` (the
    /// `/ws/connect` path is added) or a full URL such as
    /// `ws://host:port/ws/connect`. Plain `ws://` works out of the box;
    /// `wss://` needs a TLS feature of `tokio-tungstenite` enabled in the
    /// application (e.g. `rustls-tls-webpki-roots`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
    /// let client = brain_ws_client::Client::builder("ws://127.0.0.1:8000").connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) fn spawn(options: Arc<Options>, first: Option<Socket>) -> Client {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let initial = match &first {
            Some(socket) => ConnectionState::Connected {
                connection_id: socket.welcome.connection_id,
            },
            None => ConnectionState::Connecting,
        };
        let (state_tx, state) = watch::channel(initial);
        let (events_tx, events) = broadcast::channel(options.event_capacity);
        let shared = Arc::new(Shared {
            next_sid: AtomicU64::new(1),
            terminal: Mutex::new(None),
            events,
            subscription_capacity: options.subscription_capacity,
        });
        let driver = Driver::new(options, command_rx, state_tx, events_tx, shared.clone());
        tokio::spawn(driver.run(first));
        Client {
            commands,
            state,
            shared,
        }
    }

    /// Subscribes to `channel` and waits for the server's confirmation.
    ///
    /// Fails with [`SubscribeErrorKind::InvalidChannel`] for a name the
    /// protocol rejects (without asking the server), and with the server's
    /// refusal otherwise: `Forbidden`, `SubscriptionLimit`, ... (the
    /// protocol code is in [`Error::code`](crate::Error::code)). While
    /// disconnected, it waits for the next connection; wrap it in a timeout
    /// if that is too long. Subscribing twice to one channel shares a single
    /// server subscription.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
    /// let missions = client.subscribe("missions").await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe(
        &self,
        channel: impl AsRef<str>,
    ) -> Result<Subscription, SubscribeError> {
        self.subscribe_with(channel, SubscribeOptions::default())
            .await
    }

    /// [`subscribe`](Client::subscribe) with options: with
    /// [`SubscribeOptions::presence`], the subscription also yields the
    /// channel's [`SubscriptionEvent::Join`] and [`SubscriptionEvent::Leave`];
    /// with [`SubscribeOptions::rewind`], it first receives the channel's
    /// last `n` retained events (fewer when the history holds fewer, none on
    /// a channel without history), then live events, with no gap or
    /// duplicate between them (docs/protocol.md, "Rewind").
    ///
    /// Fails with [`SubscribeErrorKind::RewindOnShared`] when this client
    /// already subscribes to the channel and `rewind` is set, and with the
    /// server's `invalid_message` when `n` is above its `history.max_rewind`.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
    /// use brain_ws_client::{SubscribeOptions, SubscriptionEvent};
    /// use futures_util::StreamExt;
    ///
    /// let missions = client
    ///     .subscribe_with("missions", SubscribeOptions::new().rewind(20))
    ///     .await?;
    /// let mut agents = client
    ///     .subscribe_with("agents", SubscribeOptions::new().presence(true))
    ///     .await?;
    /// while let Some(item) = agents.next().await {
    ///     if let SubscriptionEvent::Join(who) = item {
    ///         println!("{} is online", who.user_id.unwrap_or_default());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_with(
        &self,
        channel: impl AsRef<str>,
        options: SubscribeOptions,
    ) -> Result<Subscription, SubscribeError> {
        let channel = ChannelName::new(channel.as_ref()).map_err(|e| {
            SubscribeError::new(SubscribeErrorKind::InvalidChannel, e.to_string())
                .with_code(brain_ws_protocol::ErrorCode::INVALID_CHANNEL)
                .with_source(e)
        })?;
        let sid = self.shared.next_sid.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.shared.subscription_capacity);
        let (reply, answer) = oneshot::channel();
        let command = Command::Subscribe {
            channel: channel.clone(),
            sid,
            options,
            tx,
            reply,
        };
        self.commands
            .send(command)
            .map_err(|_| SubscribeError::closed())?;
        answer
            .await
            .unwrap_or_else(|_| Err(SubscribeError::closed()))?;
        Ok(Subscription::new(channel, sid, rx, self.commands.clone()))
    }

    /// A stream of the events that carry no channel: messages to this
    /// token's user and broadcasts to all connections. Create it before
    /// they are sent; each stream gets its own copy.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) {
    /// use futures_util::StreamExt;
    /// let mut inbox = client.events();
    /// let first = inbox.next().await;
    /// # }
    /// ```
    pub fn events(&self) -> Events {
        let (tx, rx) = mpsc::channel(self.shared.subscription_capacity);
        // If the task is gone, the stream simply ends at once.
        let _ = self.commands.send(Command::Events { tx });
        Events::new(rx)
    }

    /// The current [`ConnectionState`], as a `watch` to await changes.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) {
    /// use brain_ws_client::ConnectionState;
    /// let mut state = client.state();
    /// let _ = state.wait_for(|s| matches!(s, ConnectionState::Connected { .. })).await;
    /// # }
    /// ```
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// The id of the current connection, if connected.
    ///
    /// ```no_run
    /// # fn demo(client: brain_ws_client::Client) {
    /// if let Some(id) = client.connection_id() { println!("connected as {id}") }
    /// # }
    /// ```
    pub fn connection_id(&self) -> Option<Uuid> {
        match &*self.state.borrow() {
            ConnectionState::Connected { connection_id } => Some(*connection_id),
            _ => None,
        }
    }

    /// A stream of everything that happens to the connection from now on.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) {
    /// use futures_util::StreamExt;
    /// let mut events = client.connection_events();
    /// while let Some(event) = events.next().await {
    ///     println!("{event:?}");
    /// }
    /// # }
    /// ```
    pub fn connection_events(&self) -> ConnectionEvents {
        ConnectionEvents::new(self.shared.events.resubscribe())
    }

    /// Closes the connection with code 1000 and stops reconnecting. Every
    /// subscription stream ends; pending subscribes fail with
    /// [`SubscribeErrorKind::Closed`]. Returns once the task has stopped.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) {
    /// client.close().await;
    /// # }
    /// ```
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Close { reply }).is_ok() {
            let _ = done.await;
        }
    }

    /// Waits until the client has stopped, and returns why when it was not
    /// asked to (a terminal close code, a refused token, exhausted retries).
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) {
    /// if let Some(err) = client.closed().await {
    ///     eprintln!("gave up: {err}");
    /// }
    /// # }
    /// ```
    pub async fn closed(&self) -> Option<ConnectError> {
        let mut state = self.state.clone();
        // An error means the task is gone, which also means closed.
        let _ = state
            .wait_for(|s| matches!(s, ConnectionState::Closed))
            .await;
        self.shared
            .terminal
            .lock()
            .ok()
            .and_then(|terminal| terminal.clone())
    }
}
