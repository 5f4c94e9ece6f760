//! `cassandra.yaml` forms found in the wild, and the errors for the broken ones.

use std::path::PathBuf;

use engine::select::{
    cassandra_yaml_settings, data_dirs_from_yaml, locate_cassandra_yaml, select, SelectError,
    Selection, Source,
};

use crate::filters::{expected_on_both_disks, two_disk_node};
use crate::tree::{relative_paths, Tree, TABLE_ID_USERS_DROPPED};

#[test]
fn yaml_list_and_flow_forms_give_the_dirs_in_order() {
    let tree = Tree::new();
    let list_form = tree.text(
        "list/cassandra.yaml",
        "cluster_name: 'Test Cluster'\n# data_file_directories:\n#     - /ignored\ndata_file_directories:\n    - /var/lib/cassandra/data1\n    - /var/lib/cassandra/data2/\ncommitlog_directory: /var/lib/cassandra/commitlog\nincremental_backups: true\n",
    );
    let settings = cassandra_yaml_settings(&list_form).unwrap();
    assert_eq!(
        settings.data_dirs,
        [
            PathBuf::from("/var/lib/cassandra/data1"),
            PathBuf::from("/var/lib/cassandra/data2")
        ]
    );
    assert!(settings.incremental_backups);
    assert_eq!(settings.local_system_data_dir, None);

    let flow_form = tree.text(
        "flow/cassandra.yaml",
        "data_file_directories: [/a, \"/b\"]\nincremental_backups: false\n",
    );
    assert_eq!(
        data_dirs_from_yaml(&flow_form).unwrap(),
        [PathBuf::from("/a"), PathBuf::from("/b")]
    );
    assert!(
        !cassandra_yaml_settings(&flow_form)
            .unwrap()
            .incremental_backups
    );

    let default_off = tree.text("default/cassandra.yaml", "data_file_directories:\n- /a\n");
    assert!(
        !cassandra_yaml_settings(&default_off)
            .unwrap()
            .incremental_backups
    );
}

#[test]
fn yaml_problems_name_the_file_and_key() {
    let tree = Tree::new();
    let cases = [
        ("missing", "cluster_name: x\ncommitlog_directory: /c\n"),
        ("commented", "cluster_name: c\n# data_file_directories:\n#     - /var/lib/cassandra/data\nnum_tokens: 256\n"),
        ("empty_list", "data_file_directories: []\n"),
        ("null", "data_file_directories:\n"),
    ];
    for (name, text) in cases {
        let path = tree.text(&format!("{name}/cassandra.yaml"), text);
        let error = cassandra_yaml_settings(&path).unwrap_err();
        assert!(
            matches!(
                error,
                SelectError::ConfigKeyMissing {
                    key: "data_file_directories",
                    ..
                }
            ),
            "{name}: {error}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string())
                && message.contains("data_file_directories"),
            "{message}"
        );
    }

    let not_yaml = tree.text(
        "not_yaml/cassandra.yaml",
        "data_file_directories: [/a\n  key: : {\n",
    );
    let error = cassandra_yaml_settings(&not_yaml).unwrap_err();
    assert!(matches!(error, SelectError::ConfigSyntax { .. }), "{error}");
    assert!(error.to_string().contains(&not_yaml.display().to_string()));
    let prose = tree.text("prose/cassandra.yaml", "this is not a cassandra config\n");
    let error = cassandra_yaml_settings(&prose).unwrap_err();
    assert!(
        error.to_string().ends_with(
            "is not a YAML mapping: its top level is the text \"this is not a cassandra config\""
        ),
        "{error}"
    );

    let relative = tree.text(
        "relative/cassandra.yaml",
        "data_file_directories:\n    - data/data\n",
    );
    let error = cassandra_yaml_settings(&relative).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("holds \"data/data\", which is not an absolute path"),
        "{error}"
    );

    let absent = tree.root().join("absent/cassandra.yaml");
    let error = cassandra_yaml_settings(&absent).unwrap_err();
    assert!(matches!(error, SelectError::ConfigRead { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&absent.display().to_string()) && !message.contains('\n'),
        "{message}"
    );
}

#[test]
fn yaml_to_selection_end_to_end() {
    let tree = Tree::new();
    let (disk1, disk2) = two_disk_node(&tree);
    let yaml = tree.text(
        "conf/cassandra.yaml",
        &format!(
            "data_file_directories:\n    - {}\n    - {}\nincremental_backups: true\n",
            disk1.display(),
            disk2.display()
        ),
    );
    let data_dirs = data_dirs_from_yaml(&locate_cassandra_yaml(&tree.root().join("conf"))).unwrap();
    let result = select(&Selection {
        keyspaces: vec!["ks_2024".into()],
        ..Selection::everything(data_dirs, Source::Incremental)
    })
    .unwrap();
    assert_eq!(
        relative_paths(&tree, &result.files),
        expected_on_both_disks(
            "ks_2024",
            &format!("users-{TABLE_ID_USERS_DROPPED}"),
            &Source::Incremental
        )
    );
    assert!(yaml.exists());
}
