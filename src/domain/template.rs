//! E-mail templates (`email.subject`, `email.body`): `{placeholder}` fields and
//! doubled braces, parsed once so that a typo is a configuration error at
//! start-up rather than a strange e-mail. Pure: the values come from the caller.

/// What a template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Mailbox,
    Name,
    Caller,
    CallerName,
    Date,
    Duration,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Mailbox,
        Field::Name,
        Field::Caller,
        Field::CallerName,
        Field::Date,
        Field::Duration,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Mailbox => "mailbox",
            Field::Name => "name",
            Field::Caller => "caller",
            Field::CallerName => "caller_name",
            Field::Date => "date",
            Field::Duration => "duration",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `{mailbox}, {name}, ...`, for error messages.
fn known_placeholders() -> String {
    Field::ALL
        .iter()
        .map(|f| format!("{{{}}}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A subject or body template, parsed once so a typo is a start-up error rather
/// than a strange e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Why a template was refused; positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder `{{{name}}}`; the known ones are {known}", known = known_placeholders())]
    Unknown { name: String },
    #[error("the `{{` at character {at} is never closed (write `{{{{` for a literal brace)")]
    Unclosed { at: usize },
    #[error("the `}}` at character {at} closes nothing (write `}}}}` for a literal brace)")]
    Unopened { at: usize },
}

impl Template {
    /// `{field}` is a placeholder, `{{` and `}}` literal braces, as in `format!`.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().enumerate().peekable();
        while let Some((index, c)) = chars.next() {
            let doubled = chars.peek().is_some_and(|&(_, next)| next == c);
            match c {
                '{' | '}' if doubled => {
                    chars.next();
                    text.push(c);
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, inner)) => name.push(inner),
                            None => return Err(TemplateError::Unclosed { at: index + 1 }),
                        }
                    }
                    let field = Field::from_name(&name).ok_or_else(|| TemplateError::Unknown {
                        name: name.chars().take(32).collect(),
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field(field));
                }
                '}' => return Err(TemplateError::Unopened { at: index + 1 }),
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { pieces })
    }

    /// The text with each placeholder replaced by `value(field)`.
    pub fn render<'a>(&self, value: impl Fn(Field) -> &'a str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => out.push_str(value(*field)),
            }
        }
        out
    }
}
