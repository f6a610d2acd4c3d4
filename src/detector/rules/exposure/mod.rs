//! Exposure: a resource opened to another account, another organization or everyone
//! (ATT&CK T1537, T1098, T1530).

pub mod access;
pub mod iam_role_trusts_external_principal;
pub mod resource_shared_with_external_account;
pub mod s3_bucket_config_modified;
pub mod s3_bucket_policy_shared_externally;
pub mod s3_public_access_block_weakened;
pub mod shares;
