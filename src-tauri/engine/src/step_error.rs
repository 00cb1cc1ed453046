//! Why a step failed: whether trying again could help (after apalis: retry vs
//! abort), and a code from a closed set, written in logs as the seeds' `error`
//! field (`HTTP_404`, `TIMEOUT`, `MISSING_CREDENTIALS`...).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A step error's kind. Serialised as the seeds' upper-case strings; an HTTP
/// status is `HTTP_<status>`. Code branches on these, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The server answered with this status.
    Http(u16),
    /// The connection could not be made or broke.
    Connect,
    /// A TLS handshake or certificate failure.
    Tls,
    /// A redirect that cannot be followed.
    Redirect,
    Timeout,
    Cancelled,
    /// The params (after references) are not what the action takes.
    InvalidParams,
    /// A reference could not be resolved.
    Reference,
    /// A `when` condition could not be checked (a bad pattern, say).
    Condition,
    /// A `for_each` list is not a list, or too long.
    ForEach,
    /// Every item of a `for_each` step failed.
    ItemsFailed,
    MissingCredentials,
    InvalidCredentials,
    /// A credential held back from an origin it is not allowed to go to.
    CredentialNotAllowed,
    /// An OAuth connection whose refresh was refused: connect it again.
    NeedsReconnect,
    /// An integration's own rate limit has no free slot in the attempt's time.
    RateLimited,
    /// The API answered, and its answer says it failed (Slack's `ok: false`).
    ApiError,
    KeychainUnavailable,
    KeychainError,
    UnknownProvider,
    UnknownAction,
    /// A model declined to answer.
    Refused,
    /// A model answered nothing.
    EmptyReply,
    /// A server answered something that cannot be read.
    BadResponse,
    InvalidRequest,
    NoMatch,
    InvalidJson,
    AssertionFailed,
    /// A provider said it failed without saying how.
    Error,
}

impl ErrorCode {
    /// The code as written in logs and files.
    pub fn as_string(self) -> String {
        match self {
            Self::Http(status) => format!("HTTP_{status}"),
            other => other.name().to_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Http(_) => "HTTP",
            Self::Connect => "CONNECT",
            Self::Tls => "TLS",
            Self::Redirect => "REDIRECT",
            Self::Timeout => "TIMEOUT",
            Self::Cancelled => "CANCELLED",
            Self::InvalidParams => "INVALID_PARAMS",
            Self::Reference => "REFERENCE",
            Self::Condition => "CONDITION",
            Self::ForEach => "FOR_EACH",
            Self::ItemsFailed => "ITEMS_FAILED",
            Self::MissingCredentials => "MISSING_CREDENTIALS",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::CredentialNotAllowed => "CREDENTIAL_NOT_ALLOWED",
            Self::NeedsReconnect => "NEEDS_RECONNECT",
            Self::RateLimited => "RATE_LIMITED",
            Self::ApiError => "API_ERROR",
            Self::KeychainUnavailable => "KEYCHAIN_UNAVAILABLE",
            Self::KeychainError => "KEYCHAIN_ERROR",
            Self::UnknownProvider => "UNKNOWN_PROVIDER",
            Self::UnknownAction => "UNKNOWN_ACTION",
            Self::Refused => "REFUSED",
            Self::EmptyReply => "EMPTY_REPLY",
            Self::BadResponse => "BAD_RESPONSE",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::NoMatch => "NO_MATCH",
            Self::InvalidJson => "INVALID_JSON",
            Self::AssertionFailed => "ASSERTION_FAILED",
            Self::Error => "ERROR",
        }
    }

    const NAMED: [ErrorCode; 28] = [
        Self::Connect,
        Self::Tls,
        Self::Redirect,
        Self::Timeout,
        Self::Cancelled,
        Self::InvalidParams,
        Self::Reference,
        Self::Condition,
        Self::ForEach,
        Self::ItemsFailed,
        Self::MissingCredentials,
        Self::InvalidCredentials,
        Self::CredentialNotAllowed,
        Self::NeedsReconnect,
        Self::RateLimited,
        Self::ApiError,
        Self::KeychainUnavailable,
        Self::KeychainError,
        Self::UnknownProvider,
        Self::UnknownAction,
        Self::Refused,
        Self::EmptyReply,
        Self::BadResponse,
        Self::InvalidRequest,
        Self::NoMatch,
        Self::InvalidJson,
        Self::AssertionFailed,
        Self::Error,
    ];

    /// Read a code as written in logs; codes from an older or newer Flowpilot
    /// that this one does not know read as [`ErrorCode::Error`].
    pub fn parse(s: &str) -> Self {
        if let Some(status) = s.strip_prefix("HTTP_").and_then(|n| n.parse::<u16>().ok()) {
            return Self::Http(status);
        }
        Self::NAMED.into_iter().find(|c| c.name() == s).unwrap_or(Self::Error)
    }

    /// The HTTP status, for an `HTTP_<status>` code.
    pub fn http_status(self) -> Option<u16> {
        match self {
            Self::Http(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(status) => write!(f, "HTTP_{status}"),
            other => f.write_str(other.name()),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

impl specta::Type for ErrorCode {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        <String as specta::Type>::definition(types)
    }
}

/// Why a step failed, and whether trying again could help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// Transient: connection failures, timeouts, 429, 5xx. `after` is the
    /// server's own wish (Retry-After), if it said one.
    #[error("{message}")]
    Retryable {
        code: ErrorCode,
        message: String,
        after: Option<Duration>,
    },
    /// Trying again would fail the same way: 4xx, bad params, a failed assertion.
    #[error("{message}")]
    Fatal { code: ErrorCode, message: String },
    /// A request that may change something failed in a way that does not say
    /// whether the server acted on it (a timeout or a broken connection after
    /// sending, a 5xx). Sending it again could do it twice, so it is not retried
    /// unless the step says `"retry": {"on": "any"}`.
    #[error("{message}")]
    Unknown { code: ErrorCode, message: String },
    /// The step ran out of its time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The run was cancelled while the step ran.
    #[error("cancelled")]
    Cancelled,
}

impl StepError {
    pub fn fatal(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Fatal {
            code,
            message: message.into(),
        }
    }

    pub fn retryable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Retryable {
            code,
            message: message.into(),
            after: None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Retryable { code, .. } | Self::Fatal { code, .. } | Self::Unknown { code, .. } => *code,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::Cancelled => ErrorCode::Cancelled,
        }
    }

    /// Whether trying again may help and cannot do anything twice.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. } | Self::Timeout(_))
    }

    /// The same error with `note` added to its message (why it was not retried).
    pub fn noting(self, note: &str) -> Self {
        match self {
            Self::Retryable { code, message, after } => Self::Retryable {
                code,
                message: format!("{message}; {note}"),
                after,
            },
            Self::Fatal { code, message } => Self::Fatal {
                code,
                message: format!("{message}; {note}"),
            },
            Self::Unknown { code, message } => Self::Unknown {
                code,
                message: format!("{message}; {note}"),
            },
            Self::Timeout(after) => Self::Fatal {
                code: ErrorCode::Timeout,
                message: format!("timed out after {after:?}; {note}"),
            },
            Self::Cancelled => Self::Cancelled,
        }
    }

    /// Whether the server may have acted on the request (see [`StepError::Unknown`]).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_and_write_as_the_seeds_strings() {
        for code in ErrorCode::NAMED
            .into_iter()
            .chain([ErrorCode::Http(404), ErrorCode::Http(503)])
        {
            let text = serde_json::to_string(&code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&text).unwrap(), code, "{text}");
        }
        assert_eq!(ErrorCode::Http(429).to_string(), "HTTP_429");
        assert_eq!(ErrorCode::parse("SOMETHING_NEW"), ErrorCode::Error);
    }
}
