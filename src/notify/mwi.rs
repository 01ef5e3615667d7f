//! Message-waiting indication: the lamp on the owner's phone, fed through ARI
//! `/mailboxes` (Asterisk's res_mwi_external), which NOTIFYs the phones whose
//! PJSIP `mailboxes=` names the same `<mailbox>@<context>`.
//!
//! The lamp is a convenience, never the record: the message index in Redis is.
//! So a failed update is logged and the call goes on; the next change of that
//! mailbox, or the republish at start-up, puts the lamp right again.
//!
//! Several Asterisk servers may share one Redis, each with its own voiceportal
//! (docs/SCALING.md): a message left through one server must light the owner's
//! phone on every server. So each change is also announced on a Redis stream
//! (`store::lamps`), and every service [follows](Mwi::follow) it and sets the lamp
//! on its own Asterisk.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::ari::AriClient;
use crate::domain::MailboxId;
use crate::store::messages::MessageCounts;
use crate::store::{Store, StoreError};

/// How many locks serialise lamp refreshes (mailboxes share them by hash).
const STRIPES: usize = 64;

/// How often a service reads the lamp changes made through other servers: the
/// most a lamp there lags behind. One small read per interval when nothing changes.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

/// Most lamp changes applied per read.
const FOLLOW_BATCH: usize = 500;

/// Publishes message counts to Asterisk. Cheap to clone.
#[derive(Clone)]
pub struct Mwi {
    client: AriClient,
    /// `portal.mwi_context`, validated by the config to contain no `@`.
    context: String,
    /// Refreshes of one mailbox run one at a time, so the last PUT carries the
    /// counts read last: twenty messages saved at once end with the lamp at 20,
    /// not at whichever PUT happened to arrive last.
    stripes: Arc<Vec<tokio::sync::Mutex<()>>>,
    /// This publisher's name on the lamp stream, shared by its clones: random,
    /// so two services on one machine (or two machines with the same ARI URL)
    /// never take each other's changes for their own. A service clones one
    /// `Mwi` for its flows, its maintenance and its follower, so it skips only
    /// its own changes.
    origin: Arc<str>,
}

impl Mwi {
    /// `context` is `config.portal.mwi_context`: mailboxes are published as
    /// `<mailbox>@<context>`.
    pub fn new(client: AriClient, context: &str) -> Mwi {
        Mwi {
            client,
            context: context.to_owned(),
            stripes: Arc::new((0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect()),
            origin: format!("{:016x}", rand::random::<u64>()).into(),
        }
    }

    /// Reads the mailbox's counts and publishes them, serialised per mailbox (see
    /// `stripes`), then tells the services of the other Asterisk servers. What
    /// flows call after every change. Failures are logged.
    pub async fn refresh(&self, store: &Store, m: &MailboxId) {
        self.refresh_here(store, m).await;
        self.announce(store, m).await;
    }

    /// Tells the other services that `m`'s lamp changed (see `store::lamps`).
    async fn announce(&self, store: &Store, m: &MailboxId) {
        if let Err(e) = store.announce_lamp(m, &self.origin).await {
            warn!(mailbox = %m, error = %e, "cannot tell the other Asterisk servers about the lamp");
        }
    }

    /// `refresh` on this service's own Asterisk only.
    async fn refresh_here(&self, store: &Store, m: &MailboxId) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        m.hash(&mut hasher);
        let stripe = &self.stripes[(hasher.finish() as usize) % STRIPES];
        let _turn = stripe.lock().await;
        match store.message_counts(m).await {
            Ok(counts) => self.publish(m, counts).await,
            Err(e) => {
                warn!(mailbox = %m, error = %e, "cannot read counts for the message-waiting lamp")
            }
        }
    }

    /// The name Asterisk and the phones know the mailbox by, e.g. `1001@default`.
    pub fn name(&self, m: &MailboxId) -> String {
        format!("{m}@{}", self.context)
    }

    /// PUTs the counts. Failures are logged (warn) and never fail the caller: a
    /// message is saved whether or not the lamp could be lit.
    pub async fn publish(&self, m: &MailboxId, counts: MessageCounts) {
        if let Err(e) = self.try_publish(m, counts).await {
            warn!(mailbox = %m, error = %e, "could not update the message-waiting lamp");
        }
    }

    /// Like `publish`, with the error returned, for callers that report it.
    pub async fn try_publish(
        &self,
        m: &MailboxId,
        counts: MessageCounts,
    ) -> Result<(), crate::ari::AriError> {
        self.client
            .put_mailbox(&self.name(m), counts.old, counts.new)
            .await?;
        debug!(mailbox = %m, new = counts.new, old = counts.old, "message-waiting lamp updated");
        Ok(())
    }

    /// Turns a lamp off for good (the mailbox was deleted), here and, through
    /// the lamp stream, on the other servers. A mailbox Asterisk does not know is
    /// already off.
    pub async fn clear(&self, store: &Store, m: &MailboxId) {
        self.clear_here(m).await;
        self.announce(store, m).await;
    }

    async fn clear_here(&self, m: &MailboxId) {
        match self.client.delete_mailbox(&self.name(m)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                warn!(mailbox = %m, error = %e, "could not remove the message-waiting mailbox")
            }
        }
    }

    /// At start-up (and after a repair): publishes every mailbox of the store, so
    /// lamps changed while this service was down, or by a repair, are right again.
    /// Also removes the Asterisk mailboxes of our context whose voiceportal
    /// mailbox no longer exists, so a deleted mailbox's lamp does not stay lit
    /// (res_mwi_external keeps its state across Asterisk restarts).
    ///
    /// Returns how many mailboxes were published. A Redis failure ends it with
    /// the error; ARI failures are logged per mailbox, as in `publish`.
    pub async fn republish_all(&self, store: &Store) -> Result<usize, StoreError> {
        let ids = store.mailbox_ids().await?;
        let mut published = 0;
        for id in &ids {
            let counts = store.message_counts(id).await?;
            match self.try_publish(id, counts).await {
                Ok(()) => published += 1,
                Err(e) => {
                    warn!(mailbox = %id, error = %e, "could not update the message-waiting lamp");
                    if e.kind == crate::ari::AriErrorKind::Transport {
                        // Asterisk is away: every other mailbox would wait for the
                        // same timeout. The next start-up or repair publishes them.
                        warn!(
                            "Asterisk unreachable: remaining message-waiting lamps not published"
                        );
                        return Ok(published);
                    }
                }
            }
        }
        self.remove_stale(&ids).await;
        Ok(published)
    }

    /// Deletes `<number>@<our context>` mailboxes of Asterisk that are not ours
    /// any more. Names that are not a mailbox number, or of another context, are
    /// left alone: they may belong to something else on the same Asterisk.
    async fn remove_stale(&self, ids: &[MailboxId]) {
        let known: HashSet<&str> = ids.iter().map(MailboxId::as_str).collect();
        let published = match self.client.mailboxes().await {
            Ok(list) => list,
            Err(e) => {
                warn!(error = %e, "could not list Asterisk's mailboxes to remove stale lamps");
                return;
            }
        };
        for mailbox in published {
            let Some((number, context)) = mailbox.name.rsplit_once('@') else {
                continue;
            };
            if context != self.context || known.contains(number) {
                continue;
            }
            if let Ok(id) = MailboxId::parse(number)
                && id.as_str() == number
            {
                self.clear_here(&id).await;
            }
        }
    }

    /// Applies to this Asterisk the lamp changes other services announce, for as
    /// long as the service runs (a background task of `serve`).
    ///
    /// Starts after the newest entry: what changed before was published by the
    /// start-up repair. When Redis fails, changes may be missed (or trimmed
    /// away meanwhile), so once it answers again every lamp is republished and
    /// following resumes from the end.
    pub async fn follow(self, store: Store) {
        let mut cursor: Option<String> = None;
        let mut missed_some = false;
        let mut ticks = tokio::time::interval(FOLLOW_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let after = match &cursor {
                Some(after) => after.clone(),
                None => match self.catch_up(&store, missed_some).await {
                    Some(end) => end,
                    None => continue,
                },
            };
            match store.lamp_changes_after(&after, FOLLOW_BATCH).await {
                Ok(changes) => {
                    if let Some(last) = changes.last() {
                        cursor = Some(last.id.clone());
                    } else {
                        cursor = Some(after);
                    }
                    self.apply(&store, changes).await;
                }
                Err(e) => {
                    missed_some = true;
                    if cursor.take().is_some() {
                        warn!(error = %e, "cannot read the lamp changes of the other Asterisk servers; lamps republished once Redis answers");
                    }
                }
            }
        }
    }

    /// Where following (re)starts: the stream's end, read before republishing
    /// so no change made meanwhile is skipped. `None` while Redis fails. At the
    /// start (nothing missed yet) there is nothing to republish.
    async fn catch_up(&self, store: &Store, missed_some: bool) -> Option<String> {
        let end = store.lamp_stream_end().await.ok()?;
        if missed_some {
            match self.republish_all(store).await {
                Ok(published) => {
                    info!(
                        published,
                        "Redis answers again: message-waiting lamps republished"
                    )
                }
                Err(e) => {
                    warn!(error = %e, "cannot republish the message-waiting lamps");
                    return None;
                }
            }
        }
        Some(end)
    }

    async fn apply(&self, store: &Store, changes: Vec<crate::store::lamps::LampChange>) {
        for change in changes {
            let Some(mailbox) = change.mailbox else {
                continue;
            };
            if *change.origin == *self.origin {
                continue;
            }
            match store.mailbox(&mailbox).await {
                Ok(Some(_)) => self.refresh_here(store, &mailbox).await,
                Ok(None) => self.clear_here(&mailbox).await,
                Err(e) => warn!(mailbox = %mailbox, error = %e, "cannot follow a lamp change"),
            }
        }
    }
}
