//! Running the scan's inputs on several threads with the output of a sequential scan.
//!
//! Each input is scanned by one of `--jobs` worker threads, which turns everything it finds into
//! [`Event`]s; the calling thread writes the events input by input, in input order, so stdout
//! and stderr hold the same bytes as with `--jobs 1`, and threshold rules see the records in
//! the same order (the gate and its windows live on the calling thread only). A worker may run
//! ahead by at most [`AHEAD_PER_JOB`] inputs per job, and each input's events wait in a bounded
//! channel, so memory stays bounded however many files there are. With more jobs than inputs
//! (one big file), each input's gzip is inflated on a thread of its own instead.

use super::walk::{shown, shown_text};
use crate::detector::reader::pipeline::with_inflate_thread;
use crate::detector::{
    Alert, Detector, ReaderConfig, ScanSink, ScanStats, SkippedRecord, Suppression, scan_log_to,
    scan_reader_to,
};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

/// Inputs a job may have scanned ahead of the one being written.
pub(super) const AHEAD_PER_JOB: usize = 2;
/// Events of one input waiting to be written, at most.
const EVENTS_WAITING: usize = 1024;

/// Something to report, in order.
pub(super) enum Event {
    /// The input the next events are about (as printed).
    Start(String),
    Alert(Box<Alert>),
    Suppressed(Box<Suppression>),
    Skipped(SkippedRecord),
    /// A warning line: nothing lost, nothing counted as an error.
    Warning(String),
    /// An error line, counted: an input (or part of one) could not be read.
    Error(String),
    /// A line of progress information for stderr, written as it is (S3 listings only).
    #[cfg_attr(not(feature = "lambda"), allow(dead_code))]
    Note(String),
    /// One input read to its end or to its error, with what it counted.
    Scanned(ScanStats),
}

/// One step of the scan, in order.
pub(super) enum Item {
    /// A warning from expanding the path arguments.
    Warning(String),
    /// An error from expanding the path arguments (counted).
    Error(String),
    /// A file (or `-`) to scan, and whether it was named on the command line.
    Input { path: PathBuf, named: bool },
}

/// What every scan of an input shares.
pub(super) struct ScanContext<'a> {
    pub detector: &'a Detector,
    pub reader_config: ReaderConfig,
    /// Threads to use (`--jobs`).
    pub jobs: usize,
}

/// Runs every item and hands the events to `write`, in item order; stops at its first error.
pub(super) fn run_items(
    items: &[Item],
    context: &ScanContext<'_>,
    write: &mut dyn FnMut(Event) -> io::Result<()>,
) -> io::Result<()> {
    let inputs = items
        .iter()
        .filter(|i| matches!(i, Item::Input { .. }))
        .count();
    // Spare threads go to inflating each input's gzip beside its parsing.
    let inflate_thread = context.jobs > inputs;
    let workers = context.jobs.min(inputs);
    if workers <= 1 {
        for item in items {
            match item {
                Item::Warning(m) => write(Event::Warning(m.clone()))?,
                Item::Error(m) => write(Event::Error(m.clone()))?,
                Item::Input { path, named } => {
                    let mut failed = Ok(());
                    scan_input(path, *named, context, inflate_thread, &mut |event| {
                        if failed.is_ok() {
                            failed = write(event);
                        }
                    });
                    failed?;
                }
            }
        }
        return Ok(());
    }
    let (jobs_tx, jobs_rx) = channel::<(&Path, bool, SyncSender<Event>)>();
    let jobs_rx = Mutex::new(jobs_rx);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let jobs_rx = &jobs_rx;
            scope.spawn(move || {
                loop {
                    // The lock is held while waiting, which only makes the others wait too.
                    let job = jobs_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((path, named, events))) = job else {
                        return;
                    };
                    scan_input(path, named, context, false, &mut |event| {
                        // The writer hung up (its output failed): the scan's result is moot.
                        let _ = events.send(event);
                    });
                }
            });
        }
        // Inputs in flight, oldest first: a note is ready at once, an input when its worker
        // drops the sender. Jobs are taken in order, so the oldest is always being worked on.
        let mut in_flight: VecDeque<Result<Event, Receiver<Event>>> = VecDeque::new();
        let mut running = 0;
        let mut next = items.iter();
        let outcome = loop {
            while running < workers * AHEAD_PER_JOB {
                match next.next() {
                    Some(Item::Warning(m)) => in_flight.push_back(Ok(Event::Warning(m.clone()))),
                    Some(Item::Error(m)) => in_flight.push_back(Ok(Event::Error(m.clone()))),
                    Some(Item::Input { path, named }) => {
                        let (events_tx, events_rx) = sync_channel(EVENTS_WAITING);
                        if jobs_tx.send((path.as_path(), *named, events_tx)).is_err() {
                            break;
                        }
                        in_flight.push_back(Err(events_rx));
                        running += 1;
                    }
                    None => break,
                }
            }
            let written = match in_flight.pop_front() {
                None => break Ok(()),
                Some(Ok(note)) => write(note),
                Some(Err(events)) => {
                    running -= 1;
                    events.into_iter().try_for_each(&mut *write)
                }
            };
            if let Err(e) = written {
                break Err(e);
            }
        };
        // Closing the queue ends the workers; dropping the receivers makes their sends fail.
        drop(jobs_tx);
        drop(in_flight);
        outcome
    })
}

/// Passes a scan's findings on as events.
struct Events<'a>(&'a mut dyn FnMut(Event));

impl ScanSink for Events<'_> {
    fn alert(&mut self, alert: Alert) {
        (self.0)(Event::Alert(Box::new(alert)));
    }
    fn skipped(&mut self, skipped: SkippedRecord) {
        (self.0)(Event::Skipped(skipped));
    }
    fn suppressed(&mut self, suppression: Suppression) {
        (self.0)(Event::Suppressed(Box::new(suppression)));
    }
}

/// Scans one input, reporting everything as events.
fn scan_input(
    input: &Path,
    named: bool,
    context: &ScanContext<'_>,
    inflate_thread: bool,
    emit: &mut dyn FnMut(Event),
) {
    emit(Event::Start(shown(input)));
    let source: Box<dyn Read + Send> = if input == Path::new("-") {
        Box::new(io::stdin())
    } else {
        // A file found in a walk may have become a FIFO or device since: opening one would
        // wait forever for a writer. One named on the command line is read as a stream
        // (`<(aws s3 cp s3://... -)`).
        if !named && !std::fs::metadata(input).is_ok_and(|m| m.is_file()) {
            emit(Event::Warning(format!(
                "{}: not a regular file; skipped",
                shown(input)
            )));
            return;
        }
        match File::open(input) {
            Ok(f) => Box::new(f),
            Err(e) => {
                emit(Event::Error(format!(
                    "{}: {}",
                    shown(input),
                    shown_text(&e)
                )));
                return;
            }
        }
    };
    let location = input.display().to_string();
    scan_source(source, &location, context, inflate_thread, emit);
}

/// Scans one opened log object (a file, stdin, an S3 object's body) named `location`, after
/// its [`Event::Start`], reporting everything as events.
pub(super) fn scan_source(
    source: Box<dyn Read + Send>,
    location: &str,
    context: &ScanContext<'_>,
    inflate_thread: bool,
    emit: &mut dyn FnMut(Event),
) {
    let (detector, cfg) = (context.detector, context.reader_config);
    let mut sink = Events(&mut *emit);
    let scanned = if inflate_thread {
        with_inflate_thread(source, cfg, |opened| {
            scan_reader_to(opened, location, detector, &mut sink)
        })
    } else {
        scan_log_to(source, location, detector, cfg, &mut sink)
    };
    match scanned {
        Ok(stats) => emit(Event::Scanned(stats)),
        Err(e) => {
            emit(Event::Error(format!(
                "{}: {}",
                crate::detector::text::clean(location, 4096),
                shown_text(&e.error)
            )));
            emit(Event::Scanned(e.stats));
        }
    }
}
