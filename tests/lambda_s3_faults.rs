//! S3 failure paths through the real SDK client (aws-smithy-mocks answering with the HTTP
//! responses S3 sends): each must be classified so the object is retried or reported as
//! documented.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use trailwatch::lambda::events::ObjectRef;
use trailwatch::lambda::ports::{FetchError, ObjectSource};
use trailwatch::lambda::s3::S3Source;

fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>R</RequestId><HostId>H</HostId></Error>"
    )
}

async fn open_with(status: u16, body: Option<String>) -> FetchError {
    let rule = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_status(status, body)
        .times(100)
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule]);
    let object = ObjectRef {
        bucket: "trail".into(),
        key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/x.json.gz".into(),
        size: Some(100),
    };
    match S3Source::new(client).open(&object).await {
        Ok(_) => panic!("status {status} must not open"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn no_such_key_is_not_found_and_not_retried() {
    let e = open_with(
        404,
        Some(s3_error("NoSuchKey", "The specified key does not exist.")),
    )
    .await;
    assert!(matches!(e, FetchError::NotFound(_)), "{e:?}");
}

#[tokio::test]
async fn access_denied_is_its_own_outcome() {
    let e = open_with(403, Some(s3_error("AccessDenied", "Access Denied"))).await;
    assert!(matches!(e, FetchError::AccessDenied(_)), "{e:?}");
}

#[tokio::test]
async fn kms_access_denied_on_an_encrypted_trail_is_access_denied() {
    let e = open_with(
        403,
        Some(s3_error(
            "AccessDenied",
            "User is not authorized to perform: kms:Decrypt because no identity-based policy allows it",
        )),
    )
    .await;
    assert!(matches!(e, FetchError::AccessDenied(_)), "{e:?}");
}

#[tokio::test]
async fn server_errors_and_throttling_are_transient() {
    for (status, code) in [
        (500, "InternalError"),
        (503, "SlowDown"),
        (503, "ServiceUnavailable"),
    ] {
        let e = open_with(status, Some(s3_error(code, "try again"))).await;
        assert!(
            matches!(e, FetchError::Transient(_)),
            "{status} {code}: {e:?}"
        );
    }
}

/// Issue 8.7: these were sorted as permanent and the object dropped, though each passes with
/// time (credentials refreshed, the trail key re-enabled or out of its pending state). S3
/// answers them with HTTP 400.
#[tokio::test]
async fn errors_that_pass_with_time_are_retried() {
    for (status, code) in [
        (400, "ExpiredToken"),
        (400, "KMS.DisabledException"),
        (400, "KMS.KMSInvalidStateException"),
        (403, "ExpiredToken"),
    ] {
        let e = open_with(status, Some(s3_error(code, "later"))).await;
        assert!(
            matches!(e, FetchError::Transient(_)),
            "{status} {code}: {e:?}"
        );
    }
    // A refusal that time does not change stays permanent.
    let e = open_with(400, Some(s3_error("InvalidObjectState", "archived"))).await;
    assert!(matches!(e, FetchError::Permanent(_)), "{e:?}");
}
