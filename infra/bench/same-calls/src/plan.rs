//! Which AWS calls to make, and in what order: what the bench writes into
//! `SAME_CALLS_INIT` and `SAME_CALLS_FIRST` for each function it measures.
//!
//! `a ; b` runs step `a`, then step `b`; within a step, `a | b` runs branches
//! side by side; within a branch, `a > b` runs `a`, then `b`. So login's init,
//! two SSM reads and then the provider's documents beside the table's
//! connection, is `ssm:GetParameters ; ssm:GetParameters ; provider:discovery > provider:jwks | dynamodb:Query`.

use std::fmt;

/// One call, named as the bench's timing proxy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    DynamoDb(DynamoDbOperation),
    SsmGetParameters,
    SesSendEmail,
    /// The identity provider's discovery document (and its `jwks_uri`).
    ProviderDiscovery,
    /// The keys at the `jwks_uri` the discovery document named.
    ProviderJwks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamoDbOperation {
    GetItem,
    Query,
    PutItem,
    UpdateItem,
    DeleteItem,
    TransactWriteItems,
}

/// Steps in sequence, each of branches side by side, each of calls in sequence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan(pub Vec<Vec<Vec<Call>>>);

#[derive(Debug, PartialEq, Eq)]
pub struct UnknownCall(pub String);

impl fmt::Display for UnknownCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown call {:?}: expected dynamodb:<GetItem|Query|PutItem|UpdateItem|DeleteItem|TransactWriteItems>, \
             ssm:GetParameters, ses:SendEmail, provider:discovery or provider:jwks",
            self.0
        )
    }
}

impl std::error::Error for UnknownCall {}

impl Call {
    fn parse(text: &str) -> Result<Self, UnknownCall> {
        use DynamoDbOperation as D;
        Ok(match text.trim() {
            "dynamodb:GetItem" => Self::DynamoDb(D::GetItem),
            "dynamodb:Query" => Self::DynamoDb(D::Query),
            "dynamodb:PutItem" => Self::DynamoDb(D::PutItem),
            "dynamodb:UpdateItem" => Self::DynamoDb(D::UpdateItem),
            "dynamodb:DeleteItem" => Self::DynamoDb(D::DeleteItem),
            "dynamodb:TransactWriteItems" => Self::DynamoDb(D::TransactWriteItems),
            "ssm:GetParameters" => Self::SsmGetParameters,
            "ses:SendEmail" => Self::SesSendEmail,
            "provider:discovery" => Self::ProviderDiscovery,
            "provider:jwks" => Self::ProviderJwks,
            other => return Err(UnknownCall(other.to_owned())),
        })
    }
}

impl Plan {
    /// An empty or blank text is no calls.
    pub fn parse(text: &str) -> Result<Self, UnknownCall> {
        let split = |text: &str, separator: char| -> Vec<String> {
            text.split(separator).map(str::trim).filter(|part| !part.is_empty()).map(str::to_owned).collect()
        };
        let mut steps = Vec::new();
        for step in split(text, ';') {
            let mut branches = Vec::new();
            for branch in split(&step, '|') {
                branches.push(split(&branch, '>').iter().map(|call| Call::parse(call)).collect::<Result<_, _>>()?);
            }
            steps.push(branches);
        }
        Ok(Self(steps))
    }

    pub fn needs_provider(&self) -> bool {
        self.0.iter().flatten().flatten().any(|call| matches!(call, Call::ProviderDiscovery | Call::ProviderJwks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_sequence_of_branches_side_by_side_of_calls_in_sequence() {
        let plan =
            Plan::parse("ssm:GetParameters ; ssm:GetParameters ; provider:discovery > provider:jwks | dynamodb:Query")
                .unwrap();
        use Call::*;
        assert_eq!(
            plan,
            Plan(vec![
                vec![vec![SsmGetParameters]],
                vec![vec![SsmGetParameters]],
                vec![vec![ProviderDiscovery, ProviderJwks], vec![DynamoDb(DynamoDbOperation::Query)]],
            ]),
            "parsed {plan:?}"
        );
        assert!(plan.needs_provider(), "login's init reads the provider's documents");
    }

    #[test]
    fn blank_is_no_calls_and_an_unknown_call_is_named() {
        assert_eq!(Plan::parse("  ").unwrap(), Plan::default());
        let error = Plan::parse("dynamodb:Scan").unwrap_err();
        assert_eq!(error, UnknownCall("dynamodb:Scan".into()));
        assert!(error.to_string().contains("dynamodb:<GetItem"), "the message lists what is known: {error}");
    }
}
