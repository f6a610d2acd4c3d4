//! A deterministic generator of realistic CloudTrail log objects for benchmarks: a mix of
//! management and data events averaging about 1.4 KB per record, with rare rule-triggering
//! events whose expected alert count is known.
#![allow(dead_code)]

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;

/// splitmix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| format!("{:x}", self.below(16))).collect()
    }
    fn upper(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..len)
            .map(|_| A[self.below(A.len() as u64) as usize] as char)
            .collect()
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
    fn ip(&mut self) -> String {
        format!(
            "{}.{}.{}.{}",
            3 + self.below(200),
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
}

const ACCOUNT: &str = "123456789012";
const EXTERNAL: &str = "999988887777";
const REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.164.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.5",
    "[aws-sdk-java/1.12.680 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10+8-LTS java/17.0.10 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE]",
    "console.amazonaws.com",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 \"quoted\"",
];
const ROLES: &[&str] = &[
    "deploy-pipeline",
    "app-backend",
    "data-loader",
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
    "ecsTaskExecutionRole",
];
const BUCKETS: &[&str] = &[
    "prod-data-lake",
    "app-assets-123456789012",
    "analytics-exports",
    "backup-vault-eu",
];

/// What a generated log holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Planted {
    pub records: u64,
    pub triggers: u64,
    pub expected_alerts: u64,
    pub decompressed_bytes: u64,
}

fn identity(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0..=4 => {
            let role = *rng.pick(ROLES);
            let session = format!("session-{}", rng.hex(8));
            json!({"type": "AssumedRole", "principalId": format!("AROA{}:{session}", rng.upper(17)),
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
                "accountId": ACCOUNT, "accessKeyId": format!("ASIA{}", rng.upper(16)),
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", rng.upper(17)),
                    "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": "2024-08-01T11:02:12Z", "mfaAuthenticated": "false"}}})
        }
        5..=7 => {
            json!({"type": "AWSService", "invokedBy": *rng.pick(&["ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"])})
        }
        _ => {
            let user = format!("user-{}", rng.hex(4));
            json!({"type": "IAMUser", "principalId": format!("AIDA{}", rng.upper(17)),
                "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"), "accountId": ACCOUNT,
                "accessKeyId": format!("AKIA{}", rng.upper(16)), "userName": user})
        }
    }
}

fn base(rng: &mut Rng, source: &str, name: &str, second: u64) -> Value {
    let region = *rng.pick(REGIONS);
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity(rng),
        "eventTime": format!("2024-08-01T{:02}:{:02}:{:02}Z", (second / 3600) % 24, (second / 60) % 60, second % 60),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": rng.ip(),
        "userAgent": *rng.pick(AGENTS),
        "requestParameters": null,
        "responseElements": null,
        "requestID": rng.uuid(),
        "eventID": rng.uuid(),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.split('.').next().unwrap_or("api"))}
    })
}

fn ordinary(rng: &mut Rng, second: u64) -> Value {
    let roll = rng.below(100);
    match roll {
        0..=19 => {
            let mut r = base(rng, "sts.amazonaws.com", "AssumeRole", second);
            let role = *rng.pick(ROLES);
            r["requestParameters"] = json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "roleSessionName": format!("botocore-session-{}", rng.below(1_000_000_000)), "durationSeconds": 3600});
            r["responseElements"] = json!({"credentials": {"accessKeyId": format!("ASIA{}", rng.upper(16)),
                "sessionToken": rng.upper(120), "expiration": "Aug 1, 2024, 1:02:12 PM"},
                "assumedRoleUser": {"assumedRoleId": format!("AROA{}:s", rng.upper(17)),
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s")}});
            r["resources"] = json!([{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": format!("arn:aws:iam::{ACCOUNT}:role/{role}")}]);
            r
        }
        20..=44 => {
            let name = if roll < 38 { "GetObject" } else { "PutObject" };
            let mut r = base(rng, "s3.amazonaws.com", name, second);
            let bucket = *rng.pick(BUCKETS);
            let key = format!(
                "year=2024/month=08/day=01/part-{:05}-{}.snappy.parquet",
                rng.below(100_000),
                rng.uuid()
            );
            let mut params = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.us-east-1.amazonaws.com"), "key": key});
            if name == "PutObject" && rng.below(2) == 0 {
                // Encrypted with the account's own key: the KMS rule reads it and stays silent.
                params["x-amz-server-side-encryption"] = json!("aws:kms");
                params["x-amz-server-side-encryption-aws-kms-key-id"] = json!(format!(
                    "arn:aws:kms:us-east-1:{ACCOUNT}:key/{}",
                    rng.uuid()
                ));
            }
            r["requestParameters"] = params;
            r["readOnly"] = json!(name == "GetObject");
            r["managementEvent"] = json!(false);
            r["eventCategory"] = json!("Data");
            r["additionalEventData"] = json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": format!("{}=", rng.upper(76)), "bytesTransferredOut": rng.below(50_000_000)});
            r["resources"] = json!([{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]);
            r
        }
        45..=59 => {
            let name = *rng.pick(&["Decrypt", "GenerateDataKey"]);
            let mut r = base(rng, "kms.amazonaws.com", name, second);
            let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{}", rng.uuid());
            r["requestParameters"] = json!({"encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::{}/{}", rng.pick(BUCKETS), rng.hex(24))},
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "keyId": key});
            r["resources"] = json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}]);
            r
        }
        60..=67 => {
            let mut r = base(rng, "ec2.amazonaws.com", "DescribeInstances", second);
            r["requestParameters"] = json!({"instancesSet": {"items": [{"instanceId": format!("i-{}", rng.hex(17))}]},
                "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}}]}});
            r
        }
        68..=77 => {
            let name = *rng.pick(&["CreateLogStream", "PutMetricData", "PutLogEvents"]);
            let source = if name == "PutMetricData" {
                "monitoring.amazonaws.com"
            } else {
                "logs.amazonaws.com"
            };
            let mut r = base(rng, source, name, second);
            r["requestParameters"] = json!({"logGroupName": format!("/aws/lambda/fn-{}", rng.hex(6)),
                "logStreamName": format!("2024/08/01/[$LATEST]{}", rng.hex(32))});
            r["readOnly"] = json!(false);
            if rng.below(5) == 0 {
                r["errorCode"] = json!("ThrottlingException");
                r["errorMessage"] = json!("Rate exceeded");
            }
            r
        }
        78..=84 => {
            let mut r = base(rng, "sts.amazonaws.com", "GetCallerIdentity", second);
            r["responseElements"] = Value::Null;
            r
        }
        85..=91 => {
            let mut r = base(rng, "s3.amazonaws.com", "ListBuckets", second);
            r["requestParameters"] = json!({"Host": "s3.us-east-1.amazonaws.com"});
            r
        }
        92..=93 => {
            let mut r = base(rng, "signin.amazonaws.com", "ConsoleLogin", second);
            r["responseElements"] = json!({"ConsoleLogin": "Success"});
            r["additionalEventData"] = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"});
            r["eventType"] = json!("AwsConsoleSignIn");
            r
        }
        94..=95 => {
            let mut r = base(rng, "ec2.amazonaws.com", "RunInstances", second);
            r["readOnly"] = json!(false);
            r["requestParameters"] = json!({"instancesSet": {"items": [{"imageId": format!("ami-{}", rng.hex(17)), "minCount": 1, "maxCount": 1}]},
                "instanceType": "m6i.large", "blockDeviceMapping": {}, "monitoring": {"enabled": false},
                "disableApiTermination": false, "tagSpecificationSet": {"items": [{"resourceType": "instance",
                "tags": [{"key": "Name", "value": format!("worker-{}", rng.hex(6))}, {"key": "Team", "value": "data"}]}]}});
            r["responseElements"] = json!({"requestId": rng.uuid(), "reservationId": format!("r-{}", rng.hex(17)),
                "ownerId": ACCOUNT, "groupSet": {}, "instancesSet": {"items": [{"instanceId": format!("i-{}", rng.hex(17)),
                "imageId": format!("ami-{}", rng.hex(17)), "instanceState": {"code": 0, "name": "pending"},
                "privateDnsName": format!("ip-10-0-{}-{}.ec2.internal", rng.below(256), rng.below(256)),
                "amiLaunchIndex": 0, "productCodes": {}, "instanceType": "m6i.large", "launchTime": 1722513731000u64,
                "placement": {"availabilityZone": "us-east-1a", "tenancy": "default"}, "monitoring": {"state": "disabled"},
                "subnetId": format!("subnet-{}", rng.hex(17)), "vpcId": format!("vpc-{}", rng.hex(17)),
                "privateIpAddress": "10.0.1.17", "sourceDestCheck": true, "groupSet": {"items": [{"groupId": format!("sg-{}", rng.hex(17)), "groupName": "default"}]},
                "architecture": "x86_64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "virtualizationType": "hvm",
                "hypervisor": "xen", "cpuOptions": {"coreCount": 1, "threadsPerCore": 2}}]}});
            r
        }
        _ => {
            let mut r = base(rng, "iam.amazonaws.com", "GetRole", second);
            r["requestParameters"] = json!({"roleName": *rng.pick(ROLES)});
            r
        }
    }
}

/// A rule-triggering event and the number of alerts it must raise.
fn trigger(rng: &mut Rng, second: u64) -> (Value, u64) {
    match rng.below(5) {
        0 => {
            let mut r = base(rng, "s3.amazonaws.com", "PutBucketPolicy", second);
            let bucket = *rng.pick(BUCKETS);
            r["readOnly"] = json!(false);
            r["requestParameters"] = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"),
                "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "share", "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{EXTERNAL}:root")}, "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]}]}, "policy": [""]});
            // shared-externally + config-modified + resource-shared
            (r, 3)
        }
        1 => {
            let mut r = base(rng, "ec2.amazonaws.com", "ModifySnapshotAttribute", second);
            r["readOnly"] = json!(false);
            r["requestParameters"] = json!({"snapshotId": format!("snap-{}", rng.hex(17)), "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"add": {"items": [{"userId": EXTERNAL}]}}});
            (r, 1)
        }
        2 => {
            let mut r = base(rng, "ec2.amazonaws.com", "ModifyImageAttribute", second);
            r["readOnly"] = json!(false);
            r["requestParameters"] = json!({"imageId": format!("ami-{}", rng.hex(17)), "attributeType": "launchPermission",
                "launchPermission": {"add": {"items": [{"group": "all"}]}}});
            (r, 1)
        }
        3 => {
            let mut r = base(rng, "s3.amazonaws.com", "CopyObject", second);
            let bucket = *rng.pick(BUCKETS);
            let key = format!("reports/{}.csv", rng.hex(12));
            r["readOnly"] = json!(false);
            r["eventCategory"] = json!("Data");
            r["requestParameters"] = json!({"bucketName": bucket, "key": key,
                "x-amz-copy-source": format!("{bucket}/{key}"), "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": format!("arn:aws:kms:us-east-1:{EXTERNAL}:key/{}", rng.uuid())});
            (r, 1)
        }
        _ => {
            let mut r = base(rng, "s3.amazonaws.com", "PutBucketAcl", second);
            let bucket = *rng.pick(BUCKETS);
            r["readOnly"] = json!(false);
            r["requestParameters"] = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.amazonaws.com"), "acl": [""], "x-amz-acl": ["private"]});
            (r, 1)
        }
    }
}

/// Writes a gzipped `{"Records":[...]}` of about `target_bytes` decompressed bytes.
/// Roughly one record in `trigger_every` raises alerts.
pub fn generate(
    out: impl Write,
    target_bytes: u64,
    seed: u64,
    trigger_every: u64,
) -> std::io::Result<Planted> {
    let mut gz = GzEncoder::new(out, Compression::new(6));
    let mut rng = Rng::new(seed);
    let mut planted = Planted::default();
    gz.write_all(b"{\"Records\":[")?;
    let mut written: u64 = 12;
    while written < target_bytes {
        let second = planted.records / 40;
        let record = if rng.below(trigger_every) == 0 {
            let (r, alerts) = trigger(&mut rng, second);
            planted.triggers += 1;
            planted.expected_alerts += alerts;
            r
        } else {
            ordinary(&mut rng, second)
        };
        let text = serde_json::to_string(&record).expect("json");
        if planted.records > 0 {
            gz.write_all(b",")?;
            written += 1;
        }
        gz.write_all(text.as_bytes())?;
        written += text.len() as u64;
        planted.records += 1;
    }
    gz.write_all(b"]}")?;
    written += 2;
    gz.finish()?;
    planted.decompressed_bytes = written;
    Ok(planted)
}

/// What an alert burst is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Burst {
    /// Every record raises `s3-bucket-config-modified` with the same dedup key (one bucket).
    SameKey,
    /// Every record raises it on its own bucket: as many distinct dedup keys as records.
    DistinctKeys,
    /// The same records, refused (`errorCode: AccessDenied`): no alert; each record is 27 bytes
    /// (about 3%) larger.
    Quiet,
}

/// Writes a gzipped log of `records` `PutBucketAcl` calls: the burst an attacker makes to
/// bury one real share among alerts. The record is Panther's `AWS.S3.BucketPolicyModified`
/// test case (see the rule's tests); bucket names have a fixed width so all kinds have the same
/// size.
pub fn put_bucket_acl_burst(out: impl Write, records: usize, burst: Burst) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(out, Compression::new(6));
    gz.write_all(b"{\"Records\":[")?;
    for i in 0..records {
        let bucket = match burst {
            Burst::SameKey => "burst-bucket-0000000".to_owned(),
            Burst::DistinctKeys | Burst::Quiet => format!("burst-bucket-{i:07}"),
        };
        let mut record = json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:attacker",
                "arn": "arn:aws:sts::111122223333:assumed-role/ops/attacker", "accountId": "111122223333",
                "accessKeyId": "ASIAEXAMPLE", "sessionContext": {"attributes": {"mfaAuthenticated": "false",
                "creationDate": "2024-08-01T12:00:00Z"}, "sessionIssuer": {"type": "Role",
                "principalId": "AROAEXAMPLE", "arn": "arn:aws:iam::111122223333:role/ops",
                "accountId": "111122223333", "userName": "ops"}}},
            "eventTime": format!("2024-08-01T12:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            "eventSource": "s3.amazonaws.com", "eventName": "PutBucketAcl", "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
            "requestParameters": {"host": [format!("{bucket}.s3.us-east-1.amazonaws.com")],
                "bucketName": bucket, "acl": [""], "x-amz-acl": ["private"]},
            "responseElements": null,
            "requestID": format!("{i:016X}"), "eventID": format!("00000000-0000-0000-0000-{i:012}"),
            "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
            "recipientAccountId": "111122223333"
        });
        if burst == Burst::Quiet {
            record["errorCode"] = json!("AccessDenied");
        }
        if i > 0 {
            gz.write_all(b",")?;
        }
        serde_json::to_writer(&mut gz, &record)?;
    }
    gz.write_all(b"]}")?;
    gz.finish()?;
    Ok(())
}
