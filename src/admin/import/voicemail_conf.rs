//! What `voicemail.conf` says about the mailboxes of one context, read as
//! app_voicemail reads it (`apps/app_voicemail.c`, `load_config` and
//! `append_mailbox`):
//!
//! - every category but `[general]`, `[zonemessages]` and the `aliasescontext`
//!   one is a context; each of its lines is `mailbox => pin,full name,e-mail,
//!   pager,options`: the first four split on commas, everything after the fourth
//!   comma is the options, `name=value` pairs split on `|` (`tz=`, `language=`,
//!   `passwordlocation=`);
//! - a PIN starting with `-` cannot be changed by its owner in app_voicemail: the
//!   digits after it are the PIN; `-` alone or nothing means no PIN; a PIN
//!   starting with `*` is one app_voicemail refuses;
//! - `tz=` names a `[zonemessages]` entry, `zone = Area/City|format`, whose time
//!   zone is the mailbox's; `[general] tz=` is the default zone;
//! - a mailbox defined twice in a context: the later definition wins.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono_tz::Tz;

use super::conf::{Conf, Var};
use super::report::{Location, Problem};
use crate::domain::{Language, MailboxId, Pin};

/// Categories of voicemail.conf that are not contexts.
const NOT_CONTEXTS: [&str; 2] = ["general", "zonemessages"];

/// The PIN of a mailbox line. `Debug` never shows it.
pub enum ConfPin {
    /// `-`, or nothing.
    None,
    Pin(Pin),
    /// A PIN nobody could type at voiceportal's prompt; why.
    Unusable(&'static str),
}

impl std::fmt::Debug for ConfPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConfPin::None => "ConfPin::None",
            ConfPin::Pin(_) => "ConfPin::Pin(***)",
            ConfPin::Unusable(_) => "ConfPin::Unusable",
        })
    }
}

impl ConfPin {
    /// Classifies the first field of a mailbox line.
    pub fn parse(raw: &str) -> ConfPin {
        let raw = raw.trim();
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.is_empty() {
            return ConfPin::None;
        }
        if digits.starts_with('*') {
            return ConfPin::Unusable("it starts with *, which app_voicemail itself refuses");
        }
        match Pin::parse(digits) {
            Ok(pin) => ConfPin::Pin(pin),
            Err(_) => ConfPin::Unusable("it is not 1 to 20 digits, so it cannot be typed"),
        }
    }
}

/// One mailbox of the context.
#[derive(Debug)]
pub struct ConfMailbox {
    pub number: MailboxId,
    /// Its line.
    pub at: Location,
    pub pin: ConfPin,
    pub full_name: String,
    pub email: String,
    /// The `language=` option, if any (checked later, with the mailbox).
    pub language: Option<String>,
    /// The IANA time zone of its `tz=` zone (or `[general] tz=`).
    pub timezone: Option<String>,
    /// `passwordlocation=spooldir`: the PIN is in the spool's `secret.conf`.
    pub pin_in_spool: bool,
}

/// The mailboxes of one context.
#[derive(Debug)]
pub struct VoicemailConf {
    /// The context as voicemail.conf spells it (the spool directory's name).
    pub context: String,
    /// By number.
    pub mailboxes: BTreeMap<MailboxId, ConfMailbox>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(
        "voicemail.conf has no context [{wanted}]; its contexts: {}",
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    Missing {
        wanted: String,
        available: Vec<String>,
    },
    #[error("[{0}] is not a context of mailboxes in voicemail.conf")]
    NotAContext(String),
}

/// Reads the mailboxes of `context` from a parsed voicemail.conf.
pub fn mailboxes(
    conf: &Conf,
    context: &str,
    problems: &mut Vec<Problem>,
) -> Result<VoicemailConf, ContextError> {
    let general = last_values(conf, "general");
    let aliases = general.get("aliasescontext").map(|v| v.value.clone());
    let not_a_context = |name: &str| {
        NOT_CONTEXTS.iter().any(|n| n.eq_ignore_ascii_case(name))
            || aliases
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
    };
    if not_a_context(context) {
        return Err(ContextError::NotAContext(context.to_owned()));
    }
    let categories: Vec<_> = conf.categories_named(context).collect();
    let Some(first) = categories.first() else {
        let mut available: Vec<String> = conf
            .categories
            .iter()
            .filter(|c| !c.template && !not_a_context(&c.name))
            .map(|c| c.name.clone())
            .collect();
        available.dedup();
        return Err(ContextError::Missing {
            wanted: context.to_owned(),
            available,
        });
    };
    let zones = zones(conf, problems);
    let default_zone = general.get("tz").map(|v| (*v).clone());
    let pins_in_spool = general
        .get("passwordlocation")
        .is_some_and(|v| v.value.eq_ignore_ascii_case("spooldir"));
    let mut mailboxes: BTreeMap<MailboxId, ConfMailbox> = BTreeMap::new();
    for var in categories.iter().flat_map(|c| &c.vars) {
        let Some(mailbox) = mailbox(var, &zones, default_zone.as_ref(), pins_in_spool, problems)
        else {
            continue;
        };
        if let Some(earlier) = mailboxes.get(&mailbox.number) {
            problems.push(Problem::new(
                earlier.at.clone(),
                format!(
                    "mailbox {} is defined again at {}: the later definition is used, as in \
                     app_voicemail",
                    mailbox.number, mailbox.at
                ),
            ));
        }
        mailboxes.insert(mailbox.number.clone(), mailbox);
    }
    Ok(VoicemailConf {
        context: first.name.clone(),
        mailboxes,
    })
}

/// The last value of each name in every category called `name`.
fn last_values<'a>(conf: &'a Conf, name: &'a str) -> HashMap<String, &'a Var> {
    let mut values = HashMap::new();
    for var in conf.categories_named(name).flat_map(|c| &c.vars) {
        values.insert(var.name.to_ascii_lowercase(), var);
    }
    values
}

/// `[zonemessages]`: zone name to IANA time zone.
fn zones(conf: &Conf, problems: &mut Vec<Problem>) -> HashMap<String, String> {
    let mut zones = HashMap::new();
    for var in conf.categories_named("zonemessages").flat_map(|c| &c.vars) {
        let tz = var.value.split('|').next().unwrap_or_default().trim();
        match Tz::from_str(tz) {
            Ok(tz) => {
                zones.insert(var.name.clone(), tz.name().to_owned());
            }
            Err(_) => problems.push(Problem::new(
                var.at.clone(),
                format!(
                    "zone {:?}: {:?} is not a time zone name (such as Europe/Paris); mailboxes \
                     of this zone keep voiceportal's default (UTC)",
                    var.name,
                    clip(tz)
                ),
            )),
        }
    }
    zones
}

fn mailbox(
    var: &Var,
    zones: &HashMap<String, String>,
    default_zone: Option<&Var>,
    pins_in_spool: bool,
    problems: &mut Vec<Problem>,
) -> Option<ConfMailbox> {
    let number = match MailboxId::parse(&var.name) {
        Ok(id) if id.as_str() == var.name => id,
        _ => {
            problems.push(Problem::new(
                var.at.clone(),
                format!(
                    "mailbox {:?} is not a number voiceportal can use (1 to 20 digits): skipped",
                    clip(&var.name)
                ),
            ));
            return None;
        }
    };
    let mut fields = var.value.splitn(5, ',');
    let pin = ConfPin::parse(fields.next().unwrap_or_default());
    let full_name = fields.next().unwrap_or_default().trim().to_owned();
    let email = fields.next().unwrap_or_default().trim().to_owned();
    let _pager = fields.next();
    let options = fields.next().unwrap_or_default();
    let mut language = None;
    let mut zone: Option<String> = None;
    let mut pin_in_spool = pins_in_spool;
    for option in options.split('|') {
        let Some((name, value)) = option.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "language" => language = Some(value.to_owned()),
            "tz" => zone = Some(value.to_owned()),
            "passwordlocation" => pin_in_spool = value.eq_ignore_ascii_case("spooldir"),
            _ => {}
        }
    }
    let zone_at = if zone.is_some() {
        var.at.clone()
    } else {
        default_zone.map_or_else(|| var.at.clone(), |v| v.at.clone())
    };
    let zone = zone.or_else(|| default_zone.map(|v| v.value.clone()));
    let timezone = match zone {
        None => None,
        Some(zone) => match zones.get(&zone) {
            Some(tz) => Some(tz.clone()),
            None => {
                problems.push(Problem::new(
                    zone_at,
                    format!(
                        "mailbox {number}: zone {:?} is not in [zonemessages]; its time zone stays \
                         voiceportal's default (UTC)",
                        clip(&zone)
                    ),
                ));
                None
            }
        },
    };
    Some(ConfMailbox {
        number,
        at: var.at.clone(),
        pin,
        full_name,
        email,
        language,
        timezone,
        pin_in_spool,
    })
}

/// Checks a `language=` option: voiceportal speaks English and French.
pub fn language(mailbox: &ConfMailbox, problems: &mut Vec<Problem>) -> Option<Language> {
    let raw = mailbox.language.as_deref()?;
    match Language::parse(raw) {
        Ok(language) => Some(language),
        Err(e) => {
            problems.push(Problem::new(
                mailbox.at.clone(),
                format!(
                    "mailbox {}: {e}; it gets portal.default_language",
                    mailbox.number
                ),
            ));
            None
        }
    }
}

fn clip(raw: &str) -> String {
    raw.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::admin::import::conf::{Category, Conf};

    fn var(name: &str, value: &str, line: usize) -> Var {
        Var {
            name: name.into(),
            value: value.into(),
            at: Location::line(Path::new("voicemail.conf"), line),
        }
    }

    fn category(name: &str, vars: Vec<Var>) -> Category {
        Category {
            name: name.into(),
            template: false,
            vars,
        }
    }

    fn sample() -> Conf {
        Conf {
            categories: vec![
                category(
                    "general",
                    vec![
                        var("format", "wav49|gsm|wav", 2),
                        var("tz", "eastern", 3),
                        var("aliasescontext", "myaliases", 4),
                    ],
                ),
                category(
                    "zonemessages",
                    vec![
                        var(
                            "eastern",
                            "America/New_York|'vm-received' Q 'digits/at' IMp",
                            6,
                        ),
                        var("european", "Europe/Copenhagen|'vm-received' a d b", 7),
                        var("mars", "Mars/Olympus|x", 8),
                    ],
                ),
                category(
                    "default",
                    vec![
                        var("1001", "1234,Alice Martin,alice@example.org", 11),
                        var("1002", "-5432,Bob,,,tz=european|language=fr|attach=no", 12),
                        var("1003", "-,Desk", 13),
                        var("1004", ",No PIN", 14),
                        var("1005", "*123,Star", 15),
                        var("alice", "1,Not a number", 16),
                        var("1006", "12a4,Letters,,,language=de|tz=nowhere", 17),
                        var("1001", "7777,Alice again,alice@example.org", 18),
                    ],
                ),
                category("myaliases", vec![var("1234@devices", "1234@default", 21)]),
            ],
        }
    }

    #[test]
    fn reads_the_mailboxes_of_a_context_as_app_voicemail_does() {
        let mut problems = Vec::new();
        let conf = mailboxes(&sample(), "DEFAULT", &mut problems).unwrap();
        assert_eq!(conf.context, "default");
        let numbers: Vec<&str> = conf.mailboxes.keys().map(MailboxId::as_str).collect();
        assert_eq!(numbers, ["1001", "1002", "1003", "1004", "1005", "1006"]);
        let get = |n: &str| &conf.mailboxes[&MailboxId::parse(n).unwrap()];
        // The later definition wins.
        assert_eq!(get("1001").full_name, "Alice again");
        assert_eq!(get("1001").at.line, Some(18));
        assert!(matches!(get("1001").pin, ConfPin::Pin(ref p) if p.expose() == "7777"));
        // `-5432`: the owner could not change it in app_voicemail; the PIN is 5432.
        assert!(matches!(get("1002").pin, ConfPin::Pin(ref p) if p.expose() == "5432"));
        assert_eq!(get("1002").timezone.as_deref(), Some("Europe/Copenhagen"));
        assert_eq!(get("1002").language.as_deref(), Some("fr"));
        // No tz=: [general] tz.
        assert_eq!(get("1001").timezone.as_deref(), Some("America/New_York"));
        assert_eq!(get("1001").email, "alice@example.org");
        assert!(matches!(get("1003").pin, ConfPin::None));
        assert!(matches!(get("1004").pin, ConfPin::None));
        assert!(matches!(get("1005").pin, ConfPin::Unusable(_)));
        assert!(matches!(get("1006").pin, ConfPin::Unusable(_)));
        assert_eq!(get("1006").timezone, None);
        let mut problems_language = Vec::new();
        assert_eq!(language(get("1006"), &mut problems_language), None);
        assert!(
            problems_language[0]
                .to_string()
                .contains("voicemail.conf:17")
        );
        assert_eq!(
            language(get("1002"), &mut problems_language),
            Some(Language::Fr)
        );

        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        for expected in [
            "voicemail.conf:8: zone \"mars\"",
            "voicemail.conf:16: mailbox \"alice\" is not a number",
            "voicemail.conf:17: mailbox 1006: zone \"nowhere\"",
            "voicemail.conf:11: mailbox 1001 is defined again at voicemail.conf:18",
        ] {
            assert!(
                shown.iter().any(|p| p.starts_with(expected)),
                "{expected}: {shown:#?}"
            );
        }
        assert_eq!(shown.len(), 4, "{shown:#?}");
    }

    #[test]
    fn unknown_and_reserved_contexts_are_refused_clearly() {
        let err = mailboxes(&sample(), "sales", &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "voicemail.conf has no context [sales]; its contexts: default"
        );
        for reserved in ["general", "zonemessages", "myaliases"] {
            let err = mailboxes(&sample(), reserved, &mut Vec::new()).unwrap_err();
            assert!(matches!(err, ContextError::NotAContext(_)), "{reserved}");
        }
    }

    #[test]
    fn pins_never_show_in_debug() {
        let shown = format!("{:?}", ConfPin::parse("90817263"));
        assert!(!shown.contains("90817263"), "{shown}");
    }
}
