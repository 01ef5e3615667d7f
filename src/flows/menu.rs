//! The mailbox menu after login, with app_voicemail's keys: 1 play, 2 change
//! folder, 3 envelope, 4 previous, 5 repeat, 6 next, 7 delete/undelete, 9 save,
//! 0 mailbox options, `*` help, `#` exit. During a message: `*` rewind, `#` forward,
//! `0` pause; other menu keys stop it and act. A played new message becomes old.
//! Deletions are applied when the caller leaves the folder or the call, however
//! the call ends.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{Datelike, Timelike, Utc};
use chrono_tz::Tz;
use tracing::{info, warn};

use super::Flows;
use super::ask::{ask, backend, goodbye, say};
use super::options;
use crate::access::PinProof;
use crate::call::{Call, CallError, Collect, Media};
use crate::domain::prompts::{month_sound, weekday_sound};
use crate::domain::{Language, Prompt};
use crate::store::mailboxes::MailboxRecord;
use crate::store::messages::{Folder, Message, MessageCounts, MessageId};

/// One folder's messages as the caller browses them.
struct Browser {
    folder: Folder,
    messages: Vec<Message>,
    current: usize,
    /// Marked with 7; deleted when the folder or the call is left.
    deleted: HashSet<MessageId>,
    /// A message has been played (or picked) in this folder.
    started: bool,
}

pub async fn run(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
) -> Result<(), CallError> {
    let counts = counts(flows, record).await?;
    let folder = if counts.new > 0 {
        Folder::New
    } else {
        Folder::Old
    };
    let mut browser = open(flows, record, folder).await?;
    call.play(&summary(counts)).await?;
    if call.recording_exists(&record.id.recording("temp")).await? {
        call.play(&[say(Prompt::TemporaryGreetingActive)]).await?;
    }
    let result = browse(flows, call, record, proof, &mut browser).await;
    // Applied however the call ends, hang-up included.
    apply_deletions(flows, call, record, &mut browser).await;
    result
}

async fn browse(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    proof: &mut PinProof,
    browser: &mut Browser,
) -> Result<(), CallError> {
    let mut pending: Option<char> = None;
    loop {
        let key = match pending.take() {
            Some(key) => key,
            None => {
                let prompt = menu_prompt(browser);
                let Some(entry) = ask(call, &prompt, &Collect::one_key()).await? else {
                    return goodbye(call).await;
                };
                entry.digits.chars().next().unwrap_or('#')
            }
        };
        pending = match key {
            '1' => {
                browser.current = 0;
                play_current(flows, call, record, browser).await?
            }
            '2' => {
                change_folder(flows, call, record, browser).await?;
                None
            }
            '3' => {
                if let Some(message) = browser.messages.get(browser.current) {
                    call.play(&envelope(record, message, browser.current))
                        .await?;
                }
                None
            }
            '4' => {
                if browser.started && browser.current > 0 {
                    browser.current -= 1;
                    play_current(flows, call, record, browser).await?
                } else {
                    call.play(&[say(Prompt::First), say(Prompt::Message)])
                        .await?;
                    None
                }
            }
            '5' => play_current(flows, call, record, browser).await?,
            '6' => {
                if browser.started && browser.current + 1 < browser.messages.len() {
                    browser.current += 1;
                    play_current(flows, call, record, browser).await?
                } else if !browser.started && !browser.messages.is_empty() {
                    play_current(flows, call, record, browser).await?
                } else {
                    call.play(&[say(Prompt::NoMoreMessages)]).await?;
                    None
                }
            }
            '7' => {
                toggle_delete(call, browser).await?;
                None
            }
            '9' => {
                save(flows, call, record, browser).await?;
                None
            }
            '0' => {
                options::run(flows, call, record, proof).await?;
                None
            }
            '#' => return goodbye(call).await,
            '*' => None,
            _ => {
                call.play(&[say(Prompt::InvalidOption)]).await?;
                None
            }
        };
    }
}

async fn counts(flows: &Flows, record: &MailboxRecord) -> Result<MessageCounts, CallError> {
    flows
        .store
        .message_counts(&record.id)
        .await
        .map_err(backend)
}

async fn open(flows: &Flows, record: &MailboxRecord, folder: Folder) -> Result<Browser, CallError> {
    let messages = flows
        .store
        .messages(&record.id, folder)
        .await
        .map_err(backend)?;
    Ok(Browser {
        folder,
        messages,
        current: 0,
        deleted: HashSet::new(),
        started: false,
    })
}

/// "You have 2 new and 1 old messages", or "you have no messages".
fn summary(counts: MessageCounts) -> Vec<Media> {
    let plural = |n: u32| {
        say(if n == 1 {
            Prompt::Message
        } else {
            Prompt::Messages
        })
    };
    let mut media = vec![say(Prompt::YouHave)];
    match (counts.new, counts.old) {
        (0, 0) => media.extend([say(Prompt::No), say(Prompt::Messages)]),
        (new, 0) => media.extend([Media::Number(new.into()), say(Prompt::New), plural(new)]),
        (0, old) => media.extend([Media::Number(old.into()), say(Prompt::Old), plural(old)]),
        (new, old) => media.extend([
            Media::Number(new.into()),
            say(Prompt::New),
            say(Prompt::And),
            Media::Number(old.into()),
            say(Prompt::Old),
            plural(old),
        ]),
    }
    media
}

/// The main menu, or the message menu once a message has been played.
fn menu_prompt(browser: &Browser) -> Vec<Media> {
    if browser.started && !browser.messages.is_empty() {
        let deleted = browser
            .messages
            .get(browser.current)
            .is_some_and(|m| browser.deleted.contains(&m.id));
        let mut media = Vec::new();
        if browser.current > 0 {
            media.push(say(Prompt::PressPrevious));
        }
        media.push(say(Prompt::PressRepeat));
        if browser.current + 1 < browser.messages.len() {
            media.push(say(Prompt::PressNext));
        }
        media.push(say(if deleted {
            Prompt::PressUndelete
        } else {
            Prompt::PressDelete
        }));
        media.push(say(Prompt::PressSave));
        media.push(say(Prompt::PressEnvelope));
        media.push(say(Prompt::HelpOrExit));
        return media;
    }
    let mut media = Vec::new();
    if !browser.messages.is_empty() {
        media.extend([
            say(Prompt::PressOneFor),
            say(folder_prompt(browser.folder)),
            say(Prompt::Messages),
        ]);
    }
    media.extend([say(Prompt::MenuOptions), say(Prompt::HelpOrExit)]);
    media
}

fn folder_prompt(folder: Folder) -> Prompt {
    match folder {
        Folder::New => Prompt::New,
        Folder::Old => Prompt::Old,
    }
}

/// Envelope, then the message; returns a menu key pressed during it. A new
/// message becomes old once played.
async fn play_current(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    browser: &mut Browser,
) -> Result<Option<char>, CallError> {
    let Some(message) = browser.messages.get(browser.current).cloned() else {
        call.play(&[say(Prompt::YouHave), say(Prompt::No), say(Prompt::Messages)])
            .await?;
        return Ok(None);
    };
    browser.started = true;
    let intro = envelope(record, &message, browser.current);
    let key = call
        .play_and_collect(
            &intro,
            &Collect {
                first_digit_timeout: Some(Duration::from_millis(1)),
                ..Collect::one_key()
            },
        )
        .await?;
    if let Some(key) = key.digits.chars().next() {
        // A key during the envelope acts at once; the message was not heard.
        return Ok(Some(key));
    }
    // A missing recording would start and never end: say so instead.
    if !call.recording_exists(&message.recording()).await? {
        warn!(message = %message.id.as_str(), "message audio missing");
        call.play(&[say(Prompt::Deleted)]).await?;
        return Ok(None);
    }
    // Heard from the moment it starts, as app_voicemail counts it: a caller who
    // hangs up halfway has still heard it.
    if message.folder == Folder::New {
        mark_old(flows, record, &message).await;
        if let Some(listed) = browser.messages.get_mut(browser.current) {
            listed.folder = Folder::Old;
        }
    }
    let length = Duration::from_secs(message.duration_secs.into());
    call.play_message(&[Media::Recording(message.recording())], length)
        .await
}

async fn mark_old(flows: &Flows, record: &MailboxRecord, message: &Message) {
    match flows
        .store
        .set_folder(&record.id, &message.id, Folder::Old)
        .await
    {
        Ok(Some(_)) => flows.mwi.refresh(&flows.store, &record.id).await,
        Ok(None) => {}
        Err(e) => warn!(error = %e, "cannot mark a played message old"),
    }
}

/// "Message 3, received today at 10 42 AM, from phone number 0 6 1 2..."
fn envelope(record: &MailboxRecord, message: &Message, index: usize) -> Vec<Media> {
    let mut media = vec![say(Prompt::Message), Media::Number(index as u64 + 1)];
    let zone: Tz = record.timezone.parse().unwrap_or(Tz::UTC);
    let french = Language::parse(&record.language).unwrap_or_default() == Language::Fr;
    let local = message.received.with_timezone(&zone);
    let today = Utc::now().with_timezone(&zone).date_naive();
    media.push(say(Prompt::Received));
    if local.date_naive() == today {
        media.push(say(Prompt::Today));
    } else if today.pred_opt() == Some(local.date_naive()) {
        media.push(say(Prompt::Yesterday));
    } else {
        media.push(Media::sound(weekday_sound(local.weekday())));
        let month = chrono::Month::try_from(local.month() as u8).unwrap_or(chrono::Month::January);
        if french {
            media.push(Media::Number(local.day().into()));
            media.push(Media::sound(month_sound(month)));
        } else {
            media.push(Media::sound(month_sound(month)));
            media.push(Media::Number(local.day().into()));
        }
    }
    media.push(say(Prompt::At));
    if french {
        media.extend([Media::Number(local.hour().into()), say(Prompt::Hours)]);
        if local.minute() > 0 {
            media.push(Media::Number(local.minute().into()));
        }
    } else {
        let (pm, hour) = local.hour12();
        media.push(Media::Number(hour.into()));
        if local.minute() > 0 {
            media.push(Media::Number(local.minute().into()));
        }
        media.push(say(if pm { Prompt::Pm } else { Prompt::Am }));
    }
    // The caller ID is whatever the far end sent: said only if it is a number.
    match Media::caller_digits(&message.caller_number) {
        Some(digits) => media.extend([say(Prompt::FromPhoneNumber), digits]),
        None => media.push(say(Prompt::UnknownCaller)),
    }
    media
}

async fn toggle_delete(call: &mut Call, browser: &mut Browser) -> Result<(), CallError> {
    let Some(message) = browser.messages.get(browser.current) else {
        return call.play(&[say(Prompt::InvalidOption)]).await;
    };
    if browser.deleted.remove(&message.id) {
        call.play(&[say(Prompt::Undeleted)]).await
    } else {
        browser.deleted.insert(message.id.clone());
        call.play(&[say(Prompt::Deleted)]).await
    }
}

/// 9: keep the message (in the old folder) and take back a delete mark.
async fn save(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    browser: &mut Browser,
) -> Result<(), CallError> {
    let Some(message) = browser.messages.get(browser.current).cloned() else {
        return call.play(&[say(Prompt::InvalidOption)]).await;
    };
    browser.deleted.remove(&message.id);
    if message.folder == Folder::New {
        mark_old(flows, record, &message).await;
    }
    call.play(&[
        say(Prompt::Message),
        Media::Number(browser.current as u64 + 1),
        say(Prompt::Saved),
    ])
    .await
}

/// 2: "press 0 for new messages, press 1 for old messages".
async fn change_folder(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    browser: &mut Browser,
) -> Result<(), CallError> {
    let prompt = [
        say(Prompt::ChangeToWhichFolder),
        say(Prompt::Press),
        Media::Digits("0".into()),
        say(Prompt::For),
        say(Prompt::New),
        say(Prompt::Messages),
        say(Prompt::Press),
        Media::Digits("1".into()),
        say(Prompt::For),
        say(Prompt::Old),
        say(Prompt::Messages),
    ];
    let Some(key) = ask(call, &prompt, &Collect::one_key()).await? else {
        return Ok(());
    };
    let folder = match key.digits.as_str() {
        "0" => Folder::New,
        "1" => Folder::Old,
        _ => return call.play(&[say(Prompt::InvalidOption)]).await,
    };
    apply_deletions(flows, call, record, browser).await;
    *browser = open(flows, record, folder).await?;
    let count = browser.messages.len() as u64;
    call.play(&[
        say(Prompt::YouHave),
        Media::Number(count),
        say(folder_prompt(folder)),
        say(if count == 1 {
            Prompt::Message
        } else {
            Prompt::Messages
        }),
    ])
    .await
}

/// Deletes the marked messages: un-index with a tombstone, delete the audio, clear
/// the tombstone; then the lamp. A failure leaves the tombstone for repair.
async fn apply_deletions(
    flows: &Flows,
    call: &mut Call,
    record: &MailboxRecord,
    browser: &mut Browser,
) {
    for id in std::mem::take(&mut browser.deleted) {
        match flows.store.delete_message(&record.id, &id).await {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => {
                warn!(error = %e, message = %id.as_str(), "cannot delete a message");
                continue;
            }
        };
        let name = crate::store::messages::message_recording(&record.id, &id);
        match call.delete_recording(&name).await {
            Ok(()) => {
                if let Err(e) = flows.store.clear_tombstone(&record.id, &id).await {
                    warn!(error = %e, "cannot clear a deletion tombstone; repair will");
                }
            }
            Err(e) => {
                warn!(error = %e, recording = %name, "cannot delete a message's audio; repair will")
            }
        }
        info!(message = %id.as_str(), "message deleted");
        flows.mwi.refresh(&flows.store, &record.id).await;
    }
}
