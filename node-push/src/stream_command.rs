//! `node-push stream`: find the node's data directories and registry, run the stream request.

use contract::request::NodeStreamRequest;
use contract::stream::StreamAnswer;
use engine::streams::{run, state_dir};

/// Runs `request`: its data dirs (given, or those of its cassandra.yaml), its registry, its action.
pub fn command(request: &NodeStreamRequest) -> anyhow::Result<StreamAnswer> {
    let data_dirs = if !request.data_dirs.is_empty() {
        request.data_dirs.clone()
    } else {
        let yaml = request
            .cassandra_yaml
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("give --cassandra-yaml FILE or --data-dir DIR"))?;
        let located = engine::select::locate_cassandra_yaml(yaml);
        engine::select::cassandra_yaml_settings(&located)?.dirs_to_walk()
    };
    let state_dir = state_dir(request.state_dir.as_deref(), &data_dirs)?;
    run(&request.stream, &data_dirs, &state_dir)
}
