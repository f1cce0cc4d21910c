//! How the long-running commands (`run`, `serve`) are asked to stop: Ctrl-C, SIGTERM, and
//! SIGHUP, which a terminal sends its processes when it is closed. Each stops the servers
//! gracefully. Servers run in process groups of their own, so they get none of these signals
//! themselves: a command that died of one would leave them running with nobody to stop them.

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The three stop signals, listened for from creation on.
///
/// Make the listeners once, before the first server starts, and keep them until the command
/// ends: a tokio listener only sees signals that arrive after it exists, and the OS handler stays
/// installed once made, so a new listener per phase would swallow a signal sent between two
/// phases.
pub(crate) struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl ShutdownSignals {
    pub(crate) fn listen() -> anyhow::Result<ShutdownSignals> {
        let listen =
            |kind: SignalKind| signal(kind).context("cannot listen for Ctrl-C, SIGTERM and SIGHUP");
        Ok(ShutdownSignals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    /// Wait for the next of the three.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}
