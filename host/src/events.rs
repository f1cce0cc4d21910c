//! The event bus: every lifecycle event is persisted, then broadcast to live subscribers
//! (`events -f`, the API's SSE stream), then handed to notifier plugins through their bounded
//! queue. Emitting never blocks the caller: events go through a bounded queue to one writer
//! thread; when that queue is full the event is counted, and the count is reported as an
//! `events-dropped` event as soon as there is room, never silently lost.
//!
//! [`LocalEvents`] is the same channel for a command that runs without the daemon (`run`, a pull
//! in the CLI): its events are stored and reach the notifier plugins just like the daemon's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mlx_host_plugin_api::types::Event;
use tokio::sync::broadcast;

use crate::plugins::Registry;
use crate::plugins::fanout::{DEFAULT_QUEUE_CAPACITY, EventFanout};
use crate::store::{EventRecord, NewEvent, Store, db_path};
use crate::supervisor::diagnosis::Diagnosed;

/// Events waiting to be written.
const WRITE_QUEUE: usize = 1024;
/// Events a slow live subscriber may fall behind before it is told it lagged.
const BROADCAST_CAPACITY: usize = 1024;
/// Events kept in the database.
pub const KEEP_EVENTS: usize = 10_000;

/// Publishes events; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Option<SyncSender<NewEvent>>>,
    dropped: Arc<AtomicU64>,
    broadcast: broadcast::Sender<EventRecord>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl EventBus {
    /// Start the writer thread. `notifiers` receives every event for the on-event plugins.
    pub fn start(
        store: Arc<Store>,
        notifiers: Option<Arc<EventFanout>>,
    ) -> std::io::Result<EventBus> {
        let (sender, receiver) = sync_channel(WRITE_QUEUE);
        let (broadcast, _) = broadcast::channel(BROADCAST_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = {
            let broadcast = broadcast.clone();
            let dropped = dropped.clone();
            std::thread::Builder::new()
                .name("event-writer".into())
                .spawn(move || {
                    write_events(
                        &receiver,
                        &store,
                        &broadcast,
                        notifiers.as_deref(),
                        &dropped,
                    )
                })?
        };
        Ok(EventBus {
            inner: Arc::new(Inner {
                queue: Mutex::new(Some(sender)),
                dropped,
                broadcast,
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// Publish an event.
    pub fn emit(
        &self,
        kind: &str,
        subject: &str,
        message: impl Into<String>,
        diagnosis: Option<&Diagnosed>,
    ) {
        let mut event = NewEvent::new(kind, subject, message);
        event.diagnosis = diagnosis.and_then(|diagnosed| serde_json::to_value(diagnosed).ok());
        self.emit_new(event);
    }

    /// Publish an event that came from the plugin API (e.g. `plugin-disabled`).
    pub fn emit_api_event(&self, event: Event) {
        let mut new = NewEvent::new(event.kind, event.subject, event.message);
        new.diagnosis = event
            .diagnosis
            .and_then(|diagnosis| serde_json::to_value(diagnosis).ok());
        self.emit_new(new);
    }

    fn emit_new(&self, event: NewEvent) {
        let guard = match self.inner.queue.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let delivered = match guard.as_ref() {
            Some(sender) => match sender.try_send(event) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !delivered {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A live feed of events as they are written.
    pub fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.inner.broadcast.subscribe()
    }

    /// Write what is queued, then stop the writer thread.
    pub fn shutdown(&self) {
        if let Ok(mut queue) = self.inner.queue.lock() {
            queue.take();
        }
        let writer = self
            .inner
            .writer
            .lock()
            .ok()
            .and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

/// The state database, event bus and notifier queue of a command run without the daemon.
pub struct LocalEvents {
    pub store: Arc<Store>,
    pub bus: EventBus,
    fanout: Arc<EventFanout>,
}

impl LocalEvents {
    /// Open the database under `data_dir` and start the event writer and the notifier queue
    /// for `registry`'s on-event plugins. Blocking (SQLite, threads): call it off the runtime.
    pub fn start(
        data_dir: &std::path::Path,
        registry: Arc<Registry>,
    ) -> anyhow::Result<LocalEvents> {
        use anyhow::Context as _;
        let store =
            Arc::new(Store::open(&db_path(data_dir)).context("cannot open the state database")?);
        let fanout = Arc::new(
            EventFanout::start(registry, DEFAULT_QUEUE_CAPACITY, None)
                .context("cannot start the notifier queue")?,
        );
        let bus = EventBus::start(store.clone(), Some(fanout.clone()))
            .context("cannot start the event writer")?;
        Ok(LocalEvents { store, bus, fanout })
    }

    /// Store what is queued and let the notifiers deliver it, then stop. Blocking.
    pub fn finish(self) {
        self.bus.shutdown();
        self.fanout.shutdown();
    }
}

fn write_events(
    receiver: &Receiver<NewEvent>,
    store: &Store,
    broadcast: &broadcast::Sender<EventRecord>,
    notifiers: Option<&EventFanout>,
    dropped: &AtomicU64,
) {
    let report_drops = || {
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let report = NewEvent::new(
                "events-dropped",
                "events",
                format!("{lost} event(s) were lost because the event queue was full"),
            );
            write_one(report, store, broadcast, notifiers);
        }
    };
    let mut written: u64 = 0;
    while let Ok(event) = receiver.recv() {
        write_one(event, store, broadcast, notifiers);
        report_drops();
        written += 1;
        if written.is_multiple_of(1000)
            && let Err(error) = store.events().prune(KEEP_EVENTS)
        {
            tracing::warn!("cannot prune old events: {error}");
        }
    }
    report_drops();
}

fn write_one(
    event: NewEvent,
    store: &Store,
    broadcast: &broadcast::Sender<EventRecord>,
    notifiers: Option<&EventFanout>,
) {
    let record = match store.events().append(&event) {
        Ok(record) => record,
        Err(error) => {
            tracing::error!(kind = %event.kind, "cannot store an event: {error}");
            EventRecord {
                id: 0,
                timestamp_ms: crate::store::now_ms(),
                kind: event.kind,
                subject: event.subject,
                message: event.message,
                diagnosis: event.diagnosis,
            }
        }
    };
    tracing::info!(kind = %record.kind, subject = %record.subject, "{}", record.message);
    if let Some(notifiers) = notifiers {
        notifiers.publish(to_api_event(&record));
    }
    // No subscriber is fine: the event is stored.
    let _ = broadcast.send(record);
}

/// The plugin API's view of a stored event.
pub fn to_api_event(record: &EventRecord) -> Event {
    Event {
        kind: record.kind.clone(),
        subject: record.subject.clone(),
        message: record.message.clone(),
        timestamp_ms: u64::try_from(record.timestamp_ms).unwrap_or(0),
        diagnosis: record.diagnosis.as_ref().and_then(|value| {
            let diagnosis =
                serde_json::from_value::<mlx_host_plugin_api::types::Diagnosis>(value.clone()).ok();
            diagnosis.or_else(|| {
                // A host diagnosis (category, severity, summary, hint, plugin) → the API record.
                let diagnosed: DiagnosedFields = serde_json::from_value(value.clone()).ok()?;
                Some(mlx_host_plugin_api::types::Diagnosis {
                    category: diagnosed.category,
                    severity: diagnosed.severity,
                    summary: diagnosed.summary,
                    hint: diagnosed.hint,
                    line: None,
                })
            })
        }),
    }
}

#[derive(serde::Deserialize)]
struct DiagnosedFields {
    category: String,
    severity: mlx_host_plugin_api::types::Severity,
    summary: String,
    hint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_stored_broadcast_and_never_block() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let bus = EventBus::start(store.clone(), None).unwrap();
        let mut live = bus.subscribe();
        let diagnosed = Diagnosed::by_host(
            "killed",
            mlx_host_plugin_api::types::Severity::Error,
            "ended by SIGKILL".into(),
            "check memory".into(),
        );
        bus.emit("crashed", "tiny", "tiny crashed", Some(&diagnosed));
        let first = live.blocking_recv().unwrap();
        assert_eq!(first.kind, "crashed");
        for index in 0..5000 {
            bus.emit("ready", &format!("p{index}"), "ready", None);
        }
        bus.shutdown();
        let api = to_api_event(&first);
        assert_eq!(api.diagnosis.unwrap().category, "killed");
        let stored = store.events().latest(10_000).unwrap();
        let dropped_reports: Vec<_> = stored
            .iter()
            .filter(|event| event.kind == "events-dropped")
            .collect();
        let written = stored.iter().filter(|event| event.kind == "ready").count();
        if written < 5000 {
            assert!(
                !dropped_reports.is_empty(),
                "{} of 5000 written and no drop reported",
                written
            );
        }
    }
}
