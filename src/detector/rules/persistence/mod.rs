//! Persistence: credentials, console passwords, code and trust added so an attacker keeps access
//! after the first foothold is closed (ATT&CK TA0003).

pub mod iam_access_key_created_for_another_user;
pub mod iam_login_profile_created_for_another_user;
pub mod lambda_function_code_updated;
pub mod lambda_layer_added;
pub mod rolesanywhere_trust_anchor_created;
pub mod sts_federation_token_requested;
