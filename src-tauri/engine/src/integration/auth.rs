//! How an integration's requests are authorized: the definition's auth (bearer,
//! basic, API key, OAuth 2) put on a request from the person's credentials, and
//! for OAuth 2 the access token kept fresh (refreshed one run at a time, the new
//! tokens saved in the keychain).

use super::definition::{ActionDefinition, Auth, KeyLocation, OAuth2Auth};
use super::oauth::{self, ACCESS_TOKEN, ClientCredentials, EXPIRES_AT, REFRESH_TOKEN};
use super::provider::IntegrationProvider;
use crate::registry::{ConnectionEvent, Credentials, StepContext, StepError};
use crate::request::{Credential, Request};
use crate::sensitive::Sensitive;
use crate::step_error::ErrorCode;

impl IntegrationProvider {
    pub(super) async fn authorize(
        &self,
        request: Request,
        def: Option<&ActionDefinition>,
        credentials: &Credentials,
        token: Option<&Sensitive<String>>,
    ) -> Result<Request, StepError> {
        let credential = match self.auth_of(def) {
            Auth::None => return Ok(request),
            Auth::Bearer { secret } => (Credential::Bearer(credentials.require(secret).await?), secret.as_str()),
            Auth::Basic {
                username_secret,
                password_secret,
            } => (
                Credential::Basic {
                    user: credentials.require(username_secret).await?.into_inner(),
                    password: credentials.require(password_secret).await?,
                },
                password_secret.as_str(),
            ),
            Auth::ApiKey {
                location,
                name,
                secret,
                prefix,
            } => {
                let value = credentials.require(secret).await?;
                let credential = match location {
                    KeyLocation::Header => Credential::Header {
                        name: name.clone(),
                        prefix: prefix.clone().unwrap_or_default(),
                        value,
                    },
                    KeyLocation::Query => Credential::Query {
                        name: name.clone(),
                        value: Sensitive::new(format!("{}{}", prefix.as_deref().unwrap_or(""), value.expose())),
                    },
                };
                (credential, secret.as_str())
            }
            Auth::Oauth2(_) => {
                let token = token.cloned().ok_or_else(|| {
                    StepError::fatal(
                        ErrorCode::MissingCredentials,
                        format!("{} is not connected", self.def.title),
                    )
                })?;
                (Credential::Bearer(token), ACCESS_TOKEN)
            }
        };
        request.credential(credential.0, credential.1, credentials)
    }

    /// The access token: the stored one while it is good, else a refreshed one.
    /// `stale` is a token the server just refused (refresh even if not due yet,
    /// unless another run already did).
    pub(super) async fn access_token(
        &self,
        auth: &OAuth2Auth,
        credentials: &Credentials,
        ctx: &StepContext,
        stale: Option<&Sensitive<String>>,
    ) -> Result<Sensitive<String>, StepError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let title = &self.def.title;
        let connect = |why: &str| {
            StepError::fatal(
                ErrorCode::NeedsReconnect,
                format!(
                    "{title} needs reconnecting: {why}; connect it again in Integrations (Connect…) or with `flowpilot-cli integrations connect {}`",
                    self.def.name
                ),
            )
        };
        let access = credentials.get(ACCESS_TOKEN).await?;
        let expires_at = credentials
            .get(EXPIRES_AT)
            .await?
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v.expose()).ok());
        let due = expires_at.is_some_and(|at| at <= chrono::Utc::now() + chrono::Duration::seconds(30));
        match (&access, stale) {
            (Some(a), None) if !due => return Ok(a.clone()),
            (Some(a), Some(s)) if a.expose() != s.expose() => return Ok(a.clone()),
            (None, _) => {
                return Err(StepError::fatal(
                    ErrorCode::MissingCredentials,
                    format!(
                        "{title} is not connected yet: connect it in Integrations (Connect…) or with `flowpilot-cli integrations connect {}`",
                        self.def.name
                    ),
                ));
            }
            _ => {}
        }
        let Some(refresh) = credentials.get(REFRESH_TOKEN).await? else {
            return Err(connect("its access token expired and there is no refresh token"));
        };
        let client = ClientCredentials {
            client_id: credentials.require(&auth.client_id_secret).await?.into_inner(),
            client_secret: match &auth.client_secret_secret {
                Some(s) => Some(credentials.require(s).await?),
                None => None,
            },
        };
        match oauth::refresh(&ctx.http, auth, &client, &refresh).await {
            Ok(tokens) => {
                store_tokens(credentials, &tokens).await?;
                credentials.report(ConnectionEvent::Refreshed).await;
                Ok(tokens.access)
            }
            Err(oauth::OAuthError::Transport(e)) => Err(StepError::retryable(
                ErrorCode::Connect,
                format!("{title}: the token could not be refreshed: {e}"),
            )),
            Err(e) => {
                let reason = e.to_string();
                credentials
                    .report(ConnectionEvent::NeedsReconnecting { reason: reason.clone() })
                    .await;
                Err(connect(&reason))
            }
        }
    }
}

/// Save refreshed or new tokens in the keychain.
pub async fn store_tokens(credentials: &Credentials, tokens: &oauth::Tokens) -> Result<(), StepError> {
    credentials.store(ACCESS_TOKEN, tokens.access.clone()).await?;
    if let Some(refresh) = &tokens.refresh {
        credentials.store(REFRESH_TOKEN, refresh.clone()).await?;
    }
    if let Some(at) = tokens.expires_at {
        credentials.store(EXPIRES_AT, Sensitive::new(at.to_rfc3339())).await?;
    }
    Ok(())
}
