//! The e-mail notification queue, kept in Redis so that a restart (or a crash)
//! loses no notification, and bounded so that a mail server that stops
//! answering cannot make it grow without end.
//!
//! | key | type | what |
//! |---|---|---|
//! | `vp:{mail}:jobs` | hash | job id (`<mailbox>/<message id>`) -> the job, as the mailer wrote it |
//! | `vp:{mail}:due` | sorted set | job id, scored by when it may be tried next (ms) |
//! | `vp:{mail}:tries` | hash | job id -> attempts started so far |
//!
//! The three share the hash tag `{mail}`, so each script below keeps to one
//! Redis Cluster slot. Versions before it used `vp:mail:*`: a queue left there
//! is moved on start-up ([`Store::move_legacy_mail_queue`]).
//!
//! A worker *claims* the first due job, which pushes its due time one lease
//! ahead: if the instance dies while sending, the job comes back by itself once
//! the lease lapses, for any instance to take. Success and giving up remove the
//! job; a failure worth retrying sets its next due time. Enqueuing a job that is
//! already queued changes nothing, so repair can queue a notification a deposit
//! may have queued already.

use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::keys::PREFIX;
use super::{Store, StoreError};

/// The hash tag of the queue's keys.
const MAIL_TAG: &str = "mail";

fn jobs() -> String {
    format!("{PREFIX}:{{{MAIL_TAG}}}:jobs")
}

fn due() -> String {
    format!("{PREFIX}:{{{MAIL_TAG}}}:due")
}

fn tries() -> String {
    format!("{PREFIX}:{{{MAIL_TAG}}}:tries")
}

/// One claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailJob {
    pub id: String,
    pub body: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

/// What [`Store::claim_mail`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Job(MailJob),
    /// Nothing due now; the next job is due in this long (`None`: queue empty).
    Idle(Option<Duration>),
}

/// Whether a job was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    /// The queue holds its maximum: the job was dropped.
    Full,
}

const NOW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"#;

/// KEYS: jobs, due. ARGV: id, body, max. Returns 1 queued (or already), 0 full.
const ENQUEUE: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return 1
"#;

/// KEYS: jobs, due, tries. ARGV: lease ms.
/// Returns {id, body, attempt, 0} or {'', '', 0, next due in ms or -1}.
const CLAIM: &str = r#"
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 then return {'', '', 0, -1} end
local id, at = first[1], tonumber(first[2])
if at > now then return {'', '', 0, at - now} end
local body = redis.call('HGET', KEYS[1], id)
if not body then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  return {'', '', 0, 0}
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), id)
local attempt = redis.call('HINCRBY', KEYS[3], id, 1)
return {id, body, attempt, 0}
"#;

/// KEYS: jobs, due. ARGV: id, delay ms. Only a job still queued is rescheduled.
const RETRY: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
return 1
"#;

/// KEYS: jobs, due, tries. ARGV: id.
const FINISH: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"#;

fn with_now(body: &str) -> Script {
    Script::new(&format!("{NOW}{body}"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Store {
    /// Queues a job unless the queue holds `max` jobs already.
    pub async fn enqueue_mail(
        &self,
        id: &str,
        body: &str,
        max: usize,
    ) -> Result<Enqueued, StoreError> {
        let mut conn = self.conn.clone();
        let queued: i64 = with_now(ENQUEUE)
            .key(jobs())
            .key(due())
            .arg(id)
            .arg(body)
            .arg(max)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(if queued == 1 {
            Enqueued::Queued
        } else {
            Enqueued::Full
        })
    }

    /// Takes the first due job for `lease` (see the module documentation).
    pub async fn claim_mail(&self, lease: Duration) -> Result<Claim, StoreError> {
        let mut conn = self.conn.clone();
        let reply: (String, String, i64, i64) = with_now(CLAIM)
            .key(jobs())
            .key(due())
            .key(tries())
            .arg(millis(lease))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(match reply {
            (id, body, attempt, _) if !id.is_empty() => Claim::Job(MailJob {
                id,
                body,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            }),
            (_, _, _, next) if next >= 0 => {
                Claim::Idle(Some(Duration::from_millis(next.unsigned_abs())))
            }
            _ => Claim::Idle(None),
        })
    }

    /// Sets a failed job's next try `delay` from now.
    pub async fn retry_mail(&self, id: &str, delay: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        with_now(RETRY)
            .key(jobs())
            .key(due())
            .arg(id)
            .arg(millis(delay))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Removes a job: sent, or given up.
    pub async fn finish_mail(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        Script::new(FINISH)
            .key(jobs())
            .key(due())
            .key(tries())
            .arg(id)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Moves a queue written by a version before the `{mail}` hash tag to its
    /// new keys, unless they hold one already (then the old one is left for a
    /// look). Only a single server or a Sentinel group can hold such a queue.
    pub async fn move_legacy_mail_queue(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        for (old, new) in [
            (format!("{PREFIX}:mail:jobs"), jobs()),
            (format!("{PREFIX}:mail:due"), due()),
            (format!("{PREFIX}:mail:tries"), tries()),
        ] {
            let exists: bool = conn.exists(&old).await.map_err(|e| self.error(e))?;
            if exists {
                let moved: bool = conn
                    .rename_nx(&old, &new)
                    .await
                    .map_err(|e| self.error(e))?;
                tracing::info!(from = %old, to = %new, moved, "legacy e-mail queue key");
            }
        }
        Ok(())
    }

    /// Jobs waiting or being sent.
    pub async fn mail_queue_len(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZCARD")
            .arg(due())
            .query_async::<usize>(&mut conn)
            .await
            .map_err(|e| self.error(e))
    }
}
