//! The publish queue: concurrent publications share Redis round trips.
//!
//! Each publication is one Redis command (`PUBLISH`, or `EVALSHA` of a
//! script in `scripts.rs`). Callers hand it to one of [`WRITERS`] writer
//! tasks through a bounded queue ([`QUEUE`] publications each); a writer
//! takes everything queued (up to [`MAX_BATCH`]), hands it as one pipeline
//! to the node's command connection, and takes the next batch without
//! waiting for the replies (up to [`IN_FLIGHT`] pipelines wait at once);
//! each caller gets its own reply. So under load one round trip carries
//! many publications, and an idle node still sends each at once (a batch
//! of one).
//!
//! - Order: a channel always goes to the same writer (by its name's hash;
//!   user-directed and broadcast-all events share the node-wide one), which
//!   hands its pipelines to the connection one after another; the
//!   connection writes them in that order and Redis runs commands in the
//!   order written: one channel's events reach Redis, and so get their
//!   offsets, in the order they were queued.
//! - Results: every publication gets its own: its reply, its own error
//!   (a script error for one command fails that publication only), or the
//!   round trip's failure. A publication whose caller gave up
//!   ([`COMMAND_TIMEOUT`](super::COMMAND_TIMEOUT) passed while it was still
//!   queued) is not sent: it was answered as failed, so it must not go out.
//! - Bounds: a full queue refuses at once with [`BrokerFailure::QueueFull`] (the HTTP
//!   API's 503 `unavailable`, saying so); nothing waits unbounded.
//! - Scripts: called by hash (`EVALSHA`); when Redis answers `NOSCRIPT`
//!   (it restarted or its scripts were flushed) the writer loads the
//!   scripts and runs those commands again, in their order, in one more
//!   round trip (behind any pipeline sent meanwhile: the one case where a
//!   channel's order can change, as it could with `Script::invoke`).

use std::hash::{BuildHasher as _, Hash};
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;
use redis::{Cmd, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use super::{COMMAND_TIMEOUT, Shared, failure, timed};
use crate::broker::BrokerFailure;

/// Writer tasks, each with its own queue; a channel always uses the same.
pub(super) const WRITERS: usize = 2;
/// Publications each writer's queue holds before refusing more.
pub(super) const QUEUE: usize = 4096;
/// Most commands written in one round trip.
pub(super) const MAX_BATCH: usize = 512;
/// Pipelines of one writer waiting for their replies at once.
pub(super) const IN_FLIGHT: usize = 16;

/// One queued command and where its reply goes.
struct Job {
    command: Cmd,
    reply: Reply,
}

/// The callers' side: one bounded queue per writer.
pub(super) struct Queues {
    senders: Vec<mpsc::Sender<Job>>,
    hasher: std::hash::RandomState,
}

impl Queues {
    /// Queues and their receivers, for [`run`] (one writer per receiver).
    pub(super) fn new() -> (Self, Vec<Receiver>) {
        let (senders, receivers) = (0..WRITERS)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                (tx, Receiver(rx))
            })
            .unzip();
        let queues = Self {
            senders,
            hasher: std::hash::RandomState::new(),
        };
        (queues, receivers)
    }

    /// Sends `command` through the writer of `order_key` (the Redis channel
    /// it publishes on) and waits for its reply, at most
    /// [`COMMAND_TIMEOUT`](super::COMMAND_TIMEOUT) in all.
    pub(super) async fn call(&self, order_key: &str, command: Cmd) -> Result<Value, BrokerFailure> {
        let writer = self.writer_of(order_key);
        let (reply, answer) = oneshot::channel();
        match self.senders[writer].try_send(Job { command, reply }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return Err(BrokerFailure::QueueFull { capacity: QUEUE });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(BrokerFailure::ShuttingDown),
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(BrokerFailure::ShuttingDown),
            Err(_) => Err(BrokerFailure::Timeout { what: "publish" }),
        }
    }

    fn writer_of(&self, order_key: impl Hash) -> usize {
        (self.hasher.hash_one(order_key) % self.senders.len() as u64) as usize
    }
}

/// A writer's end of its queue.
pub(super) struct Receiver(mpsc::Receiver<Job>);

/// One writer: takes what is queued and writes it as one pipeline, without
/// waiting for the replies of the previous ones (up to [`IN_FLIGHT`]
/// pipelines wait for theirs), answering each caller as its reply comes;
/// until the broker shuts down.
pub(super) async fn run(shared: Arc<Shared>, Receiver(mut rx): Receiver) {
    let mut in_flight = FuturesOrdered::new();
    loop {
        let first = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
            job = rx.recv(), if in_flight.len() < IN_FLIGHT => match job {
                Some(job) => job,
                None => return,
            },
        };
        let batch = rx.len().min(MAX_BATCH - 1) + 1;
        let mut pipe = redis::Pipeline::with_capacity(batch);
        pipe.ignore_errors();
        let mut replies = Vec::with_capacity(batch);
        let mut next = Some(first);
        while let Some(job) = next.take() {
            // A caller that gave up was answered already: sending its
            // command now would deliver a publication reported as failed.
            if !job.reply.is_closed() {
                pipe.add_command(job.command);
                replies.push(job.reply);
            }
            if replies.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if replies.is_empty() {
            continue;
        }
        // Polled once here, so the pipeline is handed to the connection
        // now, in queue order, before the next one is taken.
        let mut write = Box::pin(write(shared.clone(), pipe, replies));
        if futures_util::poll!(&mut write).is_pending() {
            in_flight.push_back(write);
        }
    }
}

type Reply = oneshot::Sender<Result<Value, BrokerFailure>>;

/// Writes `pipe` in one round trip and answers each of `replies` (one per
/// command, in order).
async fn write(shared: Arc<Shared>, pipe: redis::Pipeline, mut replies: Vec<Reply>) {
    let shared = &*shared;
    let results = if shared.state.is_up() {
        round_trip(shared, &pipe).await
    } else {
        Err(shared.state.reason())
    };
    let results = match results {
        Ok(results) => results,
        Err(reason) => {
            for reply in replies.drain(..) {
                let _ = reply.send(Err(reason.clone()));
            }
            return;
        }
    };
    let mut retry_pipe = redis::pipe();
    retry_pipe.ignore_errors();
    let mut retry = Vec::new();
    for ((reply, result), command) in replies.drain(..).zip(results).zip(pipe.cmd_iter()) {
        match result {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                retry_pipe.add_command(command.clone());
                retry.push(reply);
            }
            result => {
                let _ = reply.send(result.map_err(|e| failure::classify("publish", e)));
            }
        }
    }
    if retry.is_empty() {
        return;
    }
    let results = match load_scripts(shared).await {
        Ok(()) => round_trip(shared, &retry_pipe).await,
        Err(e) => Err(e),
    };
    match results {
        Ok(results) => {
            for (reply, result) in retry.into_iter().zip(results) {
                let _ = reply.send(result.map_err(|e| failure::classify("publish", e)));
            }
        }
        Err(reason) => {
            for reply in retry {
                let _ = reply.send(Err(reason.clone()));
            }
        }
    }
}

/// One round trip on the command connection: a result per command, in
/// order (`Err` for a command Redis refused), or why the round trip failed.
async fn round_trip(
    shared: &Shared,
    pipe: &redis::Pipeline,
) -> Result<Vec<RedisResult<Value>>, BrokerFailure> {
    let mut conn = shared.commands()?;
    timed("publish", pipe.query_async(&mut conn)).await
}

/// Loads every publish script (after `NOSCRIPT`).
async fn load_scripts(shared: &Shared) -> Result<(), BrokerFailure> {
    let mut conn = shared.commands()?;
    for script in [&shared.publish_script, &shared.publish_once_script] {
        timed("loading a script", script.load_async(&mut conn)).await?;
    }
    Ok(())
}

/// `EVALSHA` of `script` with `keys` and `args`: what `Script::invoke`
/// sends, as a command a pipeline can carry.
pub(super) fn evalsha(script: &redis::Script, invocation: impl FnOnce(&mut Cmd)) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash());
    invocation(&mut cmd);
    cmd
}
