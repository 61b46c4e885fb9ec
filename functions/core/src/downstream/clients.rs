//! The portals registered to sign people in through profile-link
//! (`PORTAL_CLIENTS`): their ids, redirect URIs, secrets and how they
//! authenticate at `/token`, checked when the list is parsed.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::ConfigError;
use crate::secrets::SecretSource;
use crate::session::SigningAlg;

/// The variable (and, deployed, the SSM parameter's content) holding the clients.
pub const PORTAL_CLIENTS: &str = "PORTAL_CLIENTS";

/// A portal's client id: `[A-Za-z0-9._-]`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("{raw:?} is not [A-Za-z0-9._-], 1 to 64 long")))
    }
}

/// How a portal authenticates at `/token` (its registered
/// `token_endpoint_auth_method`; only that one is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
    /// A public client (a single-page or native app): no secret, PKCE alone.
    None,
}

impl TokenEndpointAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

/// Whether a portal asks the person to choose the one profile they act for
/// (its registered `profile_selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSelection {
    /// The tokens list every linked profile; the portal decides.
    #[default]
    None,
    /// With more than one linked profile, `/authorize` asks which one, and the
    /// tokens name it (`profile_id`) beside the full list.
    Required,
}

/// One registered portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalClient {
    pub id: ClientId,
    /// How pages name it ("Back to Contoso portal").
    pub name: String,
    /// Compared exactly, as strings (RFC 9700 §4.1.3).
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub auth: TokenEndpointAuth,
    /// `None` exactly when `auth` is `None`.
    pub secret: Option<SecretSource>,
    pub profile_selection: ProfileSelection,
    /// How its ID tokens are signed (RS256 unless it registered ES256).
    pub id_token_signed_response_alg: SigningAlg,
    /// Where logout tokens are posted (OpenID Connect Back-Channel Logout 1.0), if the portal takes them.
    pub backchannel_logout_uri: Option<String>,
}

impl PortalClient {
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedClient {
    id: ClientId,
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: TokenEndpointAuth,
    client_secret: Option<String>,
    client_secret_parameter: Option<String>,
    #[serde(default)]
    profile_selection: ProfileSelection,
    id_token_signed_response_alg: Option<String>,
    backchannel_logout_uri: Option<String>,
}

/// The registered portals, checked when parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortalClients(Vec<PortalClient>);

impl PortalClients {
    /// Parses the `PORTAL_CLIENTS` JSON array; every problem names the client and field.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let invalid = |problem: String| ConfigError::invalid(PORTAL_CLIENTS, problem);
        let listed: Vec<ListedClient> =
            serde_json::from_str(json).map_err(|e| invalid(format!("not a JSON list of clients: {e}")))?;
        let mut clients: Vec<PortalClient> = Vec::with_capacity(listed.len());
        for client in listed {
            let id = client.id.as_str().to_owned();
            let at = |problem: String| invalid(format!("client {id:?}: {problem}"));
            if clients.iter().any(|c| c.id == client.id) {
                return Err(at("listed twice".into()));
            }
            let name = client.name.trim().to_owned();
            if !is_displayable_portal_name(&name) {
                return Err(at("name: 1 to 80 characters, no control characters".into()));
            }
            if client.redirect_uris.is_empty() {
                return Err(at("redirect_uris: at least one".into()));
            }
            for uri in client
                .redirect_uris
                .iter()
                .chain(&client.post_logout_redirect_uris)
                .chain(&client.backchannel_logout_uri)
            {
                check_registered_uri(uri).map_err(|problem| at(format!("{uri:?}: {problem}")))?;
            }
            let secret = match (client.token_endpoint_auth_method, client.client_secret, client.client_secret_parameter)
            {
                (TokenEndpointAuth::None, None, None) => None,
                (TokenEndpointAuth::None, _, _) => {
                    return Err(at("a public client (token_endpoint_auth_method \"none\") has no secret".into()));
                }
                (_, Some(secret), None) if secret.trim().len() >= 16 => Some(SecretSource::Inline(secret)),
                (_, Some(_), None) => return Err(at("client_secret: at least 16 characters".into())),
                (_, None, Some(parameter)) if parameter.starts_with('/') => Some(SecretSource::Ssm(parameter)),
                (_, None, Some(_)) => return Err(at("client_secret_parameter: an SSM parameter name, /…".into())),
                _ => return Err(at("set one of client_secret or client_secret_parameter".into())),
            };
            let alg =
                client.id_token_signed_response_alg.as_deref().map_or(Some(SigningAlg::default()), SigningAlg::parse);
            let alg =
                alg.ok_or_else(|| at("id_token_signed_response_alg: \"RS256\" (the default) or \"ES256\"".into()))?;
            clients.push(PortalClient {
                id: client.id,
                name,
                redirect_uris: client.redirect_uris,
                post_logout_redirect_uris: client.post_logout_redirect_uris,
                auth: client.token_endpoint_auth_method,
                secret,
                profile_selection: client.profile_selection,
                id_token_signed_response_alg: alg,
                backchannel_logout_uri: client.backchannel_logout_uri,
            });
        }
        Ok(Self(clients))
    }

    pub fn get(&self, id: &str) -> Option<&PortalClient> {
        self.0.iter().find(|c| c.id.as_str() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PortalClient> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A portal's name as pages show it ("Back to Contoso portal"): 1 to 80
/// characters, none of them control characters. Checked when the list is
/// parsed, and again where it comes back from the browser in a cookie.
pub fn is_displayable_portal_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count()) && !name.chars().any(char::is_control)
}

/// A redirect URI a portal may register: absolute, https (plain http only on
/// loopback), no fragment (OIDC Core §3.1.2.1), no user info.
fn check_registered_uri(raw: &str) -> Result<(), &'static str> {
    let url = Url::parse(raw).map_err(|_| "not an absolute URL")?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("plain http only on 127.0.0.1 or localhost"),
        _ => return Err("must be https"),
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err("no fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no user info");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lists_are_checked() {
        for (json, problem) in [
            (r#"[{"id":"a","name":"A","redirect_uris":[]}]"#, "at least one"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["http://portal.example.com/cb"],"client_secret":"0123456789abcdef"}]"#,
                "plain http",
            ),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb#x"],"client_secret":"0123456789abcdef"}]"#,
                "fragment",
            ),
            (r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"client_secret":"short"}]"#, "16"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none","backchannel_logout_uri":"http://p.example/logout"}]"#,
                "plain http",
            ),
            (r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"]}]"#, "client_secret"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none","client_secret":"0123456789abcdef"}]"#,
                "public",
            ),
            (r#"[{"id":"a b","name":"A","redirect_uris":["https://p.example/cb"]}]"#, "A-Za-z0-9"),
            (
                r#"[{"id":"a","name":"A","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"},{"id":"a","name":"B","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"}]"#,
                "twice",
            ),
        ] {
            let error = PortalClients::parse(json).unwrap_err().to_string();
            assert!(error.contains(problem), "{json}: {error}");
        }
        let public = PortalClients::parse(
            r#"[{"id":"spa","name":"SPA","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"}]"#,
        )
        .unwrap();
        assert_eq!(public.get("spa").unwrap().secret, None);
    }

    #[test]
    fn a_client_signs_rs256_unless_it_registered_es256_and_nothing_else() {
        let client = |alg: &str| {
            format!(
                r#"[{{"id":"p","name":"P","redirect_uris":["https://p.example/cb"],"token_endpoint_auth_method":"none"{alg}}}]"#
            )
        };
        let parsed =
            |alg: &str| PortalClients::parse(&client(alg)).map(|c| c.get("p").unwrap().id_token_signed_response_alg);
        assert_eq!(parsed("").unwrap(), SigningAlg::Rs256, "the default");
        assert_eq!(parsed(r#","id_token_signed_response_alg":"RS256""#).unwrap(), SigningAlg::Rs256);
        assert_eq!(parsed(r#","id_token_signed_response_alg":"ES256""#).unwrap(), SigningAlg::Es256);
        for refused in ["HS256", "none", "PS256", "es256", ""] {
            let error = parsed(&format!(r#","id_token_signed_response_alg":"{refused}""#)).unwrap_err().to_string();
            assert!(
                error.contains(r#"client "p""#) && error.contains("id_token_signed_response_alg"),
                "{refused}: {error}"
            );
        }
    }
}
