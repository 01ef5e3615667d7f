//! The PIN-hashing threads: a fixed number of workers fed from one FIFO queue.
//!
//! argon2id at the production cost is tens of milliseconds of CPU and megabytes
//! of memory per run, so logins are bounded by the cores, whatever else happens.
//! What this module adds over "one blocking task per verification":
//!
//! - **Fairness**: one queue, taken in order, so during a burst every login waits
//!   for exactly the hashing that was asked for before it (its position divided
//!   by the workers, times the hash time), never longer because of luck.
//! - **No allocation per run**: each worker owns its [`HashMemory`] for good
//!   (see `domain::pin_hash`).
//! - **A bound**: past `queue_limit` waiting jobs a new one is refused at once
//!   ([`PoolError::Full`]) rather than queued for a wait no caller would sit
//!   through; the flow plays its apology.
//!
//! Workers are plain threads (not tokio's blocking pool, whose threads come and
//! go with their memory); they stop when the last handle to the pool is dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;

use tokio::sync::oneshot;
use tracing::error;

use crate::domain::{Hashing, PinHasher};

/// A job: runs on a worker with that worker's memory.
type Job = Box<dyn FnOnce(&mut Hashing<'_>) + Send>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The queue holds `queue_limit` jobs already.
    #[error("PIN hashing is overloaded: {0} logins are already waiting")]
    Full(usize),
    /// The job did not complete (it panicked, or the pool is shutting down).
    #[error("a PIN hashing job was lost")]
    Lost,
}

/// A handle to the workers; cheap to share behind an `Arc`. Dropping the last
/// handle lets the workers finish the queue and exit.
pub struct HashPool {
    shared: Arc<Shared>,
    workers: usize,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job arrives or the pool closes.
    ready: Condvar,
    queue_limit: usize,
}

struct State {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("workers", &self.workers)
            .field("queue_limit", &self.shared.queue_limit)
            .finish()
    }
}

impl HashPool {
    /// Starts `workers` threads (at least one) hashing with `hasher`, with room
    /// for `queue_limit` waiting jobs (at least one).
    pub fn start(hasher: &PinHasher, workers: usize, queue_limit: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            queue_limit: queue_limit.max(1),
        });
        let workers = workers.max(1);
        for n in 0..workers {
            let shared = Arc::clone(&shared);
            let hasher = hasher.clone();
            thread::Builder::new()
                .name(format!("pin-hash-{n}"))
                .spawn(move || work(&shared, &hasher))?;
        }
        Ok(HashPool { shared, workers })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs waiting for a worker now (not counting those being hashed).
    pub fn waiting(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// Queues `job` behind every job asked for before it and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Hashing<'_>) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        self.submit(job)?.result().await
    }

    /// Queues `job` now (its place in line is taken before this returns); the
    /// answer comes from [`Queued::result`].
    pub fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Hashing<'_>) -> T + Send + 'static,
    ) -> Result<Queued<T>, PoolError> {
        let (reply, result) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if state.jobs.len() >= self.shared.queue_limit {
                return Err(PoolError::Full(state.jobs.len()));
            }
            state
                .jobs
                .push_back(Box::new(move |hashing: &mut Hashing<'_>| {
                    // The caller may have gone (hung up): nobody to tell.
                    let _ = reply.send(job(hashing));
                }));
        }
        self.shared.ready.notify_one();
        Ok(Queued(result))
    }
}

/// A job in the queue; dropping it does not withdraw the job.
pub struct Queued<T>(oneshot::Receiver<T>);

impl<T> Queued<T> {
    /// Waits for the job's answer.
    pub async fn result(self) -> Result<T, PoolError> {
        self.0.await.map_err(|_| PoolError::Lost)
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    /// The lock, even if a thread panicked while holding it: the queue itself is
    /// never left half-updated (push and pop are single calls).
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job in order, or `None` once the pool is closed and drained.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One worker: its own memory, jobs in queue order until the pool closes. A job
/// that panics loses its answer (the caller gets [`PoolError::Lost`]), not the
/// worker.
fn work(shared: &Shared, hasher: &PinHasher) {
    let mut memory = hasher.memory();
    while let Some(job) = shared.next() {
        let mut hashing = hasher.with(&mut memory);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut hashing)));
        if run.is_err() {
            error!("a PIN hashing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;
    use crate::domain::{HashCost, Pin};

    fn hasher() -> PinHasher {
        PinHasher::new(&Secret::new("pepper"), &HashCost::fast_for_tests()).unwrap()
    }

    #[tokio::test]
    async fn verifies_and_hashes_on_the_workers() {
        let pool = HashPool::start(&hasher(), 2, 16).unwrap();
        let pin = Pin::parse("482913").unwrap();
        let p = pin.clone();
        let phc = pool.run(move |h| h.hash(&p)).await.unwrap().unwrap();
        let p = pin.clone();
        let stored = phc.clone();
        assert!(pool.run(move |h| h.verify(&p, &stored)).await.unwrap());
        let wrong = Pin::parse("482914").unwrap();
        assert!(!pool.run(move |h| h.verify(&wrong, &phc)).await.unwrap());
        let name = pool
            .run(|_| thread::current().name().map(String::from))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("pin-hash-")));
    }

    /// Takes a worker until the returned sender is sent to (or dropped); comes
    /// back once the job is running.
    async fn occupy(
        pool: &Arc<HashPool>,
    ) -> (
        tokio::task::JoinHandle<Result<(), PoolError>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (running, started) = oneshot::channel();
        let queue = Arc::clone(pool);
        let job = tokio::spawn(async move {
            queue
                .run(move |_| {
                    let _ = running.send(());
                    let _ = gate.recv();
                })
                .await
        });
        started.await.unwrap();
        (job, release)
    }

    /// Waits until `n` jobs are queued.
    async fn queued(pool: &HashPool, n: usize) {
        while pool.waiting() < n {
            tokio::task::yield_now().await;
        }
    }

    /// One worker, jobs queued while it is busy: they start in the order asked.
    #[tokio::test]
    async fn jobs_start_in_the_order_they_were_queued() {
        let pool = Arc::new(HashPool::start(&hasher(), 1, 64).unwrap());
        let (blocker, release) = occupy(&pool).await;
        let started = Arc::new(Mutex::new(Vec::new()));
        let mut jobs = Vec::new();
        for n in 0..20 {
            let (queue, started) = (Arc::clone(&pool), Arc::clone(&started));
            jobs.push(tokio::spawn(async move {
                queue.run(move |_| started.lock().unwrap().push(n)).await
            }));
            queued(&pool, n + 1).await;
        }
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(*started.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = Arc::new(HashPool::start(&hasher(), 1, 2).unwrap());
        let (blocker, release) = occupy(&pool).await;
        let mut waiting = Vec::new();
        for n in 0..2 {
            let queue = Arc::clone(&pool);
            waiting.push(tokio::spawn(async move { queue.run(move |_| n).await }));
            queued(&pool, n + 1).await;
        }
        assert_eq!(pool.run(|_| 7).await, Err(PoolError::Full(2)));
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for (n, job) in waiting.into_iter().enumerate() {
            assert_eq!(job.await.unwrap(), Ok(n));
        }
        assert_eq!(pool.run(|_| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_not_the_worker() {
        let pool = HashPool::start(&hasher(), 1, 4).unwrap();
        let lost: Result<(), PoolError> = pool.run(|_| panic!("boom")).await;
        assert_eq!(lost, Err(PoolError::Lost));
        assert_eq!(pool.run(|_| 1).await, Ok(1));
    }

    #[test]
    fn workers_exit_when_the_pool_is_dropped() {
        let pool = HashPool::start(&hasher(), 3, 4).unwrap();
        let weak = Arc::downgrade(&pool.shared);
        drop(pool);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while weak.strong_count() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "workers still hold the queue"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}
