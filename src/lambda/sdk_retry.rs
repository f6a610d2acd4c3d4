//! Which failed AWS SDK calls are worth another try: shared by the SNS and Security Hub sinks,
//! each adding the error codes its service documents as passing with time.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Every AWS SDK crate re-exports this one type (`aws_sdk_*::error::SdkError`).
type SdkError<E> = aws_sdk_sns::error::SdkError<E>;

/// Error codes any service may answer that pass with time: refreshed credentials.
const EXPIRED_CREDENTIALS: [&str; 3] = ["ExpiredToken", "ExpiredTokenException", "RequestExpired"];

/// True for timeouts, connection failures, unreadable responses, any 429 or 5xx (a load
/// balancer's 503 has no error code at all), expired credentials, and the `service_codes`
/// the service names for throttling and internal errors.
pub fn is_retryable_call<E: ProvideErrorMetadata>(
    error: &SdkError<E>,
    service_codes: &[&str],
) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) if matches!(e.raw().status().as_u16(), 429 | 500..=599) => true,
        SdkError::ServiceError(e) => e.err().code().is_some_and(|code| {
            EXPIRED_CREDENTIALS.contains(&code) || service_codes.contains(&code)
        }),
        _ => false,
    }
}
