//! The backup's stream on each node (see `node_push::streams`): registered before a snapshot is taken,
//! asked for before an incremental relies on `backups/`, and committed after the manifest is written,
//! which is when, and only when, `backups/` links may be deleted.

use crate::nodetool::Privilege;
use crate::remote::{Remote, RemoteCommand};
use crate::settings::BackupSettings;
use crate::shell;
use anyhow::{bail, Result};
use node_push::cli::StreamArgs;
use node_push::manifest::Selection;
use node_push::message::Message;
use node_push::streams::{
    self, StreamAction, StreamAnswer, StreamRequest, StreamSpec, STREAM_REQUEST_VERSION,
};

/// The stream of this run: its store, base path and selection.
pub fn spec(settings: &BackupSettings) -> StreamSpec {
    let s3 = &settings.common.s3;
    let keyspaces = settings.manifest_keyspaces();
    let selection = Selection::new(
        &settings.hosts,
        keyspaces.as_deref(),
        settings.manifest_table(),
        &settings.exclude_tables,
    );
    let store = format!("{}/{}", s3.endpoint.as_deref().unwrap_or("s3:"), s3.bucket);
    StreamSpec {
        id: streams::stream_id(&store, &s3.base_path, &selection.to_string()),
        label: format!("s3://{}/{} ({selection})", s3.bucket, s3.base_path),
        keyspaces: settings.keyspaces.clone(),
        table: settings.table.clone(),
        exclude_tables: settings.exclude_tables.clone(),
    }
}

/// Where node-push is on a node and how to run it.
#[derive(Debug, Clone, Copy)]
pub struct NodePush<'a> {
    pub privilege: Privilege,
    pub path: &'a str,
    pub yaml_path: &'a str,
}

/// Run `node-push stream` on `remote` with `action`.
pub async fn call(
    remote: &dyn Remote,
    node_push: NodePush<'_>,
    spec: &StreamSpec,
    action: StreamAction,
) -> Result<StreamAnswer> {
    let host = remote.host();
    let args = StreamArgs {
        cassandra_yaml: Some(node_push.yaml_path.into()),
        data_dirs: Vec::new(),
        state_dir: None,
    };
    let argv = args.to_argv();
    let command = RemoteCommand::new(shell::join(
        node_push
            .privilege
            .prefix()
            .iter()
            .copied()
            .chain([node_push.path])
            .chain(argv.iter().map(String::as_str)),
    ));
    let request = StreamRequest {
        version: STREAM_REQUEST_VERSION,
        stream: spec.clone(),
        action,
        expire_after_days: streams::DEFAULT_EXPIRE_AFTER_DAYS,
    };
    let mut line = serde_json::to_string(&request).expect("serialisable");
    line.push('\n');
    let out = remote.run(&command, Some(line.as_bytes())).await?;
    for text in out.stdout.lines() {
        match Message::parse_line(text) {
            Ok(Some(Message::Stream(answer))) => return Ok(answer),
            Ok(Some(Message::Fatal { error })) => {
                bail!("{host}: node-push stream: {error}")
            }
            Ok(_) => {}
            Err(error) => bail!("{host}: node-push stream: {error}"),
        }
    }
    bail!(
        "{host}: node-push stream gave no answer: {}",
        out.stderr.lines().last().unwrap_or(&out.reason())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::fake::FakeRemote;

    #[tokio::test]
    async fn sends_one_request_line_and_reads_the_answer() {
        let answer = StreamAnswer {
            registry: "/d/.cassandra-snapshotter".into(),
            registry_existed: true,
            registered: true,
            deleted: 3,
            ..StreamAnswer::default()
        };
        let stdout = format!(
            "{}\n{}\n",
            Message::Plan { files: 0, bytes: 0 }.to_line(),
            Message::Stream(answer.clone()).to_line()
        );
        let remote = FakeRemote::new("n1").on("stream", 0, &stdout);
        let spec = StreamSpec {
            id: "abc".into(),
            label: "s3://b/p (all)".into(),
            keyspaces: vec![],
            table: None,
            exclude_tables: vec![],
        };
        let node_push = NodePush {
            privilege: Privilege::Sudo,
            path: "/home/u/.cache/node-push",
            yaml_path: "/etc/cassandra/cassandra.yaml",
        };
        let got = call(
            &remote,
            node_push,
            &spec,
            StreamAction::Status {
                backup: "20240101000000".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(got, answer);
        assert_eq!(
            remote.scripts(),
            ["sudo -n -- /home/u/.cache/node-push stream --cassandra-yaml /etc/cassandra/cassandra.yaml"]
        );
        let stdin = remote.log.lock().unwrap()[0].1.clone();
        let request: StreamRequest = serde_json::from_slice(&stdin).unwrap();
        assert_eq!(request.stream, spec);
    }
}
