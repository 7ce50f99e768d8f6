//! Work `katalog serve` does besides answering requests: applying due
//! schedules, following the change log (the change feed), delivering
//! webhooks. Each runs on a fixed beat, or a loop of its own, until
//! shutdown.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Stops every loop started with [`Beats::every`].
pub struct Beats {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
}

impl Default for Beats {
    fn default() -> Self {
        Beats { stop: watch::channel(false).0, loops: Vec::new() }
    }
}

impl Beats {
    /// Runs `task` every `period`; a failed round is logged and retried on
    /// the next beat.
    pub fn every<F, Fut, E>(&mut self, what: &'static str, period: Duration, mut task: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Display,
    {
        let mut stopped = self.stop.subscribe();
        self.loops.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = interval.tick() => {
                        if let Err(error) = task().await {
                            tracing::warn!(%error, "{what} failed; retrying");
                        }
                    }
                }
            }
        }));
    }

    /// Runs a loop of its own, which ends when the receiver it is given
    /// changes.
    pub fn run<Fut>(&mut self, task: impl FnOnce(watch::Receiver<bool>) -> Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.loops.push(tokio::spawn(task(self.stop.subscribe())));
    }

    /// Stops the loops after their current round.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for running in self.loops {
            let _ = running.await;
        }
    }
}
