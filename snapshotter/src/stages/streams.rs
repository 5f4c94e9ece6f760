//! The backup's stream on each node (see `engine::streams`): registered before a snapshot is taken,
//! asked for before an incremental relies on `backups/`, and committed after the manifest is written,
//! which is when, and only when, `backups/` links may be deleted.

use super::session;
use crate::nodetool::Privilege;
use crate::remote::Remote;
use crate::settings::BackupSettings;
use anyhow::{bail, Result};
use contract::manifest::Selection;
use contract::message::Message;
use contract::request::{NodeStreamRequest, Request, Session};
use contract::stream::{
    StreamAction, StreamAnswer, StreamRequest, StreamSpec, STREAM_REQUEST_VERSION,
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
        id: contract::stream::stream_id(&store, &s3.base_path, &selection.to_string()),
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
    let request = Request::Stream(Box::new(NodeStreamRequest {
        cassandra_yaml: Some(node_push.yaml_path.into()),
        data_dirs: Vec::new(),
        state_dir: None,
        stream: StreamRequest {
            version: STREAM_REQUEST_VERSION,
            stream: spec.clone(),
            action,
            expire_after_days: contract::stream::DEFAULT_EXPIRE_AFTER_DAYS,
        },
    }));
    // A short run: its stdin is the request line alone, and closes after it.
    let command = session::command(node_push.privilege, node_push.path, &request);
    let line = session::stdin_lines(Session::default(), request, None);
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
            ["sudo -n -- /home/u/.cache/node-push stream --request-stdin"]
        );
        let stdin = remote.log.lock().unwrap()[0].1.clone();
        let line =
            contract::request::RequestLine::parse(std::str::from_utf8(&stdin).unwrap().trim())
                .unwrap();
        let Request::Stream(request) = line.request else {
            panic!("not a stream request")
        };
        assert_eq!(request.stream.stream, spec);
        assert_eq!(
            request.cassandra_yaml.as_deref(),
            Some(std::path::Path::new("/etc/cassandra/cassandra.yaml"))
        );
    }
}
