//! trailwatch: real-time detection of risky changes in AWS accounts from CloudTrail logs.
//!
//! - [`detector`]: the pure detector library (reader, record view, policy analysis, rules).
//! - [`formats`]: pure renderings of an alert for e-mail, SMS, chat, Security Hub and OCSF.
//! - [`cli`]: `trailwatch scan` and `trailwatch rules`, over files and stdin.
//! - `lambda` (feature `lambda`): the AWS Lambda adapter, which owns all AWS I/O.

pub mod cli;
pub mod detector;
pub mod formats;
#[cfg(feature = "lambda")]
pub mod lambda;
