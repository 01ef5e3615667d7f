//! The sample dialplan users copy (`asterisk/extensions.conf`) only hands calls to
//! voiceportal in forms it accepts, and never leaves a caller on a dead line when
//! the service is away.

use voiceportal::config::Config;
use voiceportal::domain::EntryPoint;

fn dialplan() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/asterisk/extensions.conf");
    std::fs::read_to_string(path).expect("asterisk/extensions.conf")
}

/// The text between `Stasis(` and its closing parenthesis.
fn stasis_arguments(line: &str) -> Option<&str> {
    let start = line.find("Stasis(")? + "Stasis(".len();
    let mut depth = 1;
    for (offset, c) in line[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&line[start..start + offset]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits on the commas that separate application arguments (not those inside a
/// `${...}` expression).
fn split_arguments(text: &str) -> Vec<String> {
    let mut arguments = vec![String::new()];
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                arguments.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = arguments.last_mut() {
            last.push(c);
        }
    }
    arguments
}

/// What Asterisk substitutes at run time, in each of the forms it can take.
fn expansions(argument: &str) -> Vec<String> {
    let argument = argument
        .replace("${EXTEN}", "1002")
        .replace("${CALLERID(num)}", "1001")
        .replace("@PORTAL_NUMBER@", "8500");
    if argument.contains("${DIALSTATUS}") {
        [
            "NOANSWER",
            "BUSY",
            "CHANUNAVAIL",
            "CONGESTION",
            "CANCEL",
            "",
        ]
        .iter()
        .map(|status| argument.replace("${DIALSTATUS}", status))
        .collect()
    } else {
        vec![argument]
    }
}

#[test]
fn every_stasis_call_in_the_sample_dialplan_is_an_entry_point_the_service_accepts() {
    let app = Config::default().ari.app;
    let dialplan = dialplan();
    let mut checked = 0;
    for line in dialplan
        .lines()
        .filter(|l| !l.trim_start().starts_with(';'))
    {
        let Some(arguments) = stasis_arguments(line) else {
            continue;
        };
        let arguments = split_arguments(arguments);
        assert_eq!(arguments[0], app, "wrong application in: {line}");
        // Every combination of the run-time values each argument can take.
        let mut forms: Vec<Vec<String>> = vec![vec![]];
        for argument in &arguments[1..] {
            forms = forms
                .into_iter()
                .flat_map(|form| {
                    expansions(argument).into_iter().map(move |value| {
                        let mut form = form.clone();
                        form.push(value);
                        form
                    })
                })
                .collect();
        }
        for form in forms {
            assert!(
                !form.iter().any(|a| a.contains("${")),
                "a variable this test does not know in: {line}"
            );
            if let Err(e) = EntryPoint::parse(&form) {
                panic!("the service refuses {form:?} ({e}) from: {line}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} Stasis forms found");
}

#[test]
fn every_stasis_call_falls_back_to_an_apology_when_the_service_is_away() {
    let dialplan = dialplan();
    let lines: Vec<&str> = dialplan.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        if stasis_arguments(line).is_none() || line.trim_start().starts_with(';') {
            continue;
        }
        let next = lines.get(index + 1).copied().unwrap_or_default();
        assert!(
            next.contains("voiceportal-down") && next.trim_start().starts_with("same => n,"),
            "after `{line}` the next step must go to [voiceportal-down], not: `{next}`"
        );
    }
    assert!(
        dialplan.contains("[voiceportal-down]")
            && dialplan.contains(r#"$["${STASISSTATUS}" = "FAILED"]"#)
            && dialplan.contains("Playback(voiceportal/error)"),
        "[voiceportal-down] must apologise when Stasis() failed"
    );
}
