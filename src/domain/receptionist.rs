//! The virtual receptionist's rules: which greeting a call hears, which keys are
//! one-key options, which extensions exist, and when what the caller typed is
//! complete. Pure: the flow (`flows::receptionist`) does the talking, this module
//! decides.
//!
//! # Configuration
//!
//! `[receptionist]` holds the defaults; `[receptionist.greetings.<number>]` overrides
//! any of `extension_context`, `extensions`, `operator` and `options` for the calls
//! that name that greeting (`Stasis(voiceportal,receptionist,<number>)`). Greetings
//! are numbers because they are recorded through the portal's greetings menu, where
//! the administrator types the greeting's number.
//!
//! # Typing an extension
//!
//! Extensions are typed like on a PBX: an entry is complete as soon as it names a
//! known extension that no longer known extension starts with (as Asterisk's own
//! dialplan matching does), on `#`, or after the inter-digit timeout. A one-key
//! option acts at once when no known extension starts with its digit; otherwise
//! the caller presses `#` after it, or waits.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::mailbox::MailboxId;

/// Longest greeting number: the portal's greetings menu takes at most this many
/// digits.
pub const MAX_GREETING_DIGITS: usize = 4;

/// Longest extension a caller can type (a mailbox number's limit).
pub const MAX_EXTENSION_DIGITS: usize = MailboxId::MAX_LEN;

/// Unknown extensions in one call before the operator (or goodbye), per SPEC.
pub const MAX_UNKNOWN_EXTENSIONS: u32 = 3;

/// Whether `raw` can name a greeting: 1 to [`MAX_GREETING_DIGITS`] digits.
pub fn is_greeting_number(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= MAX_GREETING_DIGITS && raw.bytes().all(|b| b.is_ascii_digit())
}

/// A place in the dialplan a caller is sent to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub context: String,
    pub extension: String,
    #[serde(default = "first_priority")]
    pub priority: i64,
}

fn first_priority() -> i64 {
    1
}

impl Destination {
    fn validate(&self) -> Result<(), String> {
        check_dialplan_name("context", &self.context)?;
        check_dialplan_name("extension", &self.extension)?;
        if self.priority < 1 {
            return Err("priority must be at least 1".into());
        }
        Ok(())
    }
}

/// `[receptionist]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceptionistConfig {
    /// The greeting of `Stasis(voiceportal,receptionist)`, without a greeting
    /// argument: the company greeting. `#` alone at the portal's greeting-number
    /// prompt picks it.
    pub default_greeting: String,
    /// The dialplan context a known extension continues in (at priority 1, with
    /// the extension as typed); it rings the phone and falls to `deposit`.
    pub extension_context: String,
    /// Extensions that exist besides the mailboxes (a conference room, a fax).
    pub extensions: Vec<String>,
    /// Where `0` sends the caller, and where a caller goes after three unknown
    /// extensions or silence; absent: `0` is an ordinary digit and those callers
    /// hear goodbye.
    pub operator: Option<Destination>,
    /// One-key options: a digit 1 to 9 (or `*`) and where it sends the caller.
    pub options: BTreeMap<String, Destination>,
    /// Per-greeting overrides, by greeting number.
    pub greetings: BTreeMap<String, GreetingConfig>,
}

impl Default for ReceptionistConfig {
    fn default() -> Self {
        ReceptionistConfig {
            default_greeting: "1".into(),
            extension_context: "receptionist-extensions".into(),
            extensions: Vec::new(),
            operator: None,
            options: BTreeMap::new(),
            greetings: BTreeMap::new(),
        }
    }
}

/// `[receptionist.greetings.<number>]`: what one greeting changes; anything left
/// out is taken from `[receptionist]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GreetingConfig {
    pub extension_context: Option<String>,
    pub extensions: Option<Vec<String>>,
    pub operator: Option<Destination>,
    pub options: Option<BTreeMap<String, Destination>>,
}

impl ReceptionistConfig {
    /// Checks every value; the message names the key (below `receptionist.`) and
    /// what is expected.
    pub fn validate(&self) -> Result<(), String> {
        if !is_greeting_number(&self.default_greeting) {
            return Err(format!(
                "default_greeting: {:?} is not a greeting number (1 to {MAX_GREETING_DIGITS} digits)",
                clip(&self.default_greeting)
            ));
        }
        check_dialplan_name("extension_context", &self.extension_context)?;
        check_extensions("extensions", &self.extensions)?;
        if let Some(operator) = &self.operator {
            operator.validate().map_err(|e| format!("operator: {e}"))?;
        }
        check_options("options", &self.options)?;
        for (number, greeting) in &self.greetings {
            let at = format!("greetings.{}", clip(number));
            if !is_greeting_number(number) {
                return Err(format!(
                    "{at}: not a greeting number (1 to {MAX_GREETING_DIGITS} digits)"
                ));
            }
            if let Some(context) = &greeting.extension_context {
                check_dialplan_name(&format!("{at}.extension_context"), context)?;
            }
            if let Some(extensions) = &greeting.extensions {
                check_extensions(&format!("{at}.extensions"), extensions)?;
            }
            if let Some(operator) = &greeting.operator {
                operator
                    .validate()
                    .map_err(|e| format!("{at}.operator: {e}"))?;
            }
            if let Some(options) = &greeting.options {
                check_options(&format!("{at}.options"), options)?;
            }
        }
        Ok(())
    }

    /// Whether the receptionist plays `greeting` (so the portal's greetings menu
    /// can tell the administrator what callers hear while none is recorded).
    pub fn uses_greeting(&self, greeting: &str) -> bool {
        greeting == self.default_greeting || self.greetings.contains_key(greeting)
    }

    /// The settings in force for calls that hear `greeting` (`None`: the company
    /// greeting).
    pub fn menu(&self, greeting: Option<&str>) -> Menu {
        let greeting = greeting.unwrap_or(&self.default_greeting).to_owned();
        let own = self.greetings.get(&greeting).cloned().unwrap_or_default();
        Menu {
            extension_context: own
                .extension_context
                .unwrap_or_else(|| self.extension_context.clone()),
            listed: own
                .extensions
                .unwrap_or_else(|| self.extensions.clone())
                .into_iter()
                .collect(),
            operator: own.operator.or_else(|| self.operator.clone()),
            options: own.options.unwrap_or_else(|| self.options.clone()),
            greeting,
        }
    }
}

/// The receptionist of one call: its greeting and what its keys do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// The greeting number (its recording is `voiceportal/attendant/<number>`).
    pub greeting: String,
    pub extension_context: String,
    /// Extensions that exist besides the mailboxes.
    pub listed: BTreeSet<String>,
    pub operator: Option<Destination>,
    pub options: BTreeMap<String, Destination>,
}

/// What the caller's entry means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A one-key option.
    Option(Destination),
    /// `0`, with an operator configured.
    Operator(Destination),
    /// An extension that exists: continue in `context` at `extension`.
    Extension(Destination),
    /// Nothing that exists.
    Unknown,
}

impl Menu {
    /// Where the caller goes when an option key `key` stands alone.
    fn single_key(&self, key: &str) -> Option<Choice> {
        if key == "0"
            && let Some(operator) = &self.operator
        {
            return Some(Choice::Operator(operator.clone()));
        }
        self.options.get(key).cloned().map(Choice::Option)
    }

    /// Whether the first key alone decides: it is an option (or the operator's
    /// `0`) and no known extension starts with it, so waiting for more digits
    /// would only delay the caller.
    pub fn acts_at_once(&self, key: &str, known: &Known) -> bool {
        self.single_key(key).is_some() && !known.any_starts_with(key)
    }

    /// Whether the entry so far can only be what it is: it names a known
    /// extension and no longer known extension starts with it; or it is as long
    /// as an extension can be.
    pub fn is_complete(&self, typed: &str, known: &Known) -> bool {
        typed.len() >= MAX_EXTENSION_DIGITS || (known.contains(typed) && !known.extends(typed))
    }

    /// What a finished entry means. A single key is an option (or the operator)
    /// before it is an extension.
    pub fn choose(&self, typed: &str, known: &Known) -> Choice {
        if let Some(choice) = self.single_key(typed) {
            return choice;
        }
        if known.contains(typed) {
            return Choice::Extension(Destination {
                context: self.extension_context.clone(),
                extension: typed.to_owned(),
                priority: 1,
            });
        }
        Choice::Unknown
    }
}

/// The extensions that exist for one call: the mailboxes and the listed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known(BTreeSet<String>);

impl Known {
    pub fn new(mailboxes: impl IntoIterator<Item = String>, listed: &BTreeSet<String>) -> Known {
        let mut all: BTreeSet<String> = mailboxes.into_iter().collect();
        all.extend(listed.iter().cloned());
        Known(all)
    }

    pub fn contains(&self, extension: &str) -> bool {
        self.0.contains(extension)
    }

    /// Some known extension starts with `prefix` (or is it).
    fn any_starts_with(&self, prefix: &str) -> bool {
        self.0
            .range(prefix.to_owned()..)
            .next()
            .is_some_and(|e| e.starts_with(prefix))
    }

    /// Some known extension is longer than `prefix` and starts with it.
    fn extends(&self, prefix: &str) -> bool {
        self.0
            .range(prefix.to_owned()..)
            .take_while(|e| e.starts_with(prefix))
            .any(|e| e.len() > prefix.len())
    }
}

/// An option key: one digit 1 to 9, or `*`. `0` is the operator's, `#` ends an
/// entry.
fn check_options(at: &str, options: &BTreeMap<String, Destination>) -> Result<(), String> {
    for (key, destination) in options {
        let shown = clip(key);
        if key == "0" {
            return Err(format!(
                "{at}: key \"0\" is the operator's: set `operator` instead"
            ));
        }
        let valid = key.len() == 1 && key.bytes().all(|b| matches!(b, b'1'..=b'9' | b'*'));
        if !valid {
            return Err(format!("{at}: key {shown:?} is not one key 1 to 9 or *"));
        }
        destination
            .validate()
            .map_err(|e| format!("{at}.{shown}: {e}"))?;
    }
    Ok(())
}

/// Listed extensions are what a caller types: 1 to 20 digits.
fn check_extensions(at: &str, extensions: &[String]) -> Result<(), String> {
    for extension in extensions {
        if MailboxId::parse(extension).map(|id| id.as_str() == extension) != Ok(true) {
            return Err(format!(
                "{at}: {:?} is not an extension (1 to {MAX_EXTENSION_DIGITS} digits)",
                clip(extension)
            ));
        }
    }
    Ok(())
}

/// A dialplan context or extension name: not empty, no blanks or control
/// characters, none of the separators of dialplan application arguments.
fn check_dialplan_name(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{key} must not be empty"));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '|' | '(' | ')'))
    {
        return Err(format!(
            "{key} {:?} contains a blank, a control character or one of , | ( )",
            clip(value)
        ));
    }
    Ok(())
}

/// A bounded copy of bad input for an error message.
fn clip(raw: &str) -> String {
    raw.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(context: &str, extension: &str) -> Destination {
        Destination {
            context: context.into(),
            extension: extension.into(),
            priority: 1,
        }
    }

    fn config() -> ReceptionistConfig {
        let mut config = ReceptionistConfig {
            extensions: vec!["2000".into()],
            operator: Some(dest("operator", "s")),
            ..ReceptionistConfig::default()
        };
        config.options.insert("1".into(), dest("sales", "s"));
        config.options.insert("9".into(), dest("support", "s"));
        config.greetings.insert(
            "2".into(),
            GreetingConfig {
                extension_context: Some("night".into()),
                options: Some(BTreeMap::new()),
                ..GreetingConfig::default()
            },
        );
        config
    }

    fn known(menu: &Menu, mailboxes: &[&str]) -> Known {
        Known::new(mailboxes.iter().map(|m| m.to_string()), &menu.listed)
    }

    #[test]
    fn defaults_validate_and_greetings_override_what_they_name() {
        ReceptionistConfig::default().validate().unwrap();
        let config = config();
        config.validate().unwrap();
        let company = config.menu(None);
        assert_eq!(company.greeting, "1");
        assert_eq!(company.extension_context, "receptionist-extensions");
        assert_eq!(company.options.len(), 2);
        let night = config.menu(Some("2"));
        assert_eq!(night.extension_context, "night");
        assert!(night.options.is_empty());
        // Not overridden: inherited.
        assert_eq!(night.operator, Some(dest("operator", "s")));
        assert!(night.listed.contains("2000"));
        // A greeting without a table of its own takes the defaults.
        assert_eq!(config.menu(Some("7")).options.len(), 2);
        assert!(config.uses_greeting("1") && config.uses_greeting("2"));
        assert!(!config.uses_greeting("7"));
    }

    #[test]
    fn choices() {
        let menu = config().menu(None);
        let known = known(&menu, &["1001", "1002", "100"]);
        assert_eq!(
            menu.choose("9", &known),
            Choice::Option(dest("support", "s"))
        );
        assert_eq!(
            menu.choose("0", &known),
            Choice::Operator(dest("operator", "s"))
        );
        assert_eq!(
            menu.choose("1001", &known),
            Choice::Extension(dest("receptionist-extensions", "1001"))
        );
        assert_eq!(
            menu.choose("2000", &known),
            Choice::Extension(dest("receptionist-extensions", "2000"))
        );
        for unknown in ["1003", "", "#", "10", "*"] {
            assert_eq!(menu.choose(unknown, &known), Choice::Unknown, "{unknown}");
        }
        // Without an operator, 0 is just a digit.
        let mut config = config();
        config.operator = None;
        let menu = config.menu(None);
        assert_eq!(menu.choose("0", &known), Choice::Unknown);
    }

    #[test]
    fn an_option_acts_at_once_only_when_no_extension_starts_with_it() {
        let menu = config().menu(None);
        let known = known(&menu, &["1001"]);
        assert!(menu.acts_at_once("9", &known));
        assert!(menu.acts_at_once("0", &known));
        assert!(!menu.acts_at_once("1", &known), "1001 starts with 1");
        assert!(!menu.acts_at_once("5", &known), "not an option");
    }

    #[test]
    fn an_entry_is_complete_once_nothing_longer_could_match() {
        let menu = config().menu(None);
        let known = known(&menu, &["100", "1001", "1002"]);
        assert!(!menu.is_complete("10", &known));
        assert!(!menu.is_complete("100", &known), "1001 is longer");
        assert!(menu.is_complete("1001", &known));
        assert!(!menu.is_complete("1003", &known));
        assert!(menu.is_complete(&"5".repeat(MAX_EXTENSION_DIGITS), &known));
    }

    #[test]
    fn malformed_configuration_is_named_precisely() {
        type Change = Box<dyn Fn(&mut ReceptionistConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|c| c.default_greeting = "main".into()),
                "default_greeting",
            ),
            (
                Box::new(|c| c.extension_context = String::new()),
                "extension_context",
            ),
            (
                Box::new(|c| c.extension_context = "a b".into()),
                "extension_context",
            ),
            (
                Box::new(|c| c.extensions = vec!["12a".into()]),
                "extensions",
            ),
            (
                Box::new(|c| c.extensions = vec![" 12".into()]),
                "extensions",
            ),
            (
                Box::new(|c| {
                    c.options.insert("0".into(), dest("x", "s"));
                }),
                "operator",
            ),
            (
                Box::new(|c| {
                    c.options.insert("12".into(), dest("x", "s"));
                }),
                "options: key \"12\"",
            ),
            (
                Box::new(|c| {
                    c.options.insert("#".into(), dest("x", "s"));
                }),
                "options",
            ),
            (
                Box::new(|c| {
                    c.options.insert("3".into(), dest("", "s"));
                }),
                "options.3: context",
            ),
            (
                Box::new(|c| {
                    c.operator = Some(Destination {
                        priority: 0,
                        ..dest("o", "s")
                    })
                }),
                "operator: priority",
            ),
            (
                Box::new(|c| {
                    c.greetings.insert("main".into(), GreetingConfig::default());
                }),
                "greetings.main",
            ),
            (
                Box::new(|c| {
                    c.greetings.insert(
                        "3".into(),
                        GreetingConfig {
                            extensions: Some(vec!["x".into()]),
                            ..GreetingConfig::default()
                        },
                    );
                }),
                "greetings.3.extensions",
            ),
        ];
        for (change, expected) in cases {
            let mut config = ReceptionistConfig::default();
            change(&mut config);
            let error = config.validate().unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn greeting_numbers() {
        assert!(is_greeting_number("1") && is_greeting_number("9999"));
        for bad in ["", "12345", "1a", "../x", " 1"] {
            assert!(!is_greeting_number(bad), "{bad}");
        }
    }
}
