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
    /// Checks one listed client; the problem names the field.
    fn from_listed(client: ListedClient) -> Result<Self, String> {
        let name = client.name.trim().to_owned();
        if !is_displayable_portal_name(&name) {
            return Err("name: 1 to 80 characters, no control characters".into());
        }
        if client.redirect_uris.is_empty() {
            return Err("redirect_uris: at least one".into());
        }
        for uri in
            client.redirect_uris.iter().chain(&client.post_logout_redirect_uris).chain(&client.backchannel_logout_uri)
        {
            check_registered_uri(uri).map_err(|problem| format!("{uri:?}: {problem}"))?;
        }
        let secret = match (client.token_endpoint_auth_method, client.client_secret, client.client_secret_parameter) {
            (TokenEndpointAuth::None, None, None) => None,
            (TokenEndpointAuth::None, _, _) => {
                return Err("a public client (token_endpoint_auth_method \"none\") has no secret".into());
            }
            (_, Some(secret), None) if secret.trim().len() >= 16 => Some(SecretSource::Inline(secret)),
            (_, Some(_), None) => return Err("client_secret: at least 16 characters".into()),
            (_, None, Some(parameter)) if parameter.starts_with('/') => Some(SecretSource::Ssm(parameter)),
            (_, None, Some(_)) => return Err("client_secret_parameter: an SSM parameter name, /…".into()),
            _ => return Err("set one of client_secret or client_secret_parameter".into()),
        };
        let alg = client.id_token_signed_response_alg.as_deref().map_or(Some(SigningAlg::default()), SigningAlg::parse);
        let alg = alg.ok_or("id_token_signed_response_alg: \"RS256\" (the default) or \"ES256\"")?;
        Ok(Self {
            id: client.id,
            name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            auth: client.token_endpoint_auth_method,
            secret,
            profile_selection: client.profile_selection,
            id_token_signed_response_alg: alg,
            backchannel_logout_uri: client.backchannel_logout_uri,
        })
    }

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

/// One entry of the list that was refused, and why: the others still work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedClient {
    /// Its place in the list, from 1.
    pub entry: usize,
    /// Its `id`, when it has a readable one.
    pub id: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for RefusedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "client {id:?} (entry {}): {}", self.entry, self.problem),
            None => write!(f, "entry {}: {}", self.entry, self.problem),
        }
    }
}

impl PortalClients {
    /// Parses the `PORTAL_CLIENTS` JSON array, every entry on its own: the
    /// well-formed clients, and each refused entry with its problem (a bad
    /// entry must not stop the other portals). Only a value that is not a
    /// JSON list at all is an error.
    pub fn parse_each(json: &str) -> Result<(Self, Vec<RefusedClient>), ConfigError> {
        let entries: Vec<serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| ConfigError::invalid(PORTAL_CLIENTS, format!("not a JSON list of clients: {e}")))?;
        let mut clients: Vec<PortalClient> = Vec::with_capacity(entries.len());
        let mut refused = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let id = entry.get("id").and_then(|id| id.as_str()).map(str::to_owned);
            let checked = serde_json::from_value::<ListedClient>(entry)
                .map_err(|e| e.to_string())
                .and_then(PortalClient::from_listed)
                .and_then(|client| match clients.iter().position(|c| c.id == client.id) {
                    Some(first) => Err(format!("listed twice: entry {} has this id and is the one used", first + 1)),
                    None => Ok(client),
                });
            match checked {
                Ok(client) => clients.push(client),
                Err(problem) => refused.push(RefusedClient { entry: index + 1, id, problem }),
            }
        }
        Ok((Self(clients), refused))
    }

    /// [`Self::parse_each`], strictly: any refused entry is an error that
    /// names it (tests, and lists checked before they are written).
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let (clients, refused) = Self::parse_each(json)?;
        match refused.first() {
            None => Ok(clients),
            Some(first) => Err(ConfigError::invalid(PORTAL_CLIENTS, first.to_string())),
        }
    }

    /// The list without the clients named (those whose secret could not be read).
    pub fn without(mut self, ids: &[ClientId]) -> Self {
        self.0.retain(|c| !ids.contains(&c.id));
        self
    }

    /// The origins (scheme://host:port) of the public clients' redirect
    /// URIs: the browser pages allowed to call `/token` and `/userinfo`.
    pub fn browser_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .0
            .iter()
            .filter(|c| c.auth == TokenEndpointAuth::None)
            .flat_map(|c| &c.redirect_uris)
            .filter_map(|uri| Url::parse(uri).ok())
            .map(|url| url.origin().ascii_serialization())
            .collect();
        origins.sort();
        origins.dedup();
        origins
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

    #[test]
    fn a_malformed_entry_is_refused_alone_and_the_others_are_kept() {
        let json = r#"[
            {"id":"good","name":"Good","redirect_uris":["https://good.example/cb"],"client_secret":"0123456789abcdef"},
            "not an object",
            {"id":"short","name":"Short","redirect_uris":["https://s.example/cb"],"client_secret":"short"},
            {"id":"good","name":"Again","redirect_uris":["https://again.example/cb"],"token_endpoint_auth_method":"none"},
            {"name":"No id","redirect_uris":["https://n.example/cb"],"token_endpoint_auth_method":"none"},
            {"id":"spa","name":"SPA","redirect_uris":["http://127.0.0.1:5173/cb"],"token_endpoint_auth_method":"none"}
        ]"#;
        let (clients, refused) = PortalClients::parse_each(json).unwrap();
        let kept: Vec<&str> = clients.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(kept, ["good", "spa"], "refused: {refused:?}");
        assert_eq!(clients.get("good").unwrap().name, "Good", "the first of two entries with one id is used");
        let seen: Vec<(usize, Option<&str>)> = refused.iter().map(|r| (r.entry, r.id.as_deref())).collect();
        assert_eq!(seen, [(2, None), (3, Some("short")), (4, Some("good")), (5, None)], "{refused:?}");
        for (refusal, problem) in refused.iter().zip(["invalid type", "16", "listed twice", "missing field `id`"]) {
            assert!(refusal.problem.contains(problem), "{refusal}");
        }
        assert_eq!(refused[1].to_string(), "client \"short\" (entry 3): client_secret: at least 16 characters");
        let not_json = PortalClients::parse_each("{not json").unwrap_err().to_string();
        assert!(not_json.contains(PORTAL_CLIENTS) && not_json.contains("not a JSON list"), "{not_json}");
        let not_a_list = PortalClients::parse_each(r#"{"id":"a"}"#).unwrap_err().to_string();
        assert!(not_a_list.contains("not a JSON list"), "{not_a_list}");
    }

    #[test]
    fn only_public_clients_origins_may_call_from_a_browser() {
        let clients = PortalClients::parse(
            r#"[{"id":"spa","name":"SPA","redirect_uris":["https://spa.example.com:443/cb","http://localhost:5173/a/cb","https://spa.example.com/other"],"token_endpoint_auth_method":"none"},
                {"id":"web","name":"Web","redirect_uris":["https://web.example.com/cb"],"client_secret":"0123456789abcdef"}]"#,
        )
        .unwrap();
        assert_eq!(clients.browser_origins(), ["http://localhost:5173", "https://spa.example.com"]);
    }
}
