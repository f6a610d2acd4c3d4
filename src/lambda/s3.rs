//! Reading log objects from S3 as a stream: the body goes to the scanner through a blocking
//! bridge, so the compressed object is never held whole.

use crate::lambda::events::ObjectRef;
use crate::lambda::ports::{FetchError, ObjectSource, OpenedObject};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio_util::io::SyncIoBridge;

/// Log objects from S3 `GetObject`.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
}

impl S3Source {
    /// A source using `client`.
    pub fn new(client: Client) -> Self {
        S3Source { client }
    }
}

impl ObjectSource for S3Source {
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, FetchError> {
        let output = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| classify(object, e))?;
        let content_length = output.content_length().and_then(|n| u64::try_from(n).ok());
        let body = Box::pin(output.body.into_async_read());
        Ok(OpenedObject {
            body: Box::new(SyncIoBridge::new(body)),
            content_length,
        })
    }
}

/// Error codes that a later attempt can succeed past, whatever their HTTP status.
pub fn passes_with_time(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "KMS.DisabledException"
            | "KMS.KMSInvalidStateException"
            | "KMS.ThrottlingException"
            | "KMS.KeyUnavailableException"
            | "KMS.DependencyTimeoutException"
    )
}

/// Sorts a GetObject failure into retry or not.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    object: &ObjectRef,
    error: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> FetchError {
    let where_ = object.url();
    match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("").to_owned();
            let detail = format!("{where_}: {code} (HTTP {status})");
            match (status, code.as_str()) {
                (_, "NoSuchKey" | "NoSuchBucket") | (404, _) => FetchError::NotFound(detail),
                // Conditions that pass with time: credentials about to be refreshed, a trail key
                // being re-enabled or leaving a pending state.
                (_, code) if passes_with_time(code) => FetchError::Transient(detail),
                (_, "AccessDenied" | "KMS.AccessDeniedException") | (403, _) => {
                    FetchError::AccessDenied(detail)
                }
                (429 | 500..=599, _)
                | (_, "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError") => {
                    FetchError::Transient(detail)
                }
                _ => FetchError::Permanent(detail),
            }
        }
        _ => FetchError::Transient(format!("{where_}: {error}")),
    }
}
