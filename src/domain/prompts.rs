//! The prompt catalogue: every thing a caller can hear, and the Asterisk sound that
//! says it.
//!
//! A flow never names a sound file: it names a [`Prompt`] and plays
//! `sound:<prompt.sound()>`. That keeps the wording of the whole service in one
//! place, lets a test prove every prompt has a file in every language, and lets an
//! administrator swap a recording without touching the code.
//!
//! Two kinds of sound:
//! - **Asterisk core sounds** (the `vm-*` prompts of app_voicemail, `beep`, a few
//!   `digits/*` words), used only where their recorded wording says exactly what we
//!   mean, in English *and* in French. They come with Asterisk's core sound packages,
//!   so they are professionally recorded and already installed on most systems.
//! - **The project's own prompts**, under `voiceportal/<name>`, for everything the
//!   core sounds do not say: the voice-portal login, the lock, forced set-up, the
//!   PIN policy, the greetings menu. Their text lives in `sounds/manifest.tsv`, not
//!   here, so wording changes need no rebuild; `sounds/generate.sh` turns it into
//!   WAV files.
//!
//! The core sounds say "password" where this product says "PIN" (app_voicemail
//! calls its numeric PIN a password). A caller who is told to "enter your new PIN"
//! and then "re-enter your password" may wonder whether they are two things, so
//! every prompt that names the secret is our own and says "PIN" throughout.
//!
//! The language is not part of the sound name: Asterisk picks the folder from the
//! channel language (`sounds/en/...`, `sounds/fr/...`), so the same name is played
//! in every language and [`Language`] is only needed to set that channel language.
//!
//! Numbers, digits and extensions are not prompts: flows say them with the ARI
//! `number:` and `digits:` media.

use std::fmt;
use std::str::FromStr;

use chrono::{Month, Weekday};
use serde::{Deserialize, Serialize};

use super::pin::PinRejection;

/// The folder (under each language's sound folder) that holds the project's own
/// prompts; a sound name starting with it is ours, any other is an Asterisk core
/// sound.
pub const OWN_DIR: &str = "voiceportal";

/// A language the service has prompts for.
///
/// Asterisk looks sounds up by channel language, so a mailbox in French plays
/// `sounds/fr/vm-intro` and `sounds/fr/voiceportal/pin-locked`. Regional variants
/// (`fr_CA`, `en-GB`) are accepted where a language is configured and reduced to
/// the language, because that is the folder the sounds are installed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Language {
    /// English: the default, as in Asterisk (`sounds/en`).
    #[default]
    En,
    /// French (`sounds/fr`; Asterisk's French core sounds are the `core-sounds-fr`
    /// package).
    Fr,
}

/// A language we have no prompts for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language {0:?}: expected en or fr, optionally with a region such as fr_CA")]
pub struct UnknownLanguage(String);

impl Language {
    /// Every supported language; the tests check each has all its prompt files.
    pub const ALL: &'static [Language] = &[Language::En, Language::Fr];

    /// Reads `en`, `fr`, and regional forms such as `en_US`, `fr-CA` or `FR`.
    ///
    /// Only the part before the first `_` or `-` counts: it is what Asterisk's
    /// sound folders are named after.
    pub fn parse(raw: &str) -> Result<Language, UnknownLanguage> {
        let trimmed = raw.trim();
        let primary = trimmed
            .split(['_', '-'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Ok(Language::En),
            "fr" => Ok(Language::Fr),
            // Keep a bounded copy: the input may come from a channel or a request.
            _ => Err(UnknownLanguage(trimmed.chars().take(32).collect())),
        }
    }

    /// The channel language (and sound folder) to use: `en` or `fr`.
    pub const fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Language, UnknownLanguage> {
        Language::parse(s)
    }
}

impl TryFrom<String> for Language {
    type Error = UnknownLanguage;

    fn try_from(s: String) -> Result<Language, UnknownLanguage> {
        Language::parse(&s)
    }
}

impl From<Language> for String {
    fn from(language: Language) -> String {
        language.code().to_owned()
    }
}

/// Declares [`Prompt`], [`Prompt::ALL`] and [`Prompt::sound`] from one list, so a
/// variant cannot be added without its sound, nor left out of `ALL`.
macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident => $sound:literal, )+) => {
        /// Something a caller can hear. The doc of each variant is what it says
        /// (for our own prompts, the English line of `sounds/manifest.tsv`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Prompt {
            $( $(#[$doc])* $variant, )+
        }

        impl Prompt {
            /// Every prompt, in declaration order.
            pub const ALL: &'static [Prompt] = &[ $( Prompt::$variant, )+ ];

            /// The Asterisk sound name, played as `sound:<name>`: a core sound
            /// such as `vm-intro`, or one of ours such as `voiceportal/pin-locked`.
            pub const fn sound(self) -> &'static str {
                match self {
                    $( Prompt::$variant => $sound, )+
                }
            }
        }
    };
}

catalogue! {
    // ---- Said anywhere --------------------------------------------------------
    /// "Goodbye."
    Goodbye => "vm-goodbye",
    /// A short tone: recording starts now.
    Beep => "beep",
    /// "Sorry, I did not hear anything." Before a reprompt after silence.
    NoInput => "voiceportal/no-input",
    /// "That option is invalid. Please try again." A key the menu does not use.
    InvalidOption => "pm-invalid-option",
    /// "Please try again."
    TryAgain => "vm-pls-try-again",
    /// "Sorry, an error occurred. Please try again later." The apology before
    /// hanging up on anything unexpected (bad entry point, unknown mailbox in
    /// deposit, a failure of ours): never leave a caller in silence.
    Error => "voiceportal/error",

    // ---- Portal login ---------------------------------------------------------
    /// "Please enter your mailbox number, then press pound."
    EnterMailbox => "voiceportal/enter-mailbox",
    /// "Please enter your PIN, then press pound."
    EnterPin => "voiceportal/enter-pin",
    /// "Please enter your PIN, then press pound. If you are not calling from your
    /// own phone, press star." Offered when the caller ID is a mailbox on a trusted
    /// entry point.
    EnterPinOrStar => "voiceportal/enter-pin-or-star",
    /// "Incorrect PIN. Please try again." Also for an unknown mailbox and for the
    /// admin passcode typed at a user's prompt: one wording, no enumeration.
    PinIncorrect => "voiceportal/pin-incorrect",
    /// "Your voice portal access is locked. Please contact your administrator."
    /// For a locked mailbox and a locked admin passcode alike.
    Locked => "voiceportal/pin-locked",
    /// "Please enter the administrator passcode, then press pound." After the
    /// portal's own number was entered as the mailbox.
    EnterAdminPasscode => "voiceportal/enter-admin-passcode",
    /// "Incorrect passcode. Please try again."
    PasscodeIncorrect => "voiceportal/passcode-incorrect",

    // ---- Set-up (forced, or first use without a PIN) -------------------------
    /// "Before you can use your voice portal, you must change your PIN and record
    /// your name."
    SetupRequired => "voiceportal/setup-required",
    /// "Welcome to your voice portal. To set up your mailbox, you will choose a
    /// PIN, then record your name." First use of a mailbox with no PIN at all.
    SetupWelcome => "voiceportal/setup-welcome",
    /// "Please enter your new PIN, then press pound."
    EnterNewPin => "voiceportal/enter-new-pin",
    /// "Please enter your new PIN again to confirm it, then press pound."
    ReenterNewPin => "voiceportal/reenter-new-pin",
    /// "The two PINs you entered do not match."
    PinMismatch => "voiceportal/pin-mismatch",
    /// "Your PIN has been changed."
    PinChanged => "voiceportal/pin-changed",
    /// "Your PIN must contain digits only." (A star was typed.)
    PinDigitsOnly => "voiceportal/pin-digits-only",
    /// "That PIN is too short."
    PinTooShort => "voiceportal/pin-too-short",
    /// "That PIN is too long."
    PinTooLong => "voiceportal/pin-too-long",
    /// "Your PIN must have at least" ... then `number:<min>` and [`Prompt::Digits`]:
    /// the lengths are configurable, so the number is said, not recorded.
    PinAtLeast => "voiceportal/pin-at-least",
    /// "Your PIN must have no more than" ... then `number:<max>` and
    /// [`Prompt::Digits`].
    PinAtMost => "voiceportal/pin-at-most",
    /// "digits" (the word, after a number).
    Digits => "voiceportal/word-digits",
    /// "A PIN made of one repeated digit is not allowed."
    PinRepeatedDigit => "voiceportal/pin-repeated-digit",
    /// "A PIN of ascending or descending digits is not allowed."
    PinSequence => "voiceportal/pin-sequence",
    /// "Your PIN cannot contain your mailbox number, forwards or backwards."
    PinIsMailboxNumber => "voiceportal/pin-mailbox-number",
    /// "That PIN cannot be used. Please choose a different one." For the org
    /// default PIN, refused without naming it so that a logged-in caller cannot
    /// use the refusal to test guesses of it.
    PinNotAllowed => "voiceportal/pin-not-allowed",
    /// "Your PIN was changed in another call meanwhile. Please call again and
    /// log in with your new PIN." Two calls in set-up on one PIN: the second.
    PinChangedMeanwhile => "voiceportal/pin-changed-meanwhile",
    /// "Your PIN cannot be one of your recent PINs."
    PinRecentlyUsed => "voiceportal/pin-recent",
    /// "After the tone say your name and then press the pound key."
    RecordName => "vm-rec-name",
    /// "Press 1 to accept this recording, press 2 to listen to it, press 3 to
    /// rerecord your message." The review after every recording: name, greetings,
    /// and the caller's message in deposit.
    Review => "vm-review",
    /// "Your recording has been saved." After a name or greeting is kept.
    RecordingSaved => "voiceportal/recording-saved",
    /// "To record your unavailable greeting now, press 1. To skip this step,
    /// press pound." The optional last step of set-up without a PIN.
    SetupOfferGreeting => "voiceportal/setup-offer-greeting",
    /// "Your mailbox is ready."
    SetupComplete => "voiceportal/setup-complete",

    // ---- Leaving a message (deposit) -----------------------------------------
    /// "The person at extension" ... then `digits:<mailbox>`.
    ThePersonAtExtension => "vm-theperson",
    /// "is unavailable"
    IsUnavailable => "vm-isunavail",
    /// "is on the phone"
    IsOnThePhone => "vm-isonphone",
    /// "Please leave your message after the tone. When done, hang up or press the
    /// pound key." (No tone in it: play [`Prompt::Beep`] next.)
    LeaveMessage => "vm-intro",
    /// "Sorry, but the user's mailbox can't accept more messages."
    MailboxFull => "vm-mailboxfull",
    /// "Your message is too short."
    MessageTooShort => "vm-tooshort",
    /// "Your message has been saved." The message was sent to the mailbox.
    MessageSaved => "vm-msgsaved",
    /// "Press 0 to reach an operator." Only where an operator is configured.
    ReachOperator => "vm-reachoper",
    /// "Please hold while we try to connect you." Before handing the call back to
    /// the dialplan for the operator.
    PleaseHold => "pls-hold-while-try",

    // ---- Mailbox menu ----------------------------------------------------------
    /// "you have" (then `number:`, [`Prompt::New`], [`Prompt::And`], ...).
    YouHave => "vm-youhave",
    /// "new" (the new-messages folder).
    New => "vm-INBOX",
    /// "old" (the old-messages folder).
    Old => "vm-Old",
    /// "and"
    And => "vm-and",
    /// "message" (one message; also "message" + `number:` before each message).
    Message => "vm-message",
    /// "messages"
    Messages => "vm-messages",
    /// "no" (as in "you have no messages").
    No => "vm-no",
    /// "Press 1 for" ... then the folder and [`Prompt::Messages`].
    PressOneFor => "vm-onefor",
    /// "Press 2 to change folders, press 3 for advanced options, press zero for
    /// mailbox options."
    MenuOptions => "vm-opts",
    /// "Press star for help or pound to exit."
    HelpOrExit => "vm-helpexit",
    /// "Press 4 for the previous message."
    PressPrevious => "vm-prev",
    /// "Press 5 to repeat the current message."
    PressRepeat => "vm-repeat",
    /// "Press 6 to play the next message."
    PressNext => "vm-next",
    /// "Press 7 to delete this message."
    PressDelete => "vm-delete",
    /// "Press 7 to undelete this message."
    PressUndelete => "vm-undelete",
    /// "... or 9 to save this message." (Follows the delete/undelete line.)
    PressSave => "vm-savemessage",
    /// "Press 3 to hear the message envelope."
    PressEnvelope => "vm-tohearenv",
    /// "Change to which folder?"
    ChangeToWhichFolder => "vm-changeto",
    /// "press" (as in "press" `digits:0` "for" "new" "messages").
    Press => "vm-press",
    /// "for"
    For => "vm-for",
    /// "first" (as in "first message").
    First => "vm-first",
    /// "last" (as in "last message").
    Last => "vm-last",
    /// "No more messages."
    NoMoreMessages => "vm-nomore",
    /// "Message deleted."
    Deleted => "vm-deleted",
    /// "Message undeleted."
    Undeleted => "vm-undeleted",
    /// "saved" (as in "message" `number:3` "saved").
    Saved => "vm-saved",
    /// "received" (then the date and time).
    Received => "vm-received",
    /// "message from phone number" (then `digits:`).
    FromPhoneNumber => "vm-from-phonenumber",
    /// "message from extension" (then `digits:`).
    FromExtension => "vm-from-extension",
    /// "from an unknown caller"
    UnknownCaller => "vm-unknown-caller",
    /// "today"
    Today => "digits/today",
    /// "yesterday"
    Yesterday => "digits/yesterday",
    /// "at" (before a time).
    At => "digits/at",
    /// "A.M."
    Am => "digits/a-m",
    /// "P.M."
    Pm => "digits/p-m",
    /// "o'clock"
    OClock => "digits/oclock",
    /// "hours" (the French way to say a time: "14 heures 5").
    Hours => "hours",
    /// "Your temporary greeting is currently active." Said after login while one
    /// is set: every caller hears it instead of the usual greetings.
    TemporaryGreetingActive => "vm-tempgreetactive",

    // ---- Mailbox options -------------------------------------------------------
    /// "Press 1 to record your unavailable greeting, 2 to record your busy
    /// greeting, 3 to record your name, 4 for your temporary greeting, 5 to change
    /// your PIN. Press star to return to the main menu."
    MailboxOptions => "voiceportal/mailbox-options",
    /// "After the tone say your unavailable message and then press the pound key."
    RecordUnavailableGreeting => "vm-rec-unv",
    /// "After the tone say your busy message and then press the pound key."
    RecordBusyGreeting => "vm-rec-busy",
    /// "After the tone, say your temporary message, and then press the pound key."
    RecordTemporaryGreeting => "vm-rec-temp",
    /// "Press 1 to record your temporary greeting." (None is set yet.)
    TemporaryGreetingRecordOnly => "vm-tempgreeting",
    /// "Press 1 to record your temporary greeting, or press 2 to erase your
    /// temporary greeting."
    TemporaryGreetingMenu => "vm-tempgreeting2",
    /// "Your temporary greeting has been removed."
    TemporaryGreetingRemoved => "vm-tempremoved",

    // ---- Auto-attendant greetings (admin) -------------------------------------
    /// "Please enter the greeting number, then press pound. For the company
    /// greeting, just press pound." (`#` alone: `receptionist.default_greeting`.)
    EnterGreetingNumber => "voiceportal/enter-greeting-number",
    /// "Greeting" (then `number:`).
    Greeting => "voiceportal/greeting",
    /// "To record this greeting, press 1. To listen to it, press 2. To delete it,
    /// press 3. To choose another greeting, press star. To exit, press pound."
    GreetingMenu => "voiceportal/greeting-menu",
    /// "After the tone, record the greeting, then press pound."
    RecordGreeting => "voiceportal/record-greeting",
    /// "The greeting has been deleted."
    GreetingDeleted => "voiceportal/greeting-deleted",
    /// "No greeting has been recorded."
    NoGreetingRecorded => "voiceportal/no-greeting",
    /// "Until one is recorded, callers hear this:" Before the receptionist's
    /// stock greeting, when the administrator listens to an unrecorded greeting
    /// the receptionist plays.
    StandardGreetingPlays => "voiceportal/standard-greeting-plays",

    // ---- Virtual receptionist ------------------------------------------------
    /// "Thank you for calling. Please enter the extension of the person you are
    /// calling, then press pound." The stock greeting, while no company greeting
    /// is recorded.
    ReceptionistWelcome => "voiceportal/receptionist-welcome",
    /// "For the operator, press 0." After the stock greeting, when an operator is
    /// configured.
    ReceptionistOperator => "voiceportal/receptionist-operator",
    /// "That extension does not exist." Then the greeting again.
    NoSuchExtension => "voiceportal/no-such-extension",

    // ---- Web sign-in by phone ----------------------------------------------------
    /// "Hello, this is your voice portal. Your sign-in code is" ... then
    /// `digits:<code>`. Spoken on the call voiceportal places to the owner's phone.
    SigninCode => "voiceportal/signin-code",
    /// "Once again, your sign-in code is" ... then `digits:<code>`.
    SigninCodeAgain => "voiceportal/signin-code-again",
    /// "Your code has been used: you are signed in." Once the page took the code.
    SignedIn => "voiceportal/signin-done",
}

impl Prompt {
    /// True for an Asterisk core sound, false for one of the project's own prompts.
    pub fn is_core(self) -> bool {
        self.own_name().is_none()
    }

    /// For one of our own prompts, its name in `sounds/manifest.tsv` and its file
    /// name (`sounds/<lang>/voiceportal/<name>.wav`); `None` for a core sound.
    pub fn own_name(self) -> Option<&'static str> {
        self.sound()
            .strip_prefix(OWN_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
    }
}

impl Prompt {
    /// The sentence that tells the caller why the PIN they chose was refused.
    ///
    /// The match is exhaustive on purpose: a new policy rule does not compile
    /// until it has something to say. For a length rule, the flow may follow with
    /// [`Prompt::PinAtLeast`] / [`Prompt::PinAtMost`], `number:<n>` and
    /// [`Prompt::Digits`], since the limits are configurable.
    pub fn for_rejection(rejection: &PinRejection) -> Prompt {
        match rejection {
            PinRejection::NotDigits => Prompt::PinDigitsOnly,
            PinRejection::TooShort { .. } => Prompt::PinTooShort,
            PinRejection::TooLong { .. } => Prompt::PinTooLong,
            PinRejection::RepeatedDigit => Prompt::PinRepeatedDigit,
            PinRejection::Sequence => Prompt::PinSequence,
            PinRejection::MailboxNumber => Prompt::PinIsMailboxNumber,
            PinRejection::DefaultPin => Prompt::PinNotAllowed,
            PinRejection::RecentlyUsed => Prompt::PinRecentlyUsed,
        }
    }
}

/// The core sounds naming the days of the week, Sunday first (Asterisk's
/// `digits/day-0` is Sunday), for saying when a message was received.
pub const WEEKDAY_SOUNDS: [&str; 7] = [
    "digits/day-0",
    "digits/day-1",
    "digits/day-2",
    "digits/day-3",
    "digits/day-4",
    "digits/day-5",
    "digits/day-6",
];

/// The core sounds naming the months, January first (`digits/mon-0`).
pub const MONTH_SOUNDS: [&str; 12] = [
    "digits/mon-0",
    "digits/mon-1",
    "digits/mon-2",
    "digits/mon-3",
    "digits/mon-4",
    "digits/mon-5",
    "digits/mon-6",
    "digits/mon-7",
    "digits/mon-8",
    "digits/mon-9",
    "digits/mon-10",
    "digits/mon-11",
];

/// The sound naming a day of the week ("Monday", "lundi").
pub fn weekday_sound(day: Weekday) -> &'static str {
    // `num_days_from_sunday` is 0..=6 by definition, within the array.
    WEEKDAY_SOUNDS[day.num_days_from_sunday() as usize]
}

/// The sound naming a month ("March", "mars").
pub fn month_sound(month: Month) -> &'static str {
    // `number_from_month` is 1..=12 by definition, so the index is 0..=11.
    MONTH_SOUNDS[month.number_from_month() as usize - 1]
}

/// Every Asterisk core sound the service plays: the core prompts of the catalogue
/// and the day and month names. `sounds/asterisk-core.txt` lists exactly these.
pub fn core_sounds() -> impl Iterator<Item = &'static str> {
    Prompt::ALL
        .iter()
        .filter(|p| p.is_core())
        .map(|p| p.sound())
        .chain(WEEKDAY_SOUNDS)
        .chain(MONTH_SOUNDS)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Written out by hand on purpose: adding a variant makes this match
    /// non-exhaustive, and the count below makes the author look at `ALL`.
    fn declared_variants() -> usize {
        let mut count = 0;
        for prompt in Prompt::ALL {
            count += match prompt {
                Prompt::Goodbye
                | Prompt::Beep
                | Prompt::NoInput
                | Prompt::InvalidOption
                | Prompt::TryAgain
                | Prompt::Error
                | Prompt::EnterMailbox
                | Prompt::EnterPin
                | Prompt::EnterPinOrStar
                | Prompt::PinIncorrect
                | Prompt::Locked
                | Prompt::EnterAdminPasscode
                | Prompt::PasscodeIncorrect
                | Prompt::SetupRequired
                | Prompt::SetupWelcome
                | Prompt::EnterNewPin
                | Prompt::ReenterNewPin
                | Prompt::PinMismatch
                | Prompt::PinChanged
                | Prompt::PinDigitsOnly
                | Prompt::PinTooShort
                | Prompt::PinTooLong
                | Prompt::PinAtLeast
                | Prompt::PinAtMost
                | Prompt::Digits
                | Prompt::PinRepeatedDigit
                | Prompt::PinSequence
                | Prompt::PinIsMailboxNumber
                | Prompt::PinNotAllowed
                | Prompt::PinChangedMeanwhile
                | Prompt::PinRecentlyUsed
                | Prompt::RecordName
                | Prompt::Review
                | Prompt::RecordingSaved
                | Prompt::SetupOfferGreeting
                | Prompt::SetupComplete
                | Prompt::ThePersonAtExtension
                | Prompt::IsUnavailable
                | Prompt::IsOnThePhone
                | Prompt::LeaveMessage
                | Prompt::MailboxFull
                | Prompt::MessageTooShort
                | Prompt::MessageSaved
                | Prompt::ReachOperator
                | Prompt::PleaseHold
                | Prompt::YouHave
                | Prompt::New
                | Prompt::Old
                | Prompt::And
                | Prompt::Message
                | Prompt::Messages
                | Prompt::No
                | Prompt::PressOneFor
                | Prompt::MenuOptions
                | Prompt::HelpOrExit
                | Prompt::PressPrevious
                | Prompt::PressRepeat
                | Prompt::PressNext
                | Prompt::PressDelete
                | Prompt::PressUndelete
                | Prompt::PressSave
                | Prompt::PressEnvelope
                | Prompt::ChangeToWhichFolder
                | Prompt::Press
                | Prompt::For
                | Prompt::First
                | Prompt::Last
                | Prompt::NoMoreMessages
                | Prompt::Deleted
                | Prompt::Undeleted
                | Prompt::Saved
                | Prompt::Received
                | Prompt::FromPhoneNumber
                | Prompt::FromExtension
                | Prompt::UnknownCaller
                | Prompt::Today
                | Prompt::Yesterday
                | Prompt::At
                | Prompt::Am
                | Prompt::Pm
                | Prompt::OClock
                | Prompt::Hours
                | Prompt::TemporaryGreetingActive
                | Prompt::MailboxOptions
                | Prompt::RecordUnavailableGreeting
                | Prompt::RecordBusyGreeting
                | Prompt::RecordTemporaryGreeting
                | Prompt::TemporaryGreetingRecordOnly
                | Prompt::TemporaryGreetingMenu
                | Prompt::TemporaryGreetingRemoved
                | Prompt::EnterGreetingNumber
                | Prompt::Greeting
                | Prompt::GreetingMenu
                | Prompt::RecordGreeting
                | Prompt::GreetingDeleted
                | Prompt::NoGreetingRecorded
                | Prompt::StandardGreetingPlays
                | Prompt::ReceptionistWelcome
                | Prompt::ReceptionistOperator
                | Prompt::NoSuchExtension
                | Prompt::SigninCode
                | Prompt::SigninCodeAgain
                | Prompt::SignedIn => 1,
            };
        }
        count
    }

    #[test]
    fn all_lists_every_variant_once() {
        assert_eq!(declared_variants(), 103);
        assert_eq!(Prompt::ALL.len(), 103);
        let distinct: HashSet<Prompt> = Prompt::ALL.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            Prompt::ALL.len(),
            "a variant is listed twice"
        );
    }

    #[test]
    fn every_prompt_has_its_own_sound() {
        let mut seen = HashSet::new();
        for prompt in Prompt::ALL {
            assert!(
                seen.insert(prompt.sound()),
                "{prompt:?} shares the sound {} with another prompt",
                prompt.sound()
            );
        }
    }

    #[test]
    fn sound_names_are_plain_asterisk_names() {
        // Played as `sound:<name>`: no extension (Asterisk picks the format), no
        // language folder (the channel language picks it), no path tricks.
        for prompt in Prompt::ALL {
            let sound = prompt.sound();
            assert!(!sound.is_empty());
            assert!(
                sound
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/'),
                "{prompt:?}: {sound}"
            );
            assert!(!sound.contains('.') && !sound.starts_with('/') && !sound.ends_with('/'));
            assert!(!sound.starts_with("en/") && !sound.starts_with("fr/"));
        }
    }

    #[test]
    fn own_prompts_live_under_the_project_folder() {
        for prompt in Prompt::ALL {
            let sound = prompt.sound();
            if prompt.is_core() {
                assert!(!sound.starts_with("voiceportal"), "{prompt:?}");
                assert_eq!(prompt.own_name(), None);
            } else {
                let name = prompt.own_name().expect("own prompt has a name");
                assert_eq!(sound, format!("voiceportal/{name}"));
                assert!(
                    !name.contains('/'),
                    "{prompt:?}: one level under voiceportal/"
                );
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{prompt:?}: {name} is a lower-case file name"
                );
            }
        }
        assert_eq!(Prompt::Locked.sound(), "voiceportal/pin-locked");
        assert_eq!(Prompt::Locked.own_name(), Some("pin-locked"));
        assert!(Prompt::LeaveMessage.is_core());
        assert!(!Prompt::EnterPin.is_core());
    }

    #[test]
    fn the_caller_hears_pin_not_password() {
        // Core prompts that say "password" are deliberately not used.
        for password_prompt in [
            "vm-password",
            "vm-newpassword",
            "vm-reenterpassword",
            "vm-mismatch",
            "vm-passchanged",
            "vm-options",
            "vm-invalid-password",
            "vm-invalidpassword",
        ] {
            assert!(
                Prompt::ALL.iter().all(|p| p.sound() != password_prompt),
                "{password_prompt}"
            );
        }
    }

    #[test]
    fn every_pin_rejection_has_a_spoken_reason() {
        let rejections = PinRejection::EVERY_KIND;
        let prompts: HashSet<Prompt> = rejections.iter().map(Prompt::for_rejection).collect();
        assert_eq!(prompts.len(), rejections.len(), "one reason per rule");
        assert!(prompts.iter().all(|p| !p.is_core()));
        assert_eq!(
            Prompt::for_rejection(&PinRejection::MailboxNumber),
            Prompt::PinIsMailboxNumber
        );
    }

    #[test]
    fn days_and_months_follow_asterisk_numbering() {
        assert_eq!(weekday_sound(Weekday::Sun), "digits/day-0");
        assert_eq!(weekday_sound(Weekday::Mon), "digits/day-1");
        assert_eq!(weekday_sound(Weekday::Sat), "digits/day-6");
        assert_eq!(month_sound(Month::January), "digits/mon-0");
        assert_eq!(month_sound(Month::March), "digits/mon-2");
        assert_eq!(month_sound(Month::December), "digits/mon-11");
        let core: Vec<&str> = core_sounds().collect();
        let distinct: HashSet<&str> = core.iter().copied().collect();
        assert_eq!(core.len(), distinct.len());
        assert!(core.iter().all(|s| !s.starts_with("voiceportal/")));
    }

    #[test]
    fn languages_parse_with_or_without_region() {
        for (raw, expected) in [
            ("en", Language::En),
            ("fr", Language::Fr),
            ("en_US", Language::En),
            ("en-GB", Language::En),
            ("fr_CA", Language::Fr),
            ("FR", Language::Fr),
            (" fr_FR ", Language::Fr),
        ] {
            assert_eq!(Language::parse(raw), Ok(expected), "{raw}");
        }
        for raw in ["", "de", "english", "_fr", "e"] {
            assert!(Language::parse(raw).is_err(), "{raw}");
        }
        assert_eq!(Language::default(), Language::En);
        assert_eq!(Language::Fr.code(), "fr");
        assert_eq!(Language::En.to_string(), "en");
        assert_eq!("fr_CA".parse::<Language>(), Ok(Language::Fr));
        for language in Language::ALL {
            assert_eq!(Language::parse(language.code()), Ok(*language));
        }
    }

    #[test]
    fn unknown_language_error_is_clear_and_bounded() {
        let error = Language::parse("de_DE").unwrap_err().to_string();
        assert!(
            error.contains("\"de_DE\"") && error.contains("en or fr"),
            "{error}"
        );
        let long = "x".repeat(10_000);
        assert!(Language::parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn languages_round_trip_through_serde() {
        let json = serde_json::to_string(&Language::Fr).unwrap();
        assert_eq!(json, "\"fr\"");
        let parsed: Language = serde_json::from_str("\"fr_CA\"").unwrap();
        assert_eq!(parsed, Language::Fr);
        assert!(serde_json::from_str::<Language>("\"de\"").is_err());
    }
}
