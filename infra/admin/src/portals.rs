//! `profile-link-admin portals`: the portals profile-link signs people in
//! to, kept where the functions read them: the client list in the String
//! parameter `PORTAL_CLIENTS_SSM_PARAMETER` names (the template's
//! `PortalClientsParameter`), each confidential client's secret a
//! SecureString of its own under `PORTAL_SECRETS_PATH` (`PortalSecretsPath`),
//! named by the entry's `client_secret_parameter`.
//!
//! Entries are checked with the parser the functions use. The list is edited
//! as JSON values, so an entry this tool does not touch is written back as it
//! was, even one the functions refuse (`check` names those).

use anyhow::Context;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use profile_link_core::config::Env;
use profile_link_core::downstream::{PortalClients, RefusedClient, TokenEndpointAuth};
use profile_link_core::startup;
use serde_json::{Value, json};

/// Where the list and the secrets are (the template's parameters' defaults unless set).
#[derive(Debug, Clone)]
pub struct Location {
    pub clients_parameter: String,
    pub secrets_path: String,
}

/// A portal to register (`portals add`).
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub auth: TokenEndpointAuth,
}

/// What `add` wrote: the secret, shown once, for a confidential client.
#[derive(Debug)]
pub struct Added {
    pub secret: Option<(String, String)>,
}

/// The stored list as JSON values; no parameter yet is an empty list.
pub async fn read_list(ssm: &aws_sdk_ssm::Client, location: &Location) -> anyhow::Result<Vec<Value>> {
    let raw = match read_raw(ssm, location).await? {
        Some(raw) => raw,
        None => return Ok(Vec::new()),
    };
    serde_json::from_str(&raw).with_context(|| {
        format!(
            "{} is not a JSON list of clients: fix it by hand first (every function refuses it as a whole)",
            location.clients_parameter
        )
    })
}

async fn read_raw(ssm: &aws_sdk_ssm::Client, location: &Location) -> anyhow::Result<Option<String>> {
    match ssm.get_parameter().name(&location.clients_parameter).with_decryption(true).send().await {
        Ok(got) => Ok(got.parameter.and_then(|p| p.value)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(None),
        Err(e) => Err(described(e)).with_context(|| format!("reading {}", location.clients_parameter)),
    }
}

async fn write_list(ssm: &aws_sdk_ssm::Client, location: &Location, list: &[Value]) -> anyhow::Result<()> {
    ssm.put_parameter()
        .name(&location.clients_parameter)
        .value(serde_json::to_string(list)?)
        .r#type(ParameterType::String)
        // A dozen portals pass Standard's 4 KB: Advanced (8 KB) only when needed.
        .tier(ParameterTier::IntelligentTiering)
        .overwrite(true)
        .send()
        .await
        .map_err(described)
        .with_context(|| format!("writing {}", location.clients_parameter))?;
    Ok(())
}

/// An SDK error with its causes (its own Display says only "service error").
fn described(error: impl std::error::Error + 'static) -> anyhow::Error {
    anyhow::anyhow!("{}", profile_link_core::aws::error_line(&error))
}

fn entry_id(entry: &Value) -> Option<&str> {
    entry.get("id").and_then(Value::as_str)
}

/// The entry `client` becomes, checked as the functions check it.
pub fn new_entry(client: &NewClient, location: &Location) -> anyhow::Result<Value> {
    let mut entry = json!({
        "id": client.id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "token_endpoint_auth_method": client.auth.as_str(),
    });
    if client.auth != TokenEndpointAuth::None {
        entry["client_secret_parameter"] = json!(format!("{}{}", location.secrets_path, client.id));
    }
    PortalClients::parse(&Value::Array(vec![entry.clone()]).to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(entry)
}

/// Registers `client`: its secret (a confidential client's, generated here)
/// written first, then the list with the client added. An id already listed
/// is refused and nothing is written.
pub async fn add(ssm: &aws_sdk_ssm::Client, location: &Location, client: &NewClient) -> anyhow::Result<Added> {
    let entry = new_entry(client, location)?;
    let mut list = read_list(ssm, location).await?;
    if list.iter().any(|e| entry_id(e) == Some(client.id.as_str())) {
        anyhow::bail!("{:?} is listed already: remove it first, or choose another id", client.id);
    }
    let secret = match entry.get("client_secret_parameter").and_then(Value::as_str) {
        Some(parameter) => {
            // 256 bits from the OS, base64url: 43 characters, safe in Basic and in a form.
            let secret = profile_link_core::random::secret_256();
            ssm.put_parameter()
                .name(parameter)
                .value(&secret)
                .r#type(ParameterType::SecureString)
                .overwrite(false)
                .send()
                .await
                .map_err(described)
                .with_context(|| {
                    format!("writing the secret to {parameter} (remove a leftover parameter there first)")
                })?;
            Some((parameter.to_owned(), secret))
        }
        None => None,
    };
    list.push(entry);
    write_list(ssm, location, &list).await?;
    Ok(Added { secret })
}

/// What `remove` did.
#[derive(Debug)]
pub struct Removed {
    /// The secret parameter deleted with it.
    pub secret_parameter: Option<String>,
    /// A secret parameter left alone: not under the secrets path, so not this tool's to delete.
    pub left_alone: Option<String>,
}

/// The entry with `id`, if listed (for the confirmation question).
pub async fn find(ssm: &aws_sdk_ssm::Client, location: &Location, id: &str) -> anyhow::Result<Option<Value>> {
    Ok(read_list(ssm, location).await?.into_iter().find(|e| entry_id(e) == Some(id)))
}

/// Removes every entry with `id` and then the secret parameter it named;
/// `None` when no entry has that id.
pub async fn remove(ssm: &aws_sdk_ssm::Client, location: &Location, id: &str) -> anyhow::Result<Option<Removed>> {
    let mut list = read_list(ssm, location).await?;
    let (gone, kept): (Vec<Value>, Vec<Value>) = list.drain(..).partition(|e| entry_id(e) == Some(id));
    if gone.is_empty() {
        return Ok(None);
    }
    write_list(ssm, location, &kept).await?;
    let mut removed = Removed { secret_parameter: None, left_alone: None };
    for parameter in gone.iter().filter_map(|e| e.get("client_secret_parameter").and_then(Value::as_str)) {
        if !parameter.starts_with(&location.secrets_path) {
            removed.left_alone = Some(parameter.to_owned());
            continue;
        }
        match ssm.delete_parameter().name(parameter).send().await {
            Ok(_) => removed.secret_parameter = Some(parameter.to_owned()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {}
            Err(e) => {
                return Err(described(e))
                    .with_context(|| format!("the client is removed; deleting its secret {parameter} failed"));
            }
        }
    }
    Ok(Some(removed))
}

/// Every entry as listed, its inline secret (if any) hidden.
pub fn without_secrets(list: &[Value]) -> Vec<Value> {
    list.iter()
        .cloned()
        .map(|mut entry| {
            if let Some(fields) = entry.as_object_mut()
                && fields.contains_key("client_secret")
            {
                fields.insert("client_secret".into(), json!("(inline, hidden)"));
            }
            entry
        })
        .collect()
}

/// What the functions would make of a list: the clients they keep and every
/// entry they refuse, with the reason, the confidential clients' secrets
/// checked in SSM as the token function reads them.
pub async fn check(
    sdk: &aws_config::SdkConfig,
    location: &Location,
    json: &str,
) -> anyhow::Result<(Vec<String>, Vec<RefusedClient>)> {
    let (clients, mut refused) = PortalClients::parse_each(json)?;
    let env = Env::from_pairs([("PORTAL_SECRETS_PATH", location.secrets_path.as_str())]);
    let (_, unreadable) = startup::read_portal_client_secrets(&env, sdk, &clients).await?;
    let kept = clients
        .iter()
        .map(|c| c.id.as_str().to_owned())
        .filter(|id| !unreadable.iter().any(|(bad, _)| bad.as_str() == id))
        .collect();
    for (id, problem) in unreadable {
        let entry = entry_number(json, id.as_str());
        refused.push(RefusedClient { entry, id: Some(id.as_str().to_owned()), problem });
    }
    refused.sort_by_key(|r| r.entry);
    Ok((kept, refused))
}

/// The place (from 1) of the first entry with `id`.
fn entry_number(json: &str, id: &str) -> usize {
    let list: Vec<Value> = serde_json::from_str(json).unwrap_or_default();
    list.iter().position(|e| entry_id(e) == Some(id)).map_or(0, |i| i + 1)
}

/// The stored list, as text (for `check`); an error when there is none.
pub async fn read_stored(ssm: &aws_sdk_ssm::Client, location: &Location) -> anyhow::Result<String> {
    read_raw(ssm, location).await?.with_context(|| format!("{} does not exist", location.clients_parameter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> Location {
        Location { clients_parameter: "/pl/clients".into(), secrets_path: "/pl/portals/".into() }
    }

    fn client(auth: TokenEndpointAuth) -> NewClient {
        NewClient {
            id: "contoso".into(),
            name: "Contoso portal".into(),
            redirect_uris: vec!["https://portal.contoso.example/callback".into()],
            post_logout_redirect_uris: vec![],
            auth,
        }
    }

    #[test]
    fn a_new_entry_names_its_secret_parameter_and_is_checked_as_the_functions_check_it() {
        let entry = new_entry(&client(TokenEndpointAuth::ClientSecretPost), &location()).unwrap();
        assert_eq!(entry["client_secret_parameter"], "/pl/portals/contoso");
        assert_eq!(entry["token_endpoint_auth_method"], "client_secret_post");
        let public = new_entry(&client(TokenEndpointAuth::None), &location()).unwrap();
        assert_eq!(public.get("client_secret_parameter"), None, "{public}");
        let bad = NewClient {
            redirect_uris: vec!["http://portal.contoso.example/cb".into()],
            ..client(TokenEndpointAuth::None)
        };
        let error = new_entry(&bad, &location()).unwrap_err().to_string();
        assert!(error.contains("plain http only on 127.0.0.1"), "{error}");
    }

    #[test]
    fn listing_hides_inline_secrets() {
        let listed = without_secrets(&[json!({"id": "a", "client_secret": "s3cr3t-s3cr3t-s3cr3t"}), json!(7)]);
        assert_eq!(listed, [json!({"id": "a", "client_secret": "(inline, hidden)"}), json!(7)]);
    }
}
