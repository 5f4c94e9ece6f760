//! How the clients under test reach a [`SeaweedFs`]: the engine's [`S3Config`], node-push's credentials
//! line and store flags. Written once here, so that a test never spells out the instance's keys, region and
//! endpoint itself.

use std::time::Duration;

use contract::message::NodeInput;
use engine::store::s3::{CredentialSource, S3Config};

use super::SeaweedFs;

/// The time limit of one request in tests' own clients: generous, the 2-core machine is shared.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

impl SeaweedFs {
    /// An [`S3Config`] for `bucket` on this instance, signed with its own keys.
    pub fn s3_config(&self, bucket: &str) -> S3Config {
        self.s3_config_via(bucket, &self.endpoint)
    }

    /// [`s3_config`](Self::s3_config) reaching the instance at `endpoint` (a fault proxy in front of it).
    pub fn s3_config_via(&self, bucket: &str, endpoint: &str) -> S3Config {
        S3Config {
            bucket: bucket.to_string(),
            region: self.region().to_string(),
            endpoint: Some(endpoint.to_string()),
            credentials: self.credentials(),
            timeout: CLIENT_TIMEOUT,
        }
    }

    /// The instance's keys as explicit credentials.
    pub fn credentials(&self) -> CredentialSource {
        CredentialSource::Explicit {
            access_key: self.access_key().to_string(),
            secret_key: self.secret_key().to_string().into(),
            session_token: None,
        }
    }

    /// The JSON line the coordinator writes to node-push's stdin, with this instance's keys.
    pub fn credentials_line(&self) -> String {
        serde_json::to_string(&NodeInput {
            aws_access_key_id: Some(self.access_key().to_string()),
            aws_secret_access_key: Some(self.secret_key().to_string().into()),
            aws_session_token: None,
        })
        .expect("NodeInput serialises")
    }

    /// node-push's store flags for this instance: `--endpoint URL --region REGION`.
    pub fn node_push_flags(&self) -> Vec<String> {
        vec![
            "--endpoint".to_string(),
            self.endpoint.clone(),
            "--region".to_string(),
            self.region().to_string(),
        ]
    }
}
