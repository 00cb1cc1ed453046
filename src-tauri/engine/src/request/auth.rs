//! A credential put into a request: as `Authorization`, another header or a
//! query parameter. Whatever carries it is marked secret, so it goes to the
//! request's own origin only (a redirect elsewhere drops it) and is masked in
//! every URL Flowpilot shows.

use super::Request;
use crate::redact::base64_standard;
use crate::registry::{Credentials, StepError};
use crate::sensitive::Sensitive;
use crate::step_error::ErrorCode;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

/// A credential value and where it goes.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(Sensitive<String>),
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: String, password: Sensitive<String> },
    /// `<name>: <prefix><value>`, such as `X-API-Key: …` or `Authorization: Token …`.
    Header {
        name: String,
        prefix: String,
        value: Sensitive<String>,
    },
    /// `?<name>=<value>`.
    Query { name: String, value: Sensitive<String> },
}

impl Credential {
    /// `field` names the stored credential, for the error when its value cannot go in a header.
    /// Derived forms of the secret (the Basic header's base64) are remembered in
    /// `credentials`, so the run masks them too.
    pub(super) fn apply(
        self,
        mut request: Request,
        field: &str,
        credentials: &Credentials,
    ) -> Result<Request, StepError> {
        let secret_header = |value: String| {
            let mut value = HeaderValue::try_from(value).map_err(|_| {
                StepError::fatal(
                    ErrorCode::InvalidCredentials,
                    format!(
                        "the credential `{field}` holds a line break or another character that cannot be sent in a header; store it again without it"
                    ),
                )
            })?;
            value.set_sensitive(true);
            Ok::<_, StepError>(value)
        };
        match self {
            Credential::Bearer(token) => {
                let value = secret_header(format!("Bearer {}", token.expose()))?;
                request.secret_headers.insert(AUTHORIZATION, value);
            }
            Credential::Basic { user, password } => {
                let encoded = base64_standard(format!("{user}:{}", password.expose()).as_bytes());
                credentials.remember(&encoded);
                request
                    .secret_headers
                    .insert(AUTHORIZATION, secret_header(format!("Basic {encoded}"))?);
            }
            Credential::Header { name, prefix, value } => {
                let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    StepError::fatal(ErrorCode::InvalidParams, format!("`{name}` is not a valid header name"))
                })?;
                let value = secret_header(format!("{prefix}{}", value.expose()))?;
                request.secret_headers.insert(header, value);
            }
            Credential::Query { name, value } => {
                request.secret_query.push((name, value.into_inner()));
            }
        }
        Ok(request)
    }
}

/// `user:password` split at its first colon, for Basic auth from one stored value.
pub fn split_user_password<'a>(value: &'a Sensitive<String>, field: &str) -> Result<(&'a str, &'a str), StepError> {
    value.expose().split_once(':').ok_or_else(|| {
        StepError::fatal(
            ErrorCode::InvalidCredentials,
            format!(
                "basic auth without `username` reads the credential `{field}` as `user:password`, but it has no `:`; add `username` to `auth` or store the credential as user:password"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_without_username_needs_user_colon_password() {
        let secret = Sensitive::new("ada:pw:with:colons".to_string());
        assert_eq!(
            split_user_password(&secret, "login").unwrap(),
            ("ada", "pw:with:colons")
        );
        let secret = Sensitive::new("nocolon".to_string());
        let e = split_user_password(&secret, "login").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidCredentials);
        assert!(!e.to_string().contains("nocolon"));
    }
}
