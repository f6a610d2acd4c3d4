//! Tests for `config`.

use super::*;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<LambdaConfig, LambdaConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LambdaConfig::from_lookup(|name| map.get(name).cloned())
}

const TOPIC: (&str, &str) = (
    "ALERT_TOPIC_ARN",
    "arn:aws:sns:us-east-1:111122223333:alerts",
);

#[test]
fn defaults_with_only_the_topic() {
    let c = config(&[TOPIC]).unwrap();
    assert_eq!(c.max_concurrent_objects, 4);
    assert_eq!(c.detector.min_severity, Severity::Info);
    assert_eq!(c.dedup_table, None);
    assert!(!c.fifo_topic());
    assert_eq!(c.config_reload_interval, Some(DEFAULT_CONFIG_RELOAD));
    assert_eq!(
        config(&[TOPIC, ("CONFIG_RELOAD_SECONDS", "0")])
            .unwrap()
            .config_reload_interval,
        None
    );
    assert_eq!(
        config(&[TOPIC, ("CONFIG_RELOAD_SECONDS", "60")])
            .unwrap()
            .config_reload_interval,
        Some(Duration::from_secs(60))
    );
}

#[test]
fn every_setting_is_read() {
    let c = config(&[
        (
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:111122223333:alerts.fifo",
        ),
        ("TRUSTED_ACCOUNTS", "444455556666, 777788889999"),
        (
            "TRUSTED_ORGANIZATIONS",
            "o-a1b2c3d4e5,o-f6g7h8i9j0/r-ab12/ou-ab12-11111111",
        ),
        ("DISABLED_RULES", "s3-bucket-config-modified"),
        ("MIN_SEVERITY", "Medium"),
        ("DEDUP_TABLE", "trailwatch-dedup"),
        ("MAX_DECOMPRESSED_BYTES", "1048576"),
        ("MAX_CONCURRENT_OBJECTS", "8"),
    ])
    .unwrap();
    assert!(c.fifo_topic());
    assert_eq!(c.detector.trusted_accounts.len(), 2);
    assert!(
        c.detector
            .trusted_organizations
            .contains("o-f6g7h8i9j0/r-ab12/ou-ab12-11111111")
    );
    assert!(
        c.detector
            .disabled_rules
            .contains("s3-bucket-config-modified")
    );
    assert_eq!(c.detector.min_severity, Severity::Medium);
    assert_eq!(c.dedup_table.as_deref(), Some("trailwatch-dedup"));
    assert_eq!(c.reader.max_decompressed_bytes, 1 << 20);
    assert_eq!(c.max_concurrent_objects, 8);
}

#[test]
fn chat_topic_and_security_hub() {
    let c = config(&[TOPIC]).unwrap();
    assert_eq!((c.chat_topic_arn, c.security_hub), (None, None));
    let c = config(&[
        TOPIC,
        ("CHAT_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:chat"),
        ("SECURITY_HUB", "True"),
        ("AWS_REGION", "eu-west-1"),
    ])
    .unwrap();
    assert_eq!(
        c.chat_topic_arn.as_deref(),
        Some("arn:aws:sns:us-east-1:111122223333:chat")
    );
    let importer = c.security_hub.unwrap();
    assert_eq!(
        importer.product_arn(),
        "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
    );
    assert!(importer.claim_other_accounts);
    assert_eq!(
        config(&[TOPIC, ("SECURITY_HUB", "false")])
            .unwrap()
            .security_hub,
        None
    );
    for (vars, variable) in [
        (vec![TOPIC, ("CHAT_TOPIC_ARN", "chat")], "CHAT_TOPIC_ARN"),
        (vec![TOPIC, ("SECURITY_HUB", "yes")], "SECURITY_HUB"),
        (vec![TOPIC, ("SECURITY_HUB", "true")], "SECURITY_HUB"),
        (
            vec![
                ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:alias:alerts"),
                ("SECURITY_HUB", "true"),
                ("AWS_REGION", "us-east-1"),
            ],
            "SECURITY_HUB",
        ),
    ] {
        assert_eq!(config(&vars).unwrap_err().variable, variable, "{vars:?}");
    }
}

#[test]
fn the_tuning_source_is_a_bundled_file_or_an_s3_object() {
    let root = Path::new("/var/task");
    assert_eq!(
        TuningSource::parse("trailwatch.yml", Some(root)).unwrap(),
        TuningSource::File(PathBuf::from("/var/task/trailwatch.yml"))
    );
    assert_eq!(
        TuningSource::parse("/opt/tw.yml", Some(root)).unwrap(),
        TuningSource::File(PathBuf::from("/opt/tw.yml"))
    );
    assert_eq!(
        TuningSource::parse("s3://cfg-bucket/trailwatch/prod.yml", None).unwrap(),
        TuningSource::S3 {
            bucket: "cfg-bucket".into(),
            key: "trailwatch/prod.yml".into()
        }
    );
    assert!(TuningSource::parse("s3://bucket-only", None).is_err());
    assert_eq!(
        TuningSource::parse("ssm:/trailwatch/prod", None).unwrap(),
        TuningSource::Ssm {
            name: "/trailwatch/prod".into()
        }
    );
    assert_eq!(
        TuningSource::parse("ssm:trailwatch-prod", None).unwrap(),
        TuningSource::Ssm {
            name: "trailwatch-prod".into()
        }
    );
    let arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/trailwatch/prod";
    assert_eq!(
        TuningSource::parse(&format!("ssm:{arn}"), None).unwrap(),
        TuningSource::Ssm { name: arn.into() }
    );
    for bad in [
        "ssm:",
        "ssm:/with space",
        "ssm:arn:aws:s3:::bucket/key",
        "ssm:/a:1",
    ] {
        let err = TuningSource::parse(bad, None).unwrap_err();
        assert_eq!(err.variable, "TRAILWATCH_CONFIG", "{bad}");
    }
    let c = config(&[
        TOPIC,
        ("TRAILWATCH_CONFIG", "tw.yml"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
    ])
    .unwrap();
    assert_eq!(
        c.tuning_source,
        Some(TuningSource::File(PathBuf::from("/var/task/tw.yml")))
    );
}

#[tokio::test]
async fn a_bundled_tuning_file_loads_at_cold_start_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("trailwatch-config-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sigma")).unwrap();
    std::fs::write(
        dir.join("trailwatch.yml"),
        "trusted_accounts: ['444455556666']\nmin_severity: high\nsigma: {directory: sigma}\nexceptions:\n  - name: e\n    reason: r\n    owner: o\n    match: {rules: [s3-bucket-config-modified]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sigma/stop.yml"),
        crate::detector::sigma::tests::STOP_LOGGING,
    )
    .unwrap();
    let root = dir.display().to_string();
    let vars = [
        TOPIC,
        ("TRAILWATCH_CONFIG", "trailwatch.yml"),
        ("LAMBDA_TASK_ROOT", root.as_str()),
    ];
    let c = config(&vars).unwrap();
    // No AWS call is made for a bundled file; the clients are never used.
    let s3 = crate::lambda::reload::TuningClients {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .build(),
        ),
        ssm: aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::Config::builder()
                .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
                .region(aws_sdk_ssm::config::Region::new("us-east-1"))
                .build(),
        ),
    };
    let loaded = c
        .tuning_source
        .as_ref()
        .unwrap()
        .load(&s3, Some(&dir))
        .await
        .unwrap();
    assert_eq!(loaded.sigma_rules.rules().len(), 1);
    let lookup = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    };
    let from_file = LambdaConfig::from_lookup_with(lookup(&vars), Some(&loaded)).unwrap();
    assert_eq!(from_file.detector.min_severity, Severity::High);
    assert!(from_file.detector.trusted_accounts.contains("444455556666"));
    assert_eq!(from_file.detector.exceptions.len(), 1);
    assert_eq!(from_file.detector.sigma_rules.rules().len(), 1);
    let sigma_id = loaded.sigma_rules.rules()[0].rule_id.clone();
    let overridden = LambdaConfig::from_lookup_with(
        lookup(&[
            TOPIC,
            ("MIN_SEVERITY", "low"),
            ("TRUSTED_ACCOUNTS", "777788889999"),
            ("DISABLED_RULES", sigma_id.as_str()),
        ]),
        Some(&loaded),
    )
    .unwrap();
    assert_eq!(overridden.detector.min_severity, Severity::Low);
    assert_eq!(overridden.detector.trusted_accounts.len(), 1);
    assert!(overridden.detector.disabled_rules.contains(&sigma_id));
    // A bad file is refused with its line.
    std::fs::write(
        dir.join("trailwatch.yml"),
        "min_severity: high\nexceptions: 7\n",
    )
    .unwrap();
    let err = c
        .tuning_source
        .as_ref()
        .unwrap()
        .load(&s3, Some(&dir))
        .await
        .unwrap_err();
    assert_eq!(err.variable, "TRAILWATCH_CONFIG");
    assert!(err.problem.contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "ALERT_TOPIC_ARN"),
        (&[("ALERT_TOPIC_ARN", "alerts")], "ALERT_TOPIC_ARN"),
        (&[TOPIC, ("TRUSTED_ACCOUNTS", "1234")], "TRUSTED_ACCOUNTS"),
        (
            &[TOPIC, ("TRUSTED_ORGANIZATIONS", "o-x")],
            "TRUSTED_ORGANIZATIONS",
        ),
        (&[TOPIC, ("DISABLED_RULES", "nope")], "DISABLED_RULES"),
        (&[TOPIC, ("MIN_SEVERITY", "urgent")], "MIN_SEVERITY"),
        (
            &[TOPIC, ("MAX_DECOMPRESSED_BYTES", "lots")],
            "MAX_DECOMPRESSED_BYTES",
        ),
        (
            &[TOPIC, ("MAX_CONCURRENT_OBJECTS", "0")],
            "MAX_CONCURRENT_OBJECTS",
        ),
        (
            &[TOPIC, ("CONFIG_RELOAD_SECONDS", "-5")],
            "CONFIG_RELOAD_SECONDS",
        ),
        (
            &[TOPIC, ("TRAILWATCH_CONFIG", "ssm:/bad name")],
            "TRAILWATCH_CONFIG",
        ),
    ];
    for (vars, variable) in cases {
        let err = config(vars).unwrap_err();
        assert_eq!(err.variable, *variable, "{err}");
        assert!(err.to_string().starts_with(variable));
    }
}
