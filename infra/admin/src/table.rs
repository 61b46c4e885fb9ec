//! The table as `template.yaml` defines it: the one source of truth, read here
//! to create local (emulator) and test tables.

use std::path::Path;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyDef>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    pub time_to_live_specification: Option<TtlDef>,
    pub stream_specification: Option<StreamDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyDef>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDef {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    pub stream_view_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {problem}")]
    Template { path: String, problem: String },
    #[error("DynamoDB: {0}")]
    Dynamo(String),
}

impl TableDefinition {
    /// The properties of the template's single `AWS::DynamoDB::Table` resource.
    pub fn from_template(path: &Path) -> Result<Self, TableError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TableError::Read { path: path.display().to_string(), source })?;
        Self::from_template_text(&text)
            .map_err(|problem| TableError::Template { path: path.display().to_string(), problem })
    }

    pub fn from_template_text(text: &str) -> Result<Self, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let resources = doc.get("Resources").and_then(|r| r.as_mapping()).ok_or("no Resources section")?;
        let tables: Vec<_> = resources
            .values()
            .filter(|r| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::DynamoDB::Table"))
            .collect();
        let [table] = tables.as_slice() else {
            return Err(format!("expected exactly one AWS::DynamoDB::Table, found {}", tables.len()));
        };
        let properties = table.get("Properties").ok_or("table has no Properties")?.clone();
        serde_yaml_ng::from_value(properties).map_err(|e| format!("table properties: {e}"))
    }

    /// Creates `name` with these properties and waits until it is active with TTL on.
    /// Answers `false` (and changes nothing) when it already exists.
    pub async fn create(&self, client: &Client, name: &str) -> Result<bool, TableError> {
        let dynamo = |e: String| TableError::Dynamo(e);
        let key_schema = |keys: &[KeyDef]| -> Vec<KeySchemaElement> {
            keys.iter()
                .map(|k| {
                    KeySchemaElement::builder()
                        .attribute_name(&k.attribute_name)
                        .key_type(KeyType::from(k.key_type.as_str()))
                        .build()
                        .expect("name and type set")
                })
                .collect()
        };
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&self.key_schema)))
            .set_attribute_definitions(Some(
                self.attribute_definitions
                    .iter()
                    .map(|a| {
                        AttributeDefinition::builder()
                            .attribute_name(&a.attribute_name)
                            .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                            .build()
                            .expect("name and type set")
                    })
                    .collect(),
            ));
        for index in &self.global_secondary_indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(key_schema(&index.key_schema)))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                            .build(),
                    )
                    .build()
                    .expect("index fields set"),
            );
        }
        if let Some(stream) = &self.stream_specification {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .expect("stream enabled set"),
            );
        }
        match request.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => return Ok(false),
            Err(e) => return Err(dynamo(profile_link_core::aws::error_line(&e))),
        }
        client
            .wait_until_table_exists()
            .table_name(name)
            .wait(std::time::Duration::from_secs(60))
            .await
            .map_err(|e| dynamo(format!("waiting for table: {e}")))?;
        if let Some(ttl) = &self.time_to_live_specification {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(ttl.enabled)
                        .build()
                        .expect("fields set"),
                )
                .send()
                .await
                .map_err(|e| dynamo(profile_link_core::aws::error_line(&e)))?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_template() {
        // At run time (cargo test sets it), so the template read is this checkout's.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run with cargo test");
        let path = Path::new(&manifest_dir).join("../../template.yaml");
        let table = TableDefinition::from_template(&path).unwrap();
        let keys: Vec<_> = table.key_schema.iter().map(|k| (k.attribute_name.as_str(), k.key_type.as_str())).collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        assert_eq!(table.global_secondary_indexes.len(), 1);
        assert_eq!(table.global_secondary_indexes[0].index_name, "gsi1");
        assert_eq!(table.time_to_live_specification.as_ref().unwrap().attribute_name, "expires_at");
        assert_eq!(table.stream_specification.as_ref().unwrap().stream_view_type, "NEW_AND_OLD_IMAGES");
    }

    #[test]
    fn refuses_a_template_without_exactly_one_table() {
        let err = TableDefinition::from_template_text("Resources:\n  A: { Type: AWS::SQS::Queue }\n").unwrap_err();
        assert!(err.contains("found 0"), "{err}");
    }
}
